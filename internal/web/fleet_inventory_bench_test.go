package web_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/apptest"
	"gatehouse/internal/fleet"
	"gatehouse/internal/fleet/fleettest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// TestInventoryBenchmark measures the Virtual Machines inventory of the
// built binary (`gatehouse serve`, shipped defaults, over HTTP) holding
// GATEHOUSE_BENCH_VMS VMs (default 1,000,000) across a fifth as many
// computers, seeded by fleettest.SeedInventory, on SQLite and PostgreSQL:
//
//   - a page of 40 for every column, sorted both ways, with no filter and
//     with each common filter (state, guest OS, Desktop version, not
//     reported since): p50/p95/max per filter, target p95 ≤ 150 ms;
//   - the CSV export of every VM: rows, time, and the server's resident
//     memory before, at its peak during the export (VmHWM), so flat memory
//     shows as a peak close to the baseline.
//
// Run with scripts/bench inventory (GATEHOUSE_BENCH_INVENTORY=1); figures
// are printed, not asserted. GATEHOUSE_BENCH_ENGINES=sqlite|postgres runs
// one engine.
func TestInventoryBenchmark(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_INVENTORY") != "1" {
		t.Skip("benchmark: run with scripts/bench inventory")
	}
	total := 1_000_000
	if s := os.Getenv("GATEHOUSE_BENCH_VMS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	bin := gatehouseBinary(t)
	engines := os.Getenv("GATEHOUSE_BENCH_ENGINES")
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		engine := "sqlite"
		if strings.HasPrefix(dbURL, "postgres") {
			engine = "postgres"
		}
		if engines != "" && engines != engine {
			t.Skip("engine not asked for")
		}
		inventoryBench(t, bin, dbURL, engine, total)
	})
}

