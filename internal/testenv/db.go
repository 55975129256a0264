package testenv

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"gatehouse/internal/store"
)

// SQLite returns a migrated database in a fresh temp file, closed at cleanup.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, sqliteURL(t))
}

// Postgres returns a migrated fresh database on the test PostgreSQL server,
// dropped at cleanup.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, postgresDatabase(t))
}

// PostgresURL returns the URL of a fresh, empty (not migrated) database,
// dropped at cleanup; for tests that start `serve` processes themselves.
func PostgresURL(t testing.TB) string {
	t.Helper()
	return postgresDatabase(t)
}

// Engines runs fn as the subtests "sqlite" and "postgres", each with a fresh
// migrated database.
func Engines(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// EngineURLs runs fn as the subtests "sqlite" and "postgres", each with the
// URL of a fresh empty database (sqlite:///tmp/…/test.db or postgres://…).
func EngineURLs(t *testing.T, fn func(t *testing.T, databaseURL string)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, sqliteURL(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, postgresDatabase(t)) })
}

func sqliteURL(t testing.TB) string {
	return "sqlite://" + filepath.Join(t.TempDir(), "test.db")
}

func openMigrated(t testing.TB, databaseURL string) *store.DB {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("open test database: %v", err)
	}
	// Registered after the database's own cleanup (temp dir removal, DROP
	// DATABASE), so it runs first.
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("migrate test database (%s): %v", db.Dialect(), err)
	}
	return db
}
