package ratelimit

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

// Backoff slows a key down instead of locking it: the first Free failures
// cost nothing; after that each failure makes the next attempt wait twice
// as long as the previous one (Base, 2·Base, 4·Base, …, at most Max). A key
// with no failure for Forget starts afresh. Compared with a fixed window
// that blocks until it ends, an online guesser gets a handful of tries per
// hour while the owner who mistyped waits seconds, never a quarter hour.
//
// Rows live in rate_limits: failures counts, window_start is the time of
// the last counted event and blocked_until when the next attempt may come.
type Backoff struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Forget time.Duration
}

// Delay is how long the next attempt waits after n failures.
func (b Backoff) Delay(n int) time.Duration {
	if n < b.Free || b.Base <= 0 {
		return 0
	}
	d := b.Base
	for i := b.Free; i < n && i < b.Free+40 && (b.Max <= 0 || d < b.Max); i++ {
		d *= 2
	}
	if b.Max > 0 && d > b.Max {
		d = b.Max
	}
	return d
}

type backoffRow struct {
	found        bool
	failures     int
	last         store.Time
	blockedUntil store.Time
}

func loadBackoff(ctx context.Context, db *store.DB, key string) (backoffRow, error) {
	var r backoffRow
	// The writer connection: the compare-and-swap below must start from
	// the newest row, which SQLite's read pool may not show yet.
	err := db.QueryRowWrite(ctx, `SELECT failures, window_start, blocked_until FROM rate_limits WHERE key = ?`, key).
		Scan(&r.failures, &r.last, &r.blockedUntil)
	if err := store.NotFound(err); err == store.ErrNotFound {
		return r, nil
	} else if err != nil {
		return r, fmt.Errorf("rate limit %s: %w", key, err)
	}
	r.found = true
	return r, nil
}

// current is the row's failure count, zero once it is forgotten.
func (b Backoff) current(r backoffRow, now time.Time) int {
	if !r.found || b.Forget > 0 && !now.Before(r.last.Add(b.Forget)) {
		return 0
	}
	return r.failures
}

func (b Backoff) wait(r backoffRow, now time.Time) (Decision, bool) {
	n := b.current(r, now)
	if n == 0 || !now.Before(r.blockedUntil.Time) {
		return Decision{Allowed: true, Count: n}, true
	}
	wait := r.blockedUntil.Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	return Decision{Allowed: false, Count: n, RetryAfter: wait.Round(time.Second)}, false
}

// Wait reports whether key may make an attempt now, without counting one.
func Wait(ctx context.Context, db *store.DB, key string, b Backoff, now time.Time) (Decision, error) {
	r, err := loadBackoff(ctx, db, key)
	if err != nil {
		return Decision{}, err
	}
	d, _ := b.wait(r, now)
	return d, nil
}

// Reserve claims the next attempt of key: allowed only once the key's delay
// has passed, and counted as a failure at once (Reset forgets it when the
// attempt succeeds). The claim is a compare-and-swap on the row, so
// parallel requests cannot each slip in a guess while the first is still
// being checked.
func Reserve(ctx context.Context, db *store.DB, key string, b Backoff, now time.Time) (Decision, error) {
	return b.count(ctx, db, key, now, true)
}

// Fail counts one failure of key (a key whose attempts are not reserved).
func Fail(ctx context.Context, db *store.DB, key string, b Backoff, now time.Time) error {
	_, err := b.count(ctx, db, key, now, false)
	return err
}

func (b Backoff) count(ctx context.Context, db *store.DB, key string, now time.Time, onlyIfAllowed bool) (Decision, error) {
	for range 20 {
		r, err := loadBackoff(ctx, db, key)
		if err != nil {
			return Decision{}, err
		}
		if d, ok := b.wait(r, now); onlyIfAllowed && !ok {
			return d, nil
		}
		n := b.current(r, now) + 1
		next := store.At(now.Add(b.Delay(n)))
		var res interface{ RowsAffected() (int64, error) }
		if !r.found {
			res, err = db.Exec(ctx, `INSERT INTO rate_limits (key, window_start, failures, blocked_until) VALUES (?, ?, ?, ?)
				ON CONFLICT (key) DO NOTHING`, key, store.At(now), n, next)
		} else {
			res, err = db.Exec(ctx, `UPDATE rate_limits SET failures = ?, window_start = ?, blocked_until = ?
				WHERE key = ? AND failures = ? AND window_start = ?`, n, store.At(now), next, key, r.failures, r.last)
		}
		if err != nil {
			return Decision{}, fmt.Errorf("rate limit %s: %w", key, err)
		}
		if k, err := res.RowsAffected(); err != nil {
			return Decision{}, fmt.Errorf("rate limit %s: %w", key, err)
		} else if k == 1 {
			return Decision{Allowed: true, Count: n}, nil
		}
		// Another request changed the row first: look again.
	}
	return Decision{Allowed: false, RetryAfter: time.Second}, nil
}

// ResetPrefix forgets every key that starts with prefix (for example all
// sign-in throttles of one address), inside the caller's transaction.
func ResetPrefix(ctx context.Context, q store.Querier, prefix string) error {
	if _, err := q.Exec(ctx, `DELETE FROM rate_limits WHERE substr(key, 1, ?) = ?`, len([]rune(prefix)), prefix); err != nil {
		return fmt.Errorf("rate limit reset %s*: %w", prefix, err)
	}
	return nil
}
