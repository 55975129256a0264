package store_test

// Conformance tests of the store on both engines: whatever a feature package
// relies on (placeholders, transactions, unique violations, times, RETURNING,
// the two migration sets describing one schema) must behave the same on
// SQLite and PostgreSQL.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestRebindPlaceholders(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()

		// A '?' inside a string literal, a doubled quote and a quoted
		// identifier are not placeholders.
		var a, b, c string
		err := db.QueryRow(ctx, `SELECT CAST(? AS TEXT) || '?' || CAST(? AS TEXT), 'it''s ?', CAST(? AS TEXT) AS "what?"`,
			"x", "y", "z").Scan(&a, &b, &c)
		if err != nil {
			t.Fatal(err)
		}
		if a != "x?y" || b != "it's ?" || c != "z" {
			t.Errorf("got %q %q %q; want \"x?y\" \"it's ?\" \"z\"", a, b, c)
		}

		// More than nine placeholders ($10, $11, … on PostgreSQL), in order.
		const n = 12
		terms := make([]string, n)
		args := make([]any, n)
		for i := range n {
			terms[i] = "CAST(? AS TEXT)"
			args[i] = fmt.Sprintf("%c", 'a'+i)
		}
		var joined string
		if err := db.QueryRow(ctx, "SELECT "+strings.Join(terms, " || "), args...).Scan(&joined); err != nil {
			t.Fatal(err)
		}
		if joined != "abcdefghijkl" {
			t.Errorf("12 placeholders gave %q", joined)
		}

		// The same rebinding inside a transaction.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if tx.Dialect() != db.Dialect() {
				t.Errorf("tx dialect %s, db %s", tx.Dialect(), db.Dialect())
			}
			if _, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, "k?", "v '?'"); err != nil {
				return err
			}
			var v string
			if err := tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = ? AND value <> '?'`, "k?").Scan(&v); err != nil {
				return err
			}
			if v != "v '?'" {
				t.Errorf("value %q", v)
			}
			rows, err := tx.Query(ctx, `SELECT key FROM settings WHERE key IN (?, ?)`, "k?", "nope")
			if err != nil {
				return err
			}
			defer rows.Close()
			var keys []string
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					return err
				}
				keys = append(keys, k)
			}
			if !slices.Equal(keys, []string{"k?"}) {
				t.Errorf("keys %q", keys)
			}
			return rows.Err()
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

func countSettings(t *testing.T, db *store.DB, key string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM settings WHERE key = ?`, key).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestInTx(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := func(tx *store.Tx, key string) error {
			_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, 'v')`, key)
			return err
		}

		t.Run("commit", func(t *testing.T) {
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insert(tx, "a"); err != nil {
					return err
				}
				return insert(tx, "b")
			}); err != nil {
				t.Fatal(err)
			}
			if countSettings(t, db, "a") != 1 || countSettings(t, db, "b") != 1 {
				t.Fatal("committed rows missing")
			}
		})

		t.Run("rollback on error", func(t *testing.T) {
			errStop := errors.New("stop")
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insert(tx, "c"); err != nil {
					return err
				}
				return fmt.Errorf("wrapped: %w", errStop)
			})
			if !errors.Is(err, errStop) {
				t.Fatalf("InTx returned %v; want the function's error", err)
			}
			if countSettings(t, db, "c") != 0 {
				t.Fatal("row of a rolled-back transaction is visible")
			}
		})

		t.Run("rollback on failed statement", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insert(tx, "d"); err != nil {
					return err
				}
				return insert(tx, "a") // duplicate key
			})
			if !store.IsUniqueViolation(err) {
				t.Fatalf("InTx returned %v; want the unique violation", err)
			}
			if countSettings(t, db, "d") != 0 {
				t.Fatal("row written before the failed statement is visible")
			}
		})

		t.Run("rollback on panic", func(t *testing.T) {
			func() {
				defer func() {
					if p := recover(); p != "boom" {
						t.Errorf("recovered %v; want the panic to propagate", p)
					}
				}()
				_ = db.InTx(ctx, func(tx *store.Tx) error {
					if err := insert(tx, "e"); err != nil {
						return err
					}
					panic("boom")
				})
			}()
			if countSettings(t, db, "e") != 0 {
				t.Fatal("row of a panicked transaction is visible")
			}
			// The connection went back to the pool: the (single, on SQLite)
			// writer still works.
			wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := db.InTx(wctx, func(tx *store.Tx) error { return insert(tx, "f") }); err != nil {
				t.Fatalf("write after a panicked transaction: %v", err)
			}
		})

		t.Run("reads see own writes", func(t *testing.T) {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := insert(tx, "g"); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM settings WHERE key = ?`, "g").Scan(&n); err != nil {
					return err
				}
				if n != 1 {
					t.Errorf("transaction does not see its own insert")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	})
}

