package store

import (
	"context"
	"database/sql"
)

// The *Cached methods run a statement of a hot transaction (a fleet
// check-in runs the same handful thousands of times a second) as a
// prepared statement: prepared once per writer connection and reused, which
// saves SQLite from parsing it every time (most of a small statement's
// cost) and PostgreSQL a parse/plan round. The statements must have been
// prepared with PrepareWriter beforehand — outside any transaction, since
// on SQLite the transaction holds the only writer connection; a statement
// that was not runs unprepared.

// PrepareWriter prepares constant queries for the *Cached methods. Call it
// outside transactions; preparing one twice is harmless.
func (db *DB) PrepareWriter(ctx context.Context, queries ...string) error {
	for _, q := range queries {
		if _, ok := db.wstmts.Load(q); ok {
			continue
		}
		prepared, err := db.write.PrepareContext(ctx, db.rebind(q))
		if err != nil {
			return err
		}
		if _, loaded := db.wstmts.LoadOrStore(q, prepared); loaded {
			prepared.Close()
		}
	}
	return nil
}

func (tx *Tx) cached(ctx context.Context, query string) *sql.Stmt {
	st, ok := tx.db.wstmts.Load(query)
	if !ok {
		return nil
	}
	return tx.tx.StmtContext(ctx, st.(*sql.Stmt))
}

// ExecCached is Exec through a cached prepared statement.
func (tx *Tx) ExecCached(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := tx.cached(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return tx.Exec(ctx, query, args...)
}

// QueryCached is Query through a cached prepared statement.
func (tx *Tx) QueryCached(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := tx.cached(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return tx.Query(ctx, query, args...)
}

// QueryRowCached is QueryRow through a cached prepared statement.
func (tx *Tx) QueryRowCached(ctx context.Context, query string, args ...any) *sql.Row {
	if st := tx.cached(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.QueryRow(ctx, query, args...)
}