func inventoryBench(t *testing.T, bin, dbURL, engine string, total int) {
	ctx := context.Background()
	node := apptest.Start(t, dbURL)
	admin := apptest.NewClient(t, node.URL)
	admin.SignUp("bench@inventory.example", pw, "Bench Admin")
	acct := admin.CreateAccount("Inventory Bench")
	sub := registerKey(t, admin, acct, issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 1000, false), "Bench")
	var primary string
	if err := node.App.DB.QueryRow(ctx, `SELECT id FROM license_keys WHERE subscription_id = ?`, sub).Scan(&primary); err != nil {
		t.Fatal(err)
	}
	const perHost = 5
	sp := fleettest.SeedSpec{AccountID: acct, SubscriptionID: sub, KeyIDs: []string{primary}, Hosts: total / perHost, VMsPerHost: perHost,
		Now: time.Now().UTC(), Seed: 1, BulkLoad: true}
	start := time.Now()
	next := 100_000
	sp.Progress = func(n int) {
		if n >= next {
			fmt.Printf("inventory bench %s: seeded %d VMs in %s\n", engine, n, time.Since(start).Round(time.Second))
			next += 100_000
		}
	}
	if err := fleettest.SeedInventory(ctx, node.App.DB, sp); err != nil {
		t.Fatal(err)
	}
	seeded := time.Since(start)
	// The planners' statistics, as a running system has them (PostgreSQL's
	// autovacuum; SQLite's ANALYZE as `PRAGMA optimize` would run it).
	start = time.Now()
	if _, err := node.App.DB.Exec(ctx, `ANALYZE`); err != nil {
		t.Fatal(err)
	}
	analyzed := time.Since(start)
	fmt.Printf("inventory bench %s: %d VMs on %d computers seeded in %s, ANALYZE %s\n", engine, sp.Hosts*perHost, sp.Hosts,
		seeded.Round(time.Second), analyzed.Round(time.Millisecond))

	// The built binary serves the same database.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve", "--addr", addr, "--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn")
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	base := "http://" + addr
	deadline := time.Now().Add(time.Minute)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	c := apptest.NewClient(t, base)
	c.SignIn("bench@inventory.example", pw)
	vms := "/accounts/" + acct + "/vms"
	stale := time.Now().UTC().Add(-2 * 24 * time.Hour).Format("2006-01-02")
	filters := []struct{ name, q string }{
		{"no filter", ""}, {"state = running", "f_state=running"}, {"guest OS ~ windows 11", "f_os=" + url.QueryEscape("windows 11")},
		{"Desktop version ~ 26.1", "f_desktop_version=26.1"}, {"not reported since " + stale, "f_last_reported=" + stale},
	}
	fmt.Printf("inventory bench %s: load %s\n", engine, loadavg())
	fmt.Printf("%-34s %8s %8s %8s  %s\n", "page of 40, every column both ways", "p50 ms", "p95 ms", "max ms", "slowest")
	for _, f := range filters {
		var ms []float64
		slowest, slowMS := "", 0.0
		var over []string // the pages (second, warm reading) above the target
		for _, col := range fleet.Columns {
			for _, dir := range []string{"asc", "desc"} {
				q := "size=40&sort=" + col.Key + "&dir=" + dir
				if f.q != "" {
					q += "&" + f.q
				}
				// Each page twice: the first warms the pages it reads.
				for i := 0; i < 2; i++ {
					t0 := time.Now()
					r := c.Get(vms + "?" + q)
					d := float64(time.Since(t0).Microseconds()) / 1000
					if r.Status != 200 || r.Doc.Find("table.vms tbody tr").Length() == 0 {
						t.Fatalf("%s: status %d, %d rows", q, r.Status, r.Doc.Find("table.vms tbody tr").Length())
					}
					ms = append(ms, d)
					if i == 1 && d > 150 {
						over = append(over, fmt.Sprintf("%s %s %.0f", col.Key, dir, d))
					}
					if d > slowMS {
						slowest, slowMS = col.Key+" "+dir, d
					}
				}
			}
		}
		slices.Sort(ms)
		fmt.Printf("%-34s %8.1f %8.1f %8.1f  %s\n", f.name, ms[len(ms)/2], ms[len(ms)*95/100], ms[len(ms)-1], slowest)
		if len(over) > 0 {
			fmt.Printf("%-34s warm pages over 150 ms: %s\n", "", strings.Join(over, ", "))
		}
	}
	// A deep page and a search, for the record.
	for _, q := range []string{"size=40&sort=name&page=250", "size=40&q=kenji"} {
		t0 := time.Now()
		c.Get(vms + "?" + q)
		fmt.Printf("%-34s %8.1f ms\n", q, float64(time.Since(t0).Microseconds())/1000)
	}

	// The CSV of all VMs, with the server's memory watched.
	pid := cmd.Process.Pid
	before := procStatus(pid, "VmRSS")
	var peak atomic.Int64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				if v := procStatus(pid, "VmRSS"); v > peak.Load() {
					peak.Store(v)
				}
			}
		}
	}()
	t0 := time.Now()
	// The export of a million rows takes longer than the test client's
	// request timeout: same cookies, no timeout.
	hc := &http.Client{Jar: c.HTTP.Jar}
	resp, err := hc.Get(base + vms + ".csv?gone=1")
	if err != nil {
		t.Fatal(err)
	}
	lines, bytesRead := 0, int64(0)
	br := bufio.NewReaderSize(resp.Body, 1<<16)
	for {
		line, err := br.ReadSlice('\n')
		bytesRead += int64(len(line))
		if len(line) > 0 && line[len(line)-1] == '\n' {
			lines++
		}
		if err == io.EOF {
			break
		} else if err != nil && err != bufio.ErrBufferFull {
			t.Fatal(err)
		}
	}
	resp.Body.Close()
	took := time.Since(t0)
	close(done)
	fmt.Printf("inventory bench %s: CSV of every VM: %d rows, %.0f MB in %s (%.0f rows/s); server RSS %d MB before, peak %d MB during (VmHWM %d MB); load %s\n",
		engine, lines-1, float64(bytesRead)/1e6, took.Round(time.Millisecond), float64(lines-1)/took.Seconds(), before>>10, peak.Load()>>10,
		procStatus(pid, "VmHWM")>>10, loadavg())
	if lines-1 != sp.Hosts*perHost {
		t.Errorf("CSV has %d rows, want %d", lines-1, sp.Hosts*perHost)
	}
}

// procStatus reads a kB field of /proc/pid/status.
func procStatus(pid int, field string) int64 {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
