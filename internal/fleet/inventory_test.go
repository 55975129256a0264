package fleet_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/fleet"
	"gatehouse/internal/fleet/fleettest"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

var invActor = audit.Actor{Type: audit.ActorPerson, ID: "test", Label: "test@example.com"}

// invFixture is an Enterprise account whose generated fleet (fleettest.SeedSpec)
// the inventory must answer about exactly: model holds what was generated,
// by VM name (unique).
type invFixture struct {
	db      *store.DB
	inv     *fleet.Inventory
	admin   license.Caller
	spec    fleettest.SeedSpec
	sub     string // the sublicense key
	model   map[string]modelVM
	lic     *license.Service
	account string
}

type modelVM struct {
	fleettest.SeedHost
	fleettest.SeedVM
}

func newPerson(t *testing.T, db *store.DB) string {
	t.Helper()
	id := ids.New()
	if _, err := db.Exec(context.Background(), `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`,
		id, id+"@example.com", id+"@example.com", store.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

func newMember(t *testing.T, db *store.DB, accountID, role string) license.Caller {
	t.Helper()
	pid := newPerson(t, db)
	if _, err := db.Exec(context.Background(), `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES (?, ?, ?, 'active', ?)`,
		accountID, pid, role, store.Now()); err != nil {
		t.Fatal(err)
	}
	return license.Caller{PersonID: pid, AccountID: accountID, Role: role}
}

// newEnterprise creates a business account with an Enterprise
// subscription and a sublicense key; it returns the admin and the keys.
func newEnterprise(t *testing.T, db *store.DB, lic *license.Service) (admin license.Caller, subscription, primary, sub string) {
	t.Helper()
	ctx := context.Background()
	aid := ids.New()
	if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, aid, "Org "+aid[len(aid)-6:], store.Now()); err != nil {
		t.Fatal(err)
	}
	admin = newMember(t, db, aid, license.RoleAdmin)
	_, key, err := lic.Issue(ctx, license.IssueInput{Edition: license.EditionEnterprise, Model: license.ModelPerDevice, Seats: 50,
		Term: license.Term{Years: 1}}, license.OperatorActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := lic.RegisterKey(ctx, admin, license.RegisterInput{Key: key}, invActor)
	if err != nil {
		t.Fatal(err)
	}
	k, _, err := lic.CreateSublicense(ctx, admin, res.Subscription.ID, license.KeyInput{Name: "Design", Kind: "dynamic", Seats: 10}, invActor)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(ctx, `SELECT id FROM license_keys WHERE subscription_id = ? AND kind = 'primary'`, res.Subscription.ID).Scan(&primary); err != nil {
		t.Fatal(err)
	}
	return admin, res.Subscription.ID, primary, k.ID
}

func newInvFixture(t *testing.T, db *store.DB, hosts, vmsPerHost int) *invFixture {
	t.Helper()
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	lic := license.New(db, license.Config{PublicURL: "https://gatehouse.test", Now: func() time.Time { return now }})
	admin, subscription, primary, sub := newEnterprise(t, db, lic)
	f := &invFixture{db: db, inv: &fleet.Inventory{DB: db, Now: func() time.Time { return now }}, admin: admin, sub: sub, lic: lic,
		account: admin.AccountID, model: map[string]modelVM{},
		spec: fleettest.SeedSpec{AccountID: admin.AccountID, SubscriptionID: subscription, KeyIDs: []string{primary, sub}, Hosts: hosts,
			VMsPerHost: vmsPerHost, Now: now, Seed: 7}}
	if err := fleettest.SeedInventory(context.Background(), db, f.spec); err != nil {
		t.Fatal(err)
	}
	for h := 0; h < hosts; h++ {
		for v := 0; v < vmsPerHost; v++ {
			m := modelVM{f.spec.Host(h), f.spec.VM(h, v)}
			f.model[m.Name] = m
		}
	}
	return f
}

// value is the model's stored value of column key (what the database
// sorts and filters on); times are compared as "2006-01-02T15:04:05.000".
func (m modelVM) value(key string) string {
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04:05.000")
	}
	switch key {
	case "name":
		return m.Name
	case "user":
		return m.MacOSUser
	case "computer":
		return m.ComputerName
	case "state":
		return m.State
	case "status":
		if m.Deactivated {
			return "deactivated"
		}
		return m.Status
	case "os":
		return m.GuestOS
	case "edition":
		return m.OSEdition
	case "build":
		return m.OSBuild
	case "serial":
		return m.Serial
	case "source":
		return m.Source
	case "encryption":
		return m.Encryption
	case "command":
		return m.CommandState
	case "last_used":
		return ts(m.LastUsedAt)
	case "last_reported":
		return ts(m.LastSeenAt)
	case "desktop_version":
		return m.DesktopVersion
	case "desktop_state":
		return m.DesktopState
	case "tools":
		return m.ToolsVersion
	case "mac_serial":
		return m.MacSerial
	case "cpu":
		return m.CPU
	}
	panic("no column " + key)
}

// rowValue is the same for a row the inventory returned.
func rowValue(r fleet.InventoryRow, key string) string {
	ts := func(t store.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02T15:04:05.000")
	}
	switch key {
	case "vm_id":
		return r.VMReport.ID
	case "status":
		if r.Deactivated {
			return "deactivated"
		}
		return r.Status
	case "command":
		return r.LastCommandState
	case "last_used":
		return ts(r.LastUsedAt)
	case "last_reported":
		return ts(r.LastSeenAt)
	}
	m := modelVM{fleettest.SeedHost{MacOSUser: r.MacOSUser, ComputerName: r.ComputerName, MacSerial: r.MacSerial, CPU: r.CPU,
		DesktopVersion: r.DesktopVersion, DesktopState: r.DesktopState},
		fleettest.SeedVM{Name: r.Name, State: r.State, Status: r.Status, GuestOS: r.GuestOS, OSEdition: r.OSEdition, OSBuild: r.OSBuild,
			Serial: r.Serial, Source: r.Source, Encryption: r.Encryption, ToolsVersion: r.ToolsVersion}}
	return m.value(key)
}

// all walks every page of f and returns the rows in order.
func (fx *invFixture) all(t *testing.T, caller license.Caller, f fleet.InventoryFilter) ([]fleet.InventoryRow, int) {
	t.Helper()
	var out []fleet.InventoryRow
	total := -1
	for page := 1; ; page++ {
		f.Page = page
		p, err := fx.inv.List(context.Background(), caller, f)
		if err != nil {
			t.Fatalf("list %+v: %v", f, err)
		}
		if total == -1 {
			total = p.Total
		} else if total != p.Total {
			t.Fatalf("total changed between pages: %d then %d", total, p.Total)
		}
		if len(p.VMs) > f.Size {
			t.Fatalf("page of %d has %d rows", f.Size, len(p.VMs))
		}
		out = append(out, p.VMs...)
		if !p.More {
			return out, total
		}
		if len(p.VMs) != f.Size {
			t.Fatalf("a page before the last has %d rows, want %d", len(p.VMs), f.Size)
		}
	}
}

// matches is the model of the inventory's filter semantics.
func matches(m modelVM, f fleet.InventoryFilter) bool {
	if m.Gone && !f.IncludeGone {
		return false
	}
	lower := func(s string) string { return strings.ToLower(s) } // fixture values are ASCII
	if f.Query != "" {
		hit := false
		for _, c := range fleet.Columns {
			if c.Kind == fleet.KindText && c.Key != "vm_id" && strings.Contains(lower(m.value(c.Key)), lower(f.Query)) {
				hit = true
			}
		}
		if !hit {
			return false
		}
	}
	for key, want := range f.By {
		c, _ := fleet.ColumnByKey(key)
		got := m.value(key)
		switch {
		case key == "command" && want == "none":
			if got != "" {
				return false
			}
		case key == "command" && want == "pending":
			if got != "pending" && got != "delivered" {
				return false
			}
		case c.Kind == fleet.KindEnum:
			if got != want {
				return false
			}
		case c.Kind == fleet.KindTime:
			if got != "" && got >= want {
				return false
			}
			if got == "" && key != "last_used" {
				return false
			}
		default:
			if !strings.Contains(lower(got), lower(want)) {
				return false
			}
		}
	}
	return true
}

func names(rows []fleet.InventoryRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.Name
	}
	slices.Sort(out)
	return out
}

