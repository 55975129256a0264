// Package testenv starts the real peers that Gatehouse's tests talk to —
// PostgreSQL, a DNS server, an SMTP sink, a headless browser, Node-based
// identity providers — and cleans them up afterwards.
//
// A peer that is not installed makes the test skip with the reason, unless
// GATEHOUSE_REQUIRE_PEERS=1 (set by scripts/test), where it fails: CI must not
// go green by skipping everything.
//
// Packages that use peers start their tests with
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// so that process-wide peers (the throw-away PostgreSQL cluster) are stopped
// when the package's tests end. Every peer process also gets a parent-death
// signal, so a test binary killed by -timeout leaves none running.
//
// Environment:
//
//	GATEHOUSE_REQUIRE_PEERS=1          a missing peer fails instead of skipping
//	GATEHOUSE_TEST_POSTGRES_URL=URL    create test databases on this server
//	GATEHOUSE_TEST_POSTGRES_CLUSTER=1  ignore 127.0.0.1:5432, start a throw-away
//	                                   cluster (what a machine without a server does)
//	GATEHOUSE_ARTIFACTS=DIR            where failing browser tests leave a
//	                                   screenshot and the page's HTML
//	                                   (default <repo>/test-artifacts)
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Main runs the tests, then stops every peer this process started and exits
// with the tests' code. Use it as the body of TestMain.
func Main(m *testing.M) {
	code := m.Run()
	stopProcessPeers()
	os.Exit(code)
}

// RequirePeers reports whether a missing peer must fail the test instead of
// skipping it (GATEHOUSE_REQUIRE_PEERS=1).
func RequirePeers() bool { return os.Getenv("GATEHOUSE_REQUIRE_PEERS") == "1" }

// peerMissing skips t, or fails it under RequirePeers, with the reason.
func peerMissing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if RequirePeers() {
		t.Fatalf("required test peer missing (GATEHOUSE_REQUIRE_PEERS=1): %s", msg)
	}
	t.Skipf("test peer missing: %s", msg)
}

// process-wide peers (shared by every test of the package), stopped by Main.
var (
	peersMu   sync.Mutex
	peerStops []func()
)

func onProcessExit(stop func()) {
	peersMu.Lock()
	defer peersMu.Unlock()
	peerStops = append(peerStops, stop)
}

func stopProcessPeers() {
	peersMu.Lock()
	stops := peerStops
	peerStops = nil
	peersMu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := freePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return p
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Command returns the path of the program name (a name looked up on PATH, or
// a path), or skips/fails the test when it is not installed.
func Command(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		peerMissing(t, "program %q not found (run scripts/install-deps): %v", name, err)
	}
	return p
}

// NodeDir returns dir as an absolute path when `node` is installed and
// dir/node_modules exists (installed by scripts/install-deps from
// dir/package.json); otherwise the test skips, or fails under RequirePeers.
func NodeDir(t testing.TB, dir string) string {
	t.Helper()
	abs, err := filepath.Abs(dir)
	if err != nil {
		t.Fatalf("node dir %s: %v", dir, err)
	}
	if _, err := exec.LookPath("node"); err != nil {
		peerMissing(t, "node not found (run scripts/install-deps)")
	}
	if st, err := os.Stat(filepath.Join(abs, "node_modules")); err != nil || !st.IsDir() {
		peerMissing(t, "%s/node_modules missing (run scripts/install-deps)", abs)
	}
	return abs
}

var repoRoot = sync.OnceValue(func() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && bytes.HasPrefix(bytes.TrimSpace(b), []byte("module gatehouse")) {
			return d
		}
		parent := filepath.Dir(d)
		if parent == d {
			return dir
		}
		d = parent
	}
})

// RepoRoot returns the root of the gatehouse module (the directory holding
// go.mod), found from the working directory, which go test sets to the
// package's directory.
func RepoRoot() string { return repoRoot() }

// ArtifactsDir is where tests leave screenshots and logs for people to
// look at: $GATEHOUSE_ARTIFACTS or <repo>/test-artifacts.
func ArtifactsDir() string { return artifactsDir() }

// artifactsDir is where failing tests leave screenshots and logs:
// $GATEHOUSE_ARTIFACTS or <repo>/test-artifacts.
func artifactsDir() string {
	if d := os.Getenv("GATEHOUSE_ARTIFACTS"); d != "" {
		return d
	}
	return filepath.Join(RepoRoot(), "test-artifacts")
}

// fileSafe turns a test name into a file name.
func fileSafe(name string) string {
	b := []byte(name)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '.', c == '_':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}