func TestIsUniqueViolation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := store.Now()
		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('k', '1')`); err != nil {
			t.Fatal(err)
		}

		// Primary key.
		_, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('k', '2')`)
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate primary key: IsUniqueViolation(%v) = false", err)
		}
		wrapped := fmt.Errorf("save setting: %w", err)
		if !store.IsUniqueViolation(wrapped) {
			t.Errorf("wrapped duplicate: IsUniqueViolation = false")
		}

		// UNIQUE column, and the constraint is named in some form.
		insertPerson := func(id, email string) error {
			_, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`,
				id, email, strings.ToLower(email), now)
			return err
		}
		if err := insertPerson("p1", "Ann@example.test"); err != nil {
			t.Fatal(err)
		}
		err = insertPerson("p2", "ann@example.test")
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate unique column: IsUniqueViolation(%v) = false", err)
		}
		if name := store.ConstraintName(err); !strings.Contains(name, "email_norm") {
			t.Errorf("ConstraintName = %q; want it to name email_norm", name)
		}

		// Inside a transaction.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('k', '3')`)
			return err
		})
		if !store.IsUniqueViolation(err) {
			t.Errorf("duplicate in transaction: IsUniqueViolation(%v) = false", err)
		}

		// Other errors are not unique violations.
		_, fkErr := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES ('nope', 'p1', 'user', 'active', ?)`, now)
		if fkErr == nil {
			t.Error("foreign key not enforced")
		} else if store.IsUniqueViolation(fkErr) {
			t.Errorf("foreign key violation reported as unique violation: %v", fkErr)
		}
		_, nnErr := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('n', NULL)`)
		if nnErr == nil || store.IsUniqueViolation(nnErr) {
			t.Errorf("NOT NULL violation: err %v, IsUniqueViolation true", nnErr)
		}
		_, checkErr := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES ('nope', 'p1', 'emperor', 'active', ?)`, now)
		if checkErr == nil || store.IsUniqueViolation(checkErr) {
			t.Errorf("CHECK violation: err %v, IsUniqueViolation true", checkErr)
		}
		if store.IsUniqueViolation(nil) || store.IsUniqueViolation(errors.New("UNIQUE constraint failed")) {
			t.Error("IsUniqueViolation true for nil or a plain error")
		}
	})
}

func TestTimeRoundTrip(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		berlin := time.FixedZone("CEST", 2*3600)
		created := time.Date(2031, 7, 14, 23, 59, 58, 123456789, berlin) // sub-ms part is dropped
		if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, created_at, last_sign_in_at) VALUES (?, ?, ?, ?, ?)`,
			"p1", "a@example.test", "a@example.test", store.At(created), store.Time{}); err != nil {
			t.Fatal(err)
		}

		var got, last store.Time
		var millis int64
		var lastIsNull bool
		err := db.QueryRow(ctx, `SELECT created_at, last_sign_in_at, created_at, last_sign_in_at IS NULL FROM people WHERE id = ?`, "p1").
			Scan(&got, &last, &millis, &lastIsNull)
		if err != nil {
			t.Fatal(err)
		}
		want := created.Truncate(time.Millisecond)
		if !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("created_at = %v; want %v in UTC", got.Time, want.UTC())
		}
		if millis != store.Millis(created) || millis != want.UnixMilli() {
			t.Errorf("stored %d; want epoch milliseconds %d", millis, want.UnixMilli())
		}
		if !last.IsZero() || !lastIsNull {
			t.Errorf("zero Time stored as %v (NULL: %v); want NULL, scanned as zero", last.Time, lastIsNull)
		}
		if !store.At(time.Time{}).IsZero() {
			t.Error("At(zero) is not zero")
		}

		// Times compare in SQL the same way on both engines.
		later := store.At(created.Add(time.Hour))
		if _, err := db.Exec(ctx, `UPDATE people SET last_sign_in_at = ? WHERE id = ?`, later, "p1"); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM people WHERE last_sign_in_at > created_at AND last_sign_in_at <= ?`, later).Scan(&n); err != nil || n != 1 {
			t.Errorf("time comparison matched %d rows (%v); want 1", n, err)
		}
		if err := db.QueryRow(ctx, `SELECT last_sign_in_at FROM people WHERE id = ?`, "p1").Scan(&last); err != nil || !last.Equal(later.Time) {
			t.Errorf("last_sign_in_at = %v, %v; want %v", last.Time, err, later.Time)
		}

		// Now is already at storage precision.
		now := store.Now()
		if !now.Equal(now.Truncate(time.Millisecond)) {
			t.Errorf("Now() = %v has sub-millisecond digits", now.Time)
		}
	})
}

func TestQueryRowWriteReturning(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		upsert := `INSERT INTO settings (key, value) VALUES (?, ?)
			ON CONFLICT (key) DO UPDATE SET value = settings.value || excluded.value
			RETURNING key, value`
		var k, v string
		if err := db.QueryRowWrite(ctx, upsert, "k", "a").Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if k != "k" || v != "a" {
			t.Errorf("insert returned %q %q", k, v)
		}
		if err := db.QueryRowWrite(ctx, upsert, "k", "b").Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if v != "ab" {
			t.Errorf("upsert returned %q; want \"ab\"", v)
		}

		// A conditional update that matches nothing returns no row.
		err := db.QueryRowWrite(ctx, `UPDATE settings SET value = ? WHERE key = ? RETURNING value`, "x", "missing").Scan(&v)
		if !errors.Is(err, sql.ErrNoRows) || !errors.Is(store.NotFound(err), store.ErrNotFound) {
			t.Errorf("update of a missing row: %v; want sql.ErrNoRows / store.ErrNotFound", err)
		}

		// The write is committed (visible from the read pool).
		if err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, "k").Scan(&v); err != nil || v != "ab" {
			t.Errorf("read back %q, %v", v, err)
		}

		// The same RETURNING inside a transaction.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			return tx.QueryRow(ctx, upsert, "k", "c").Scan(&k, &v)
		})
		if err != nil || v != "abc" {
			t.Errorf("upsert in transaction returned %q, %v", v, err)
		}
	})
}

func TestOpenRejectsUnknownURL(t *testing.T) {
	for _, u := range []string{"", "mysql://x", "sqlite:", "postgres:/x"} {
		if db, err := store.Open(context.Background(), u); err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", u)
		}
	}
}

// column is one column of one table, with its type reduced to what must
// agree between the engines.
type column struct{ table, name, typ string }

// typeClass maps declared column types of both engines onto one name.
func typeClass(declared string) string {
	t := strings.ToLower(strings.TrimSpace(declared))
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "text", "character varying", "varchar", "character", "char":
		return "text"
	case "bigint", "int8", "bigserial":
		return "bigint"
	case "integer", "int", "int4", "serial", "smallint", "int2":
		return "integer"
	case "boolean", "bool":
		return "boolean"
	case "blob", "bytea":
		return "bytes"
	case "real", "double precision", "float", "float8", "double":
		return "float"
	}
	return t
}

func TestMigrationsDescribeTheSameSchema(t *testing.T) {
	ctx := context.Background()
	lite := testenv.SQLite(t)
	pg := testenv.Postgres(t)

	lv, err := lite.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pv, err := pg.SchemaVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lv != pv {
		t.Errorf("schema version: sqlite %d, postgres %d (every migration needs the same version number in both folders)", lv, pv)
	}

	liteCols := readColumns(t, lite, `SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name <> 'goose_db_version'`)
	pgCols := readColumns(t, pg, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'goose_db_version'`)
	if len(liteCols) == 0 || len(pgCols) == 0 {
		t.Fatalf("no columns read (sqlite %d, postgres %d)", len(liteCols), len(pgCols))
	}

	tables := func(cols map[string]column) []string {
		seen := map[string]bool{}
		for _, c := range cols {
			seen[c.table] = true
		}
		var out []string
		for tb := range seen {
			out = append(out, tb)
		}
		sort.Strings(out)
		return out
	}
	t.Logf("compared %d tables, %d columns (sqlite) / %d tables, %d columns (postgres)",
		len(tables(liteCols)), len(liteCols), len(tables(pgCols)), len(pgCols))
	if lt, pt := tables(liteCols), tables(pgCols); !slices.Equal(lt, pt) {
		t.Errorf("tables differ:\n  only in sqlite: %v\n  only in postgres: %v", minus(lt, pt), minus(pt, lt))
	}

	var names []string
	for k := range liteCols {
		names = append(names, k)
	}
	for k := range pgCols {
		if _, ok := liteCols[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		l, inLite := liteCols[k]
		p, inPG := pgCols[k]
		switch {
		case !inPG:
			t.Errorf("column %s exists only in the sqlite migrations", k)
		case !inLite:
			t.Errorf("column %s exists only in the postgres migrations", k)
		case l.typ != p.typ:
			t.Errorf("column %s: sqlite type %s, postgres type %s", k, l.typ, p.typ)
		}
	}

	// Indexes and unique constraints: a missing unique index on one engine
	// lets duplicates in there that the other refuses.
	liteIdx, pgIdx := readIndexes(t, lite), readIndexes(t, pg)
	if len(liteIdx) == 0 || len(pgIdx) == 0 {
		t.Fatalf("no indexes read (sqlite %d, postgres %d)", len(liteIdx), len(pgIdx))
	}
	t.Logf("compared %d indexes (sqlite) / %d (postgres)", len(liteIdx), len(pgIdx))
	for _, d := range minus(liteIdx, pgIdx) {
		t.Errorf("index %s exists only in sqlite", d)
	}
	for _, d := range minus(pgIdx, liteIdx) {
		t.Errorf("index %s exists only in postgres", d)
	}
}

