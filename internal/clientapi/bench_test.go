package clientapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func benchEnv(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// BenchmarkClientAPI measures, in one run, over real HTTP on loopback with
// the load generator of `gatehouse loadgen` (client and server share the
// machine): activations/s on SQLite and on PostgreSQL, license checks/s on
// both, and the requests/s of a bare net/http handler driven the same way
// (same client, same concurrency, same request shape) as the baseline.
// Run it with scripts/bench (-benchtime 1x); it prints the figures.
//
// GATEHOUSE_BENCH_ACTIVATIONS (default 5000), GATEHOUSE_BENCH_CHECKS
// (20000), GATEHOUSE_BENCH_CONCURRENCY (32) change the workload;
// GATEHOUSE_BENCH_ENGINE=sqlite|postgresql runs one engine only.
func BenchmarkClientAPI(b *testing.B) {
	nAct := benchEnv("GATEHOUSE_BENCH_ACTIVATIONS", 5000)
	nChk := benchEnv("GATEHOUSE_BENCH_CHECKS", 20000)
	conc := benchEnv("GATEHOUSE_BENCH_CONCURRENCY", 32)
	const rounds = 3
	ctx := context.Background()

	// Baseline: a bare handler that reads the body and answers a small
	// JSON object, hit with the same POST the license check sends.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"active"}`)
	}))
	defer bare.Close()
	bc := &agent.Client{BaseURL: bare.URL, HTTP: agent.LoadHTTPClient(conc)}
	bareOp := func(ctx context.Context, i int) error {
		_, err := bc.Check(ctx, "benchmark-credential-0123456789abcdef0123456789", "")
		return err
	}
	agent.Run(ctx, agent.LoadOptions{N: 500, Concurrency: conc}, bareOp) // warm-up

	type engine struct {
		name     string
		open     func(testing.TB) *store.DB
		db       *store.DB
		act      *agent.LoadResult
		actCPU   time.Duration
		checks   []*agent.LoadResult
		checkCPU time.Duration
		dbCPU    time.Duration // PostgreSQL backends' CPU during the checks
		check    func(ctx context.Context, i int) error
	}
	var engines []*engine
	for _, e := range []*engine{{name: "SQLite", open: testenv.SQLite}, {name: "PostgreSQL", open: testenv.Postgres}} {
		if only := os.Getenv("GATEHOUSE_BENCH_ENGINE"); only == "" || strings.EqualFold(only, e.name) {
			engines = append(engines, e)
		}
	}
	for _, e := range engines {
		db := e.open(b)
		e.db = db
		svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test"})
		srv := httptest.NewServer(New(svc, Config{ActivationLimit: DefaultActivationLimit}))
		defer srv.Close()
		caller := newAccount(b, db)
		_, key := issue(b, svc, caller, license.IssueInput{Seats: nAct + 600})
		c := &agent.Client{BaseURL: srv.URL, HTTP: agent.LoadHTTPClient(conc)}
		warm := agent.Run(ctx, agent.LoadOptions{N: 500, Concurrency: conc}, func(ctx context.Context, i int) error {
			_, err := c.Activate(ctx, key, "", agent.NewDevice())
			return err
		})
		if warm.Outcomes["ok"] != 500 {
			b.Fatalf("%s warm-up: %s", e.name, warm.Summary())
		}
		devs := make([]agent.Device, nAct)
		for i := range devs {
			devs[i] = agent.NewDevice()
		}
		creds := make([]string, nAct)
		cpu0 := cpuTime()
		e.act = agent.Run(ctx, agent.LoadOptions{N: nAct, Concurrency: conc}, func(ctx context.Context, i int) error {
			a, err := c.Activate(ctx, key, "", devs[i])
			if err == nil {
				creds[i] = a.Credential
			}
			return err
		})
		e.actCPU = cpuTime() - cpu0
		if e.act.Outcomes["ok"] != nAct {
			b.Fatalf("%s activations: %s", e.name, e.act.Summary())
		}
		e.check = func(ctx context.Context, i int) error {
			_, err := c.Check(ctx, creds[i%len(creds)], "")
			return err
		}
	}
	// Checks and the baseline alternate in rounds, so that load from other
	// processes on the machine hits both alike; medians are reported.
	var bareRuns []*agent.LoadResult
	var bareCPU time.Duration
	for r := 0; r < rounds; r++ {
		cpu0 := cpuTime()
		bareRuns = append(bareRuns, agent.Run(ctx, agent.LoadOptions{N: nChk / rounds, Concurrency: conc}, bareOp))
		bareCPU += cpuTime() - cpu0
		for _, e := range engines {
			cpu0, db0 := cpuTime(), testenv.PostgresCPU(ctx, e.db)
			res := agent.Run(ctx, agent.LoadOptions{N: nChk / rounds, Concurrency: conc}, e.check)
			e.checkCPU += cpuTime() - cpu0
			e.dbCPU += testenv.PostgresCPU(ctx, e.db) - db0
			if res.Outcomes["ok"] != nChk/rounds {
				b.Fatalf("%s checks: %s", e.name, res.Summary())
			}
			e.checks = append(e.checks, res)
		}
	}
	bareRate := medianRate(bareRuns)
	perReq := func(cpu time.Duration, n int) float64 { return float64(cpu.Microseconds()) / float64(n) }
	bareCPUReq := perReq(bareCPU, rounds*(nChk/rounds))
	fmt.Printf("\nClient API on this machine (%d activations, %d checks in %d rounds alternating with the baseline, concurrency %d, loopback HTTP, client in-process):\n",
		nAct, nChk, rounds, conc)
	fmt.Printf("  %-26s %9s %9s %9s %7s  %12s %13s\n", "workload", "req/s", "p50", "p99", "vs bare", "CPU µs/req*", "vs bare (CPU)")
	line := func(name string, rate float64, r *agent.LoadResult, cpuReq float64) {
		fmt.Printf("  %-26s %9.0f %9s %9s %6.1f%%  %12.0f %12.1f%%\n", name, rate, round(r.Percentile(50)), round(r.Percentile(99)),
			100*rate/bareRate, cpuReq, 100*bareCPUReq/cpuReq)
		b.ReportMetric(rate, metricName(name))
	}
	line("bare net/http handler", bareRate, median(bareRuns), bareCPUReq)
	for _, e := range engines {
		line(e.name+" activations", e.act.PerSecond(), e.act, perReq(e.actCPU, nAct))
		line(e.name+" license checks", medianRate(e.checks), median(e.checks), perReq(e.checkCPU, rounds*(nChk/rounds)))
	}
	fmt.Println("  * CPU time of this process (load generator + server) per request; other processes on the machine do not")
	fmt.Println("    inflate it, so \"vs bare (CPU)\" is the ratio an otherwise idle machine would show. PostgreSQL's own CPU is not in it.")
	for _, e := range engines {
		if e.dbCPU > 0 {
			withDB := perReq(e.checkCPU+e.dbCPU, rounds*(nChk/rounds))
			fmt.Printf("  %s license checks with the database's CPU: %.0f µs/req (%.0f in PostgreSQL) = %.1f%% of bare (CPU)\n",
				e.name, withDB, perReq(e.dbCPU, rounds*(nChk/rounds)), 100*bareCPUReq/withDB)
		}
	}
	for _, e := range engines {
		w, _ := e.db.Stats()
		fmt.Printf("  %s writer pool: %d connections opened in all, %d closed for the idle cap, %d waits (%v waiting)\n",
			e.name, w.OpenConnections+int(w.MaxIdleClosed+w.MaxIdleTimeClosed+w.MaxLifetimeClosed), w.MaxIdleClosed, w.WaitCount, w.WaitDuration.Round(time.Millisecond))
	}
	fmt.Println("  targets: activations ≥ 1500/s SQLite, ≥ 1000/s PostgreSQL; license checks ≥ 30% of the bare handler")
}

// cpuTime is the CPU time this process has used (user + system).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// median returns the run with the median rate.
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

func round(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}
