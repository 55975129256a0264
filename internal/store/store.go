// Package store opens the database (SQLite or PostgreSQL), runs the embedded
// migrations and offers one small query API whose SQL is written once with `?`
// placeholders and rebound per dialect here, so feature packages never branch
// on the engine.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	_ "modernc.org/sqlite"             // registers the "sqlite" driver
)

// Dialect names the SQL engine behind a DB.
type Dialect string

const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is the handle every service uses. On SQLite writes go through a single
// connection (SQLite allows one writer; queuing in Go is cheaper than
// SQLITE_BUSY retries) and plain reads use a separate pool. On PostgreSQL both
// are the same pool.
type DB struct {
	dialect Dialect
	write   *sql.DB
	read    *sql.DB
	url     string
	stmts   sync.Map // query text → *sql.Stmt on the read pool (QueryRowPrepared)
	wstmts  sync.Map // query text → *sql.Stmt on the writer (Tx.*Cached)
}

// Open connects to databaseURL: "sqlite:///path/to/file.db" (or "sqlite://file.db"
// relative) or "postgres://…". Migrations are not run; call Migrate.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	switch {
	case strings.HasPrefix(databaseURL, "sqlite:"):
		return openSQLite(ctx, databaseURL)
	case strings.HasPrefix(databaseURL, "postgres://"), strings.HasPrefix(databaseURL, "postgresql://"):
		return openPostgres(ctx, databaseURL)
	default:
		return nil, fmt.Errorf("open database: unsupported URL %q (want sqlite:///path or postgres://…)", redact(databaseURL))
	}
}

// SQLitePath returns the file path of a sqlite: URL.
func SQLitePath(databaseURL string) string {
	p := strings.TrimPrefix(databaseURL, "sqlite:")
	p = strings.TrimPrefix(p, "//")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return p
}

func openSQLite(ctx context.Context, databaseURL string) (*DB, error) {
	path := SQLitePath(databaseURL)
	if path == "" {
		return nil, errors.New("open database: sqlite URL has no file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// Pragmas live in the DSN so that every pooled connection gets them;
	// busy_timeout comes first so the WAL switch itself can wait for a lock.
	pragmas := "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)"
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + pragmas
	write, err := sql.Open("sqlite", dsn+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open sqlite writer: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	read, err := sql.Open("sqlite", dsn+"&mode=ro")
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open sqlite reader: %w", err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	db := &DB{dialect: SQLite, write: write, read: read, url: databaseURL}
	// The writer must create the file (and switch it to WAL) before a read-only
	// connection can open it.
	if err := write.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	return db, nil
}

func openPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	pool, err := sql.Open("pgx", withConnectTimeout(databaseURL))
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	// As many idle connections as open ones: with fewer, a burst of
	// concurrent requests closes and reopens connections (a backend start
	// each) on every release beyond the idle cap. Not fewer than 32: a
	// smaller pool costs PostgreSQL less CPU (15% per license check with 8
	// on 2 cores) but some transactions read through the pool while
	// holding their connection (e.g. SCIM membership hooks), and a pool no
	// larger than the concurrent transactions would deadlock them.
	pool.SetMaxOpenConns(32)
	pool.SetMaxIdleConns(32)
	// Connections a burst opened close after a quiet minute, so that the
	// nodes sharing a server do not hold max_connections between bursts.
	pool.SetConnMaxIdleTime(time.Minute)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.PingContext(pctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres %s: %w", redact(databaseURL), err)
	}
	return &DB{dialect: Postgres, write: pool, read: pool, url: databaseURL}, nil
}

// redact hides a password in a database URL for error messages and logs.
func redact(u string) string {
	parsed, err := url.Parse(u)
	if err != nil || parsed.User == nil {
		return u
	}
	if _, has := parsed.User.Password(); has {
		parsed.User = url.UserPassword(parsed.User.Username(), "xxxxx")
	}
	return parsed.String()
}

// Redacted returns the database URL without its password, for logs.
func (db *DB) Redacted() string { return redact(db.url) }

// Dialect reports the engine.
func (db *DB) Dialect() Dialect { return db.dialect }

// Close closes every pool.
func (db *DB) Close() error {
	for _, m := range []*sync.Map{&db.stmts, &db.wstmts} {
		m.Range(func(_, st any) bool {
			st.(*sql.Stmt).Close()
			return true
		})
	}
	err := db.write.Close()
	if db.read != db.write {
		if rerr := db.read.Close(); err == nil {
			err = rerr
		}
	}
	return err
}

// Ping checks the database answers (used by /healthz).
func (db *DB) Ping(ctx context.Context) error {
	if err := db.read.PingContext(ctx); err != nil {
		return err
	}
	var one int
	return db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Stats returns the pool statistics of the writer and the reader pools.
func (db *DB) Stats() (write, read sql.DBStats) { return db.write.Stats(), db.read.Stats() }

// Querier is what both a DB and a Tx offer, so that helpers can take either.
type Querier interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
	Query(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) *sql.Row
	Dialect() Dialect
}

// Exec runs a statement outside a transaction (on the writer).
func (db *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return db.write.ExecContext(ctx, db.rebind(query), args...)
}

// Query reads rows (on the read pool).
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.read.QueryContext(ctx, db.rebind(query), args...)
}

// QueryRow reads one row (on the read pool).
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return db.read.QueryRowContext(ctx, db.rebind(query), args...)
}

