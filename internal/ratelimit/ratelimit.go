// Package ratelimit counts events per key in fixed windows stored in the
// database, so that every node sharing the database sees the same counters
// (sign-in failures per account and per source address, activations per
// address, SCIM requests per token).
package ratelimit

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

// Limit allows Max events per Window for one key; once exceeded the key is
// blocked until the window ends.
type Limit struct {
	Max    int
	Window time.Duration
}

// Decision is the outcome of a check.
type Decision struct {
	Allowed    bool
	Count      int           // events counted in the current window, this one included
	RetryAfter time.Duration // when not allowed: how long until the window ends
}

// Hit counts one event for key and tells whether it is within the limit. The
// counter update is one atomic upsert, exact under concurrency on both
// engines.
func Hit(ctx context.Context, db *store.DB, key string, lim Limit, now time.Time) (Decision, error) {
	var count int
	var windowStart store.Time
	start := store.At(now)
	expired := store.At(now.Add(-lim.Window))
	err := db.QueryRowWrite(ctx, `INSERT INTO rate_limits (key, window_start, failures) VALUES (?, ?, 1)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN rate_limits.window_start <= ? THEN 1 ELSE rate_limits.failures + 1 END,
			window_start = CASE WHEN rate_limits.window_start <= ? THEN excluded.window_start ELSE rate_limits.window_start END
		RETURNING failures, window_start`,
		key, start, expired, expired).Scan(&count, &windowStart)
	if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", key, err)
	}
	d := Decision{Allowed: count <= lim.Max, Count: count}
	if !d.Allowed {
		d.RetryAfter = windowStart.Add(lim.Window).Sub(now)
		if d.RetryAfter < time.Second {
			d.RetryAfter = time.Second
		}
	}
	return d, nil
}

// Peek reports whether key is currently over lim without counting an event.
func Peek(ctx context.Context, db *store.DB, key string, lim Limit, now time.Time) (Decision, error) {
	var count int
	var windowStart store.Time
	err := db.QueryRow(ctx, `SELECT failures, window_start FROM rate_limits WHERE key = ?`, key).Scan(&count, &windowStart)
	if err := store.NotFound(err); err == store.ErrNotFound {
		return Decision{Allowed: true}, nil
	} else if err != nil {
		return Decision{}, fmt.Errorf("rate limit %s: %w", key, err)
	}
	if !windowStart.After(now.Add(-lim.Window)) {
		return Decision{Allowed: true}, nil
	}
	d := Decision{Allowed: count < lim.Max, Count: count}
	if !d.Allowed {
		d.RetryAfter = windowStart.Add(lim.Window).Sub(now)
		if d.RetryAfter < time.Second {
			d.RetryAfter = time.Second
		}
	}
	return d, nil
}

// Reset forgets key (e.g. after a successful sign-in).
func Reset(ctx context.Context, db *store.DB, key string) error {
	if _, err := db.Exec(ctx, `DELETE FROM rate_limits WHERE key = ?`, key); err != nil {
		return fmt.Errorf("rate limit reset %s: %w", key, err)
	}
	return nil
}
