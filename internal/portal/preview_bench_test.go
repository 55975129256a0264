package portal_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"testing"
	"time"

	"gatehouse/internal/license"
	"gatehouse/internal/portal"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestOSFamilySQL: the preview's SQL classification of guest OSes agrees
// with NormalizeOS, on both engines.
func TestOSFamilySQL(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		for _, os := range []string{"macOS 15.2", "Mac OS X 10.15", "OS X Yosemite", "osx", "Windows 11 Pro", "windows xp", "Ubuntu 24.04",
			"Debian GNU/Linux 12", "Fedora 40", "CentOS Stream 9", "Red Hat Enterprise Linux 9", "RHEL 8", "openSUSE Leap", "Kali Linux",
			"Linux Mint 21", "Arch Linux", "", "   ", "FreeBSD 14", "ChromeOS", "Android", "MACOS SEQUOIA"} {
			var got string
			if err := db.QueryRow(context.Background(), `SELECT `+portal.OSFamilySQLForTest+` FROM (SELECT CAST(? AS TEXT) AS guest_os) v`, os).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if want := portal.NormalizeOS(os); got != want {
				t.Errorf("%q: SQL says %s, NormalizeOS %s", os, got, want)
			}
		}
	})
}

// seedInventory adds hosts installations of key, each with 4 VMs (Windows
// from image, macOS, Linux, Windows from elsewhere), half on Apple silicon.
func seedInventory(tb testing.TB, db *store.DB, e *env, key, image string, hosts int) {
	tb.Helper()
	ctx := context.Background()
	now := store.Now()
	var sub string
	if err := db.QueryRow(ctx, `SELECT subscription_id FROM license_keys WHERE id = ?`, key).Scan(&sub); err != nil {
		tb.Fatal(err)
	}
	acct := e.admin.AccountID
	q := func(sql string, args ...any) {
		if _, err := db.Exec(ctx, sql, args...); err != nil {
			tb.Fatalf("seed: %v", err)
		}
	}
	q(`INSERT INTO license_activations (id, account_id, subscription_id, key_id, hardware_uuid, method, status, credential_hash, activated_at, last_check_at)
		WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?)
		SELECT ? || '-' || n, ?, ?, ?, 'hw-' || n, 'key', 'active', ? || '-cred-' || n, ?, ? FROM s`, hosts, key, acct, sub, key, key, now, now)
	q(`INSERT INTO fleet_hosts (installation_id, account_id, key_id, cpu, first_seen_at, last_report_at, last_seen_at)
		WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ?)
		SELECT ? || '-' || n, ?, ?, CASE WHEN n % 2 = 0 THEN 'apple_silicon' ELSE 'intel' END, ?, ?, ? FROM s`, hosts, key, acct, key, now, now, now)
	q(`INSERT INTO fleet_vms (id, account_id, installation_id, key_id, vm_uuid, state, guest_os, source, golden_image_id, first_seen_at, last_report_at, last_seen_at)
		WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < ? - 1)
		SELECT ? || '-vm-' || n, ?, ? || '-' || (n / 4 + 1), ?, 'vm-' || n, 'stopped',
			CASE n % 4 WHEN 0 THEN 'Windows 11' WHEN 1 THEN 'macOS 15.2' WHEN 2 THEN 'Ubuntu 24.04' ELSE 'Windows 10' END,
			CASE WHEN n % 4 = 0 THEN 'golden_image' ELSE 'other' END, CASE WHEN n % 4 = 0 THEN ? ELSE NULL END, ?, ?, ? FROM s`,
		hosts*4, key, acct, key, key, image, now, now, now)
	// Fresh statistics, as a live database has them.
	for _, tbl := range []string{"license_activations", "fleet_hosts", "fleet_vms"} {
		q(`ANALYZE ` + tbl)
	}
}

// BenchmarkPolicyPreview measures the effect preview of a policy change
// with GATEHOUSE_PREVIEW_VMS VMs (default 1,000,000) in the policy's
// group, on PostgreSQL (GATEHOUSE_PREVIEW_ENGINE=sqlite for SQLite), and
// prints p50/p95 over b.N previews.
func BenchmarkPolicyPreview(b *testing.B) {
	vms := 1_000_000
	if v, err := strconv.Atoi(os.Getenv("GATEHOUSE_PREVIEW_VMS")); err == nil && v > 0 {
		vms = v
	}
	var db *store.DB
	if os.Getenv("GATEHOUSE_PREVIEW_ENGINE") == "sqlite" {
		db = testenv.SQLite(b)
	} else {
		db = testenv.Postgres(b)
	}
	ctx := context.Background()
	e := newEnv(b, db, license.EditionEnterprise, false)
	e.svc.Hosts = portal.FleetHosts(db)
	img := e.image(b, "Bench image")
	pol := e.policy(b, "Bench", img.ID, e.k1)
	start := time.Now()
	seedInventory(b, db, e, e.k1, img.ID, vms/4)
	fmt.Printf("seeded %d VMs on %d installations in %s\n", vms, vms/4, time.Since(start).Round(time.Millisecond))
	in := portal.PolicyInput{Name: pol.Name, ImageID: img.ID, Groups: pol.Groups, GoldenImage: pol.GoldenImage, Other: pol.Other}
	in.Other.On = true
	in.Other.Values["clipboard"] = "disconnect"
	var took []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		p, err := e.svc.PreviewPolicy(ctx, e.admin, pol.ID, in)
		took = append(took, time.Since(t0))
		if err != nil {
			b.Fatal(err)
		}
		if p.TotalVMs != vms || p.VMs != vms*3/4 {
			b.Fatalf("preview counted %d VMs, %d reached; want %d and %d", p.TotalVMs, p.VMs, vms, vms*3/4)
		}
	}
	b.StopTimer()
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	p50, p95 := took[len(took)/2], took[(len(took)*95+99)/100-1]
	b.ReportMetric(float64(p50.Milliseconds()), "p50-ms")
	b.ReportMetric(float64(p95.Milliseconds()), "p95-ms")
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("policy preview, %s, %d VMs: p50 %s p95 %s over %d runs (loadavg %s)\n", db.Dialect(), vms, p50.Round(time.Millisecond), p95.Round(time.Millisecond), len(took), string(load[:14]))
}