// Tx is a transaction; all its statements go to the writer.
type Tx struct {
	tx      *sql.Tx
	dialect Dialect
	db      *DB
}

// Dialect reports the engine.
func (tx *Tx) Dialect() Dialect { return tx.dialect }

func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return tx.tx.ExecContext(ctx, rebind(tx.dialect, query), args...)
}

func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return tx.tx.QueryContext(ctx, rebind(tx.dialect, query), args...)
}

func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	return tx.tx.QueryRowContext(ctx, rebind(tx.dialect, query), args...)
}

// InTx runs fn inside one transaction: committed when fn returns nil, rolled
// back otherwise (and on panic). On SQLite the transaction starts IMMEDIATE so
// concurrent writers queue instead of failing on lock upgrade; on PostgreSQL it
// runs at READ COMMITTED, and code that needs exact counters uses conditional
// updates (UPDATE … WHERE used < cap), never read-then-write.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	sqlTx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	tx := &Tx{tx: sqlTx, dialect: db.dialect, db: db}
	defer func() {
		if p := recover(); p != nil {
			_ = sqlTx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = sqlTx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func (db *DB) rebind(q string) string { return rebind(db.dialect, q) }

// rebind turns `?` placeholders into `$1, $2, …` for PostgreSQL, skipping
// quoted strings and identifiers.
func rebind(d Dialect, q string) string {
	if d != Postgres || !strings.Contains(q, "?") {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(fmt.Sprint(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// ErrNotFound is returned by helpers when a row does not exist (or belongs to
// another business account, which callers must not be able to tell apart).
var ErrNotFound = errors.New("not found")

// NotFound maps sql.ErrNoRows to ErrNotFound and passes other errors through.
func NotFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return err
}

// QueryRowWrite runs a writing statement that returns a row (INSERT …
// RETURNING) on the writer outside a transaction.
func (db *DB) QueryRowWrite(ctx context.Context, query string, args ...any) *sql.Row {
	return db.write.QueryRowContext(ctx, db.rebind(query), args...)
}

// writer returns a Querier whose reads go to the writer connection, for a
// read that must see a write this process just made (SQLite's read pool may
// lag by a snapshot).
func (db *DB) writer() Querier { return writerQuerier{db} }

type writerQuerier struct{ db *DB }

func (w writerQuerier) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return w.db.Exec(ctx, q, args...)
}
func (w writerQuerier) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return w.db.write.QueryContext(ctx, w.db.rebind(q), args...)
}
func (w writerQuerier) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return w.db.write.QueryRowContext(ctx, w.db.rebind(q), args...)
}
func (w writerQuerier) Dialect() Dialect { return w.db.dialect }

// Writer returns a Querier that reads through the writer connection.
func (db *DB) Writer() Querier { return db.writer() }

// QueryRowPrepared is QueryRow for a hot query with a fixed text: the
// statement is prepared once (per pooled connection, by database/sql) and
// reused, which saves SQLite from parsing it on every call — most of a cheap
// lookup's cost. Only use it with constant query strings: each one stays
// cached until Close.
func (db *DB) QueryRowPrepared(ctx context.Context, query string, args ...any) *sql.Row {
	st, ok := db.stmts.Load(query)
	if !ok {
		prepared, err := db.read.PrepareContext(ctx, db.rebind(query))
		if err != nil {
			return db.read.QueryRowContext(ctx, db.rebind(query), args...)
		}
		var loaded bool
		if st, loaded = db.stmts.LoadOrStore(query, prepared); loaded {
			prepared.Close()
		}
	}
	return st.(*sql.Stmt).QueryRowContext(ctx, args...)
}

// Placeholders returns "?, ?, …" for an IN list of n values.
func Placeholders(n int) string {
	if n <= 0 {
		return ""
	}
	return strings.Repeat("?, ", n-1) + "?"
}

// withConnectTimeout adds connect_timeout=5 to a PostgreSQL URL that sets
// none: without it a connection attempt to a server that does not answer
// (host down, packets dropped) waits for the kernel's TCP timeout, minutes,
// and requests hang instead of answering 503 (IsUnavailable).
func withConnectTimeout(databaseURL string) string {
	if strings.Contains(databaseURL, "connect_timeout=") {
		return databaseURL
	}
	if strings.HasPrefix(databaseURL, "postgres://") || strings.HasPrefix(databaseURL, "postgresql://") {
		if strings.Contains(databaseURL, "?") {
			return databaseURL + "&connect_timeout=5"
		}
		return databaseURL + "?connect_timeout=5"
	}
	return databaseURL + " connect_timeout=5" // key=value form
}
