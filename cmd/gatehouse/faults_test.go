package main

// Fault tests of the built binary (issue 17): the database going away under
// a running node, and SIGTERM while requests are in flight. They drive the
// real `gatehouse serve` process over HTTP and print their figures.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

var (
	builtOnce sync.Once
	builtBin  string
	builtErr  error
)

// builtBinary builds cmd/gatehouse once per test process.
func builtBinary(t *testing.T) string {
	t.Helper()
	builtOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gatehouse-bin-")
		if err != nil {
			builtErr = err
			return
		}
		builtBin = filepath.Join(dir, "gatehouse")
		cmd := exec.Command("go", "build", "-o", builtBin, "./cmd/gatehouse")
		cmd.Dir = testenv.RepoRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			builtErr = fmt.Errorf("go build ./cmd/gatehouse: %v\n%s", err, out)
		}
	})
	if builtErr != nil {
		t.Fatal(builtErr)
	}
	return builtBin
}

// node is one `gatehouse serve` process of the built binary.
type node struct {
	URL  string
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan error
}

func startNode(t *testing.T, args ...string) *node {
	t.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cmd := exec.Command(builtBinary(t), append([]string{"serve", "--addr", addr, "--log-format", "json"}, args...)...)
	cmd.Dir = t.TempDir()
	n := &node{URL: "http://" + addr, cmd: cmd, logs: &syncBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = n.logs
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		once := sync.Once{}
		for sc.Scan() {
			if strings.Contains(sc.Text(), "is running at") {
				once.Do(func() { close(ready) })
			}
		}
		n.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
	})
	select {
	case <-ready:
	case err := <-n.done:
		t.Fatalf("gatehouse serve exited: %v\n%s", err, n.logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("gatehouse serve did not start\n%s", n.logs.String())
	}
	return n
}

// prepareLicense migrates the database at dbURL and registers a license of
// seats seats in a business account; it returns the key.
func prepareLicense(t *testing.T, dbURL string, seats int) string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	svc := license.New(db, license.Config{})
	_, key, err := svc.Issue(ctx, license.IssueInput{Edition: "business", Model: "per-device", Seats: seats, Term: license.Term{Years: 1}}, license.OperatorActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	registerInto(t, db, key)
	return key
}

// activateDevices activates n computers and returns their credentials.
func activateDevices(t *testing.T, base, key string, n int) []string {
	t.Helper()
	c := agent.NewClient(base)
	var creds []string
	for i := 0; i < n; i++ {
		a, err := c.Activate(context.Background(), key, "", agent.Device{
			HardwareUUID: fmt.Sprintf("00000000-0000-4000-8000-%012d", i), ComputerName: fmt.Sprintf("mac-%d", i), AppVersion: "19.4.0"})
		if err != nil {
			t.Fatalf("activate %d: %v", i, err)
		}
		creds = append(creds, a.Credential)
	}
	return creds
}

// checkResult is one license check as the client saw it.
type checkResult struct {
	status     int // 0: no response
	retryAfter string
	err        error
	took       time.Duration
	at         time.Time
}

