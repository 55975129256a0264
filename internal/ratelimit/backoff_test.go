package ratelimit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestBackoffDelay(t *testing.T) {
	b := ratelimit.Backoff{Free: 3, Base: 2 * time.Second, Max: time.Minute}
	for n, want := range map[int]time.Duration{0: 0, 2: 0, 3: 2 * time.Second, 4: 4 * time.Second, 5: 8 * time.Second,
		7: 32 * time.Second, 8: time.Minute, 1000: time.Minute} {
		if got := b.Delay(n); got != want {
			t.Errorf("Delay(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestBackoffSlowsDownAndForgets(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := ratelimit.Backoff{Free: 2, Base: 10 * time.Second, Max: 40 * time.Second, Forget: time.Hour}
		t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		now := t0
		// Two free attempts, back to back.
		for i := 1; i <= 2; i++ {
			if d, err := ratelimit.Reserve(ctx, db, "k", b, now); err != nil || !d.Allowed || d.Count != i {
				t.Fatalf("attempt %d = %+v, %v", i, d, err)
			}
		}
		// Then each attempt waits twice as long as the one before, up to Max.
		for _, wait := range []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second, 40 * time.Second} {
			d, err := ratelimit.Reserve(ctx, db, "k", b, now.Add(wait-time.Second))
			if err != nil || d.Allowed || d.RetryAfter != time.Second {
				t.Fatalf("attempt 1s early (wait %s) = %+v, %v; want refused, retry after 1s", wait, d, err)
			}
			if w, _ := ratelimit.Wait(ctx, db, "k", b, now); w.Allowed || w.RetryAfter != wait {
				t.Fatalf("Wait = %+v; want refused for %s", w, wait)
			}
			now = now.Add(wait)
			if d, err := ratelimit.Reserve(ctx, db, "k", b, now); err != nil || !d.Allowed {
				t.Fatalf("attempt after waiting %s = %+v, %v", wait, d, err)
			}
		}
		// Other keys are independent.
		if d, _ := ratelimit.Reserve(ctx, db, "other", b, now); !d.Allowed {
			t.Fatal("another key is slowed down")
		}
		// Fail counts without asking; Reset forgets.
		for range 3 {
			if err := ratelimit.Fail(ctx, db, "other", b, now); err != nil {
				t.Fatal(err)
			}
		}
		if w, _ := ratelimit.Wait(ctx, db, "other", b, now); w.Allowed || w.Count != 4 || w.RetryAfter != 40*time.Second {
			t.Fatalf("after 4 failures Wait = %+v", w)
		}
		if err := ratelimit.Reset(ctx, db, "other"); err != nil {
			t.Fatal(err)
		}
		if w, _ := ratelimit.Wait(ctx, db, "other", b, now); !w.Allowed || w.Count != 0 {
			t.Fatalf("after Reset Wait = %+v", w)
		}
		// A quiet hour forgets the failures.
		if d, _ := ratelimit.Reserve(ctx, db, "k", b, now.Add(time.Hour)); !d.Allowed || d.Count != 1 {
			t.Fatalf("after an hour = %+v; want a fresh count", d)
		}
		// ResetPrefix forgets a family of keys and nothing else.
		for _, k := range []string{"signin:pair:ann@x.example|1.2.3.4", "signin:pair:ann@x.example|5.6.7.8", "signin:pair:ann@x.example.org|1.2.3.4"} {
			_ = ratelimit.Fail(ctx, db, k, b, now)
		}
		if err := ratelimit.ResetPrefix(ctx, db, "signin:pair:ann@x.example|"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM rate_limits WHERE key LIKE 'signin:pair:%'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("after ResetPrefix %d pair keys left (%v); want 1", n, err)
		}
	})
}

// Parallel attempts on a slowed-down key: exactly one gets through.
func TestBackoffReserveIsAtomic(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		b := ratelimit.Backoff{Free: 1, Base: time.Minute, Max: time.Hour, Forget: time.Hour}
		now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
		if d, _ := ratelimit.Reserve(ctx, db, "race", b, now); !d.Allowed {
			t.Fatal("first attempt refused")
		}
		later := now.Add(time.Minute)
		var wg sync.WaitGroup
		var mu sync.Mutex
		allowed := 0
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := ratelimit.Reserve(ctx, db, "race", b, later)
				if err != nil {
					t.Error(err)
					return
				}
				if d.Allowed {
					mu.Lock()
					allowed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if allowed != 1 {
			t.Fatalf("%d parallel attempts got through; want exactly 1", allowed)
		}
	})
}