func (fx *invFixture) expect(f fleet.InventoryFilter, keep func(modelVM) bool) []string {
	var out []string
	for n, m := range fx.model {
		if matches(m, f) && (keep == nil || keep(m)) {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// TestInventorySortsEveryColumn: for every column in both directions, the
// pages (10, 20, 30, 40 long) together hold exactly the present VMs, each
// once, ordered by the column (ties in id order).
func TestInventorySortsEveryColumn(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 40, 3)
		want := fx.expect(fleet.InventoryFilter{}, nil)
		if len(want) < 100 {
			t.Fatalf("fixture too small: %d present VMs", len(want))
		}
		for i, c := range fleet.Columns {
			for _, desc := range []bool{false, true} {
				f := fleet.InventoryFilter{Sort: c.Key, Desc: desc, Size: fleet.PageSizes[i%4]}
				rows, total := fx.all(t, fx.admin, f)
				if total != len(want) || !slices.Equal(names(rows), want) {
					t.Fatalf("sort %s desc=%v: %d rows (total %d), want %d", c.Key, desc, len(rows), total, len(want))
				}
				for j := 1; j < len(rows); j++ {
					a, b := rowValue(rows[j-1], c.Key), rowValue(rows[j], c.Key)
					if c.Key == "status" {
						// Sorting is by the stored status; "Desktop
						// deactivated" comes from the activation.
						a, b = rows[j-1].Status, rows[j].Status
					}
					if a == b {
						a, b = rows[j-1].ID, rows[j].ID
					}
					// Empty times are NULL: each engine puts them at its own
					// end, which the order check leaves out.
					if c.Kind == fleet.KindTime && (a == "" || b == "") {
						continue
					}
					if (!desc && a > b) || (desc && a < b) {
						t.Fatalf("sort %s desc=%v: row %d %q before %q", c.Key, desc, j, a, b)
					}
				}
			}
		}
	})
}

