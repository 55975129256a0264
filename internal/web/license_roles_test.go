package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// TestLicenseRolesOverHTTP: admins see and manage every license; a license
// admin sees only the keys assigned to them (the whole subscription when
// assigned to its primary key); plain users get no licensing pages.
func TestLicenseRolesOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("root@roles.example", pw, "Root")
		acct := admin.CreateAccount("Roles Corp")
		sub := registerKey(t, admin, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 20, false), "Team licenses")
		other := registerKey(t, admin, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "Other licenses")
		subPath := "/accounts/" + acct + "/licenses/" + sub
		admin.Post(subPath+"/keys", url.Values{"key_name": {"Design"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
		admin.Post(subPath+"/keys", url.Values{"key_name": {"Finance"}, "kind": {"dynamic"}, "seats": {"2"}}).Expect(t, http.StatusSeeOther)
		page := admin.Get(subPath).Expect(t, http.StatusOK)
		design, finance, primary := keyID(page, "Design"), keyID(page, "Finance"), keyID(page, "Primary key")

		lic, licID := addMember(t, node, admin, acct, "lena@roles.example", "license_admin")
		user, _ := addMember(t, node, admin, acct, "uwe@roles.example", "user")

		// The dashboard card sums the seats.
		apptest.MustContain(t, admin.Get("/accounts/"+acct).Text(".cards"), "0 of 25 seats in use across 2 active licenses")

		// A license admin without assignments sees the page but no license.
		list := lic.Get("/accounts/"+acct+"/licenses").Expect(t, http.StatusOK)
		apptest.MustContain(t, list.Text("main"), "No license is assigned to you yet")
		if list.Has(`a[href$="/licenses/register"]`) {
			t.Error("a license admin is offered Register Key")
		}
		lic.Get(subPath).Expect(t, http.StatusNotFound)
		lic.Get("/accounts/"+acct+"/licenses/register").Expect(t, http.StatusForbidden)
		lic.Get("/accounts/"+acct+"/keys/"+design).Expect(t, http.StatusForbidden)

		// Assigned to Design: that key only.
		kp := admin.Get("/accounts/"+acct+"/keys/"+design).Expect(t, http.StatusOK)
		if kp.Doc.Find(`#f-person option[value="`+licID+`"]`).Length() != 1 {
			t.Fatal("the license admin is not offered for assignment")
		}
		admin.Post("/accounts/"+acct+"/keys/"+design+"/admins", url.Values{"person": {licID}}).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get("/accounts/"+acct+"/keys/"+design).Text("ul.key-admins"), "lena@roles.example")
		r := admin.Post("/accounts/"+acct+"/keys/"+design+"/admins", url.Values{"person": {""}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text(".field-error"), "Choose")

		list = lic.Get("/accounts/"+acct+"/licenses").Expect(t, http.StatusOK)
		if n := list.Doc.Find(".product-card").Length(); n != 1 {
			t.Fatalf("license admin sees %d product cards, want 1", n)
		}
		apptest.MustContain(t, list.Text("nav.side"), "Licenses")
		page = lic.Get(subPath).Expect(t, http.StatusOK)
		if names := keyNames(page); strings.Join(names, ",") != "Design" {
			t.Fatalf("license admin sees keys %v, want Design only", names)
		}
		if page.Has(`form[action$="/reveal"]`) || page.Has(".create-key") || page.Has(`form[action$="/name"]`) {
			t.Error("license admin is offered Reveal, Create License Key or Rename")
		}
		lic.Get("/accounts/"+acct+"/keys/"+design).Expect(t, http.StatusOK)
		lic.Get("/accounts/"+acct+"/keys/"+finance).Expect(t, http.StatusForbidden)
		lic.Get("/accounts/"+acct+"/licenses/"+other).Expect(t, http.StatusNotFound)
		lic.Post("/accounts/"+acct+"/keys/"+design+"/reveal", nil).Expect(t, http.StatusForbidden)
		lic.Post(subPath+"/keys", url.Values{"key_name": {"Mine"}, "kind": {"reserved"}, "seats": {"1"}}).Expect(t, http.StatusForbidden)
		lic.Post("/accounts/"+acct+"/keys/"+design+"/delete", url.Values{"confirm": {"1"}}).Expect(t, http.StatusForbidden)
		// …may rename it, but its allotment belongs to whoever manages the subscription.
		lic.Post("/accounts/"+acct+"/keys/"+design, url.Values{"name": {"Design team"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
		lic.Post("/accounts/"+acct+"/keys/"+design, url.Values{"name": {"Design team"}, "kind": {"reserved"}, "seats": {"9"}}).Expect(t, http.StatusForbidden)
		lic.Get(subPath+"/computers").Expect(t, http.StatusOK)
		lic.Get(subPath+"/invite").Expect(t, http.StatusOK)

		// Assigned to the primary key: the whole subscription.
		admin.Post("/accounts/"+acct+"/keys/"+primary+"/admins", url.Values{"person": {licID}}).Expect(t, http.StatusSeeOther)
		page = lic.Get(subPath).Expect(t, http.StatusOK)
		if n := len(keyNames(page)); n != 3 {
			t.Fatalf("license admin of the primary key sees %d keys, want 3", n)
		}
		if !page.Has(".create-key") {
			t.Error("license admin of the primary key cannot create sublicense keys")
		}
		lic.Post(subPath+"/keys", url.Values{"key_name": {"Lena's"}, "kind": {"dynamic"}, "seats": {"1"}}).Expect(t, http.StatusSeeOther)
		lic.Post("/accounts/"+acct+"/keys/"+finance+"/delete", url.Values{"confirm": {"1"}}).Expect(t, http.StatusSeeOther)
		if page.Has(`form[action$="/reveal"]`) {
			t.Error("keys are revealed to a license admin")
		}
		// Unassigning takes it away again.
		admin.Post("/accounts/"+acct+"/keys/"+primary+"/admins/"+licID+"/remove", nil).Expect(t, http.StatusSeeOther)
		admin.Post("/accounts/"+acct+"/keys/"+design+"/admins/"+licID+"/remove", nil).Expect(t, http.StatusSeeOther)
		lic.Get(subPath).Expect(t, http.StatusNotFound)
		// Only license admins can be assigned.
		_, userID := "", ""
		users := admin.Get("/accounts/"+acct+"/users?q=uwe").Doc.Find(`form[action$="/role"]`).First().AttrOr("action", "")
		userID = between(users, "/users/", "/role")
		r = admin.Post("/accounts/"+acct+"/keys/"+design+"/admins", url.Values{"person": {userID}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text(".field-error"), "Only license admins")

		// A plain user: no navigation entry, 403 on every licensing page.
		dash := user.Get("/accounts/"+acct).Expect(t, http.StatusOK)
		if strings.Contains(dash.Text("nav.side"), "Licenses") {
			t.Error("a user sees the Licenses navigation entry")
		}
		if strings.Contains(dash.Text(".cards"), "seats") {
			t.Error("a user sees the seats card")
		}
		for _, p := range []string{"/licenses", "/licenses/" + sub, "/licenses/" + sub + "/computers", "/licenses/" + sub + "/invitations",
			"/licenses/" + sub + "/computers.csv", "/keys/" + design, "/licenses/register"} {
			user.Get("/accounts/"+acct+p).Expect(t, http.StatusForbidden)
		}
		user.Post(subPath+"/keys", url.Values{"key_name": {"x"}, "kind": {"reserved"}, "seats": {"1"}}).Expect(t, http.StatusForbidden)
		// …and may not register a key into the account either.
		user.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {license.GenerateKey()}}).Expect(t, http.StatusForbidden)
	})
}
