package testenv

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// PGCluster is a PostgreSQL cluster of the test's own that the test may stop
// and start again (fault tests: the database going away under a running
// node). It never touches the machine's shared server.
type PGCluster struct {
	// AdminURL reaches the cluster's "postgres" database.
	AdminURL string
	bin      string
	base     string
	data     string
	port     int
	as       *runAs
	p        *proc
}

// StartPostgresCluster initialises a throw-away cluster in a temp dir, starts
// it on a free loopback port and removes it at the end of the test.
func StartPostgresCluster(t testing.TB) *PGCluster {
	t.Helper()
	bin := postgresBinDir()
	if bin == "" {
		peerMissing(t, "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin/initdb) to start a cluster; run scripts/install-deps")
	}
	as, err := postgresUser()
	if err != nil {
		t.Fatal(err)
	}
	base, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		t.Fatal(err)
	}
	if as != nil {
		if err := os.Chown(base, int(as.uid), int(as.gid)); err != nil {
			t.Fatal(err)
		}
	}
	c := &PGCluster{bin: bin, base: base, data: filepath.Join(base, "data"), as: as}
	t.Cleanup(func() {
		c.Stop()
		os.RemoveAll(base)
	})
	out, err := runOut(newCmd(as, syscall.SIGKILL, base, filepath.Join(bin, "initdb"),
		"-D", c.data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"))
	if err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	if c.port, err = freePort(); err != nil {
		t.Fatal(err)
	}
	c.AdminURL = fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	return c
}

// CreateDatabase makes an empty database on the cluster and returns its URL.
func (c *PGCluster) CreateDatabase(t testing.TB) string {
	t.Helper()
	_, u, err := createDatabase(&pgServer{url: c.AdminURL, source: "cluster in " + c.data})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Start runs the server (again, on the same port and data) and waits until
// it answers.
func (c *PGCluster) Start() error {
	logf, err := os.OpenFile(filepath.Join(c.base, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := newCmd(c.as, syscall.SIGQUIT, c.base, filepath.Join(c.bin, "postgres"),
		"-D", c.data, "-p", strconv.Itoa(c.port), "-k", c.data,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
		"-c", "synchronous_commit=off", "-c", "full_page_writes=off",
		"-c", "max_connections=200", "-c", "shared_buffers=32MB")
	cmd.Stdout, cmd.Stderr = logf, logf
	p, err := startProc("postgres", cmd)
	logf.Close()
	if err != nil {
		return err
	}
	c.p = p
	deadline := time.Now().Add(60 * time.Second)
	for {
		if p.exited() {
			log, _ := os.ReadFile(filepath.Join(c.base, "server.log"))
			return fmt.Errorf("postgres exited: %v\n%s", p.err, log)
		}
		if err := pingPostgres(c.AdminURL, 2*time.Second); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			p.stop(syscall.SIGQUIT, 5*time.Second)
			return fmt.Errorf("postgres did not answer on port %d within 60s", c.port)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Stop shuts the server down (fast shutdown: sessions are terminated, as in
// a restart by the operator) and waits for it to exit.
func (c *PGCluster) Stop() {
	if c.p != nil {
		c.p.stop(syscall.SIGINT, 20*time.Second)
		c.p = nil
	}
}
