package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeStartsAndShutsDown boots the real `serve` command with no database
// flag (SQLite under --data-dir), follows the printed setup link, and checks a
// cancelled context (what SIGINT/SIGTERM do) lets it exit cleanly.
func TestServeStartsAndShutsDown(t *testing.T) {
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", addr, "--data-dir", dir, "--demo", "--log-format", "json"}, &out, &errOut)
	}()

	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(out.String(), "is running at") {
		if time.Now().After(deadline) {
			cancel()
			t.Fatalf("serve did not start; stdout %q stderr %q", out.String(), errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	link := regexp.MustCompile(`http://\S+/setup/\S+`).FindString(out.String())
	if link == "" {
		t.Fatalf("no setup link printed: %q", out.String())
	}
	if !strings.Contains(out.String(), "Demo sign-in: admin@demo.gatehouse.test") {
		t.Errorf("demo credentials not printed: %q", out.String())
	}
	resp, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setup link: status %d", resp.StatusCode)
	}
	if !strings.Contains(errOut.String(), `"msg":"request"`) {
		t.Errorf("no JSON request log: %q", errOut.String())
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("serve exited %d: %s", code, errOut.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if !strings.Contains(errOut.String(), "shutting down") {
		t.Errorf("no shutdown log line: %q", errOut.String())
	}
}

func TestMigrateVersionHelp(t *testing.T) {
	var out, errOut bytes.Buffer
	ctx := context.Background()
	db := "sqlite://" + t.TempDir() + "/m.db"
	if code := run(ctx, []string{"migrate", "--database-url", db}, &out, &errOut); code != 0 {
		t.Fatalf("migrate: %d %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "schema version") {
		t.Errorf("migrate output: %q", out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"migrate", "--database-url", db}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "0 migrations applied now") {
		t.Errorf("second migrate: %d %q", code, out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "gatehouse ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	out.Reset()
	if code := run(ctx, []string{"help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "serve") {
		t.Errorf("help: %d %q", code, out.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"nonsense"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"serve", "--no-such-flag"}, &out, &errOut); code != 2 {
		t.Errorf("bad flag: exit %d", code)
	}
	if code := run(ctx, []string{"serve", "--database-url", "mysql://x"}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "unsupported URL") {
		t.Errorf("bad database url: %d %q", code, errOut.String())
	}
	errOut.Reset()
	if code := run(ctx, []string{"serve", "--database-url", db, "--scim-rate-limit", "100/s"}, &out, &errOut); code != 1 ||
		!strings.Contains(errOut.String(), "--scim-rate-limit") || !strings.Contains(errOut.String(), "the burst is missing") {
		t.Errorf("bad --scim-rate-limit: %d %q", code, errOut.String())
	}
}

// The development IdP signs anyone in: it refuses to listen beyond loopback
// unless the operator says they understand.
func TestDevIdPRefusesPublicAddress(t *testing.T) {
	for addr, want := range map[string]bool{"127.0.0.1:8090": true, "localhost:8090": true, "[::1]:8090": true,
		"0.0.0.0:8090": false, ":8090": false, "192.0.2.1:8090": false, "idp.example.com:8090": false, "127.0.0.1": false} {
		if got := loopbackAddr(addr); got != want {
			t.Errorf("loopbackAddr(%q) = %v, want %v", addr, got, want)
		}
	}
	var out, errOut bytes.Buffer
	code := run(context.Background(), []string{"devidp", "--addr", "0.0.0.0:0", "--data-dir", t.TempDir()}, &out, &errOut)
	if code == 0 || !strings.Contains(errOut.String(), "--i-understand-it-signs-anyone-in") {
		t.Fatalf("devidp on 0.0.0.0: exit %d %q", code, errOut.String())
	}
}
