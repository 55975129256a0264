package store

import (
	"context"
	"testing"
	"testing/fstest"
)

// TestOutOfOrderMigrationApplies: a database already at a feature's higher
// version still gets a lower-numbered migration added later.
func TestOutOfOrderMigrationApplies(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, "sqlite://"+t.TempDir()+"/order.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	first := fstest.MapFS{
		"00001_a.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (id TEXT);\n")},
		"00100_c.sql": {Data: []byte("-- +goose Up\nCREATE TABLE c (id TEXT);\n")},
	}
	p, err := db.providerFor(first)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	later := fstest.MapFS{
		"00001_a.sql": first["00001_a.sql"],
		"00002_b.sql": {Data: []byte("-- +goose Up\nCREATE TABLE b (id TEXT);\n")},
		"00100_c.sql": first["00100_c.sql"],
	}
	p, err = db.providerFor(later)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Up(ctx)
	if err != nil {
		t.Fatalf("out-of-order migration refused: %v", err)
	}
	if len(res) != 1 || res[0].Source.Version != 2 {
		t.Fatalf("applied %v, want version 2 only", res)
	}
	if _, err := db.Exec(ctx, `INSERT INTO b (id) VALUES ('x')`); err != nil {
		t.Fatal(err)
	}
}
