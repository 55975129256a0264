package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func cli(t *testing.T, run func(context.Context, []string, io.Writer, io.Writer) error, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, &out, &errb)
	return out.String(), errb.String(), err
}

// registerInto makes a business account and registers key into it.
func registerInto(t *testing.T, db *store.DB, key string) {
	t.Helper()
	ctx := context.Background()
	pid := ids.New()
	if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`, pid, pid+"@example.com", pid+"@example.com", store.Now()); err != nil {
		t.Fatal(err)
	}
	svc := license.New(db, license.Config{})
	if _, err := svc.RegisterKey(ctx, license.Caller{PersonID: pid}, license.RegisterInput{Key: key, NewAccount: &license.NewAccount{Name: "Acme", Country: "DE"}},
		audit.Actor{Type: audit.ActorPerson, ID: pid}); err != nil {
		t.Fatal(err)
	}
}

func TestVendorAndAgentRoundTrip(t *testing.T) {
	dbURL := "sqlite://" + filepath.Join(t.TempDir(), "gh.db")
	t.Setenv("GATEHOUSE_DATABASE_URL", dbURL)

	// The operator issues a subscription; stdout is just the key.
	out, errOut, err := cli(t, runVendor, "issue", "--edition", "business", "--model", "per-device", "--seats", "1", "--term", "1y")
	if err != nil {
		t.Fatalf("issue: %v\n%s", err, errOut)
	}
	key := strings.TrimSpace(out)
	if !license.ValidKey(key) || !strings.Contains(errOut, "1 seats") {
		t.Fatalf("issue printed %q / %q", out, errOut)
	}
	_, _, err = cli(t, runVendor, "issue", "--edition", "gold", "--seats", "1")
	if err == nil {
		t.Fatal("bad edition accepted")
	}

	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	registerInto(t, db, key)
	srv := httptest.NewServer(clientapi.New(license.New(db, license.Config{}), clientapi.Config{}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "agent")
	agentCLI := func(args ...string) (string, error) {
		out, errOut, err := cli(t, runAgent, append(args, "--dir", dir)...)
		return out + errOut, err
	}

	if out, err := agentCLI("activate", "--server", srv.URL, "--key", strings.ToLower(key)); err != nil || !strings.Contains(out, "activated") {
		t.Fatalf("activate: %v\n%s", err, out)
	}
	if fi, err := os.Stat(filepath.Join(dir, "state.json")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi, err)
	}
	// verify works offline: stop the server first.
	srv.Close()
	if out, err := agentCLI("verify"); err != nil || !strings.Contains(out, "certificate OK") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if out, err := agentCLI("status"); err != nil || !strings.Contains(out, "status:        active") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	srv = httptest.NewServer(clientapi.New(license.New(db, license.Config{}), clientapi.Config{}))
	defer srv.Close()
	if out, err := agentCLI("check", "--server", srv.URL); err != nil || !strings.Contains(out, "active:") {
		t.Fatalf("check: %v\n%s", err, out)
	}
	// A second computer finds no seat.
	other := filepath.Join(t.TempDir(), "other")
	if _, errOut, err := cli(t, runAgent, "activate", "--server", srv.URL, "--key", key, "--dir", other); err == nil || !strings.Contains(err.Error(), "no_free_seat") {
		t.Fatalf("second computer: %v %s", err, errOut)
	}
	if out, err := agentCLI("deactivate", "--server", srv.URL); err != nil || !strings.Contains(out, "deactivated") {
		t.Fatalf("deactivate: %v\n%s", err, out)
	}
	out, err = agentCLI("check", "--server", srv.URL)
	var le *errLicense
	if !errors.As(err, &le) || le.code != "deactivated" {
		t.Fatalf("check after deactivation: %v\n%s", err, out)
	}
	if out, _ := agentCLI("status"); !strings.Contains(out, "status:        deactivated") {
		t.Fatalf("status after deactivation:\n%s", out)
	}
	// The freed seat goes to the other computer.
	if _, errOut, err := cli(t, runAgent, "activate", "--server", srv.URL, "--key", key, "--dir", other); err != nil {
		t.Fatalf("other computer after deactivation: %v %s", err, errOut)
	}

	// Vendor actions on the registered subscription.
	for _, args := range [][]string{
		{"show", key}, {"convert", "--key", key, "--model", "mixed"}, {"extend", key, "--term", "6m", "--seats", "5"},
		{"suspend", key, "--reason", "test"}, {"resume", key}, {"list"},
	} {
		out, errOut, err := cli(t, runVendor, args...)
		if err != nil {
			t.Fatalf("vendor %v: %v\n%s%s", args, err, out, errOut)
		}
	}
	out, _, _ = cli(t, runVendor, "list")
	if !strings.Contains(out, "enterprise") || !strings.Contains(out, "Acme") {
		t.Fatalf("list:\n%s", out)
	}
	if _, _, err := cli(t, runVendor, "convert", key); err == nil {
		t.Fatal("converted twice")
	}
	if _, _, err := cli(t, runVendor, "show", license.GenerateKey()); err == nil {
		t.Fatal("showed an unknown key")
	}
	tok, _, err := cli(t, runVendor, "token")
	if err != nil || !strings.HasPrefix(tok, "ghop_") {
		t.Fatalf("token %q %v", tok, err)
	}
}

func TestLoadgenAgainstServer(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	svc := license.New(db, license.Config{})
	_, key, err := svc.Issue(ctx, license.IssueInput{Edition: "business", Model: "per-device", Seats: 30, Term: license.Term{Years: 1}}, license.OperatorActor("t"))
	if err != nil {
		t.Fatal(err)
	}
	registerInto(t, db, key)
	srv := httptest.NewServer(clientapi.New(svc, clientapi.Config{}))
	defer srv.Close()
	out, errOut, err := cli(t, runLoadgen, "activations", "--server", srv.URL, "--key", key, "--n", "40", "--concurrency", "8")
	if err != nil || !strings.Contains(out, "ok=30") || !strings.Contains(out, "no_free_seat=10") || !strings.Contains(out, "p99") || !strings.Contains(errOut, "40/40 done") {
		t.Fatalf("loadgen activations: %v\n%s\n%s", err, out, errOut)
	}
	_, key2, _ := svc.Issue(ctx, license.IssueInput{Edition: "business", Model: "per-device", Seats: 10, Term: license.Term{Years: 1}}, license.OperatorActor("t"))
	registerInto(t, db, key2)
	out, _, err = cli(t, runLoadgen, "checks", "--server", srv.URL, "--key", key2, "--devices", "5", "--n", "50", "--concurrency", "5", "--quiet")
	if err != nil || !strings.Contains(out, "ok=50") {
		t.Fatalf("loadgen checks: %v\n%s", err, out)
	}
}
