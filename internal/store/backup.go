package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Backup formats, told apart by their first bytes on restore.
var (
	sqliteMagic   = []byte("SQLite format 3\x00")
	pgCustomMagic = []byte("PGDMP")
)

// Backup writes a consistent copy of the database to out while the service
// keeps serving. SQLite: VACUUM INTO, one read transaction, so the copy is
// a snapshot even with writers running, and compact. PostgreSQL: pg_dump in
// its custom format (also a single snapshot); pg_dump must be installed and
// not older than the server. out must not exist yet: a backup never
// overwrites another.
func (db *DB) Backup(ctx context.Context, out string) error {
	if _, err := os.Stat(out); err == nil {
		return fmt.Errorf("backup: %s already exists; choose a new file name", out)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	switch db.dialect {
	case SQLite:
		if _, err := db.write.ExecContext(ctx, "VACUUM INTO ?", out); err != nil {
			os.Remove(out)
			return fmt.Errorf("backup: VACUUM INTO %s: %w", out, err)
		}
		return nil
	default:
		pgDump, err := exec.LookPath("pg_dump")
		if err != nil {
			return errors.New("backup: pg_dump not found on PATH; install the PostgreSQL client tools (Debian: postgresql-client) of the server's major version or newer")
		}
		cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--no-owner", "--no-privileges",
			"--file", out, "--dbname", libpqURL(db.url))
		if msg, err := cmd.CombinedOutput(); err != nil {
			os.Remove(out)
			return fmt.Errorf("backup: pg_dump: %v: %s", err, strings.TrimSpace(string(msg)))
		}
		return nil
	}
}

// Restore loads a backup made by Backup into the empty database at
// databaseURL, of the same engine. It refuses a database that already has
// tables (restore is for a new or emptied database, never a merge), and a
// backup of the other engine.
func Restore(ctx context.Context, databaseURL, in string) error {
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	head := make([]byte, len(sqliteMagic))
	n, _ := io.ReadFull(f, head)
	f.Close()
	head = head[:n]
	isSQLite, isPG := bytes.Equal(head, sqliteMagic), bytes.HasPrefix(head, pgCustomMagic)
	if !isSQLite && !isPG {
		return fmt.Errorf("restore: %s is not a Gatehouse backup (neither an SQLite database nor a pg_dump custom-format archive)", in)
	}
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		if !isSQLite {
			return fmt.Errorf("restore: %s is a PostgreSQL backup; restore it into a postgres:// database", in)
		}
		return restoreSQLite(ctx, SQLitePath(databaseURL), in)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		if !isPG {
			return fmt.Errorf("restore: %s is an SQLite backup; restore it into a sqlite:// database", in)
		}
		return restorePostgres(ctx, databaseURL, in)
	}
	return fmt.Errorf("restore: unsupported database URL %q (want sqlite:///path or postgres://…)", redact(databaseURL))
}

func restoreSQLite(ctx context.Context, path, in string) error {
	if path == "" {
		return errors.New("restore: sqlite URL has no file path")
	}
	if _, err := os.Stat(path); err == nil {
		db, err := Open(ctx, "sqlite://"+path)
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		tables, err := db.Tables(ctx)
		db.Close()
		if err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		if len(tables) > 0 {
			return fmt.Errorf("restore: %s already has %d tables; restore only into a new or empty database", path, len(tables))
		}
	}
	// Check the backup before it replaces anything.
	src, err := sql.Open("sqlite", "file:"+(&url.URL{Path: in}).EscapedPath()+"?mode=ro")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	var check string
	err = src.QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check)
	src.Close()
	if err != nil || check != "ok" {
		return fmt.Errorf("restore: %s fails its integrity check: %v %s", in, err, check)
	}
	// Copy next to the target, then rename: the target is either absent or
	// the complete copy, never half written.
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".restore-*")
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer os.Remove(tmp.Name())
	r, err := os.Open(in)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("restore: %w", err)
	}
	_, err = io.Copy(tmp, r)
	r.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore: copy %s: %w", in, err)
	}
	// An empty target may have left WAL files that would be replayed onto
	// the restored copy.
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore: %w", err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	return nil
}

func restorePostgres(ctx context.Context, databaseURL, in string) error {
	db, err := Open(ctx, databaseURL)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	tables, err := db.Tables(ctx)
	db.Close()
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if len(tables) > 0 {
		return fmt.Errorf("restore: %s already has %d tables; restore only into a new or empty database", redact(databaseURL), len(tables))
	}
	pgRestore, err := exec.LookPath("pg_restore")
	if err != nil {
		return errors.New("restore: pg_restore not found on PATH; install the PostgreSQL client tools (Debian: postgresql-client)")
	}
	// One transaction: a failed restore leaves the database empty again.
	cmd := exec.CommandContext(ctx, pgRestore, "--single-transaction", "--exit-on-error", "--no-owner", "--no-privileges",
		"--dbname", libpqURL(databaseURL), in)
	if msg, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("restore: pg_restore: %v: %s", err, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Tables lists the database's tables (the application's schema, including
// the migration bookkeeping), sorted by name.
func (db *DB) Tables(ctx context.Context) ([]string, error) {
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`
	if db.dialect != SQLite {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	rows, err := db.read.QueryContext(ctx, q)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		names = append(names, n)
	}
	return names, rows.Err()
}

// libpqURL drops the parameters libpq does not know (pgx-only ones such as
// pool settings) from a postgres:// URL for pg_dump and pg_restore.
func libpqURL(databaseURL string) string {
	u, err := url.Parse(databaseURL)
	if err != nil {
		return databaseURL
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") || strings.HasPrefix(k, "statement_cache") || k == "default_query_exec_mode" {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
