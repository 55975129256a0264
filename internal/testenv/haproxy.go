package testenv

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proxy is an HAProxy reverse proxy in front of one or more HTTP servers,
// as an operator runs Gatehouse behind a load balancer: round robin,
// `option forwardfor` (it appends the client's address to
// X-Forwarded-For).
type Proxy struct {
	URL  string
	Addr string
}

// HAProxy starts haproxy on a free loopback port in front of backends
// (base URLs such as http://127.0.0.1:PORT) and stops it when the test ends.
func HAProxy(t testing.TB, backends ...string) *Proxy {
	t.Helper()
	bin := ""
	for _, c := range []string{"haproxy", "/usr/sbin/haproxy"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		peerMissing(t, "haproxy not found (run scripts/install-deps)")
	}
	dir := t.TempDir()
	port := FreePort(t)
	var b strings.Builder
	fmt.Fprintf(&b, "global\n  maxconn 256\n\ndefaults\n  mode http\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\n")
	fmt.Fprintf(&b, "frontend f\n  bind 127.0.0.1:%d\n  default_backend b\n\nbackend b\n  balance roundrobin\n  option forwardfor\n", port)
	for i, be := range backends {
		u, err := url.Parse(be)
		if err != nil || u.Host == "" {
			t.Fatalf("haproxy backend %q: %v", be, err)
		}
		fmt.Fprintf(&b, "  server n%d %s\n", i, u.Host)
	}
	cfg := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(cfg, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := startProc("haproxy", newCmd(nil, syscall.SIGTERM, dir, bin, "-f", cfg, "-db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.stop(syscall.SIGTERM, 5*time.Second) })
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("haproxy exited: %v\n%s", p.err, p.output())
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy on %s did not listen within 15s\n%s", addr, p.output())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &Proxy{URL: "http://" + addr, Addr: addr}
}