func licenseCheck(client *http.Client, base, cred string) checkResult {
	start := time.Now()
	req, _ := http.NewRequest("POST", base+"/api/client/v1/check", strings.NewReader(`{"app_version":"19.4.0"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+cred)
	resp, err := client.Do(req)
	r := checkResult{err: err, at: start}
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		r.status, r.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
	}
	r.took = time.Since(start)
	return r
}

func healthz(client *http.Client, base string) (int, string) {
	resp, err := client.Get(base + "/healthz")
	if err != nil {
		return 0, ""
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// waitFor polls cond until it holds (a stable state, not a fixed sleep).
func waitFor(t *testing.T, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestFaultPostgresUnavailable stops the node's PostgreSQL (a throw-away
// cluster of the test's own, never the shared server) under a stream of
// license checks: meanwhile /healthz and the checks answer 503 with
// Retry-After within a bound, never 500 and never hanging; once the cluster
// is back the same node (not restarted) answers 200 again.
func TestFaultPostgresUnavailable(t *testing.T) {
	cluster := testenv.StartPostgresCluster(t)
	dbURL := cluster.CreateDatabase(t)
	key := prepareLicense(t, dbURL, 10)
	n := startNode(t, "--database-url", dbURL)
	creds := activateDevices(t, n.URL, key, 4)

	// The bound a request may take while the database is down: the
	// connect timeout (5s) plus slack for a loaded 2-core machine. A hang
	// would run into the client timeout and show as status 0.
	const bound = 15 * time.Second
	client := &http.Client{Timeout: 30 * time.Second}
	var (
		mu      sync.Mutex
		results []checkResult
		stop    atomic.Bool
		wg      sync.WaitGroup
	)
	count := func(pred func(checkResult) bool, since time.Time) int {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for _, r := range results {
			if !r.at.Before(since) && pred(r) {
				c++
			}
		}
		return c
	}
	ok := func(r checkResult) bool { return r.status == 200 }
	unavailable := func(r checkResult) bool { return r.status == 503 }
	for _, cred := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r := licenseCheck(client, n.URL, cred)
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		}()
	}
	t0 := time.Now()
	waitFor(t, "checks to succeed before the fault", time.Minute, func() bool { return count(ok, t0) >= 40 })

	stopped := time.Now()
	cluster.Stop()
	down := time.Now()
	waitFor(t, "503 answers while the database is down", 2*time.Minute, func() bool { return count(unavailable, down) >= 20 })
	hs, hRetry := healthz(client, n.URL)
	if hs != 503 || hRetry == "" {
		t.Errorf("/healthz while the database is down: %d Retry-After %q, want 503 with Retry-After", hs, hRetry)
	}
	// A page: the session lookup needs the database.
	page := func() (int, string, string) {
		req, _ := http.NewRequest("GET", n.URL+"/", nil)
		req.AddCookie(&http.Cookie{Name: "gh_session", Value: "no-such-session-token"})
		resp, err := (&http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		if err != nil {
			return 0, "", err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Retry-After"), string(b)
	}
	if ps, pRetry, body := page(); ps != 503 || pRetry == "" || !strings.Contains(body, "cannot reach its database") {
		t.Errorf("page while the database is down: %d Retry-After %q, want 503 with Retry-After and the reason", ps, pRetry)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	up := time.Now()
	var recovered time.Time
	waitFor(t, "checks to succeed again after the database is back", 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range results {
			if !r.at.Before(up) && r.status == 200 {
				if recovered.IsZero() || r.at.Before(recovered) {
					recovered = r.at.Add(r.took)
				}
			}
		}
		return !recovered.IsZero()
	})
	after := time.Now()
	waitFor(t, "steady success after recovery", time.Minute, func() bool { return count(ok, after) >= 40 })
	stop.Store(true)
	wg.Wait()
	if hs, _ := healthz(client, n.URL); hs != 200 {
		t.Errorf("/healthz after recovery: %d, want 200", hs)
	}
	if ps, _, _ := page(); ps != http.StatusSeeOther {
		t.Errorf("page after recovery: %d, want 303 to sign in (unknown session)", ps)
	}

	var sent, oks, unav, other, missingRetry int
	var slowest time.Duration
	for _, r := range results {
		sent++
		switch {
		case r.status == 200:
			oks++
		case r.status == 503:
			unav++
			if r.retryAfter == "" {
				missingRetry++
			}
		default:
			other++
			if other <= 5 {
				t.Errorf("check at %s: status %d err %v (want 200 or 503)", r.at.Sub(t0), r.status, r.err)
			}
		}
		if r.took > slowest {
			slowest = r.took
		}
	}
	// Steady state after recovery: nothing but 200 (the error count stopped growing).
	if bad := count(func(r checkResult) bool { return r.status != 200 }, after); bad != 0 {
		t.Errorf("%d failed checks after recovery", bad)
	}
	if missingRetry != 0 {
		t.Errorf("%d 503 answers without Retry-After", missingRetry)
	}
	if slowest > bound {
		t.Errorf("slowest check took %s while the database was down (bound %s): requests hang", slowest, bound)
	}
	if strings.Contains(n.logs.String(), "goroutine ") || strings.Contains(n.logs.String(), "panic") {
		t.Errorf("stack trace or panic in the node's log")
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("FAULT postgres-unavailable: sent=%d ok=%d 503=%d other=%d (503 without Retry-After %d) slowest=%s; database down %s, node answered 200 again %s after the database was back (not restarted); load %s\n",
		sent, oks, unav, other, missingRetry, slowest.Round(time.Millisecond), up.Sub(stopped).Round(time.Millisecond), recovered.Sub(up).Round(time.Millisecond), strings.Join(strings.Fields(string(load))[:3], " "))
}

// TestFaultGracefulShutdown sends SIGTERM to the built binary while requests
// are in flight: requests whose bodies are still arriving when the signal
// lands, and a stream of license checks. Every request the node had
// started to receive is answered 200; the node exits 0 after its jobs
// stopped, and the check-ins' last-seen buffer is flushed.
func TestFaultGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "gatehouse.db")
	key := prepareLicense(t, dbURL, 10)
	n := startNode(t, "--database-url", dbURL, "--data-dir", dir)
	creds := activateDevices(t, n.URL, key, 4)

	// Requests in flight for certain: headers and half of the body sent
	// before SIGTERM, the rest after the node has begun shutting down.
	const slow = 6
	type pending struct {
		w    *io.PipeWriter
		resp chan checkResult
	}
	var slows []pending
	body := `{"app_version":"19.4.0"}`
	for i := 0; i < slow; i++ {
		pr, pw := io.Pipe()
		p := pending{w: pw, resp: make(chan checkResult, 1)}
		req, _ := http.NewRequest("POST", n.URL+"/api/client/v1/check", pr)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+creds[i%len(creds)])
		req.ContentLength = int64(len(body))
		go func() {
			start := time.Now()
			resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
			r := checkResult{err: err, at: start}
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				r.status = resp.StatusCode
			}
			r.took = time.Since(start)
			p.resp <- r
		}()
		if _, err := pw.Write([]byte(body[:10])); err != nil {
			t.Fatal(err)
		}
		slows = append(slows, p)
	}

	// A stream of checks on fresh connections meanwhile.
	var (
		stop              atomic.Bool
		wg                sync.WaitGroup
		sent, oks, notAcc atomic.Int64
		failMu            sync.Mutex
		fails             []string
		dropped           atomic.Int64
	)
	var sigAt atomic.Value
	sigAt.Store(time.Now().Add(time.Hour))
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{DisableKeepAlives: true}}
	for _, cred := range creds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				r := licenseCheck(client, n.URL, cred)
				sent.Add(1)
				switch {
				case r.status == 200:
					oks.Add(1)
				case isRefused(r.err):
					// The listener is closed: the node did not take this
					// request (a load balancer sends it to another node).
					notAcc.Add(1)
				case r.err != nil && r.status == 0 && !stop.Load() && !time.Now().Before(sigAt.Load().(time.Time)):
					// Connection closed with no response after SIGTERM:
					// either still in the kernel's accept queue when the
					// listener closed (never read by the node), or a
					// request the node dropped. The node's request log
					// tells them apart below.
					dropped.Add(1)
				default:
					failMu.Lock()
					fails = append(fails, fmt.Sprintf("status %d err %v", r.status, r.err))
					failMu.Unlock()
				}
			}
		}()
	}
	waitFor(t, "checks before SIGTERM", time.Minute, func() bool { return oks.Load() >= 40 })
	signalled := time.Now()
	sigAt.Store(signalled)
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the node to begin shutting down", time.Minute, func() bool { return strings.Contains(n.logs.String(), "shutting down") })
	for _, p := range slows {
		if _, err := p.w.Write([]byte(body[10:])); err != nil {
			t.Errorf("finishing an in-flight body: %v", err)
		}
		p.w.Close()
	}
	slowFailed := 0
	for _, p := range slows {
		r := <-p.resp
		if r.status != 200 {
			slowFailed++
			t.Errorf("in-flight request during shutdown: status %d err %v", r.status, r.err)
		}
	}
	var exitErr error
	select {
	case exitErr = <-n.done:
	case <-time.After(time.Minute):
		t.Fatal("node did not exit after SIGTERM")
	}
	exited := time.Now()
	stop.Store(true)
	wg.Wait()
	if exitErr != nil {
		t.Errorf("node exit: %v\n%s", exitErr, n.logs.String())
	}
	logs := n.logs.String()
	for _, bad := range []string{`"level":"ERROR"`, "panic", "database is closed"} {
		if strings.Contains(logs, bad) {
			t.Errorf("node log has %q during shutdown:\n%s", bad, tailLines(logs, 20))
		}
	}
	// Every check the node read and logged was answered 200 at the client:
	// the connections closed without a response after SIGTERM were never
	// read by the node (the listener's accept queue is reset on close; a
	// load balancer retries them on another node).
	served := 0
	for _, line := range strings.Split(logs, "\n") {
		if strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"/api/client/v1/check"`) {
			served++
			if !strings.Contains(line, `"status":200`) {
				t.Errorf("node answered a check with: %s", line)
			}
		}
	}
	if int64(served) != oks.Load()+slow {
		t.Errorf("node logged %d checks, clients got %d answers (%d streamed + %d in flight): an accepted request was dropped", served, oks.Load()+slow, oks.Load(), slow)
	}
	for _, f := range fails {
		t.Errorf("check failed at the client: %s", f)
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("FAULT graceful-shutdown: in-flight (body arriving at SIGTERM) %d failed=%d; stream sent=%d ok=%d refused-after-close=%d closed-unread-in-accept-queue=%d failed=%d (node logged %d checks); SIGTERM to exit %s; load %s\n",
		slow, slowFailed, sent.Load(), oks.Load(), notAcc.Load(), dropped.Load(), len(fails), served, exited.Sub(signalled).Round(time.Millisecond), strings.Join(strings.Fields(string(load))[:3], " "))
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || (err != nil && strings.Contains(err.Error(), "connection refused"))
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// TestFaultSQLiteKilled kills (SIGKILL) a node on SQLite while it takes a
// stream of activations (a write transaction each). After the kill the
// database passes PRAGMA integrity_check, holds every activation a client
// got 200 for, and a node of the binary restarted on it serves those
// devices' license checks.
func TestFaultSQLiteKilled(t *testing.T) {
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "gatehouse.db")
	key := prepareLicense(t, dbURL, 100000)
	n := startNode(t, "--database-url", dbURL, "--data-dir", dir)

	var (
		mu          sync.Mutex
		acked       = map[string]string{} // hardware UUID -> credential
		sent, fails atomic.Int64
		seq         atomic.Int64
		stop        atomic.Bool
		wg          sync.WaitGroup
	)
	c := agent.NewClient(n.URL)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				i := seq.Add(1)
				uuid := fmt.Sprintf("10000000-0000-4000-8000-%012d", i)
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				a, err := c.Activate(ctx, key, "", agent.Device{HardwareUUID: uuid, ComputerName: fmt.Sprintf("mac-%d", i), AppVersion: "19.4.0"})
				cancel()
				sent.Add(1)
				if err != nil {
					fails.Add(1)
					continue
				}
				mu.Lock()
				acked[uuid] = a.Credential
				mu.Unlock()
			}
		}()
	}
	waitFor(t, "activations before the kill", 2*time.Minute, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 150
	})
	if err := n.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-n.done
	stop.Store(true)
	wg.Wait()
	failedAtKill := fails.Load() // every failure is in flight at the kill or after it

	ctx := context.Background()
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	var check string
	if err := db.QueryRow(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check after kill -9: %v %q", err, check)
	}
	rows, err := db.Query(ctx, "SELECT hardware_uuid FROM license_activations")
	if err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			t.Fatal(err)
		}
		present[u] = true
	}
	rows.Close()
	db.Close()
	lost := 0
	for u := range acked {
		if !present[u] {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged activation %s is missing after kill -9", u)
			}
		}
	}

	// The node comes back on the same file and knows the devices.
	n2 := startNode(t, "--database-url", dbURL, "--data-dir", dir)
	client := &http.Client{Timeout: time.Minute}
	checked := 0
	for _, cred := range acked {
		if r := licenseCheck(client, n2.URL, cred); r.status != 200 {
			t.Errorf("check of an acknowledged activation after restart: %d %v", r.status, r.err)
		}
		if checked++; checked == 20 {
			break
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("FAULT sqlite-kill-9: activations sent=%d acknowledged=%d failed(in flight at kill or after)=%d lost=%d rows=%d integrity_check=%s; restarted node checked %d devices; load %s\n",
		sent.Load(), len(acked), failedAtKill, lost, len(present), check, checked, strings.Join(strings.Fields(string(load))[:3], " "))
}
