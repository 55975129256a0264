// Package jobs runs background work (DNS re-checks, email delivery, retention
// purges, inactivity revocation) so that on several nodes sharing a PostgreSQL
// database exactly one node runs a given job at a time: each run first takes
// a lease row that expires on its own if the node dies.
package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"gatehouse/internal/store"
)

// TryLease takes or renews the lease name for holder until now+ttl. It returns
// true when holder owns the lease afterwards. The single conditional upsert is
// atomic on both engines, so two nodes can never both win.
func TryLease(ctx context.Context, db *store.DB, name, holder string, ttl time.Duration) (bool, error) {
	now := time.Now()
	res, err := db.Exec(ctx, `INSERT INTO job_leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE job_leases.holder = excluded.holder OR job_leases.expires_at < ?`,
		name, holder, store.At(now.Add(ttl)), store.At(now))
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("lease %s: %w", name, err)
	}
	return n == 1, nil
}

// Job is one periodic task.
type Job struct {
	Name     string
	Interval time.Duration
	Run      func(ctx context.Context) error
}

// Runner runs jobs periodically on this node while it holds their leases.
type Runner struct {
	DB     *store.DB
	Holder string // unique per process, e.g. hostname + pid + random
	Log    *slog.Logger
	Jobs   []Job

	running sync.WaitGroup
}

// Start runs every job in its own goroutine until ctx ends.
func (r *Runner) Start(ctx context.Context) {
	for _, j := range r.Jobs {
		r.running.Add(1)
		go func() {
			defer r.running.Done()
			r.loop(ctx, j)
		}()
	}
}

// Wait returns when every job loop Start began has returned (after its
// context ended), so that a shutting-down node closes the database only
// after the job that was running has finished or given up.
func (r *Runner) Wait() { r.running.Wait() }

func (r *Runner) loop(ctx context.Context, j Job) {
	t := time.NewTicker(j.Interval)
	defer t.Stop()
	for {
		r.RunOnce(ctx, j)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunOnce runs j now if this node can take its lease (tests call it directly).
func (r *Runner) RunOnce(ctx context.Context, j Job) {
	ok, err := TryLease(ctx, r.DB, j.Name, r.Holder, j.Interval+time.Minute)
	if err != nil {
		if ctx.Err() == nil {
			r.Log.Error("job lease", "job", j.Name, "err", err)
		}
		return
	}
	if !ok {
		return
	}
	if err := j.Run(ctx); err != nil && ctx.Err() == nil {
		r.Log.Error("job failed", "job", j.Name, "err", err)
	}
}