// TestInventoryFilters: each column's filter, the search, several filters
// together and the gone VMs return exactly the model's rows.
func TestInventoryFilters(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 40, 3)
		cases := []url.Values{
			{"f_name": {"windows 11"}}, {"f_user": {"ANNA"}}, {"f_computer": {"mac mini"}}, {"f_os": {"ubuntu"}},
			{"f_edition": {"pro"}}, {"f_build": {"26100"}}, {"f_serial": {"parallels-a"}}, {"f_desktop_version": {"26.1"}},
			{"f_tools": {"26.1.0-550"}}, {"f_mac_serial": {"c02a"}},
			{"f_state": {"running"}}, {"f_state": {"suspended"}}, {"f_status": {"active"}}, {"f_status": {"deactivated"}},
			{"f_status": {"delete_failed"}}, {"f_source": {"golden_image"}}, {"f_encryption": {"license_bound"}},
			{"f_command": {"none"}}, {"f_command": {"pending"}}, {"f_command": {"failed"}}, {"f_command": {"done"}},
			{"f_desktop_state": {"activated_sso"}}, {"f_desktop_state": {"deactivated"}}, {"f_cpu": {"intel"}},
			{"f_last_reported": {"2026-11-30"}}, {"f_last_used": {"2026-11-01"}},
			{"q": {"kali"}}, {"q": {"_"}}, {"q": {"%"}},
			{"f_state": {"running"}, "f_cpu": {"apple_silicon"}, "f_os": {"windows"}},
			{"gone": {"1"}}, {"gone": {"1"}, "f_state": {"stopped"}},
		}
		for _, q := range cases {
			f, err := fleet.ParseFilter(q, 40)
			if err != nil {
				t.Fatalf("%v: %v", q, err)
			}
			want := fx.expect(f, nil)
			rows, total := fx.all(t, fx.admin, f)
			if got := names(rows); total != len(want) || !slices.Equal(got, want) {
				t.Errorf("filter %v: got %d rows (total %d), want %d", q.Encode(), len(got), total, len(want))
			}
			if strings.Contains(q.Encode(), "f_") && (len(want) == 0 || len(want) == len(fx.model)) {
				t.Errorf("filter %v selects %d of %d: the fixture does not exercise it", q.Encode(), len(want), len(fx.model))
			}
		}
		// The gone VMs are hidden by default and present on request.
		all, _ := fx.all(t, fx.admin, fleet.InventoryFilter{IncludeGone: true, Size: 40})
		present, _ := fx.all(t, fx.admin, fleet.InventoryFilter{Size: 40})
		if len(all) <= len(present) {
			t.Fatalf("gone VMs: %d with, %d without", len(all), len(present))
		}
		for _, r := range present {
			if r.Gone() {
				t.Fatalf("gone VM %s listed by default", r.Name)
			}
		}
	})
}

