package clientapi

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
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
// (20000), GATEHOUSE_BENCH_CONCURRENCY (32) change the workload.
func BenchmarkClientAPI(b *testing.B) {
	nAct := benchEnv("GATEHOUSE_BENCH_ACTIVATIONS", 5000)
	nChk := benchEnv("GATEHOUSE_BENCH_CHECKS", 20000)
	conc := benchEnv("GATEHOUSE_BENCH_CONCURRENCY", 32)
	ctx := context.Background()
	type row struct {
		name string
		res  *agent.LoadResult
	}
	var rows []row

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
	rows = append(rows, row{"bare net/http handler", agent.Run(ctx, agent.LoadOptions{N: nChk, Concurrency: conc}, bareOp)})

	for _, engine := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"SQLite", testenv.SQLite}, {"PostgreSQL", testenv.Postgres}} {
		db := engine.open(b)
		svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test"})
		srv := httptest.NewServer(New(svc, Config{ActivationLimit: DefaultActivationLimit}))
		caller := newAccount(b, db)
		_, key := issue(b, svc, caller, license.IssueInput{Seats: nAct + 600})
		c := &agent.Client{BaseURL: srv.URL, HTTP: agent.LoadHTTPClient(conc)}
		warm := agent.Run(ctx, agent.LoadOptions{N: 500, Concurrency: conc}, func(ctx context.Context, i int) error {
			_, err := c.Activate(ctx, key, "", agent.NewDevice())
			return err
		})
		if warm.Outcomes["ok"] != 500 {
			b.Fatalf("%s warm-up: %s", engine.name, warm.Summary())
		}
		devs := make([]agent.Device, nAct)
		for i := range devs {
			devs[i] = agent.NewDevice()
		}
		creds := make([]string, nAct)
		act := agent.Run(ctx, agent.LoadOptions{N: nAct, Concurrency: conc}, func(ctx context.Context, i int) error {
			a, err := c.Activate(ctx, key, "", devs[i])
			if err == nil {
				creds[i] = a.Credential
			}
			return err
		})
		if act.Outcomes["ok"] != nAct {
			b.Fatalf("%s activations: %s", engine.name, act.Summary())
		}
		rows = append(rows, row{engine.name + " activations", act})
		chk := agent.Run(ctx, agent.LoadOptions{N: nChk, Concurrency: conc}, func(ctx context.Context, i int) error {
			_, err := c.Check(ctx, creds[i%len(creds)], "")
			return err
		})
		if chk.Outcomes["ok"] != nChk {
			b.Fatalf("%s checks: %s", engine.name, chk.Summary())
		}
		rows = append(rows, row{engine.name + " license checks", chk})
		srv.Close()
	}

	bareRate := rows[0].res.PerSecond()
	fmt.Printf("\nClient API on this machine (%d activations, %d checks, concurrency %d, loopback HTTP, client in-process):\n", nAct, nChk, conc)
	fmt.Printf("  %-28s %10s %10s %10s %10s  %s\n", "workload", "req/s", "p50", "p99", "max", "of bare")
	for _, r := range rows {
		fmt.Printf("  %-28s %10.0f %10s %10s %10s  %5.1f%%\n", r.name, r.res.PerSecond(), round(r.res.Percentile(50)),
			round(r.res.Percentile(99)), round(r.res.Percentile(100)), 100*r.res.PerSecond()/bareRate)
	}
	fmt.Println("  targets: activations ≥ 1500/s SQLite, ≥ 1000/s PostgreSQL; license check ≥ 30% of the bare handler")
	for _, r := range rows {
		b.ReportMetric(r.res.PerSecond(), metricName(r.name))
	}
}

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
