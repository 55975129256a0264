package web_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
	"gatehouse/internal/updates"
)

func benchN(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkUpdateFeed measures, in one run, the business channel feed
// served by a whole Gatehouse node (route table, metrics, cache check,
// conditional-GET logic) against a bare net/http handler that writes the
// same bytes with the same headers, driven the same way (the load
// generator of `gatehouse loadgen`, same concurrency, keep-alive, loopback
// HTTP, client in-process), on SQLite and PostgreSQL. Rounds alternate
// with the baseline; medians are reported. The feed changes only when
// releases do, so every request after the first is served from the
// node's cache (one generation read per second at most).
//
// GATEHOUSE_BENCH_FEEDS (default 30000 requests), GATEHOUSE_BENCH_CONCURRENCY
// (32) change the workload. Target: ≥ 30% of the bare handler.
func BenchmarkUpdateFeed(b *testing.B) {
	n := benchN("GATEHOUSE_BENCH_FEEDS", 30000)
	conc := benchN("GATEHOUSE_BENCH_CONCURRENCY", 32)
	const rounds = 3
	ctx := context.Background()
	client := agent.LoadHTTPClient(conc)
	fetch := func(url string, hdr map[string]string, want int) func(ctx context.Context, i int) error {
		return func(ctx context.Context, i int) error {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			for k, v := range hdr {
				req.Header.Set(k, v)
			}
			resp, err := client.Do(req)
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != want {
				return errors.New("status " + strconv.Itoa(resp.StatusCode))
			}
			return nil
		}
	}

	type engine struct {
		name          string
		url           string
		etag          string
		full, cond    []*agent.LoadResult
		bytes, offers int
	}
	var engines []*engine
	var body []byte
	var bodyETag string
	for _, e := range []*engine{{name: "SQLite"}, {name: "PostgreSQL"}} {
		var dbURL string
		if e.name == "SQLite" {
			dbURL = "sqlite://" + b.TempDir() + "/bench.db"
		} else {
			dbURL = testenv.PostgresURL(b)
		}
		node := apptest.Start(b, dbURL)
		// A realistic feed: three majors, two locales, ten builds each.
		for major := 19; major <= 21; major++ {
			for _, loc := range []string{"en_US", "de_DE"} {
				for minor := 0; minor < 10; minor++ {
					in := updates.ReleaseInput{Major: intp(major), Minor: intp(minor), Build: intp(major*1000 + minor), Revision: intp(1), Locale: loc,
						FileURL: fmt.Sprintf("https://cdn.example/%d.%d-%s.dmg", major, minor, loc), SHA256: strings.Repeat("a", 64), Size: 700 << 20,
						Notes: "Fixes and improvements for this build of Desktop."}
					r, err := node.App.Updates.AddRelease(ctx, in, nil, operatorActor)
					if err != nil {
						b.Fatal(err)
					}
					if _, err := node.App.Updates.Publish(ctx, r.ID, updates.PublishInput{Channel: "business"}, operatorActor); err != nil {
						b.Fatal(err)
					}
				}
			}
		}
		e.url = node.URL + "/updates/channels/business/updates.xml"
		resp, err := http.Get(e.url)
		if err != nil {
			b.Fatal(err)
		}
		body, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		e.etag, bodyETag = resp.Header.Get("ETag"), resp.Header.Get("ETag")
		e.bytes, e.offers = len(body), strings.Count(string(body), "<Version>")
		engines = append(engines, e)
	}

	// The baseline writes the same document with the same headers.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml; charset=utf-8")
		w.Header().Set("ETag", bodyETag)
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(body)
	}))
	defer bare.Close()
	bareOp := fetch(bare.URL, nil, 200)
	agent.Run(ctx, agent.LoadOptions{N: 1000, Concurrency: conc}, bareOp)
	for _, e := range engines {
		agent.Run(ctx, agent.LoadOptions{N: 1000, Concurrency: conc}, fetch(e.url, nil, 200))
	}
	var bareRuns []*agent.LoadResult
	per := n / rounds
	for r := 0; r < rounds; r++ {
		bareRuns = append(bareRuns, agent.Run(ctx, agent.LoadOptions{N: per, Concurrency: conc}, bareOp))
		for _, e := range engines {
			res := agent.Run(ctx, agent.LoadOptions{N: per, Concurrency: conc}, fetch(e.url, nil, 200))
			if res.Outcomes["ok"] != per {
				b.Fatalf("%s feed: %s", e.name, res.Summary())
			}
			e.full = append(e.full, res)
			res = agent.Run(ctx, agent.LoadOptions{N: per, Concurrency: conc}, fetch(e.url, map[string]string{"If-None-Match": e.etag}, 304))
			if res.Outcomes["ok"] != per {
				b.Fatalf("%s conditional feed: %s", e.name, res.Summary())
			}
			e.cond = append(e.cond, res)
		}
	}
	bareRate := medianRate(bareRuns)
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("\nUpdate feed on this machine (%d requests per workload in %d rounds alternating with the baseline, concurrency %d, loopback HTTP, client in-process; load average %s):\n",
		n, rounds, conc, strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Printf("  feed: %d bytes, %d offered versions with their ancestry (60 releases)\n", engines[0].bytes, engines[0].offers)
	fmt.Printf("  %-34s %9s %9s %9s %8s\n", "workload", "req/s", "p50", "p99", "vs bare")
	line := func(name string, runs []*agent.LoadResult) {
		m := median(runs)
		rate := m.PerSecond()
		fmt.Printf("  %-34s %9.0f %9s %9s %7.1f%%\n", name, rate, m.Percentile(50).Round(10*time.Microsecond), m.Percentile(99).Round(10*time.Microsecond), 100*rate/bareRate)
		b.ReportMetric(rate, metricName(name))
	}
	line("bare net/http handler (same bytes)", bareRuns)
	for _, e := range engines {
		line(e.name+" channel feed (200)", e.full)
		line(e.name+" conditional GET (304)", e.cond)
	}
	fmt.Println("  target: the feed served from cache at ≥ 30% of the bare handler")
}

func median(runs []*agent.LoadResult) *agent.LoadResult {
	sorted := append([]*agent.LoadResult(nil), runs...)
	for i := range sorted {
		for j := i + 1; j < len(sorted); j++ {
			if sorted[j].PerSecond() < sorted[i].PerSecond() {
				sorted[i], sorted[j] = sorted[j], sorted[i]
			}
		}
	}
	return sorted[len(sorted)/2]
}

func medianRate(runs []*agent.LoadResult) float64 { return median(runs).PerSecond() }

func metricName(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			out = append(out, c)
		case c == ' ' || c == '/':
			out = append(out, '_')
		}
	}
	return string(out) + "/s"
}