// TestInventoryScope: a license admin sees only the VMs of the keys they
// manage, a plain user nothing, another account's admin none of them.
func TestInventoryScope(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 20, 2)
		ctx := context.Background()
		la := newMember(t, db, fx.account, license.RoleLicenseAdmin)
		if rows, total := fx.all(t, la, fleet.InventoryFilter{Size: 40}); total != 0 || len(rows) != 0 {
			t.Fatalf("license admin without keys sees %d VMs", total)
		}
		if err := fx.lic.AssignKeyAdmin(ctx, fx.admin, fx.sub, la.PersonID, invActor); err != nil {
			t.Fatal(err)
		}
		rows, _ := fx.all(t, la, fleet.InventoryFilter{Size: 40})
		want := fx.expect(fleet.InventoryFilter{}, func(m modelVM) bool { return m.KeyID == fx.sub })
		if !slices.Equal(names(rows), want) || len(want) == 0 {
			t.Fatalf("license admin of the sublicense sees %d VMs, want %d", len(rows), len(want))
		}
		if _, err := fx.inv.Row(ctx, la, rows[0].ID); err != nil {
			t.Fatalf("license admin opens a VM of their key: %v", err)
		}
		other, _ := fx.all(t, fx.admin, fleet.InventoryFilter{Size: 40, By: map[string]string{"desktop_state": "activated_key"}})
		for _, r := range other {
			if r.KeyID != fx.sub {
				if _, err := fx.inv.Row(ctx, la, r.ID); !errors.Is(err, store.ErrNotFound) {
					t.Fatalf("license admin opens a VM of another key: %v", err)
				}
				if got, _ := fx.inv.Visible(ctx, la, []string{r.ID, rows[0].ID}); len(got) != 1 || got[0].ID != rows[0].ID {
					t.Fatalf("Visible lets a license admin reach another key's VM: %d rows", len(got))
				}
				break
			}
		}
		user := newMember(t, db, fx.account, license.RoleUser)
		if _, err := fx.inv.List(ctx, user, fleet.InventoryFilter{}); !errors.Is(err, license.ErrForbidden) {
			t.Fatalf("plain user: %v", err)
		}
		stranger, _, _, _ := newEnterprise(t, db, fx.lic)
		if rows, total := fx.all(t, stranger, fleet.InventoryFilter{Size: 40, IncludeGone: true}); total != 0 || len(rows) != 0 {
			t.Fatalf("another account's admin sees %d VMs", total)
		}
		if _, err := fx.inv.Row(ctx, stranger, rows[0].ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("another account's admin opens a VM: %v", err)
		}
		var buf bytes.Buffer
		cw, _ := fleet.NewCSVWriter(&buf, time.Now())
		if err := fx.inv.Each(ctx, stranger, fleet.InventoryFilter{IncludeGone: true}, cw.Write); err != nil {
			t.Fatal(err)
		}
		_ = cw.Close()
		if n := strings.Count(buf.String(), "\n"); n != 1 {
			t.Fatalf("another account's CSV has %d lines, want the header only", n)
		}
	})
}

