package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/fleet"
	"gatehouse/internal/fleet/fleettest"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// seedFleet writes a generated fleet into acct, spread over the keys of
// subscription, and returns the spec (see fleettest.SeedSpec).
func seedFleet(t *testing.T, node *apptest.Node, acct, subscription string, hosts, vmsPerHost int) fleettest.SeedSpec {
	t.Helper()
	ctx := context.Background()
	rows, err := node.App.DB.Query(ctx, `SELECT id FROM license_keys WHERE subscription_id = ? ORDER BY kind DESC, id`, subscription)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, id)
	}
	rows.Close()
	sp := fleettest.SeedSpec{AccountID: acct, SubscriptionID: subscription, KeyIDs: keys, Hosts: hosts, VMsPerHost: vmsPerHost, Now: time.Now().UTC(), Seed: 11}
	if err := fleettest.SeedInventory(ctx, node.App.DB, sp); err != nil {
		t.Fatal(err)
	}
	return sp
}

// vmByName finds a seeded VM's id.
func vmByName(t *testing.T, db *store.DB, acct, name string) string {
	t.Helper()
	var id string
	if err := db.QueryRow(context.Background(), `SELECT id FROM fleet_vms WHERE account_id = ? AND name = ?`, acct, name).Scan(&id); err != nil {
		t.Fatalf("vm %q: %v", name, err)
	}
	return id
}

// presentVM returns a present (not gone) VM of host h of sp that is not
// from a golden image unless golden.
func presentVM(sp fleettest.SeedSpec, golden bool) (int, int) {
	for h := 0; h < sp.Hosts; h++ {
		if sp.Host(h).Deactivated {
			continue
		}
		for v := 0; v < sp.VMsPerHost; v++ {
			m := sp.VM(h, v)
			if !m.Gone && m.CommandState == "" && (m.Source == fleet.SourceGoldenImage) == golden {
				return h, v
			}
		}
	}
	panic("no such VM in the fixture")
}

func init() { layoutFixtures = append(layoutFixtures, layoutInventoryFixture) }

// layoutInventoryFixture: the layout account's Enterprise subscription has
// a fleet of 30 computers with 2 VMs each, one VM with a pending delete.
func layoutInventoryFixture(t *testing.T, e *layoutEnv) {
	var sub string
	if err := e.node.App.DB.QueryRow(context.Background(), `SELECT id FROM subscriptions WHERE account_id = ? AND edition = 'enterprise'`, e.acct).Scan(&sub); err != nil {
		t.Fatalf("layout inventory fixture: %v", err)
	}
	sp := seedFleet(t, e.node, e.acct, sub, 30, 2)
	h, v := presentVM(sp, false)
	e.params["vm"] = vmByName(t, e.node.App.DB, e.acct, sp.VM(h, v).Name)
	e.admin.Post("/accounts/"+e.acct+"/vms/commands", url.Values{"kind": {"delete"}, "vm": {e.params["vm"]}, "confirm": {"1"}}).Expect(t, http.StatusSeeOther)
}

// inventoryIsolationFixture gives account A a VM (named after the
// account's secret) with a pending command, for the tenant-isolation walk.
func inventoryIsolationFixture(t *testing.T, node *apptest.Node, acct, subscription, secret string) map[string]string {
	sp := seedFleet(t, node, acct, subscription, 2, 2)
	h, v := presentVM(sp, false)
	vm := vmByName(t, node.App.DB, acct, sp.VM(h, v).Name)
	ctx := context.Background()
	if _, err := node.App.DB.Exec(ctx, `UPDATE fleet_vms SET name = ? WHERE id = ?`, secret+" VM", vm); err != nil {
		t.Fatal(err)
	}
	svc := fleet.New(node.App.DB, fleet.Config{})
	var admin string
	if err := node.App.DB.QueryRow(ctx, `SELECT person_id FROM memberships WHERE account_id = ? AND role = 'admin'`, acct).Scan(&admin); err != nil {
		t.Fatal(err)
	}
	cmds, err := svc.Enqueue(ctx, license.Caller{AccountID: acct, PersonID: admin, Role: license.RoleAdmin},
		audit.Actor{Type: audit.ActorPerson, ID: admin, Label: "alice"}, fleet.CommandLock, []string{vm})
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"vm": vm, "command": cmds[0].ID}
}

