package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestIsUnavailable: a server that does not answer is "unavailable" (503),
// while errors of the query or the data are not.
func TestIsUnavailable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// Nothing listens on a port just freed.
	down := fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", testenv.FreePort(t))
	_, err := store.Open(ctx, down)
	if err == nil || !store.IsUnavailable(err) {
		t.Errorf("connection refused: IsUnavailable(%v) = false", err)
	}
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		_, err := db.Exec(ctx, `SELECT no_such_column FROM people`)
		if err == nil || store.IsUnavailable(err) {
			t.Errorf("bad query: IsUnavailable(%v) = true", err)
		}
		var one int
		err = db.QueryRow(ctx, `SELECT 1 FROM people WHERE id = ?`, "none").Scan(&one)
		if store.IsUnavailable(err) {
			t.Errorf("no rows: IsUnavailable(%v) = true", err)
		}
	})
	for _, err := range []error{nil, errors.New("validation failed"), store.ErrNotFound, context.Canceled} {
		if store.IsUnavailable(err) {
			t.Errorf("IsUnavailable(%v) = true", err)
		}
	}
}

// TestRestoreRefusals: restore takes only a backup of the same engine into
// an empty database, and names what is wrong otherwise.
func TestRestoreRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := testenv.SQLite(t)
	sqliteBackup := filepath.Join(dir, "a.backup")
	if err := src.Backup(ctx, sqliteBackup); err != nil {
		t.Fatal(err)
	}
	if err := src.Backup(ctx, sqliteBackup); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v", err)
	}
	junk := filepath.Join(dir, "junk")
	if err := os.WriteFile(junk, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	pgURL := testenv.PostgresURL(t)
	cases := []struct {
		url, in, want string
	}{
		{"sqlite://" + filepath.Join(dir, "new.db"), junk, "not a Gatehouse backup"},
		{pgURL, sqliteBackup, "is an SQLite backup"},
		{"sqlite://" + store.SQLitePath(src.Redacted()), sqliteBackup, "restore only into a new or empty database"},
		{"sqlite://" + filepath.Join(dir, "new.db"), filepath.Join(dir, "missing"), "no such file"},
	}
	for _, c := range cases {
		if err := store.Restore(ctx, c.url, c.in); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("restore %s into %s: %v, want %q", c.in, c.url, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "new.db")); err == nil {
		t.Error("a refused restore left a database file behind")
	}
	// The good case: into a new file, and it holds the schema.
	target := "sqlite://" + filepath.Join(dir, "restored.db")
	if err := store.Restore(ctx, target, sqliteBackup); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, _ := src.Tables(ctx)
	b, _ := db.Tables(ctx)
	if len(a) == 0 || strings.Join(a, ",") != strings.Join(b, ",") {
		t.Errorf("restored tables %v, want %v", b, a)
	}
}