// TestInventoryCSV: the export holds every VM of the filter, every column,
// in the page's order, with notes; cells cannot run as formulas.
func TestInventoryCSV(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 30, 3)
		ctx := context.Background()
		f, _ := fleet.ParseFilter(url.Values{"f_cpu": {"apple_silicon"}, "sort": {"name"}}, 40)
		var buf bytes.Buffer
		cw, err := fleet.NewCSVWriter(&buf, fx.spec.Now)
		if err != nil {
			t.Fatal(err)
		}
		if err := fx.inv.Each(ctx, fx.admin, f, cw.Write); err != nil {
			t.Fatal(err)
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(&buf).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(recs[0]) != len(fleet.Columns)+2 || recs[0][0] != "VM name" || recs[0][len(recs[0])-1] != "Notes" {
			t.Fatalf("header %v", recs[0])
		}
		want := fx.expect(f, nil)
		var got []string
		for _, r := range recs[1:] {
			got = append(got, r[0])
		}
		if !slices.IsSorted(got) {
			t.Fatalf("CSV is not in the page's order (by name)")
		}
		if !slices.Equal(got, want) {
			t.Fatalf("CSV has %d rows, want %d", len(got), len(want))
		}
		notes := 0
		for _, r := range recs[1:] {
			if r[len(r)-1] != "" {
				notes++
			}
		}
		if notes == 0 {
			t.Fatal("no CSV row explains an incomplete VM (the fixture has VMs without guest tools)")
		}
		// A VM whose name starts like a formula is exported inert.
		if _, err := db.Exec(ctx, `UPDATE fleet_vms SET name = '=HYPERLINK("http://x")' WHERE account_id = ? AND name = ?`, fx.account, want[0]); err != nil {
			t.Fatal(err)
		}
		buf.Reset()
		cw, _ = fleet.NewCSVWriter(&buf, fx.spec.Now)
		if err := fx.inv.Each(ctx, fx.admin, fleet.InventoryFilter{By: map[string]string{"name": "hyperlink"}}, cw.Write); err != nil {
			t.Fatal(err)
		}
		_ = cw.Close()
		if !strings.Contains(buf.String(), `'=HYPERLINK`) {
			t.Fatalf("formula not neutralised:\n%s", buf.String())
		}
	})
}

// TestInventoryBadFilters: unusable values are refused with a message.
func TestInventoryBadFilters(t *testing.T) {
	for _, q := range []url.Values{
		{"sort": {"password"}}, {"dir": {"sideways"}}, {"size": {"50"}}, {"size": {"x"}}, {"page": {"0"}}, {"page": {"-3"}},
		{"f_state": {"exploded"}}, {"f_last_reported": {"yesterday"}}, {"q": {strings.Repeat("a", 201)}},
		{"f_name": {strings.Repeat("a", 201)}},
	} {
		_, err := fleet.ParseFilter(q, 40)
		var fe *fleet.FilterError
		if !errors.As(err, &fe) || fe.Message == "" {
			t.Errorf("%v: %v", q.Encode(), err)
		}
	}
	f, err := fleet.ParseFilter(url.Values{"sort": {"cpu"}, "dir": {"desc"}, "size": {"20"}, "page": {"3"}, "f_os": {"Win"}, "gone": {"1"}}, 40)
	if err != nil || f.Sort != "cpu" || !f.Desc || f.Size != 20 || f.Page != 3 || f.By["os"] != "Win" || !f.IncludeGone {
		t.Fatalf("%+v %v", f, err)
	}
	back, _ := fleet.ParseFilter(f.Values(), 40)
	back.Page = 3
	if back.Sort != f.Sort || back.Desc != f.Desc || back.Size != f.Size || back.By["os"] != "Win" || !back.IncludeGone {
		t.Fatalf("Values does not round-trip: %+v", back)
	}
}

