package ratelimit_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestHitPeekReset(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		lim := ratelimit.Limit{Max: 3, Window: time.Minute}
		t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

		if d, err := ratelimit.Peek(ctx, db, "k", lim, t0); err != nil || !d.Allowed || d.Count != 0 {
			t.Fatalf("Peek on an unknown key = %+v, %v; want allowed, count 0", d, err)
		}
		for i := 1; i <= 3; i++ {
			d, err := ratelimit.Hit(ctx, db, "k", lim, t0.Add(time.Duration(i)*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed || d.Count != i || d.RetryAfter != 0 {
				t.Fatalf("hit %d = %+v; want allowed with count %d", i, d, i)
			}
		}
		// At the limit, Peek says the next event would be refused, and
		// peeking does not count.
		for range 2 {
			d, err := ratelimit.Peek(ctx, db, "k", lim, t0.Add(10*time.Second))
			if err != nil || d.Allowed || d.Count != 3 {
				t.Fatalf("Peek at the limit = %+v, %v; want refused with count 3", d, err)
			}
			if d.RetryAfter != 51*time.Second {
				t.Errorf("Peek RetryAfter = %s; want 51s (the window started with the first hit, at t0+1s)", d.RetryAfter)
			}
		}
		d, err := ratelimit.Hit(ctx, db, "k", lim, t0.Add(20*time.Second))
		if err != nil || d.Allowed || d.Count != 4 || d.RetryAfter != 41*time.Second {
			t.Fatalf("hit over the limit = %+v, %v; want refused, count 4, retry after 41s", d, err)
		}
		// Another key is independent.
		if d, err := ratelimit.Hit(ctx, db, "other", lim, t0.Add(20*time.Second)); err != nil || !d.Allowed || d.Count != 1 {
			t.Fatalf("hit on another key = %+v, %v", d, err)
		}

		// Once the window (t0+1s … t0+61s) has passed, counting starts again.
		if d, err := ratelimit.Peek(ctx, db, "k", lim, t0.Add(60*time.Second)); err != nil || d.Allowed {
			t.Fatalf("Peek just before the window ends = %+v, %v; want refused", d, err)
		}
		if d, err := ratelimit.Peek(ctx, db, "k", lim, t0.Add(61*time.Second)); err != nil || !d.Allowed {
			t.Fatalf("Peek after the window = %+v, %v; want allowed", d, err)
		}
		if d, err := ratelimit.Hit(ctx, db, "k", lim, t0.Add(62*time.Second)); err != nil || !d.Allowed || d.Count != 1 {
			t.Fatalf("hit in a new window = %+v, %v; want allowed, count 1", d, err)
		}

		// Reset forgets the key.
		for range 5 {
			if _, err := ratelimit.Hit(ctx, db, "k", lim, t0.Add(70*time.Second)); err != nil {
				t.Fatal(err)
			}
		}
		if err := ratelimit.Reset(ctx, db, "k"); err != nil {
			t.Fatal(err)
		}
		if d, err := ratelimit.Peek(ctx, db, "k", lim, t0.Add(71*time.Second)); err != nil || !d.Allowed || d.Count != 0 {
			t.Fatalf("Peek after Reset = %+v, %v", d, err)
		}
		if d, err := ratelimit.Hit(ctx, db, "k", lim, t0.Add(72*time.Second)); err != nil || d.Count != 1 {
			t.Fatalf("hit after Reset = %+v, %v; want count 1", d, err)
		}
		if err := ratelimit.Reset(ctx, db, "never-seen"); err != nil {
			t.Fatalf("Reset of an unknown key: %v", err)
		}
	})
}

// Concurrent hits on one key are counted exactly: the limit admits exactly
// Max of them, on one node or many sharing the database.
func TestConcurrentHitsAreExact(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		lim := ratelimit.Limit{Max: 10, Window: time.Hour}
		now := time.Now()
		const n = 50
		var (
			wg      sync.WaitGroup
			mu      sync.Mutex
			allowed int
			counts  []int
			errs    []error
		)
		start := make(chan struct{})
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				d, err := ratelimit.Hit(ctx, db, "burst", lim, now)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				counts = append(counts, d.Count)
				if d.Allowed {
					allowed++
				}
			}()
		}
		close(start)
		wg.Wait()
		if len(errs) > 0 {
			t.Fatalf("%d hits failed, first: %v", len(errs), errs[0])
		}
		if allowed != lim.Max {
			t.Errorf("%d of %d concurrent hits allowed; want exactly %d", allowed, n, lim.Max)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != i+1 {
				t.Fatalf("counts seen by the hits are not 1..%d: %v", n, counts)
			}
		}
	})
}