// TestInventoryPages drives the Virtual Machines pages over HTTP on both
// engines: Enterprise gating, the columns a person picks, filters, sort,
// pages, the CSV of the current filter, a license admin's scope, and a
// command from confirmation to cancellation, audited.
func TestInventoryPages(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("ada@fleet.example", pw, "Ada")
		acct := admin.CreateAccount("Fleet Works")
		vms := "/accounts/" + acct + "/vms"

		// Without Enterprise: the page says what it needs; the rest is 403.
		business := registerKey(t, admin, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "Business")
		page := admin.Get(vms).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("main"), "comes with Parallels Desktop Enterprise Edition")
		admin.Get(vms+".csv").Expect(t, http.StatusForbidden)
		_ = business

		sub := registerKey(t, admin, acct, issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 50, true), "Enterprise trial")
		admin.Post("/accounts/"+acct+"/licenses/"+sub+"/keys", url.Values{"key_name": {"Design"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
		sp := seedFleet(t, node, acct, sub, 40, 3)

		// Default columns, sorted by last report, newest first, 40 a page.
		page = admin.Get(vms).Expect(t, http.StatusOK)
		heads := page.Doc.Find("table.vms thead tr").First().Find("th a")
		if heads.Length() != len(fleet.DefaultColumns()) || !strings.HasPrefix(heads.First().Text(), "VM name") {
			t.Fatalf("default headers: %d, first %q", heads.Length(), heads.First().Text())
		}
		if n := page.Doc.Find("table.vms tbody tr").Length(); n != 40 {
			t.Fatalf("first page has %d rows", n)
		}
		apptest.MustContain(t, page.Text(".pager"), "1–40 of")
		if page.Doc.Find(`th[aria-sort="ascending"]`).Text() == "" {
			t.Fatal("no column says it sorts the page")
		}

		// Pick columns (remembered for this person) and a page size.
		admin.Post(vms+"/columns", url.Values{"column": {"name", "cpu", "vm_id", "desktop_state"}, "size": {"10"}, "back": {vms + "?sort=cpu"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(vms).Expect(t, http.StatusOK)
		var got []string
		page.Doc.Find("table.vms thead tr").First().Find("th a").Each(func(_ int, s *goquerySelection) { got = append(got, strings.TrimSpace(s.Text())) })
		if strings.Join(got, "|") != "VM name ▲|VM ID|Desktop state|CPU" {
			t.Fatalf("chosen columns: %v", got)
		}
		if n := page.Doc.Find("table.vms tbody tr").Length(); n != 10 {
			t.Fatalf("page of 10 has %d rows", n)
		}
		r := admin.Post(vms+"/columns", url.Values{"size": {"10"}, "back": {"https://evil.example/"}})
		if r.Status != http.StatusSeeOther || r.Location != vms {
			t.Fatalf("empty column choice: %d → %q", r.Status, r.Location)
		}

		// Filter on a column that is not shown, sort, page 2.
		wantIntel := 0
		for h := 0; h < sp.Hosts; h++ {
			for v := 0; v < sp.VMsPerHost; v++ {
				if sp.Host(h).CPU == fleet.CPUIntel && !sp.VM(h, v).Gone {
					wantIntel++
				}
			}
		}
		page = admin.Get(vms+"?f_cpu=intel&f_state=&sort=name&dir=asc&size=10&page=2").Expect(t, http.StatusOK)
		page.Doc.Find("table.vms tbody td.c-cpu").Each(func(_ int, s *goquerySelection) {
			if strings.TrimSpace(s.Text()) != "Intel" {
				t.Fatalf("CPU filter lets through %q", s.Text())
			}
		})
		apptest.MustContain(t, page.Text(".pager"), "11–")
		apptest.MustContain(t, page.Text(".pager"), "of "+strconv.Itoa(wantIntel)+" VMs")
		if !page.Has(`a[rel="prev"]`) {
			t.Fatal("page 2 has no link back")
		}
		// Bad input is named, not a 500.
		page = admin.Get(vms+"?sort=secret&f_state=exploded").Expect(t, http.StatusBadRequest)
		apptest.MustContain(t, page.Text(".flash"), `VM state has no value "exploded"`)

		// The CSV of the current filter has every column and every row.
		csvResp := admin.HTTP
		resp, err := csvResp.Get(node.URL + vms + ".csv?f_cpu=intel&sort=name")
		if err != nil {
			t.Fatal(err)
		}
		recs, err := csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %v", resp.StatusCode, err)
		}
		if len(recs)-1 != wantIntel || len(recs[0]) != len(fleet.Columns)+2 {
			t.Fatalf("csv: %d rows × %d columns, want %d rows", len(recs)-1, len(recs[0]), wantIntel)
		}

		// A command: confirmation names the VM, then it is pending.
		h, v := presentVM(sp, false)
		name := sp.VM(h, v).Name
		vm := vmByName(t, node.App.DB, acct, name)
		confirm := admin.Post(vms+"/commands", url.Values{"kind": {"delete"}, "vm": {vm}, "back": {vms + "?sort=name"}}).Expect(t, http.StatusOK)
		apptest.MustContain(t, confirm.Text("h1"), "Delete 1 VM?")
		apptest.MustContain(t, confirm.Text(".confirm-items"), name)
		action, form := hiddenForm(confirm, `form[action$="/vms/commands"]`)
		r = admin.PostRaw(action, form).Expect(t, http.StatusSeeOther)
		if r.Location != vms+"?sort=name" {
			t.Fatalf("after the command: %q", r.Location)
		}
		page = admin.Get(vms+"/"+vm).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("table.vm-command-log"), "Pending")
		page = admin.Get(vms+"?f_command=pending&f_name="+url.QueryEscape(name)).Expect(t, http.StatusOK)
		if page.Doc.Find("table.vms tbody tr").Length() != 1 {
			t.Fatalf("the pending command is not listed")
		}
		// Redownload is refused for a VM not from a golden image.
		r = admin.Post(vms+"/commands", url.Values{"kind": {"redownload"}, "vm": {vm}, "confirm": {"1"}})
		if r.Status != http.StatusSeeOther {
			t.Fatalf("redownload of a non-golden VM: %d", r.Status)
		}
		apptest.MustContain(t, admin.Get(r.Location).Text(".flash"), "not provisioned from a golden image")
		// Cancel the pending command.
		page = admin.Get(vms+"?f_command=pending&f_name="+url.QueryEscape(name)+"&size=40").Expect(t, http.StatusOK)
		page = admin.Get(page.Doc.Find("table.vms tbody td a").First().AttrOr("href", "")).Expect(t, http.StatusOK)
		action, form = hiddenForm(page, `form[action$="/cancel"]`)
		r = admin.PostRaw(action, form).Expect(t, http.StatusSeeOther)
		page = admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash"), "cancelled")
		apptest.MustContain(t, page.Text("table.vm-command-log"), "Cancelled")
		audit := admin.Get("/accounts/" + acct + "/audit").Text("tbody")
		apptest.MustContain(t, audit, name)

		// A license admin of the sublicense sees only its VMs; a plain
		// user does not reach the page.
		la, laID := addMember(t, node, admin, acct, "lars@fleet.example", "license_admin")
		var subKey string
		_ = node.App.DB.QueryRow(context.Background(), `SELECT id FROM license_keys WHERE subscription_id = ? AND kind <> 'primary'`, sub).Scan(&subKey)
		var adminID string
		_ = node.App.DB.QueryRow(context.Background(), `SELECT person_id FROM memberships WHERE account_id = ? AND role = 'admin'`, acct).Scan(&adminID)
		if err := node.App.License.AssignKeyAdmin(context.Background(), license.Caller{AccountID: acct, PersonID: adminID, Role: license.RoleAdmin},
			subKey, laID, audit0); err != nil {
			t.Fatal(err)
		}
		resp, err = la.HTTP.Get(node.URL + vms + ".csv")
		if err != nil {
			t.Fatal(err)
		}
		recs, _ = csv.NewReader(resp.Body).ReadAll()
		resp.Body.Close()
		wantSub := 0
		for h := 0; h < sp.Hosts; h++ {
			for v := 0; v < sp.VMsPerHost; v++ {
				if sp.Host(h).KeyID == subKey && !sp.VM(h, v).Gone {
					wantSub++
				}
			}
		}
		if len(recs)-1 != wantSub || wantSub == 0 {
			t.Fatalf("license admin's CSV: %d rows, want %d", len(recs)-1, wantSub)
		}
		la.Get(vms+"/"+vm).Expect(t, map[bool]int{true: http.StatusOK, false: http.StatusNotFound}[sp.Host(h).KeyID == subKey])
		user, _ := addMember(t, node, admin, acct, "uma@fleet.example", "user")
		if r := user.Get(vms); r.Status != http.StatusForbidden {
			t.Fatalf("plain user: %d", r.Status)
		}
	})
}

var audit0 = audit.Actor{Type: audit.ActorPerson, ID: "test", Label: "test"}