// TestInventoryPrefs: the column choice is remembered per person and
// account; unknown columns and page sizes are refused.
func TestInventoryPrefs(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 1, 1)
		ctx := context.Background()
		p, err := fx.inv.Prefs(ctx, fx.admin)
		if err != nil || !slices.Equal(p.Columns, fleet.DefaultColumns()) || p.PageSize != 40 {
			t.Fatalf("defaults: %+v %v", p, err)
		}
		if _, err := fx.inv.SavePrefs(ctx, fx.admin, []string{"cpu", "name", "vm_id"}, 20); err != nil {
			t.Fatal(err)
		}
		p, _ = fx.inv.Prefs(ctx, fx.admin)
		if !slices.Equal(p.Columns, []string{"name", "vm_id", "cpu"}) || p.PageSize != 20 {
			t.Fatalf("saved: %+v", p)
		}
		other := newMember(t, db, fx.account, license.RoleAdmin)
		if p, _ := fx.inv.Prefs(ctx, other); !slices.Equal(p.Columns, fleet.DefaultColumns()) {
			t.Fatalf("another person gets %v", p.Columns)
		}
		for _, bad := range []struct {
			cols []string
			size int
		}{{nil, 40}, {[]string{"name", "secret"}, 40}, {[]string{"name"}, 41}} {
			var fe *fleet.FilterError
			if _, err := fx.inv.SavePrefs(ctx, fx.admin, bad.cols, bad.size); !errors.As(err, &fe) {
				t.Errorf("%v/%d: %v", bad.cols, bad.size, err)
			}
		}
	})
}

// TestInventoryNotes: each cause of an incomplete row is explained.
func TestInventoryNotes(t *testing.T) {
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	fresh := store.At(now.Add(-time.Hour))
	full := fleet.VMReport{Name: "Win", GuestOS: "Windows 11", OSEdition: "Pro", OSBuild: "26100", Serial: "Parallels-1", ToolsVersion: "26.1.0", LastUsedAt: fresh}
	row := func(mod func(*fleet.InventoryRow)) []string {
		r := fleet.InventoryRow{VM: fleet.VM{VMReport: full, ComputerName: "Mac", DesktopVersion: "26.1.0", LastSeenAt: fresh}}
		mod(&r)
		return r.Notes(now)
	}
	if n := row(func(*fleet.InventoryRow) {}); len(n) != 0 {
		t.Fatalf("complete row has notes: %v", n)
	}
	for name, c := range map[string]struct {
		mod  func(*fleet.InventoryRow)
		want string
	}{
		"old client":  {func(r *fleet.InventoryRow) { r.DesktopVersion, r.OSEdition, r.OSBuild = "19.4.0", "", "" }, "Desktop 19.4.0 is an older client that does not report OS edition, OS build"},
		"stale":       {func(r *fleet.InventoryRow) { r.LastSeenAt = store.At(now.Add(-5 * 24 * time.Hour)) }, "Not reported since 2026-11-28 12:00 UTC (5 days)"},
		"no tools":    {func(r *fleet.InventoryRow) { r.ToolsVersion = "" }, "Guest tools are not installed"},
		"never run":   {func(r *fleet.InventoryRow) { r.GuestOS, r.LastUsedAt = "", store.Time{} }, "has not been started since it was registered"},
		"deactivated": {func(r *fleet.InventoryRow) { r.Deactivated = true }, "Desktop is deactivated on this computer"},
		"gone":        {func(r *fleet.InventoryRow) { r.GoneAt = fresh }, "Gone: its computer's report"},
		"no host":     {func(r *fleet.InventoryRow) { r.ComputerName, r.DesktopVersion = "", "" }, "has not reported its host details"},
	} {
		if got := strings.Join(row(c.mod), " | "); !strings.Contains(got, c.want) {
			t.Errorf("%s: notes %q lack %q", name, got, c.want)
		}
	}
}

// TestInventoryCountCap: past fleet.CountCap the total says "more than",
// and the pages still reach every VM.
func TestInventoryCountCap(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 260, 4)
		want := fx.expect(fleet.InventoryFilter{}, nil)
		if len(want) <= fleet.CountCap {
			t.Fatalf("fixture has %d present VMs, not more than %d", len(want), fleet.CountCap)
		}
		p, err := fx.inv.List(context.Background(), fx.admin, fleet.InventoryFilter{Size: 40})
		if err != nil || !p.Capped || p.Total != fleet.CountCap || !p.More {
			t.Fatalf("page 1: %+v %v", p, err)
		}
		rows, _ := fx.all(t, fx.admin, fleet.InventoryFilter{Size: 40, Sort: "mac_serial"})
		if !slices.Equal(names(rows), want) {
			t.Fatalf("pages reach %d VMs, want %d", len(rows), len(want))
		}
		f, _ := fleet.ParseFilter(url.Values{"f_state": {"running"}, "f_cpu": {"intel"}}, 40)
		if p, _ := fx.inv.List(context.Background(), fx.admin, f); p.Capped || p.Total != len(fx.expect(f, nil)) {
			t.Fatalf("filtered total %d (capped %v), want %d", p.Total, p.Capped, len(fx.expect(f, nil)))
		}
	})
}

