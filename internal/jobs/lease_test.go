package jobs_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestTryLease(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		take := func(holder string) bool {
			t.Helper()
			ok, err := jobs.TryLease(ctx, db, "dns-recheck", holder, time.Minute)
			if err != nil {
				t.Fatal(err)
			}
			return ok
		}
		if !take("node-a") {
			t.Fatal("node-a could not take a free lease")
		}
		if take("node-b") {
			t.Fatal("node-b took a lease node-a holds")
		}
		if !take("node-a") {
			t.Fatal("node-a could not renew its own lease")
		}
		// Leases are per job name.
		if ok, err := jobs.TryLease(ctx, db, "outbox", "node-b", time.Minute); err != nil || !ok {
			t.Fatalf("node-b could not take another job's lease: %v", err)
		}

		// node-a dies: its lease runs out and node-b takes over.
		if _, err := db.Exec(ctx, `UPDATE job_leases SET expires_at = ? WHERE name = ?`,
			store.At(time.Now().Add(-time.Second)), "dns-recheck"); err != nil {
			t.Fatal(err)
		}
		if !take("node-b") {
			t.Fatal("node-b could not take over an expired lease")
		}
		if take("node-a") {
			t.Fatal("node-a took back a lease node-b now holds")
		}
		var holder string
		if err := db.QueryRow(ctx, `SELECT holder FROM job_leases WHERE name = ?`, "dns-recheck").Scan(&holder); err != nil || holder != "node-b" {
			t.Fatalf("lease holder %q, %v; want node-b", holder, err)
		}
	})
}

func TestTryLeaseConcurrent(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		const n = 10
		var wins atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ok, err := jobs.TryLease(ctx, db, "purge", fmt.Sprintf("node-%d", i), time.Minute)
				if err != nil {
					errs <- err
					return
				}
				if ok {
					wins.Add(1)
				}
			}()
		}
		close(start)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if w := wins.Load(); w != 1 {
			t.Fatalf("%d of %d nodes took the same lease; want exactly 1", w, n)
		}
	})
}

func TestRunnerRunsOnOneNode(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var runs atomic.Int32
		job := jobs.Job{Name: "count", Interval: time.Hour, Run: func(context.Context) error {
			runs.Add(1)
			return nil
		}}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		a := &jobs.Runner{DB: db, Holder: "node-a", Log: log}
		b := &jobs.Runner{DB: db, Holder: "node-b", Log: log}
		a.RunOnce(ctx, job)
		b.RunOnce(ctx, job)
		a.RunOnce(ctx, job)
		if got := runs.Load(); got != 2 {
			t.Fatalf("job ran %d times; want 2 (twice on the lease holder, never on the other node)", got)
		}
	})
}
