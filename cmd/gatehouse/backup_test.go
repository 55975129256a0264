package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestBackupRestoreRoundTrip populates a database through the built binary
// (demo data and activations), takes `gatehouse backup` while the node is
// serving license checks (the online copy must restore and be complete up
// to the moment it was taken), then after the node stopped takes another,
// restores it with `gatehouse restore` into an empty database, and
// compares every table row for row. Both engines.
func TestBackupRestoreRoundTrip(t *testing.T) {
	bin := builtBinary(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		key := prepareLicense(t, dbURL, 20)
		dir := t.TempDir()
		n := startNode(t, "--database-url", dbURL, "--data-dir", dir, "--demo")
		creds := activateDevices(t, n.URL, key, 8)
		src, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		tables, err := src.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(tables) < 10 {
			t.Fatalf("only %d tables in the source: %v", len(tables), tables)
		}
		before := countRows(t, src, tables)

		// Online backup while checks are running.
		var stop atomic.Bool
		var wg sync.WaitGroup
		var checks atomic.Int64
		client := &http.Client{Timeout: time.Minute}
		for _, cred := range creds[:4] {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for !stop.Load() {
					if r := licenseCheck(client, n.URL, cred); r.status != 200 {
						t.Errorf("check during backup: %d %v", r.status, r.err)
						return
					}
					checks.Add(1)
				}
			}()
		}
		waitFor(t, "checks running", time.Minute, func() bool { return checks.Load() >= 20 })
		online := filepath.Join(dir, "online.backup")
		started := time.Now()
		runCLI(t, bin, "backup", "--database-url", dbURL, "--out", online)
		onlineTook := time.Since(started)
		stop.Store(true)
		wg.Wait()
		onlineURL := emptyLike(t, dbURL)
		runCLI(t, bin, "restore", "--database-url", onlineURL, "--in", online)
		restoredOnline, err := store.Open(ctx, onlineURL)
		if err != nil {
			t.Fatal(err)
		}
		defer restoredOnline.Close()
		for table, c := range countRows(t, restoredOnline, tables) {
			if c < before[table] {
				t.Errorf("online backup: table %s has %d rows, had %d before the backup started", table, c, before[table])
			}
		}

		// Stopped node: the restored copy equals the source exactly.
		if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := <-n.done; err != nil {
			t.Fatalf("node exit: %v", err)
		}
		final := filepath.Join(dir, "final.backup")
		runCLI(t, bin, "backup", "--database-url", dbURL, "--out", final)
		out, err := exec.Command(bin, "backup", "--database-url", dbURL, "--out", final).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "already exists") {
			t.Errorf("backup over an existing file: %v %s", err, out)
		}
		targetURL := emptyLike(t, dbURL)
		runCLI(t, bin, "restore", "--database-url", targetURL, "--in", final)
		out, err = exec.Command(bin, "restore", "--database-url", targetURL, "--in", final).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "restore only into a new or empty database") {
			t.Errorf("restore into a populated database: %v %s", err, out)
		}
		dst, err := store.Open(ctx, targetURL)
		if err != nil {
			t.Fatal(err)
		}
		defer dst.Close()
		dstTables, err := dst.Tables(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(dstTables, ",") != strings.Join(tables, ",") {
			t.Fatalf("restored tables differ:\n got %v\nwant %v", dstTables, tables)
		}
		total := 0
		for _, table := range tables {
			a, b := tableRows(t, src, table), tableRows(t, dst, table)
			total += len(a)
			if strings.Join(a, "\n") != strings.Join(b, "\n") {
				t.Errorf("table %s differs after restore: %d rows in the source, %d restored", table, len(a), len(b))
			}
		}
		if src.Dialect() == store.SQLite {
			var check string
			if err := dst.QueryRow(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Errorf("integrity_check of the restored database: %v %s", err, check)
			}
		}
		st, _ := os.Stat(final)
		fmt.Printf("BACKUP %s: %d tables, %d rows compared equal after restore; online backup during %d checks took %s; backup file %d bytes\n",
			src.Dialect(), len(tables), total, checks.Load(), onlineTook.Round(time.Millisecond), st.Size())
	})
}

func runCLI(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// emptyLike returns a new empty database of the same engine as dbURL.
func emptyLike(t *testing.T, dbURL string) string {
	if strings.HasPrefix(dbURL, "sqlite:") {
		return "sqlite://" + filepath.Join(t.TempDir(), "restored.db")
	}
	return testenv.PostgresURL(t)
}

func countRows(t *testing.T, db *store.DB, tables []string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, table := range tables {
		var c int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM "`+table+`"`).Scan(&c); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = c
	}
	return counts
}

// tableRows returns every row of table as text, sorted.
func tableRows(t *testing.T, db *store.DB, table string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT * FROM "`+table+`"`)
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			switch v := v.(type) {
			case []byte:
				parts[i] = fmt.Sprintf("%q", v)
			case time.Time:
				parts[i] = v.UTC().Format(time.RFC3339Nano)
			default:
				parts[i] = fmt.Sprintf("%#v", v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}