// readIndexes describes every index but primary keys as
// "table(col,…) [unique] [partial] [name]": columns in index order, "<expr>"
// for an expression. Indexes made by a UNIQUE constraint carry no name (the
// engines name them differently); CREATE INDEX ones do.
func readIndexes(t *testing.T, db *store.DB) []string {
	t.Helper()
	query := `SELECT m.name, il.name, il."unique", il.partial, il.origin = 'c',
			(SELECT group_concat(n, ',') FROM (SELECT COALESCE(ii.name, '<expr>') AS n FROM pragma_index_info(il.name) ii ORDER BY ii.seqno))
		FROM sqlite_master m, pragma_index_list(m.name) il
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\_%' ESCAPE '\' AND m.name <> 'goose_db_version' AND il.origin <> 'pk'`
	if db.Dialect() == store.Postgres {
		query = `SELECT t.relname, i.relname, ix.indisunique, ix.indpred IS NOT NULL,
				NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = ix.indexrelid AND c.contype IN ('u', 'x')),
				(SELECT string_agg(COALESCE(a.attname, '<expr>'), ',' ORDER BY k.ord)
					FROM unnest(ix.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
					LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum)
			FROM pg_index ix
			JOIN pg_class i ON i.oid = ix.indexrelid
			JOIN pg_class t ON t.oid = ix.indrelid
			JOIN pg_namespace n ON n.oid = t.relnamespace
			WHERE n.nspname = current_schema() AND NOT ix.indisprimary AND t.relname <> 'goose_db_version'`
	}
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", db.Dialect(), err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var table, name, cols string
		var unique, partial, created bool
		if err := rows.Scan(&table, &name, &unique, &partial, &created, &cols); err != nil {
			t.Fatalf("%s: %v", db.Dialect(), err)
		}
		d := table + "(" + cols + ")"
		if unique {
			d += " unique"
		}
		if partial {
			d += " partial"
		}
		if created {
			d += " " + name
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

func readColumns(t *testing.T, db *store.DB, query string) map[string]column {
	t.Helper()
	rows, err := db.Query(context.Background(), query)
	if err != nil {
		t.Fatalf("%s: %v", db.Dialect(), err)
	}
	defer rows.Close()
	cols := map[string]column{}
	for rows.Next() {
		var c column
		if err := rows.Scan(&c.table, &c.name, &c.typ); err != nil {
			t.Fatal(err)
		}
		c.typ = typeClass(c.typ)
		cols[c.table+"."+c.name] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func TestQueryRowPrepared(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := store.SetSetting(ctx, db, "prep-a", "1"); err != nil {
			t.Fatal(err)
		}
		if err := store.SetSetting(ctx, db, "prep-b", "2"); err != nil {
			t.Fatal(err)
		}
		const q = `SELECT value FROM settings WHERE key = ?`
		for i := 0; i < 3; i++ { // the second and third calls reuse the statement
			for key, want := range map[string]string{"prep-a": "1", "prep-b": "2"} {
				var got string
				if err := db.QueryRowPrepared(ctx, q, key).Scan(&got); err != nil || got != want {
					t.Fatalf("%s = %q, %v; want %q", key, got, err, want)
				}
			}
		}
		var got string
		if err := db.QueryRowPrepared(ctx, q, "missing").Scan(&got); store.NotFound(err) != store.ErrNotFound {
			t.Fatalf("missing row: %v", err)
		}
	})
}
