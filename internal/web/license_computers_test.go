package web_test

import (
	"context"
	"encoding/csv"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// TestLicenseRegisteredComputersOverHTTP: the list with search and key
// filter, CSV export, and multi-select deactivation that asks first and
// returns the seats at once; a license admin sees only their key's
// computers; another account's computer ids change nothing.
func TestLicenseRegisteredComputersOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		ctx := context.Background()
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("it@fleet.example", pw, "IT")
		acct := admin.CreateAccount("Fleet Corp")
		primary := issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false)
		sub := registerKey(t, admin, acct, primary, "")
		subPath := "/accounts/" + acct + "/licenses/" + sub
		admin.Post(subPath+"/keys", url.Values{"key_name": {"Lab"}, "kind": {"reserved"}, "seats": {"2"}}).Expect(t, http.StatusSeeOther)
		lab := keyID(admin.Get(subPath), "Lab")
		labKey := admin.Post("/accounts/"+acct+"/keys/"+lab+"/reveal", url.Values{"back": {"key"}}).Text("dd.key-cell code.license-key")

		creds := map[string]string{}
		for _, d := range []struct{ key, uuid, name string }{
			{primary, "HW-1", "Studio iMac"}, {primary, "HW-2", "Reception MacBook"}, {primary, "HW-3", "=cmd|calc"}, {labKey, "HW-4", "Lab Mac mini"},
		} {
			act, err := node.App.License.Activate(ctx, license.ActivateInput{Key: d.key, Device: device(d.uuid, d.name)})
			if err != nil {
				t.Fatalf("activate %s: %v", d.name, err)
			}
			creds[d.name] = act.Credential
		}

		list := admin.Get(subPath+"/computers").Expect(t, http.StatusOK)
		if n := list.Doc.Find("table.computers tbody tr").Length(); n != 4 {
			t.Fatalf("%d computers listed, want 4", n)
		}
		row := list.Doc.Find("table.computers tbody tr").FilterFunction(func(_ int, s *goquerySelection) bool {
			return strings.Contains(s.Text(), "Studio iMac")
		})
		for _, want := range []string{"C02HW-1", "jdoe", "License key", "26.1.0", "UTC"} {
			apptest.MustContain(t, row.Text(), want)
		}
		apptest.MustContain(t, admin.Get(subPath).Text("#seats-used"), "4 of 5")
		search := admin.Get(subPath+"/computers?q=studio").Expect(t, http.StatusOK)
		if n := search.Doc.Find("table.computers tbody tr").Length(); n != 1 {
			t.Fatalf("search found %d computers, want 1", n)
		}
		byKey := admin.Get(subPath+"/computers?key="+lab).Expect(t, http.StatusOK)
		if n := byKey.Doc.Find("table.computers tbody tr").Length(); n != 1 || !strings.Contains(byKey.Text("tbody"), "Lab Mac mini") {
			t.Fatalf("key filter: %d rows: %s", n, byKey.Text("tbody"))
		}
		csvLink := list.Doc.Find(`a[href*="computers.csv"]`).AttrOr("href", "")
		r := admin.Get(csvLink).Expect(t, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv content type %q", r.Header.Get("Content-Type"))
		}
		rows, err := csv.NewReader(strings.NewReader(r.Body)).ReadAll()
		if err != nil || len(rows) != 5 || rows[0][0] != "computer_name" {
			t.Fatalf("csv: %d rows, err %v: %q", len(rows), err, r.Body)
		}
		if !strings.Contains(r.Body, "'=cmd|calc") {
			t.Error("a formula-like computer name is not defused in the CSV")
		}

		// Deactivate: nothing chosen, then two chosen — asked first.
		r = admin.Post(subPath+"/computers/deactivate", url.Values{}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text(".error-text"), "Select at least one computer")
		ids := map[string]string{}
		list.Doc.Find(`table.computers tbody tr`).Each(func(_ int, s *goquerySelection) {
			ids[strings.TrimSpace(s.Find("td").Eq(1).Text())] = s.Find(`input[name=computer]`).AttrOr("value", "")
		})
		chosen := url.Values{"computer": {ids["Studio iMac"], ids["Lab Mac mini"]}}
		r = admin.Post(subPath+"/computers/deactivate", chosen).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("h1"), "Deactivate 2 computers?")
		apptest.MustContain(t, r.Text(".confirm-items"), "Studio iMac")
		apptest.MustContain(t, r.Text(".confirm-items"), "Lab Mac mini")
		apptest.MustContain(t, admin.Get(subPath).Text("#seats-used"), "4 of 5")
		form := url.Values{}
		r.Doc.Find(`main form input[type=hidden]`).Each(func(_ int, s *goquerySelection) { form.Add(s.AttrOr("name", ""), s.AttrOr("value", "")) })
		r = admin.PostRaw(r.Doc.Find("main form").AttrOr("action", ""), form).Expect(t, http.StatusSeeOther)
		page := admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "2 computers are deactivated; their seats are free again.")
		if n := page.Doc.Find("table.computers tbody tr").Length(); n != 2 {
			t.Fatalf("%d active computers after deactivation, want 2", n)
		}
		apptest.MustContain(t, admin.Get(subPath).Text("#seats-used"), "2 of 5")
		_, err = node.App.License.Check(ctx, creds["Studio iMac"], license.CheckInput{})
		var de *license.DeviceError
		if !errors.As(err, &de) || de.Code != license.CodeDeactivated {
			t.Fatalf("check after deactivation: %v", err)
		}
		if _, err := node.App.License.Check(ctx, creds["Reception MacBook"], license.CheckInput{}); err != nil {
			t.Fatalf("an unselected computer stopped working: %v", err)
		}
		all := admin.Get(subPath+"/computers?all=1").Expect(t, http.StatusOK)
		if n := all.Doc.Find("table.computers tbody tr").Length(); n != 4 {
			t.Fatalf("with deactivated: %d rows, want 4", n)
		}
		apptest.MustContain(t, all.Text("tbody"), "Deactivated")
		// Sent again: nothing more happens.
		admin.PostRaw(subPath+"/computers/deactivate", withCSRF(admin, form)).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(subPath).Text("#seats-used"), "2 of 5")
		apptest.MustContain(t, admin.Get("/accounts/"+acct+"/audit").Body, `title="license.computers_deactivated"`)

		// A license admin of Lab sees Lab's computers only.
		lic, licID := addMember(t, node, admin, acct, "lab@fleet.example", "license_admin")
		admin.Post("/accounts/"+acct+"/keys/"+lab+"/admins", url.Values{"person": {licID}}).Expect(t, http.StatusSeeOther)
		if _, err := node.App.License.Activate(ctx, license.ActivateInput{Key: labKey, Device: device("HW-5", "Lab Mac Studio")}); err != nil {
			t.Fatal(err)
		}
		seen := lic.Get(subPath+"/computers").Expect(t, http.StatusOK).Text("tbody")
		if !strings.Contains(seen, "Lab Mac Studio") || strings.Contains(seen, "Reception") {
			t.Fatalf("license admin sees: %s", seen)
		}
		// …and cannot deactivate others' computers, even by id.
		lic.Post(subPath+"/computers/deactivate", url.Values{"computer": {ids["Reception MacBook"]}, "confirm": {"1"}}).Expect(t, http.StatusSeeOther)
		if _, err := node.App.License.Check(ctx, creds["Reception MacBook"], license.CheckInput{}); err != nil {
			t.Fatalf("a license admin deactivated a computer of a key not assigned to them: %v", err)
		}

		// Another account's admin naming these computers in their own account.
		bob := apptest.NewClient(t, node.URL)
		bob.SignUp("bob@other.example", pw, "Bob")
		acctB := bob.CreateAccount("Other Corp")
		subB := registerKey(t, bob, acctB, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 1, false), "")
		r = bob.Post("/accounts/"+acctB+"/licenses/"+subB+"/computers/deactivate", url.Values{"computer": {ids["Reception MacBook"]}})
		if r.Status >= 500 || strings.Contains(r.Body, "Reception") {
			t.Fatalf("status %d, body mentions the other account's computer", r.Status)
		}
		bob.Post("/accounts/"+acctB+"/licenses/"+subB+"/computers/deactivate", url.Values{"computer": {ids["Reception MacBook"]}, "confirm": {"1"}})
		if _, err := node.App.License.Check(ctx, creds["Reception MacBook"], license.CheckInput{}); err != nil {
			t.Fatalf("another account deactivated this computer: %v", err)
		}
	})
}

// withCSRF adds the client's form token to a copy of form.
func withCSRF(c *apptest.Client, form url.Values) url.Values {
	out := url.Values{}
	for k, v := range form {
		out[k] = v
	}
	out.Set("csrf_token", c.CSRF())
	return out
}
