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

// TestLicenseRegisterKeyOverHTTP follows Register Key: from the personal
// workspace (the business account is created on the way), the clear
// messages for a mistyped, unknown and foreign key, a second attempt, and a
// key registered into an existing account.
func TestLicenseRegisterKeyOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		key := issue(t, node, license.EditionBusiness, license.ModelPerDevice, 10, false)

		ann := apptest.NewClient(t, node.URL)
		ann.SignUp("ann@north.example", pw, "Ann North")
		personal := ann.Get("/personal").Expect(t, http.StatusOK)
		if !personal.Has(`a[href="/licenses/register"]`) {
			t.Fatal("the personal workspace has no Register Key link")
		}
		form := ann.Get("/licenses/register").Expect(t, http.StatusOK)
		if !form.Has("#f-name") || !form.Has("#f-country") || form.Doc.Find("#f-contact_email").AttrOr("value", "") != "ann@north.example" {
			t.Fatal("the personal Register Key form does not ask for the organization (prefilled with the person's contact)")
		}
		org := url.Values{"name": {"North Works"}, "country": {"DE"}, "contact_name": {"Ann North"}, "contact_email": {"ann@north.example"}}
		with := func(kv ...string) url.Values {
			v := url.Values{}
			for k, vs := range org {
				v[k] = vs
			}
			for i := 0; i+1 < len(kv); i += 2 {
				v.Set(kv[i], kv[i+1])
			}
			return v
		}

		// A typo is caught by the check characters, before any lookup.
		typo := []byte(key)
		if typo[3] == 'A' {
			typo[3] = 'B'
		} else {
			typo[3] = 'A'
		}
		r := ann.Post("/licenses/register", with("key", string(typo))).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "This key has a typo")
		// A well-formed key nobody issued.
		r = ann.Post("/licenses/register", with("key", license.GenerateKey())).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "No license has this key")
		// Missing organization details are reported together with the key.
		r = ann.Post("/licenses/register", url.Values{"key": {"nonsense"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "This has 8 letters and digits, but a license key has 30")
		apptest.MustContain(t, r.Text("#e-name"), "organization's name")
		if !r.Has(`.field-error select#f-country`) {
			t.Error("a missing country is not marked")
		}

		// Check key tells what the key is without registering it.
		r = ann.Post("/licenses/register", with("key", strings.ToLower(strings.ReplaceAll(key, "-", " ")), "step", "check")).Expect(t, http.StatusOK)
		preview := r.Text(".key-preview")
		for _, want := range []string{"Business Edition", "Per device", "10 seats", "not registered yet"} {
			apptest.MustContain(t, preview, want)
		}
		if ws := workspaces(t, ann); len(ws) != 0 {
			t.Fatalf("Check key created an account: %v", ws)
		}

		// Register: the account is created with the key in it.
		r = ann.Post("/licenses/register", with("key", key, "display_name", "Studio seats")).Expect(t, http.StatusSeeOther)
		sub := subscriptionFromLocation(t, r.Location)
		acct := strings.TrimPrefix(r.Location[:strings.Index(r.Location, "/licenses/")], "/accounts/")
		page := ann.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "The business account North Works is created with your Business Edition license (10 seats)")
		apptest.MustContain(t, page.Text("h1"), "Studio seats")
		apptest.MustContain(t, page.Text("nav.side"), "Licenses")

		// The same form sent twice creates nothing more.
		r = ann.Post("/licenses/register", with("key", key)).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "already registered")
		if ws := workspaces(t, ann); len(ws) != 1 {
			t.Fatalf("after a second submit the person belongs to %d accounts, want 1", len(ws))
		}
		r = ann.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "already registered to this business account")
		list := ann.Get("/accounts/"+acct+"/licenses").Expect(t, http.StatusOK)
		if n := list.Doc.Find(".product-card").Length(); n != 1 {
			t.Fatalf("%d product cards, want 1", n)
		}
		apptest.MustContain(t, list.Text(".product-card"), "0 of 10 seats used")

		// Another organization cannot take the key; both accounts' audit logs
		// record the attempt.
		bob := apptest.NewClient(t, node.URL)
		bob.SignUp("bob@south.example", pw, "Bob South")
		acctB := bob.CreateAccount("South Corp")
		r = bob.Post("/accounts/"+acctB+"/licenses/register", url.Values{"key": {key}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "already registered to another business account")
		if strings.Contains(r.Body, "North Works") || strings.Contains(r.Body, sub) {
			t.Fatal("the refusal reveals the other account")
		}
		r = bob.Post("/accounts/"+acctB+"/licenses/register", url.Values{"key": {key}, "step": {"check"}}).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text(".key-preview"), "registered to another business account")
		apptest.MustContain(t, bob.Get("/accounts/"+acctB+"/audit").Body, `title="license.key_register_refused"`)
		apptest.MustContain(t, ann.Get("/accounts/"+acct+"/audit").Body, `title="license.key_register_refused"`)

		// A key registered into an existing account.
		key2 := issue(t, node, license.EditionBusiness, license.ModelPerUser, 25, false)
		sub2 := registerKey(t, bob, acctB, key2, "")
		page = bob.Get("/accounts/"+acctB+"/licenses/"+sub2).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "The Business Edition license (25 seats) is registered.")
		apptest.MustContain(t, page.Text("h1"), "Business Edition")
		audit := auditText(ann.Get("/accounts/"+acct+"/audit").Expect(t, http.StatusOK))
		for _, a := range []string{"account.created", "license.key_registered"} {
			apptest.MustContain(t, audit, a)
		}
		// Registering needs the admin role; the form is not offered to others.
		bob.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key2}}).Expect(t, http.StatusNotFound)
	})
}

