package store

import (
	"bytes"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"
)

// oneSourceProblems lists what breaks the one-source rule in root (see the
// comment on the migrations variable): a file present for one engine only, or
// a dialect pair that is byte-identical and belongs in the shared folder.
func oneSourceProblems(root fs.FS) []string {
	names := func(dir string) []string {
		entries, _ := fs.ReadDir(root, dir)
		var out []string
		for _, e := range entries {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".sql") {
				out = append(out, e.Name())
			}
		}
		return out
	}
	lite, pg := names("migrations/sqlite"), names("migrations/postgres")
	var problems []string
	for _, n := range lite {
		if !slices.Contains(pg, n) {
			problems = append(problems, "migrations/sqlite/"+n+" has no postgres counterpart: put it in migrations/ if the SQL is the same, or write migrations/postgres/"+n)
			continue
		}
		a, _ := fs.ReadFile(root, "migrations/sqlite/"+n)
		b, _ := fs.ReadFile(root, "migrations/postgres/"+n)
		if bytes.Equal(a, b) {
			problems = append(problems, n+" is identical for both engines: git mv internal/store/migrations/sqlite/"+n+" internal/store/migrations/ && git rm internal/store/migrations/postgres/"+n)
		}
	}
	for _, n := range pg {
		if !slices.Contains(lite, n) {
			problems = append(problems, "migrations/postgres/"+n+" has no sqlite counterpart: put it in migrations/ if the SQL is the same, or write migrations/sqlite/"+n)
		}
	}
	for _, d := range []Dialect{SQLite, Postgres} {
		if _, err := migrationFS(root, d); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

func TestMigrationsHaveOneSource(t *testing.T) {
	for _, p := range oneSourceProblems(migrations) {
		t.Error(p)
	}
	lite, err := migrationFS(migrations, SQLite)
	if err != nil {
		t.Fatal(err)
	}
	pg, err := migrationFS(migrations, Postgres)
	if err != nil {
		t.Fatal(err)
	}
	ln, _ := fs.Glob(lite, "*.sql")
	pn, _ := fs.Glob(pg, "*.sql")
	if len(ln) == 0 || !slices.Equal(ln, pn) {
		t.Errorf("the engines see different migration files:\n  sqlite   %v\n  postgres %v", ln, pn)
	}

	// The check itself catches each kind of drift.
	sql := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	for name, drift := range map[string]fstest.MapFS{
		"one engine only": {
			"migrations/00001_a.sql":        sql("a"),
			"migrations/sqlite/00002_b.sql": sql("b"),
		},
		"identical pair": {
			"migrations/sqlite/00002_b.sql":   sql("b"),
			"migrations/postgres/00002_b.sql": sql("b"),
		},
		"shared and dialect version": {
			"migrations/00002_b.sql":          sql("b"),
			"migrations/sqlite/00002_c.sql":   sql("c1"),
			"migrations/postgres/00002_c.sql": sql("c2"),
		},
	} {
		if len(oneSourceProblems(drift)) == 0 {
			t.Errorf("%s: not reported", name)
		}
	}
}
