package clientapi

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/fleet"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// BenchmarkFleetCheckIns measures check-ins over real HTTP on loopback with
// the fleet load generator of `gatehouse loadgen checkins` (client and
// server share the machine), in one run: "unchanged" check-ins/s on SQLite
// and PostgreSQL against a bare net/http handler driven the same way (same
// client, concurrency and request body), and changed check-ins carrying 5
// VMs (one VM changed state, full report) on both engines. The last-seen
// flusher runs as in serve. Run it with `scripts/bench fleet`.
//
// GATEHOUSE_BENCH_HOSTS (default 2000), GATEHOUSE_BENCH_CHECKINS (20000 per
// workload), GATEHOUSE_BENCH_CONCURRENCY (32), GATEHOUSE_BENCH_ENGINE.
func BenchmarkFleetCheckIns(b *testing.B) {
	hosts := benchEnv("GATEHOUSE_BENCH_HOSTS", 2000)
	n := benchEnv("GATEHOUSE_BENCH_CHECKINS", 20000)
	conc := benchEnv("GATEHOUSE_BENCH_CONCURRENCY", 32)
	const rounds = 3
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// Baseline: a bare handler that reads the body and answers like an
	// "unchanged" check-in, driven by the same load generator code (the
	// same simulated hosts' client-side work, request bodies and answer
	// handling) as the real server.
	bare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"unchanged","report":"duplicate","report_hash":"0123456789abcdef0123456789abcdef","answer_hash":"0123456789abcdef0123456789abcdef","commands":[],"next_checkin_after":86400,"next_checkin_at":"2026-01-01T00:00:00Z"}`+"\n")
	}))
	defer bare.Close()
	bareHosts := make([]*agent.State, hosts)
	for i := range bareHosts {
		st := &agent.State{Device: agent.NewDevice(), Mac: agent.NewMac(), Status: "active", Credential: "benchmark-credential-0123456789abcdef0123456789"}
		for v := 0; v < 5; v++ {
			st.Mac.VMs = append(st.Mac.VMs, agent.NewVM(fmt.Sprintf("VM %d", v+1), ""))
		}
		bareHosts[i] = st
	}
	bareFleet := agent.NewFleet(&agent.Client{BaseURL: bare.URL, HTTP: agent.LoadHTTPClient(conc)}, bareHosts)
	// Each host's first check-in sends its report; from then on, the
	// "nothing new" body.
	bareFleet.Run(ctx, agent.FleetLoadOptions{N: 4 * hosts, Concurrency: conc})

	type engine struct {
		name       string
		open       func(testing.TB) *store.DB
		fleet      *agent.Fleet
		unchanged  []*agent.FleetResult
		changed    []*agent.FleetResult
		uCPU, cCPU time.Duration
	}
	var engines []*engine
	for _, e := range []*engine{{name: "SQLite", open: testenv.SQLite}, {name: "PostgreSQL", open: testenv.Postgres}} {
		if only := os.Getenv("GATEHOUSE_BENCH_ENGINE"); only == "" || strings.EqualFold(only, e.name) {
			engines = append(engines, e)
		}
	}
	for _, e := range engines {
		db := e.open(b)
		svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test"})
		fs := fleet.New(db, fleet.DefaultConfig())
		// Server faults are logged, so that an "internal" outcome can be
		// looked into.
		errLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		fs.Log = errLog
		flusherDone := make(chan struct{})
		go func() { fs.RunFlusher(ctx); close(flusherDone) }()
		// Stop the flusher (its last flush included) before the database
		// closes.
		b.Cleanup(func() { cancel(); <-flusherDone })
		h := New(svc, Config{Log: errLog})
		h.MountFleet(fs)
		srv := httptest.NewServer(h)
		defer srv.Close()
		caller := newAccount(b, db)
		_, key := issue(b, svc, caller, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: hosts + 10})
		c := &agent.Client{BaseURL: srv.URL, HTTP: agent.LoadHTTPClient(conc)}
		f, err := agent.SetupFleet(ctx, c, key, hosts, 5, conc, nil)
		if err != nil {
			b.Fatalf("%s: %v", e.name, err)
		}
		e.fleet = f
		// Warm-up.
		f.Run(ctx, agent.FleetLoadOptions{N: 500, Concurrency: conc})
	}
	var bareRuns []*agent.FleetResult
	var bareCPU time.Duration
	for r := 0; r < rounds; r++ {
		cpu0 := cpuTime()
		br := bareFleet.Run(ctx, agent.FleetLoadOptions{N: n / rounds, Concurrency: conc})
		bareCPU += cpuTime() - cpu0
		if br.Outcomes["unchanged"] != br.Requests {
			b.Fatalf("bare: %s", br.Summary())
		}
		bareRuns = append(bareRuns, br)
		for _, e := range engines {
			cpu0 := cpuTime()
			u := e.fleet.Run(ctx, agent.FleetLoadOptions{N: n / rounds, Concurrency: conc})
			e.uCPU += cpuTime() - cpu0
			if u.Outcomes["unchanged"] != u.Requests || u.Requests != n/rounds {
				b.Fatalf("%s unchanged: %s", e.name, u.Summary())
			}
			e.unchanged = append(e.unchanged, u)
			cpu0 = cpuTime()
			ch := e.fleet.Run(ctx, agent.FleetLoadOptions{N: n / rounds / 2, Concurrency: conc, Changed: 1})
			e.cCPU += cpuTime() - cpu0
			if ch.Outcomes["changed"] != ch.Requests {
				b.Fatalf("%s changed: %s", e.name, ch.Summary())
			}
			e.changed = append(e.changed, ch)
			// Bring every host back to "nothing new" for the next round.
			e.fleet.Run(ctx, agent.FleetLoadOptions{N: hosts, Concurrency: conc})
		}
	}
	med := func(runs []*agent.FleetResult) *agent.FleetResult {
		s := append([]*agent.FleetResult(nil), runs...)
		for i := range s {
			for j := i + 1; j < len(s); j++ {
				if s[j].PerSecond() < s[i].PerSecond() {
					s[i], s[j] = s[j], s[i]
				}
			}
		}
		return s[len(s)/2]
	}
	bareRate := med(bareRuns).PerSecond()
	bareCPUReq := float64(bareCPU.Microseconds()) / float64(rounds*(n/rounds))
	fmt.Printf("\nFleet check-ins on this machine (%d hosts × 5 VMs per engine, %d unchanged and %d changed check-ins in %d rounds alternating with the baseline, concurrency %d, loopback HTTP, client in-process):\n",
		hosts, n, n/2, rounds, conc)
	fmt.Printf("  %-30s %9s %9s %9s %9s %8s  %12s %13s\n", "workload", "req/s", "p50", "p95", "p99", "vs bare", "CPU µs/req*", "vs bare (CPU)")
	line := func(name string, rate float64, p50, p95, p99 time.Duration, cpuReq float64) {
		fmt.Printf("  %-30s %9.0f %9s %9s %9s %7.1f%%  %12.0f %12.1f%%\n", name, rate, round(p50), round(p95), round(p99), 100*rate/bareRate, cpuReq, 100*bareCPUReq/cpuReq)
		b.ReportMetric(rate, metricName(name))
	}
	bm := med(bareRuns)
	line("bare net/http handler", bareRate, bm.Percentile(50), bm.Percentile(95), bm.Percentile(99), bareCPUReq)
	for _, e := range engines {
		u, c := med(e.unchanged), med(e.changed)
		total := func(runs []*agent.FleetResult) int {
			t := 0
			for _, r := range runs {
				t += r.Requests
			}
			return t
		}
		line(e.name+" unchanged check-ins", u.PerSecond(), u.Percentile(50), u.Percentile(95), u.Percentile(99), float64(e.uCPU.Microseconds())/float64(total(e.unchanged)))
		line(e.name+" changed, 5 VMs", c.PerSecond(), c.Percentile(50), c.Percentile(95), c.Percentile(99), float64(e.cCPU.Microseconds())/float64(total(e.changed)))
	}
	fmt.Println("  * CPU time of this process (load generator + server) per request; PostgreSQL's own CPU is not in it.")
	fmt.Println("  targets: unchanged ≥ 35% of bare (SQLite), ≥ 30% (PostgreSQL); changed with 5 VMs ≥ 2000/s SQLite, ≥ 1000/s PostgreSQL")
}