// TestLicenseTrialSuspensionOverHTTP: a purchased Enterprise key over an
// active Enterprise trial asks first, then suspends the trial.
func TestLicenseTrialSuspensionOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("cio@trial.example", pw, "Cio")
		acct := admin.CreateAccount("Trial Corp")
		trial := registerKey(t, admin, acct, issue(t, node, license.EditionEnterprise, license.ModelMixed, 5, true), "Evaluation")
		bought := issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 100, false)

		r := admin.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {bought}, "display_name": {"Enterprise 2026"}}).Expect(t, http.StatusConflict)
		apptest.MustContain(t, r.Text("main"), "active Enterprise trial")
		apptest.MustContain(t, r.Text("main"), "policies become unassigned")
		if n := admin.Get("/accounts/" + acct + "/licenses").Doc.Find(".product-card").Length(); n != 1 {
			t.Fatalf("asking registered something: %d cards", n)
		}
		// The confirmation form carries everything needed to go on.
		form := url.Values{}
		r.Doc.Find(`main form input[type=hidden]`).Each(func(_ int, s *goquerySelection) {
			form.Add(s.AttrOr("name", ""), s.AttrOr("value", ""))
		})
		if form.Get("suspend_trial") != "1" || form.Get("key") != bought || form.Get("display_name") != "Enterprise 2026" {
			t.Fatalf("confirmation form: %v", form)
		}
		action := r.Doc.Find("main form").AttrOr("action", "")
		r = admin.PostRaw(action, form).Expect(t, http.StatusSeeOther)
		page := admin.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".flash.success"), "The Enterprise trial is suspended")
		list := admin.Get("/accounts/"+acct+"/licenses").Expect(t, http.StatusOK)
		if n := list.Doc.Find(".product-card").Length(); n != 2 {
			t.Fatalf("%d product cards, want 2", n)
		}
		apptest.MustContain(t, list.Text("#sub-"+trial), "Evaluation")
		apptest.MustContain(t, list.Doc.Find("#sub-"+trial).Parent().Text(), "Suspended")
		apptest.MustContain(t, admin.Get("/accounts/"+acct+"/audit").Body, `title="license.subscription_suspended"`)

		// A second purchased Enterprise key is refused outright.
		r = admin.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 3, false)}}).
			Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-key"), "already holds an Enterprise subscription")
	})
}

// workspaces returns the business accounts the client's person belongs to.
func workspaces(t *testing.T, c *apptest.Client) []string {
	t.Helper()
	var out []string
	c.Get("/personal").Expect(t, http.StatusOK).Doc.Find(`main a[href^="/accounts/"]`).Each(func(_ int, s *goquerySelection) {
		if href := s.AttrOr("href", ""); href != "/accounts/new" {
			out = append(out, href)
		}
	})
	return out
}
