package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// The PostgreSQL server the tests create their databases on, found once per
// test process: $GATEHOUSE_TEST_POSTGRES_URL, else a server answering on
// 127.0.0.1:5432 (user postgres, trust auth), else (or with
// GATEHOUSE_TEST_POSTGRES_CLUSTER=1) a throw-away cluster started from the
// installed server binaries and stopped by Main.
const defaultPostgresURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable&connect_timeout=5"

type pgServer struct {
	url    string // admin URL (database postgres)
	source string // how we found it, for messages
}

var (
	pgOnce    sync.Once
	pgFound   *pgServer
	pgMissing string // why there is no server (skip reason)
	pgErr     error  // a server should be there but is broken (always fails)
)

func postgresServer() (*pgServer, string, error) {
	pgOnce.Do(func() {
		pgFound, pgMissing, pgErr = findPostgres()
		if pgFound != nil {
			sweepStaleDatabases(pgFound.url)
		}
	})
	return pgFound, pgMissing, pgErr
}

func findPostgres() (*pgServer, string, error) {
	if u := os.Getenv("GATEHOUSE_TEST_POSTGRES_URL"); u != "" {
		if err := pingPostgres(u, 10*time.Second); err != nil {
			return nil, "", fmt.Errorf("GATEHOUSE_TEST_POSTGRES_URL does not answer: %w", err)
		}
		return &pgServer{url: u, source: "GATEHOUSE_TEST_POSTGRES_URL"}, "", nil
	}
	// GATEHOUSE_TEST_POSTGRES_CLUSTER=1 skips the shared server, to exercise
	// the path a fresh machine takes.
	if os.Getenv("GATEHOUSE_TEST_POSTGRES_CLUSTER") != "1" {
		if err := pingPostgres(defaultPostgresURL, 3*time.Second); err == nil {
			return &pgServer{url: defaultPostgresURL, source: "127.0.0.1:5432"}, "", nil
		}
	}
	bin := postgresBinDir()
	if bin == "" {
		return nil, "no PostgreSQL server on 127.0.0.1:5432 and no server binaries (/usr/lib/postgresql/*/bin/initdb) to start one; run scripts/install-deps", nil
	}
	srv, err := startCluster(bin)
	if err != nil {
		return nil, "", fmt.Errorf("start throw-away PostgreSQL cluster from %s: %w", bin, err)
	}
	return srv, "", nil
}

func pingPostgres(u string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	return conn.Ping(ctx)
}

// postgresBinDir returns the newest /usr/lib/postgresql/N/bin holding initdb,
// or the directory of initdb on PATH.
func postgresBinDir() string {
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	sort.Slice(matches, func(i, j int) bool {
		vi, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(matches[i]))), 64)
		vj, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(filepath.Dir(matches[j]))), 64)
		return vi > vj
	})
	for _, m := range matches {
		if _, err := os.Stat(filepath.Join(filepath.Dir(m), "postgres")); err == nil {
			return filepath.Dir(m)
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// startCluster initialises a cluster in a temp dir and runs the server as a
// child process (rather than daemonised by pg_ctl) so that it dies with the
// test binary even when that is killed; Main stops it cleanly.
func startCluster(bin string) (*pgServer, error) {
	as, err := postgresUser()
	if err != nil {
		return nil, err
	}
	removeStaleDirs("gatehouse-pg-*", "data/postmaster.pid")
	base, err := os.MkdirTemp("", "gatehouse-pg-")
	if err != nil {
		return nil, err
	}
	if as != nil {
		if err := os.Chown(base, int(as.uid), int(as.gid)); err != nil {
			os.RemoveAll(base)
			return nil, err
		}
	}
	data := filepath.Join(base, "data")
	out, err := runOut(newCmd(as, syscall.SIGKILL, base, filepath.Join(bin, "initdb"),
		"-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale", "--no-sync"))
	if err != nil {
		os.RemoveAll(base)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		// The server's log goes to a file we open (owned by us), so it is
		// readable after a failure whoever the server runs as.
		logf, err := os.OpenFile(filepath.Join(base, "server.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		cmd := newCmd(as, syscall.SIGQUIT, base, filepath.Join(bin, "postgres"),
			"-D", data, "-p", strconv.Itoa(port), "-k", data,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
			"-c", "synchronous_commit=off", "-c", "full_page_writes=off",
			"-c", "max_connections=300", "-c", "shared_buffers=64MB")
		cmd.Stdout, cmd.Stderr = logf, logf
		p, err := startProc("postgres", cmd)
		logf.Close()
		if err != nil {
			return nil, err
		}
		u := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", port)
		deadline := time.Now().Add(60 * time.Second)
		for {
			if p.exited() {
				log, _ := os.ReadFile(filepath.Join(base, "server.log"))
				lastErr = fmt.Errorf("postgres exited: %v\n%s", p.err, log)
				break
			}
			if err := pingPostgres(u, 2*time.Second); err == nil {
				onProcessExit(func() {
					// SIGINT is PostgreSQL's fast shutdown.
					p.stop(syscall.SIGINT, 20*time.Second)
					os.RemoveAll(base)
				})
				return &pgServer{url: u, source: "throw-away cluster in " + data}, nil
			}
			if time.Now().After(deadline) {
				p.stop(syscall.SIGQUIT, 5*time.Second)
				log, _ := os.ReadFile(filepath.Join(base, "server.log"))
				lastErr = fmt.Errorf("postgres did not answer on port %d within 60s\n%s", port, log)
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	os.RemoveAll(base)
	return nil, lastErr
}

// createDatabase makes an empty database on the server and returns its URL.
// Names carry their creation time so that databases left by a killed run can
// be swept later without touching those of test processes running now.
func createDatabase(srv *pgServer) (name, dbURL string, err error) {
	var rnd [6]byte
	_, _ = rand.Read(rnd[:])
	name = fmt.Sprintf("gh_test_%d_%s", time.Now().Unix(), hex.EncodeToString(rnd[:]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.url)
	if err != nil {
		return "", "", fmt.Errorf("connect to %s: %w", srv.source, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", "", fmt.Errorf("create database %s on %s: %w", name, srv.source, err)
	}
	u, err := url.Parse(srv.url)
	if err != nil {
		return "", "", err
	}
	u.Path = "/" + name
	return name, u.String(), nil
}

func dropDatabase(srv *pgServer, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.url)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	return err
}

// sweepStaleDatabases drops gh_test_ databases older than a test run can
// last (scripts/test uses -timeout 40m), left by runs that were killed.
func sweepStaleDatabases(adminURL string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(ctx, `SELECT datname FROM pg_database WHERE datname LIKE 'gh\_test\_%'`)
	if err != nil {
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-3 * time.Hour).Unix()
	for _, n := range names {
		parts := strings.Split(n, "_")
		if len(parts) != 4 {
			continue
		}
		ts, err := strconv.ParseInt(parts[2], 10, 64)
		if err != nil || ts > cutoff {
			continue
		}
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{n}.Sanitize()+" WITH (FORCE)")
	}
}

// postgresDatabase gives t a fresh empty database and drops it at cleanup.
func postgresDatabase(t testing.TB) string {
	t.Helper()
	srv, missing, err := postgresServer()
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	if srv == nil {
		peerMissing(t, "%s", missing)
	}
	name, u, err := createDatabase(srv)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	t.Cleanup(func() {
		if err := dropDatabase(srv, name); err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("drop test database %s: %v", name, err)
		}
	})
	return u
}
