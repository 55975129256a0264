package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

var fullKeyRe = regexp.MustCompile(`[0-9A-Z]{6}(-[0-9A-Z]{6}){4}`)

// TestLicenseSublicenseKeysOverHTTP: Subscription Details and its License
// Keys — create reserved and dynamic keys with the seat rules' messages,
// double submit, rename, change allotment, reveal (audited), delete with a
// confirmation naming the computers it deactivates.
func TestLicenseSublicenseKeysOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("ada@keys.example", pw, "Ada")
		acct := admin.CreateAccount("Keys Corp")
		primary := issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 10, false)
		sub := registerKey(t, admin, acct, primary, "")
		subPath := "/accounts/" + acct + "/licenses/" + sub

		page := admin.Get(subPath).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("dl.facts"), "Enterprise Edition")
		apptest.MustContain(t, page.Text("#seats-used"), "0 of 10")
		apptest.MustContain(t, page.Text(".flash.warn"), "Do not hand out the primary license key")
		if names := keyNames(page); len(names) != 1 || names[0] != "Primary key" {
			t.Fatalf("keys %v, want the primary key only", names)
		}
		if strings.Contains(page.Body, primary) {
			t.Fatal("the primary key is shown unmasked before Reveal")
		}
		apptest.MustContain(t, page.Text("table.keys"), "••••••-"+primary[len(primary)-6:])

		create := func(name, kind, seats string) *apptest.Response {
			return admin.Post(subPath+"/keys", url.Values{"key_name": {name}, "kind": {kind}, "seats": {seats}})
		}
		r := create("Engineering", "reserved", "4").Expect(t, http.StatusSeeOther)
		page = admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "reserved sublicense key Engineering is created with 4 seats")
		apptest.MustContain(t, page.Text("#seats-reserved"), "4")
		apptest.MustContain(t, page.Text("#seats-shared-free"), "6 free")
		eng := keyID(page, "Engineering")
		if eng == "" {
			t.Fatalf("no Engineering row in %v", keyNames(page))
		}

		// The seat rules, in words an admin understands.
		r = create("Sales", "reserved", "7").Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-seats"), "Only 6 of the subscription's 10 seats can still be reserved")
		if r.Doc.Find("#f-key_name").AttrOr("value", "") != "Sales" {
			t.Error("the form lost what was typed")
		}
		r = create("Sales", "dynamic", "20").Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-seats"), "shared pool, which has 6 seats")
		apptest.MustContain(t, create("", "reserved", "2").Expect(t, http.StatusUnprocessableEntity).Text("#e-key_name"), "Enter a name")
		apptest.MustContain(t, create("Ops", "reserved", "two").Expect(t, http.StatusUnprocessableEntity).Text("#e-seats"), "whole number")
		apptest.MustContain(t, create("Ops", "floating", "2").Expect(t, http.StatusUnprocessableEntity).Text(".field-error"), "Choose Reserved or Dynamic")
		// The same form sent twice creates one key.
		apptest.MustContain(t, create("Engineering", "reserved", "4").Expect(t, http.StatusUnprocessableEntity).Text("#e-key_name"), "already has a key named Engineering")
		create("Sales", "dynamic", "3").Expect(t, http.StatusSeeOther)
		page = admin.Get(subPath).Expect(t, http.StatusOK)
		if names := keyNames(page); strings.Join(names, ",") != "Primary key,Engineering,Sales" {
			t.Fatalf("keys %v", names)
		}
		apptest.MustContain(t, page.Text("#key-"+eng), "4 reserved")
		apptest.MustContain(t, page.Text("#key-"+keyID(page, "Sales")), "up to 3")

		// Settings of a key: rename and change the allotment.
		keyPath := "/accounts/" + acct + "/keys/" + eng
		kp := admin.Get(keyPath).Expect(t, http.StatusOK)
		apptest.MustContain(t, kp.Text("h1"), "Engineering")
		r = admin.Post(keyPath, url.Values{"name": {"Engineering Berlin"}, "kind": {"reserved"}, "seats": {"11"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-seats"), "can still be reserved")
		admin.Post(keyPath, url.Values{"name": {"Engineering Berlin"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(subPath).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("#key-"+eng), "Engineering Berlin")
		apptest.MustContain(t, page.Text("#seats-reserved"), "5")
		// The primary key can only be renamed.
		pk := keyID(page, "Primary key")
		admin.Post("/accounts/"+acct+"/keys/"+pk, url.Values{"name": {"Main"}, "kind": {"reserved"}, "seats": {"1"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(subPath).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("#key-"+pk), "shared pool")
		apptest.MustContain(t, page.Text("#key-"+pk), "Main")
		if admin.Get("/accounts/" + acct + "/keys/" + pk).Has(`form[action$="/delete"]`) {
			t.Error("the primary key offers Delete")
		}
		// Rename the license.
		admin.Post(subPath+"/name", url.Values{"sub_name": {"Enterprise 2026"}}).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, admin.Get(subPath).Text("h1"), "Enterprise 2026")
		r = admin.Post(subPath+"/name", url.Values{"sub_name": {strings.Repeat("x", 81)}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-sub_name"), "at most 80 characters")

		// Reveal shows the whole key once, in the page (audited).
		r = admin.Post("/accounts/"+acct+"/keys/"+pk+"/reveal", nil).Expect(t, http.StatusOK)
		if got := r.Text("#key-" + pk + " code.license-key"); got != primary {
			t.Fatalf("revealed %q, want the primary key", got)
		}
		if r.Doc.Find("#key-"+pk+" [data-copy]").AttrOr("data-copy", "") != primary {
			t.Error("no copy button for the revealed key")
		}
		for _, k := range fullKeyRe.FindAllString(r.Body, -1) {
			if k != primary {
				t.Errorf("another full key on the page: %s", k)
			}
		}
		r = admin.Post("/accounts/"+acct+"/keys/"+eng+"/reveal", url.Values{"back": {"key"}}).Expect(t, http.StatusOK)
		engKey := r.Text("dd.key-cell code.license-key")
		if !license.ValidKey(engKey) {
			t.Fatalf("revealed %q on the key page", engKey)
		}

		// A computer on the key, then delete: the confirmation says what
		// happens, and the seat and the reservation come back.
		if _, err := node.App.License.Activate(context.Background(), license.ActivateInput{Key: engKey, Device: device("MAC-1", "Studio iMac")}); err != nil {
			t.Fatal(err)
		}
		r = admin.Post(keyPath+"/delete", nil).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("main"), "gives back its 1 seat in use")
		if n := len(keyNames(admin.Get(subPath))); n != 3 {
			t.Fatalf("asking deleted the key: %d keys", n)
		}
		action := r.Doc.Find("main form").AttrOr("action", "")
		r = admin.Post(action, url.Values{"confirm": {"1"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "The key Engineering Berlin is deleted. 1 computer was deactivated")
		apptest.MustContain(t, page.Text("#seats-reserved"), "0")
		apptest.MustContain(t, page.Text("#seats-used"), "0 of 10")
		if strings.Join(keyNames(page), ",") != "Main,Sales" {
			t.Fatalf("keys after delete %v", keyNames(page))
		}
		// Sent again, the delete finds nothing.
		admin.Post(action, url.Values{"confirm": {"1"}}).Expect(t, http.StatusNotFound)

		audit := auditText(admin.Get("/accounts/" + acct + "/audit"))
		for _, a := range []string{"license.sublicense_created", "license.key_updated", "license.subscription_renamed", "license.key_revealed", "license.sublicense_deleted"} {
			apptest.MustContain(t, audit, a)
		}
	})
}

func device(uuid, name string) license.Device {
	return license.Device{HardwareUUID: uuid, Serial: "C02" + uuid, ComputerName: name, MacOSUser: "jdoe", AppVersion: "26.1.0"}
}
