package ratelimit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/store"
)

// Rate is a sustained rate with a burst: a key may spend Burst events at
// once, and the budget refills at PerSecond. PerSecond < 0 means no limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// Off reports whether r imposes no limit.
func (r Rate) Off() bool { return r.PerSecond < 0 }

// String is the --scim-rate-limit form of r ("100/s,250000" or "off").
func (r Rate) String() string {
	if r.Off() {
		return "off"
	}
	return strconv.FormatFloat(r.PerSecond, 'f', -1, 64) + "/s," + strconv.Itoa(r.Burst)
}

// ParseRate reads "RATE/UNIT,BURST" (UNIT s, m or h; e.g. "100/s,250000",
// "600/m,5000") or "off".
func ParseRate(s string) (Rate, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return Rate{PerSecond: -1}, nil
	}
	bad := func(why string) (Rate, error) {
		return Rate{}, fmt.Errorf("rate %q: %s (want RATE/UNIT,BURST such as 100/s,250000, or off)", s, why)
	}
	ratePart, burstPart, ok := strings.Cut(s, ",")
	if !ok {
		return bad("the burst is missing")
	}
	num, unit, ok := strings.Cut(strings.TrimSpace(ratePart), "/")
	if !ok {
		return bad("the unit is missing")
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || n <= 0 || math.IsInf(n, 0) || math.IsNaN(n) {
		return bad("the rate is not a positive number")
	}
	switch strings.TrimSpace(unit) {
	case "s":
	case "m":
		n /= 60
	case "h":
		n /= 3600
	default:
		return bad("the unit is not s, m or h")
	}
	b, err := strconv.Atoi(strings.TrimSpace(burstPart))
	if err != nil || b < 1 {
		return bad("the burst is not a positive whole number")
	}
	return Rate{PerSecond: n, Burst: b}, nil
}

// Shared limits events per key to a Rate across every node that shares
// the database, without a database write per event. It is the generic cell
// rate algorithm (one number per key: the theoretical arrival time, TAT):
// each node decides locally against its view of the TAT and adds the events
// it allowed to the stored TAT in one statement at most every FlushEvery
// per key. A node's view lags the others' by at most FlushEvery, so across
// N nodes a key can overshoot its budget by what N-1 nodes allow in that
// time; a single node is exact. Denied events are not counted.
//
// The stored TAT lives in rate_limits (key, window_start = TAT in
// microseconds since the epoch, failures unused), under keys the caller
// chooses so that they do not collide with the window counters.
//
// Do not copy a Shared after first use.
type Shared struct {
	DB   *store.DB
	Rate Rate
	// FlushEvery bounds how stale other nodes' view of this node's events
	// is; zero: one second.
	FlushEvery time.Duration
	// Logger receives flush errors (the events stay pending and are added
	// at the next flush); nil: slog.Default().
	Logger *slog.Logger

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	mu       sync.Mutex
	loaded   bool
	tat      int64 // µs since the epoch: this node's view, pending events included
	pending  int64 // events allowed here and not yet added to the stored TAT
	since    int64 // µs: when the first pending event was allowed
	flushed  time.Time
	flushing bool
}

func (s *Shared) bucket(key string) *bucket {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.buckets == nil {
		s.buckets = map[string]*bucket{}
	}
	// Keys are authenticated callers (one per SCIM token), so the map stays
	// as small as the number of tokens that ever called this node.
	b := s.buckets[key]
	if b == nil {
		b = &bucket{}
		s.buckets[key] = b
	}
	return b
}

// Allow counts one event for key at now if the budget allows it.
func (s *Shared) Allow(ctx context.Context, key string, now time.Time) (Decision, error) {
	if s.Rate.Off() {
		return Decision{Allowed: true}, nil
	}
	interval := int64(1e6 / s.Rate.PerSecond) // µs per event
	if interval < 1 {
		interval = 1
	}
	tolerance := interval * int64(s.Rate.Burst)
	nowUs := now.UnixMicro()
	b := s.bucket(key)
	b.mu.Lock()
	if !b.loaded {
		// The first event of a key on this node reads the stored TAT, so a
		// node joining late does not grant a fresh burst.
		stored, err := s.read(ctx, key)
		if err != nil {
			b.mu.Unlock()
			return Decision{}, err
		}
		b.tat, b.loaded, b.flushed = max(b.tat, stored), true, now
	}
	next := max(b.tat, nowUs) + interval
	d := Decision{Allowed: next-nowUs <= tolerance}
	if !d.Allowed {
		d.RetryAfter = time.Duration(next-tolerance-nowUs) * time.Microsecond
		d.RetryAfter = max(d.RetryAfter, time.Second)
	} else {
		b.tat = next
		if b.pending == 0 {
			b.since = nowUs
		}
		b.pending++
	}
	every := s.FlushEvery
	if every <= 0 {
		every = time.Second
	}
	var n, since int64
	if b.pending > 0 && !b.flushing && now.Sub(b.flushed) >= every {
		n, since, b.pending, b.flushing, b.flushed = b.pending, b.since, 0, true, now
	}
	b.mu.Unlock()
	if n > 0 {
		stored, err := s.add(context.WithoutCancel(ctx), key, n, interval, since)
		b.mu.Lock()
		b.flushing = false
		if err != nil {
			if b.pending == 0 || since < b.since {
				b.since = since
			}
			b.pending += n
		} else {
			// The stored TAT has every node's flushed events; add the ones
			// this node allowed while the statement ran.
			b.tat = max(stored, nowUs) + b.pending*interval
		}
		b.mu.Unlock()
		if err != nil {
			logger := s.Logger
			if logger == nil {
				logger = slog.Default()
			}
			logger.Error("rate limit: flush failed; retrying at the next event", "key", key, "err", err)
		}
	}
	return d, nil
}

func (s *Shared) read(ctx context.Context, key string) (int64, error) {
	var tat int64
	err := s.DB.QueryRow(ctx, `SELECT window_start FROM rate_limits WHERE key = ?`, key).Scan(&tat)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return tat, nil
}

// add adds n events, the first allowed at sinceUs, to the stored TAT in one
// atomic upsert and returns it. Counting them from the first one's time is
// exact while the bucket stays non-empty (the case that matters: a client
// near its limit); otherwise it overcounts by at most the drain of one
// FlushEvery.
func (s *Shared) add(ctx context.Context, key string, n, interval, sinceUs int64) (int64, error) {
	var tat int64
	err := s.DB.QueryRowWrite(ctx, `INSERT INTO rate_limits (key, window_start, failures) VALUES (?, ?, 0)
		ON CONFLICT (key) DO UPDATE SET
			window_start = CASE WHEN rate_limits.window_start < ? THEN ? ELSE rate_limits.window_start END + ?
		RETURNING window_start`,
		key, sinceUs+n*interval, sinceUs, sinceUs, n*interval).Scan(&tat)
	if err != nil {
		return 0, fmt.Errorf("rate limit %s: %w", key, err)
	}
	return tat, nil
}
