package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"testing/fstest"

	"github.com/pressly/goose/v3"
)

// Migrations have one source: migrations/NNNNN_name.sql serves both engines.
// Only where the SQL really differs (SQLite rebuilds a table to change a CHECK
// constraint, PostgreSQL says BYTEA where SQLite says BLOB) does a version live
// in migrations/sqlite/ and migrations/postgres/ instead, under the same file
// name in both; a version is either shared or in both dialect folders, never
// both (migrationFS refuses it). TestMigrationsHaveOneSource fails when a
// dialect pair is byte-identical or a version exists for one engine only, and
// TestMigrationsDescribeTheSameSchema migrates a fresh database on each engine
// and compares tables, columns, indexes and unique constraints.
//
// Rule for moving a migration that was written twice into the shared place
// (what the test asks for): the two copies are identical, so
//
//	git mv internal/store/migrations/sqlite/NNNNN_x.sql internal/store/migrations/
//	git rm internal/store/migrations/postgres/NNNNN_x.sql
//
// Version ranges per feature keep parallel work from colliding:
//
//	00001–00099 foundation (accounts, sessions, audit, outbox, jobs)
//	00100–00199 licensing      00200–00299 IdP integration
//	00300–00399 SAML           00400–00499 SCIM
//	00500–00599 SSO activation 00600–00699 fleet / management portal
//	00700–00749 updates and deployment
//	00750–00799 management portal (golden images, policies, profiles)
//
//go:embed migrations
var migrations embed.FS

// Migrate brings the schema up to date. It is safe to run from several nodes at
// once on PostgreSQL (goose takes a session lock).
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	results, err := p.Up(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	applied := make([]string, 0, len(results))
	for _, r := range results {
		applied = append(applied, r.Source.Path)
	}
	return applied, nil
}

// SchemaVersion returns the highest applied migration version.
func (db *DB) SchemaVersion(ctx context.Context) (int64, error) {
	p, err := db.provider()
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(ctx)
}

func (db *DB) provider() (*goose.Provider, error) {
	sub, err := migrationFS(migrations, db.dialect)
	if err != nil {
		return nil, err
	}
	return db.providerFor(sub)
}

// migrationFS is the flat folder goose reads for one engine: the shared files
// at the top of root/migrations plus that engine's own folder. A version found
// in both places is an error, so a dialect file can never silently shadow a
// shared one.
func migrationFS(root fs.FS, d Dialect) (fs.FS, error) {
	out := fstest.MapFS{}
	versions := map[string]string{}
	add := func(dir string) error {
		entries, err := fs.ReadDir(root, dir)
		if err != nil {
			return fmt.Errorf("migrations for %s: %w", d, err)
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
				continue
			}
			version, _, _ := strings.Cut(e.Name(), "_")
			if prev, dup := versions[version]; dup {
				return fmt.Errorf("migrations for %s: version %s is in both %s and %s/%s", d, version, prev, dir, e.Name())
			}
			versions[version] = dir + "/" + e.Name()
			data, err := fs.ReadFile(root, dir+"/"+e.Name())
			if err != nil {
				return fmt.Errorf("migrations for %s: %w", d, err)
			}
			out[e.Name()] = &fstest.MapFile{Data: data, Mode: 0o444}
		}
		return nil
	}
	if err := add("migrations"); err != nil {
		return nil, err
	}
	if err := add("migrations/" + string(d)); err != nil {
		return nil, err
	}
	return out, nil
}

// providerFor builds the goose provider over a migrations folder. Features
// own version ranges, so a feature's new migration can sort below versions a
// database already has (a foundation 00002 after licensing's 00101):
// out-of-order migrations are allowed and applied.
func (db *DB) providerFor(sub fs.FS) (*goose.Provider, error) {
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithAllowOutofOrder(true), goose.WithDisableGlobalRegistry(true)}
	for _, m := range registeredDataMigrations() {
		up := m.Up
		d := db.dialect
		opts = append(opts, goose.WithGoMigrations(goose.NewGoMigration(m.Version,
			&goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error { return up(ctx, &Tx{tx: tx, dialect: d}) }}, nil)))
	}
	if db.dialect == Postgres {
		dialect = goose.DialectPostgres
		locker, err := newPostgresLocker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	p, err := goose.NewProvider(dialect, db.write, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	return p, nil
}

// DataMigration is a migration written in Go, for data changes SQL cannot
// express portably (re-deriving canonical addresses with the one Go
// function that defines them). Feature packages register theirs from an
// init function, with a version in their own range that no SQL file uses;
// it runs once, in a transaction, in version order with the SQL files.
type DataMigration struct {
	Version int64
	Up      func(ctx context.Context, tx *Tx) error
}

var (
	dataMu         sync.Mutex
	dataMigrations = map[int64]DataMigration{}
)

// RegisterDataMigration adds m to every later Migrate. Registering the same
// version twice panics (it is a programming error).
func RegisterDataMigration(m DataMigration) {
	dataMu.Lock()
	defer dataMu.Unlock()
	if _, dup := dataMigrations[m.Version]; dup {
		panic(fmt.Sprintf("store: data migration %d registered twice", m.Version))
	}
	dataMigrations[m.Version] = m
}

func registeredDataMigrations() []DataMigration {
	dataMu.Lock()
	defer dataMu.Unlock()
	out := make([]DataMigration, 0, len(dataMigrations))
	for _, m := range dataMigrations {
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// MigrateTo brings the schema up to version and no further (tests use it to
// build a database as an older release left it).
func (db *DB) MigrateTo(ctx context.Context, version int64) error {
	p, err := db.provider()
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrate to %d: %w", version, err)
	}
	return nil
}
