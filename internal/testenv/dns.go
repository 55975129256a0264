package testenv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// DNSServer is a real dnsmasq serving TXT records on loopback (UDP and TCP),
// for domain-verification tests; the application is pointed at Addr
// (--dns-server).
type DNSServer struct {
	Addr string // 127.0.0.1:port

	bin  string
	dir  string
	as   *runAs
	port int

	mu         sync.Mutex
	txt        map[string][]string
	proc       *proc
	generation int
}

// readyName is a record every configuration serves, with a value that
// changes at each restart, so we can tell the new process answers.
const readyName = "testenv-ready.invalid"

// DNS starts dnsmasq on a free loopback port, stopped at cleanup.
func DNS(t testing.TB) *DNSServer {
	t.Helper()
	bin := ""
	for _, c := range []string{"dnsmasq", "/usr/sbin/dnsmasq"} {
		if p, err := exec.LookPath(c); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		peerMissing(t, "dnsmasq not found (Debian package dnsmasq-base; run scripts/install-deps)")
	}
	// As root, dnsmasq would switch to nobody after binding, and that change
	// of user clears the parent-death signal that stops it when a killed test
	// binary cannot run its cleanup: so start it as nobody.
	as, err := nobodyUser()
	if err != nil {
		t.Fatalf("dns: %v", err)
	}
	removeStaleDirs("gatehouse-dns-*", "dnsmasq.pid")
	dir, err := os.MkdirTemp("", "gatehouse-dns-")
	if err != nil {
		t.Fatalf("dns: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if as != nil {
		if err := os.Chown(dir, int(as.uid), int(as.gid)); err != nil {
			t.Fatalf("dns: %v", err)
		}
	}
	d := &DNSServer{bin: bin, dir: dir, as: as, txt: map[string][]string{}}
	t.Cleanup(d.stop)
	for attempt := 0; attempt < 5; attempt++ {
		d.port, err = freePort()
		if err != nil {
			t.Fatalf("dns: %v", err)
		}
		d.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(d.port))
		d.mu.Lock()
		err = d.restartLocked()
		d.mu.Unlock()
		if err == nil {
			return d
		}
	}
	t.Fatalf("dns: %v", err)
	return nil
}

// SetTXT publishes the TXT records of name (one record per value; none
// removes the name), restarting dnsmasq, which does not reload TXT records on
// SIGHUP, and waits until the new records are served.
func (d *DNSServer) SetTXT(t testing.TB, name string, values ...string) {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	name = strings.TrimSuffix(name, ".")
	if len(values) == 0 {
		delete(d.txt, name)
	} else {
		d.txt[name] = slices.Clone(values)
	}
	var err error
	for attempt := 0; attempt < 5; attempt++ {
		if err = d.restartLocked(); err == nil {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("dns: publish TXT %s: %v", name, err)
}

// Resolver returns a resolver that asks only this server.
func (d *DNSServer) Resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var dialer net.Dialer
			return dialer.DialContext(ctx, network, d.Addr)
		},
	}
}

func (d *DNSServer) restartLocked() error {
	if d.proc != nil {
		d.proc.stop(syscall.SIGTERM, 5*time.Second)
		d.proc = nil
	}
	d.generation++
	ready := fmt.Sprintf("gen-%d", d.generation)
	var b strings.Builder
	fmt.Fprintf(&b, "port=%d\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\nno-poll\n", d.port)
	fmt.Fprintf(&b, "pid-file=%s\n", filepath.Join(d.dir, "dnsmasq.pid"))

	fmt.Fprintf(&b, "txt-record=%s,%s\n", readyName, quoteTXT(ready))
	names := make([]string, 0, len(d.txt))
	for n := range d.txt {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		for _, v := range d.txt[n] {
			fmt.Fprintf(&b, "txt-record=%s,%s\n", n, quoteTXT(v))
		}
	}
	conf := filepath.Join(d.dir, "dnsmasq.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		return err
	}
	cmd := newCmd(d.as, syscall.SIGTERM, d.dir, d.bin, "--conf-file="+conf, "--keep-in-foreground", "--log-facility=-")
	p, err := startProc("dnsmasq", cmd)
	if err != nil {
		return err
	}
	d.proc = p
	res := d.Resolver()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if p.exited() {
			return fmt.Errorf("dnsmasq exited: %v\n%s", p.err, p.output())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		got, err := res.LookupTXT(ctx, readyName+".")
		cancel()
		if err == nil && len(got) == 1 && got[0] == ready {
			return nil
		}
		if time.Now().After(deadline) {
			p.stop(syscall.SIGTERM, 5*time.Second)
			d.proc = nil
			return fmt.Errorf("dnsmasq on %s did not answer within 15s (last: %v %q)\n%s", d.Addr, err, got, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *DNSServer) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.proc != nil {
		d.proc.stop(syscall.SIGTERM, 5*time.Second)
		d.proc = nil
	}
}

// quoteTXT writes v as dnsmasq quoted character-strings, split in 255-byte
// pieces (the DNS limit of one string; resolvers join them again).
func quoteTXT(v string) string {
	var parts []string
	for len(v) > 255 || len(parts) == 0 {
		n := min(len(v), 255)
		parts = append(parts, v[:n])
		v = v[n:]
	}
	if v != "" {
		parts = append(parts, v)
	}
	for i, p := range parts {
		var b strings.Builder
		b.WriteByte('"')
		for j := 0; j < len(p); j++ {
			c := p[j]
			if c == '"' || c == '\\' {
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		b.WriteByte('"')
		parts[i] = b.String()
	}
	return strings.Join(parts, ",")
}
