package agent

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// LoadOptions drive a load run: N operations with at most Concurrency in
// flight.
type LoadOptions struct {
	N           int
	Concurrency int
	// Progress, when set, receives a progress line about every interval
	// ("\r"-terminated, for a terminal).
	Progress         io.Writer
	ProgressInterval time.Duration
}

// LoadResult summarizes a run.
type LoadResult struct {
	N        int
	Elapsed  time.Duration
	Outcomes map[string]int // "ok" or the error code (no_free_seat, …, or "transport")
	// Latencies, sorted ascending.
	Latencies []time.Duration
	// FirstError is an example of a transport/unexpected failure.
	FirstError error
}

// PerSecond returns completed operations per second.
func (r *LoadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.N) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile latency (0 < p ≤ 100).
func (r *LoadResult) Percentile(p float64) time.Duration {
	if len(r.Latencies) == 0 {
		return 0
	}
	i := int(float64(len(r.Latencies))*p/100+0.5) - 1
	i = max(0, min(i, len(r.Latencies)-1))
	return r.Latencies[i]
}

// Summary is a one-paragraph report.
func (r *LoadResult) Summary() string {
	s := fmt.Sprintf("%d requests in %.2fs: %.0f/s; latency p50 %s, p90 %s, p99 %s, max %s\noutcomes:",
		r.N, r.Elapsed.Seconds(), r.PerSecond(), round(r.Percentile(50)), round(r.Percentile(90)),
		round(r.Percentile(99)), round(r.Percentile(100)))
	keys := make([]string, 0, len(r.Outcomes))
	for k := range r.Outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s += fmt.Sprintf(" %s=%d", k, r.Outcomes[k])
	}
	if r.FirstError != nil {
		s += fmt.Sprintf("\nfirst unexpected error: %v", r.FirstError)
	}
	return s
}

func round(d time.Duration) time.Duration {
	switch {
	case d > 10*time.Millisecond:
		return d.Round(time.Millisecond)
	case d > 10*time.Microsecond:
		return d.Round(time.Microsecond)
	}
	return d
}

// Run calls op(ctx, i) for i in [0, N) with Concurrency workers and
// collects outcomes: nil → "ok", *APIError → its code, anything else →
// "transport".
func Run(ctx context.Context, o LoadOptions, op func(ctx context.Context, i int) error) *LoadResult {
	if o.Concurrency <= 0 {
		o.Concurrency = 1
	}
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = 500 * time.Millisecond
	}
	var next, done atomic.Int64
	lat := make([]time.Duration, o.N)
	codes := make([]string, o.N)
	var firstErr error
	var errOnce sync.Once
	start := time.Now()
	stop := make(chan struct{})
	var pw sync.WaitGroup
	if o.Progress != nil {
		pw.Add(1)
		go func() {
			defer pw.Done()
			t := time.NewTicker(o.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					d := done.Load()
					el := time.Since(start).Seconds()
					fmt.Fprintf(o.Progress, "\r%d/%d done, %.0f/s   ", d, o.N, float64(d)/el)
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < min(o.Concurrency, max(o.N, 1)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= o.N || ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				err := op(ctx, i)
				lat[i] = time.Since(t0)
				switch code := ErrorCode(err); {
				case err == nil:
					codes[i] = "ok"
				case code != "":
					codes[i] = code
				default:
					codes[i] = "transport"
					errOnce.Do(func() { firstErr = err })
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	pw.Wait()
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "\r%d/%d done, %.0f/s   \n", done.Load(), o.N, float64(done.Load())/elapsed.Seconds())
	}
	res := &LoadResult{N: int(done.Load()), Elapsed: elapsed, Outcomes: map[string]int{}, FirstError: firstErr}
	for i := 0; i < o.N; i++ {
		if codes[i] != "" {
			res.Outcomes[codes[i]]++
			res.Latencies = append(res.Latencies, lat[i])
		}
	}
	slices.Sort(res.Latencies)
	return res
}

// LoadHTTPClient returns an HTTP client tuned for many concurrent requests
// to one server: keep-alive connections up to conns.
func LoadHTTPClient(conns int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}