// FuzzParseFilter: any query string parses to a usable filter or a
// FilterError with a message, and a parsed filter survives Values.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{"", "sort=name&dir=asc", "f_state=running&size=10&page=3", "f_last_used=2026-01-02&gone=1", "q=%25_&f_os=Win", "sort=x", "page=-1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		got, err := fleet.ParseFilter(q, 40)
		if err != nil {
			var fe *fleet.FilterError
			if !errors.As(err, &fe) || fe.Message == "" {
				t.Fatalf("%q: %v", raw, err)
			}
			return
		}
		if _, ok := fleet.ColumnByKey(got.Sort); !ok || !slices.Contains(fleet.PageSizes, got.Size) || got.Page < 1 {
			t.Fatalf("%q parsed to %+v", raw, got)
		}
		back, err := fleet.ParseFilter(got.Values(), 40)
		if err != nil || back.Sort != got.Sort || back.Desc != got.Desc || back.Query != got.Query || len(back.By) != len(got.By) {
			t.Fatalf("%q: %+v does not survive Values: %+v %v", raw, got, back, err)
		}
	})
}

// TestInventoryFilteredSorts: the guest OS and Desktop version filters
// (resolved to the values present) and "not reported since" (read through fleet_seen) return the
// model's rows in the sort's order, with each other and with the sorts
// they take their own index paths for, and within a license admin's scope.
func TestInventoryFilteredSorts(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		fx := newInvFixture(t, db, 40, 3)
		la := newMember(t, db, fx.account, license.RoleLicenseAdmin)
		if err := fx.lic.AssignKeyAdmin(context.Background(), fx.admin, fx.sub, la.PersonID, invActor); err != nil {
			t.Fatal(err)
		}
		filters := []map[string]string{
			{"os": "windows"}, {"os": "WINDOWS 1"}, {"os": "no such guest"}, {"last_reported": "2026-11-30"},
			{"os": "u", "last_reported": "2026-11-30"}, {"last_reported": "2026-11-30", "state": "running"},
			{"desktop_version": "26.1"}, {"desktop_version": "9"}, {"desktop_version": "26", "os": "windows"},
		}
		for _, by := range filters {
			for _, sort := range []string{"os", "last_reported", "name", "edition", "build", "state", "desktop_version"} {
				for _, desc := range []bool{false, true} {
					for _, who := range []license.Caller{fx.admin, la} {
						f := fleet.InventoryFilter{By: by, Sort: sort, Desc: desc, Size: 30}
						var keep func(modelVM) bool
						if who == la {
							keep = func(m modelVM) bool { return m.KeyID == fx.sub }
						}
						want := fx.expect(f, keep)
						rows, total := fx.all(t, who, f)
						if total != len(want) || !slices.Equal(names(rows), want) {
							t.Fatalf("%v sort %s desc=%v (%s): %d rows (total %d), want %d", by, sort, desc, who.Role, len(rows), total, len(want))
						}
						c, _ := fleet.ColumnByKey(sort)
						for j := 1; j < len(rows); j++ {
							a, b := rowValue(rows[j-1], sort), rowValue(rows[j], sort)
							if a == b {
								a, b = rows[j-1].ID, rows[j].ID
							}
							if c.Kind == fleet.KindTime && (a == "" || b == "") {
								continue
							}
							if (!desc && a > b) || (desc && a < b) {
								t.Fatalf("%v sort %s desc=%v: row %d %q before %q", by, sort, desc, j, a, b)
							}
						}
					}
				}
			}
		}
	})
}
