package web_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// danaUser is in the admins group, in Desktop Users and in a group mapped
// to the primary key (User Groups), so a test sign-in as her shows every
// right and the seat pool.
var danaUser = testenv.IdPUser{Email: "dana.admin@corp.example", Name: "Dana Admin", ObjectID: "obj-dana",
	Groups: []string{adminsGroup, "desktop-users", "design-team", "other"}, Password: "idp-pass"}

// eveUser signs in at the IdP with an address outside the account's
// verified domains.
var eveUser = testenv.IdPUser{Email: "eve@elsewhere.example", Name: "Eve Elsewhere", ObjectID: "obj-eve",
	Groups: []string{"desktop-users"}, Password: "idp-pass"}

// prepareTestSignIn adds Dana and Eve to the fixture's IdP and maps the
// group design-team ("Design team") to a new sublicense key "Design seats".
func (f *ssoFixture) prepareTestSignIn(t *testing.T) {
	t.Helper()
	f.idp.AddUser(t, danaUser)
	f.idp.AddUser(t, eveUser)
	ctx := context.Background()
	owner, err := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
	if err != nil {
		t.Fatal(err)
	}
	var sub string
	if err := f.node.App.DB.QueryRow(ctx, `SELECT subscription_id FROM license_keys WHERE account_id = ? AND kind = 'primary'`, f.account).Scan(&sub); err != nil {
		t.Fatal(err)
	}
	caller := license.Caller{PersonID: owner.ID, AccountID: f.account, Role: license.RoleAdmin}
	actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
	key, _, err := f.node.App.License.CreateSublicense(ctx, caller, sub, license.KeyInput{Name: "Design seats", Kind: license.KindReserved, Seats: 3}, actor)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.node.App.License.MapGroup(ctx, caller, key.ID, "design-team", "Design team", nil, actor); err != nil {
		t.Fatal(err)
	}
}

// testSignIn starts a test sign-in as c (an admin of the account), signs
// in at the IdP as email over HTTP and posts the IdP's answer to the ACS.
// It returns the ACS's answer and what was posted.
func (f *ssoFixture) testSignIn(t *testing.T, c *apptest.Client, email string) (*apptest.Response, string, url.Values) {
	t.Helper()
	acs, form := f.testSignInForm(t, c, email)
	return c.PostRaw(acs, form), acs, form
}

// testSignInForm is testSignIn up to the IdP's answer, which it returns
// unposted.
func (f *ssoFixture) testSignInForm(t *testing.T, c *apptest.Client, email string) (string, url.Values) {
	t.Helper()
	r := c.Post("/accounts/"+f.account+"/idp/test", nil).Expect(t, http.StatusOK)
	href := r.Doc.Find("#continue-to-idp").AttrOr("href", "")
	if !strings.HasPrefix(href, f.idp.SSOURL) || r.Header.Get("Refresh") != "0; url="+href {
		t.Fatalf("POST /idp/test: no hand-over to the IdP (link %q, Refresh %q)", href, r.Header.Get("Refresh"))
	}
	return f.idp.SignIn(t, c.HTTP, href, email, "idp-pass")
}

// testResultPath checks that the ACS sent the browser to a test result and
// returns its path.
func (f *ssoFixture) testResultPath(t *testing.T, r *apptest.Response) string {
	t.Helper()
	r.Expect(t, http.StatusSeeOther)
	prefix := "/accounts/" + f.account + "/idp/tests/"
	if !strings.HasPrefix(r.Location, prefix) || len(r.Location) == len(prefix) {
		t.Fatalf("after the test sign-in the ACS redirected to %q, want %s…", r.Location, prefix)
	}
	return r.Location
}

// footprint counts what a sign-in creates: people, sessions, memberships,
// SSO links and Desktop seats.
func footprint(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"people", "sessions", "memberships", "sso_identities", "license_user_seats"} {
		var n int
		if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func sameFootprint(t *testing.T, what string, before, after map[string]int) {
	t.Helper()
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %s went from %d to %d rows; a test sign-in must create nothing", what, k, v, after[k])
		}
	}
}

// TestIdPTestSignIn: an admin tests the sign-in with the independent IdP
// over HTTP, while the integration is active and before activation. The
// answer is validated and the linking decision made as for a real
// sign-in; the result page shows it to that admin only; nothing is
// created; test and real answers cannot stand in for each other; results
// expire; license admins and users cannot test.
func TestIdPTestSignIn(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		f.prepareTestSignIn(t)
		ctx := context.Background()
		db := f.node.App.DB
		base := "/accounts/" + f.account + "/idp"

		// Accepted: Dana would be created, as an admin and Desktop user
		// whose seat comes from the key her mapped group names.
		before := footprint(t, db)
		r, acs, form := f.testSignIn(t, f.admin, danaUser.Email)
		danaPath := f.testResultPath(t, r)
		page := f.admin.Get(danaPath).Expect(t, http.StatusOK)
		if state := page.Doc.Find("#test-result").AttrOr("data-state", ""); state != "accepted" {
			t.Fatalf("test result state %q, want accepted: %s", state, page.Text("main"))
		}
		apptest.MustContain(t, page.Text("#test-maps-to"), "New user "+danaUser.Email)
		apptest.MustContain(t, page.Text("#test-maps-to"), "would be created")
		apptest.MustContain(t, page.Text("#test-role"), "Joins this business account as Admin")
		apptest.MustContain(t, page.Text("#test-admin"), "Yes")
		apptest.MustContain(t, page.Text("#test-admin"), "GH Admins")
		apptest.MustContain(t, page.Text("#test-desktop"), "Yes")
		apptest.MustContain(t, page.Text("#test-seat-pool"), "Key “Design seats”, chosen by the User Groups mapping (“Design team”)")
		apptest.MustContain(t, page.Text("#test-nameid"), danaUser.Email)
		apptest.MustContain(t, page.Text("#test-nameid-format"), "Email address")
		attrs := page.Text("#test-attributes")
		for _, want := range []string{"objectidentifier", "obj-dana", "displayname", "Dana Admin", "groups", "design-team", adminsGroup} {
			apptest.MustContain(t, attrs, want)
		}
		groups := page.Text("#test-groups")
		apptest.MustContain(t, groups, "admin rights")
		apptest.MustContain(t, groups, "may activate Desktop with SSO")
		apptest.MustContain(t, groups, "“Design team”")
		apptest.MustContain(t, page.Text("main"), "Nothing was created or changed")
		if page.Has("#test-refusal") || page.Has("#test-inactive") {
			t.Error("accepted result of an active integration shows a refusal or the inactive note")
		}
		sameFootprint(t, "accepted test", before, footprint(t, db))
		if _, err := f.node.App.Accounts.PersonByEmail(ctx, danaUser.Email); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a test sign-in created a person (err %v)", err)
		}
		au := f.admin.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)
		apptest.MustContain(t, auditText(au), "idp.test_sign_in_started")
		apptest.MustContain(t, auditText(au), "idp.test_sign_in_finished")
		apptest.MustContain(t, f.admin.Get(base).Expect(t, http.StatusOK).Text("#test-sign-in-list"), "Accepted")

		// The test's answer replayed to the ACS (the real flow) is
		// refused and signs nobody in, in a fresh browser or the admin's.
		fresh := apptest.NewClient(t, f.node.URL)
		again := fresh.PostRaw(acs, form).Expect(t, http.StatusForbidden)
		apptest.MustContain(t, again.Text("main"), "replay")
		fresh.Get("/accounts/"+f.account).Expect(t, http.StatusSeeOther)
		f.admin.PostRaw(acs, form).Expect(t, http.StatusForbidden)
		sameFootprint(t, "replayed test answer", before, footprint(t, db))

		// And the other way round: a real sign-in's answer replayed in the
		// admin's browser while a test waits there is refused as a replay;
		// it does not become the test's result.
		uma := apptest.NewClient(t, f.node.URL)
		real, realACS, realForm := f.ssoSignIn(t, uma, "uma.user@corp.example")
		real.Expect(t, http.StatusSeeOther)
		f.admin.Post(base+"/test", nil).Expect(t, http.StatusOK) // a test now waits in the admin's browser
		pending := f.admin.Get(base).Doc.Find("#test-sign-in-list a").First().AttrOr("href", "")
		if pending == "" {
			t.Fatal("the waiting test is not listed in the configurator")
		}
		replay := f.admin.PostRaw(realACS, realForm).Expect(t, http.StatusForbidden)
		apptest.MustContain(t, replay.Text("main"), "replay")
		if s := f.admin.Get(pending).Expect(t, http.StatusOK).Doc.Find("#test-result").AttrOr("data-state", ""); s != "pending" {
			t.Fatalf("a real sign-in's answer changed the waiting test to %q", s)
		}

		// Refused by the linking rules: an address outside the verified
		// domains. The page gives the reason, what to change, and still
		// what the IdP sent.
		before = footprint(t, db)
		r, _, _ = f.testSignIn(t, f.admin, eveUser.Email)
		page = f.admin.Get(f.testResultPath(t, r)).Expect(t, http.StatusOK)
		if state := page.Doc.Find("#test-result").AttrOr("data-state", ""); state != "refused" {
			t.Fatalf("test of %s: state %q, want refused", eveUser.Email, state)
		}
		if code := page.Text("#test-code"); code != "domain_not_verified" {
			t.Fatalf("refusal code %q, want domain_not_verified", code)
		}
		apptest.MustContain(t, page.Text("#test-advice"), "verify the domain in step 1")
		apptest.MustContain(t, page.Text("#test-detail"), "elsewhere.example")
		apptest.MustContain(t, page.Text("#test-maps-to"), "Refused")
		apptest.MustContain(t, page.Text("#test-attributes"), "obj-eve")
		sameFootprint(t, "refused test", before, footprint(t, db))

		// Refused by the validator (an unsigned answer): the refusal is the
		// test's result, and nothing unverified is shown.
		opts := f.idp.Options()
		unsigned := opts
		unsigned.Unsigned = true
		f.idp.SetOptions(t, unsigned)
		r, _, _ = f.testSignIn(t, f.admin, danaUser.Email)
		page = f.admin.Get(f.testResultPath(t, r)).Expect(t, http.StatusOK)
		if code := page.Text("#test-code"); code != "signature_missing" {
			t.Fatalf("unsigned answer: code %q, want signature_missing", code)
		}
		apptest.MustContain(t, page.Text("#test-advice"), "sign the assertion")
		if page.Has("#test-received") || page.Has("#test-user") {
			t.Error("a result refused by the validator shows what the unverified answer says")
		}
		f.idp.SetOptions(t, opts)

		// Only the admin who started a test sees its result: another admin
		// of the account (Ida, admin through SSO) gets a 404; license
		// admins and users can neither start a test nor see a result.
		ida := apptest.NewClient(t, f.node.URL)
		f.ssoSignIn(t, ida, "ida.admin@corp.example")
		ida.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK) // she is an admin
		ida.Get(danaPath).Expect(t, http.StatusNotFound)
		lena, _ := addMember(t, f.node, f.admin, f.account, "lena.licenses@partner.example", "license_admin")
		for _, c := range []*apptest.Client{lena, uma} {
			c.Get(danaPath).Expect(t, http.StatusForbidden)
			c.Post(base+"/test", nil).Expect(t, http.StatusForbidden)
		}

		// Results expire after an hour (and are purged), whatever the
		// clock of the test says: the row is aged instead.
		if _, err := db.Exec(ctx, `UPDATE sso_test_sign_ins SET expires_at = ? WHERE account_id = ? AND id = ?`,
			store.At(time.Now().Add(-time.Minute)), f.account, strings.TrimPrefix(danaPath, base+"/tests/")); err != nil {
			t.Fatal(err)
		}
		gone := f.admin.Get(danaPath).Expect(t, http.StatusGone)
		apptest.MustContain(t, gone.Text("main"), "expired")
		if n, err := f.node.App.SSO.PurgeTests(ctx); err != nil || n != 1 {
			t.Fatalf("purge: %d rows, %v; want the expired test deleted", n, err)
		}
		f.admin.Get(danaPath).Expect(t, http.StatusNotFound)

		// Before activation the test works the same way and says that real
		// sign-ins wait for the activation.
		owner, _ := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
		actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
		if err := f.node.App.IdP.Deactivate(ctx, f.account, actor); err != nil {
			t.Fatal(err)
		}
		before = footprint(t, db)
		r, _, _ = f.testSignIn(t, f.admin, danaUser.Email)
		page = f.admin.Get(f.testResultPath(t, r)).Expect(t, http.StatusOK)
		if state := page.Doc.Find("#test-result").AttrOr("data-state", ""); state != "accepted" {
			t.Fatalf("test before activation: state %q, want accepted: %s", state, page.Text("main"))
		}
		apptest.MustContain(t, page.Text("#test-outcome"), "once the integration is active")
		apptest.MustContain(t, page.Text("#test-inactive"), "integration_inactive")
		sameFootprint(t, "test before activation", before, footprint(t, db))

		// Without the SAML settings of step 4 there is nothing to test.
		if err := f.node.App.IdP.SetStepDone(ctx, f.account, 4, false, actor); err != nil {
			t.Fatal(err)
		}
		cfg := f.admin.Get(base).Expect(t, http.StatusOK)
		if !cfg.Has("#test-sign-in-start[disabled]") {
			t.Fatal("Test sign-in is enabled although step 4 is not complete")
		}
		apptest.MustContain(t, cfg.Text("#test-sign-in-blocked"), "step 4")
		refused := f.admin.Post(base+"/test", nil).Expect(t, http.StatusConflict)
		apptest.MustContain(t, refused.Text("#e-test"), "step 4")
	})
}

// selfSignedPEM is a fresh self-signed certificate, as step 4 needs one.
func selfSignedPEM(t *testing.T, name string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

// startRefusedTestSignIn gives an account whose IdP integration is started
// SAML settings, starts a test sign-in for the admin personID and answers
// it with garbage at the ACS from the browser that started it: the
// validator's refusal becomes the test's result. It returns the test's id.
func startRefusedTestSignIn(t *testing.T, node *apptest.Node, acct, personID string) string {
	t.Helper()
	ctx := context.Background()
	actor := adminActor(personID)
	if err := node.App.IdP.SaveSAML(ctx, acct, idp.SAMLInput{EntityID: "https://idp.example.test/" + acct,
		SSOURL: "https://idp.example.test/sso", Certificates: selfSignedPEM(t, "Test IdP")}, actor); err != nil {
		t.Fatal(err)
	}
	binding := ids.Secret(24)
	_, id, err := node.App.SSO.StartTest(ctx, acct, personID, binding, actor)
	if err != nil {
		t.Fatal(err)
	}
	browser := apptest.NewClient(t, node.URL)
	u, _ := url.Parse(node.URL + "/saml/")
	browser.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "gh_sso_binding", Value: binding, Path: "/saml/"}})
	r := browser.PostRaw("/saml/"+acct+"/acs", url.Values{"SAMLResponse": {"this is not a SAML response"}}).Expect(t, http.StatusSeeOther)
	if want := "/accounts/" + acct + "/idp/tests/" + id; r.Location != want {
		t.Fatalf("a refused answer to a test sign-in went to %q, want its result %s", r.Location, want)
	}
	return id
}

// testSignInIsolationFixture: account A's admin has a finished test
// sign-in, which the walk tries to reach from account B.
func testSignInIsolationFixture(t *testing.T, node *apptest.Node, alice *apptest.Client, acct, aliceID string) map[string]string {
	t.Helper()
	if err := node.App.IdP.Start(context.Background(), acct, idp.ProviderOkta, aliceID, adminActor(aliceID)); err != nil {
		t.Fatal(err)
	}
	id := startRefusedTestSignIn(t, node, acct, aliceID)
	page := alice.Get("/accounts/"+acct+"/idp/tests/"+id).Expect(t, http.StatusOK)
	if code := page.Text("#test-code"); code != "malformed" {
		t.Fatalf("fixture test sign-in: code %q, want malformed", code)
	}
	return map[string]string{"test": id}
}

func init() { layoutFixtures = append(layoutFixtures, layoutTestSignInFixture) }

// layoutTestSignInFixture: the IdP integration has SAML settings and the
// admin a test sign-in result.
func layoutTestSignInFixture(t *testing.T, e *layoutEnv) {
	e.params["test"] = startRefusedTestSignIn(t, e.node, e.acct, e.adminID)
}

// agree runs a test sign-in as the IdP user login and then a real sign-in
// as the same user, and checks that both reach the same decision: want is
// "new" (a person is created), "existing" (an existing person signs in)
// or a refusal code. The test sign-in creates nothing; it returns the test
// result page and the real sign-in's client.
func (f *ssoFixture) agree(t *testing.T, login, want string) (*apptest.Response, *apptest.Client) {
	t.Helper()
	db := f.node.App.DB
	before := footprint(t, db)
	r, _, _ := f.testSignIn(t, f.admin, login)
	page := f.admin.Get(f.testResultPath(t, r)).Expect(t, http.StatusOK)
	sameFootprint(t, "test sign-in as "+login, before, footprint(t, db))
	state, code := page.Doc.Find("#test-result").AttrOr("data-state", ""), page.Text("#test-code")
	maps := page.Text("#test-maps-to")
	switch want {
	case "new", "existing":
		if state != "accepted" {
			t.Fatalf("test sign-in as %s: %s %s, want accepted (%s)", login, state, code, page.Text("#test-detail"))
		}
		if (want == "new") != strings.Contains(maps, "would be created") {
			t.Fatalf("test sign-in as %s maps to %q, want a %s user", login, maps, want)
		}
	default:
		if state != "refused" || code != want {
			t.Fatalf("test sign-in as %s: %s %q, want refused with %s", login, state, code, want)
		}
	}

	c := apptest.NewClient(t, f.node.URL)
	resp := f.ssoAs(t, c, "someone@corp.example", login)
	who := sessionPerson(t, f.node, c)
	switch want {
	case "new", "existing":
		if resp.Status != http.StatusSeeOther || who == "" {
			t.Fatalf("real sign-in as %s: status %d, want signed in as the test said (%s): %s", login, resp.Status, maps, resp.Text("main"))
		}
		p, err := f.node.App.Accounts.PersonByID(context.Background(), who)
		if err != nil {
			t.Fatal(err)
		}
		apptest.MustContain(t, maps, p.Email)
		if after := footprint(t, db); (after["people"] == before["people"]+1) != (want == "new") {
			t.Fatalf("real sign-in as %s: people %d → %d, the test said %q", login, before["people"], after["people"], maps)
		}
	default:
		if resp.Status != http.StatusForbidden || who != "" {
			t.Fatalf("real sign-in as %s: status %d (person %q), want refused with %s like the test", login, resp.Status, who, want)
		}
		apptest.MustContain(t, resp.Text("main"), "reason "+want)
	}
	return page, c
}

// TestIdPTestSignInAgreesWithRealSignIn: for every kind of answer the
// linking rules tell apart, a test sign-in and then a real sign-in with
// the independent IdP reach the same decision — they share one evaluation
// — and only the real one changes anything.
func TestIdPTestSignInAgreesWithRealSignIn(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		ctx := context.Background()
		db := f.node.App.DB
		owner, _ := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
		actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
		add := func(u testenv.IdPUser) string {
			u.Password = "idp-pass"
			f.idp.AddUser(t, u)
			if u.Login != "" {
				return u.Login
			}
			return u.Email
		}

		// A first sign-in creates Ida; the next one finds her by her
		// object id; another object with her address is a conflict.
		f.agree(t, "ida.admin@corp.example", "new")
		page, _ := f.agree(t, "ida.admin@corp.example", "existing")
		apptest.MustContain(t, page.Text("#test-how"), "stable user ID")
		f.agree(t, add(testenv.IdPUser{Email: "IDA.ADMIN@corp.example", Login: "ida-other", ObjectID: "obj-other"}), "identity_conflict")

		// A verified password person meets the IdP: linked, and their
		// other sessions end — in the real sign-in only.
		pat := apptest.NewClient(t, f.node.URL)
		pat.SignUp("pat@corp.example", pw, "Pat")
		patID := sessionPerson(t, f.node, pat)
		patLogin := add(testenv.IdPUser{Email: "pat@corp.example", ObjectID: "obj-pat", Groups: []string{"desktop-users"}})
		before := footprint(t, db)
		r, _, _ := f.testSignIn(t, f.admin, patLogin)
		page = f.admin.Get(f.testResultPath(t, r)).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("#test-how"), "other Gatehouse sessions end")
		sameFootprint(t, "test sign-in of a password person", before, footprint(t, db))
		if sessionPerson(t, f.node, pat) != patID {
			t.Fatal("a test sign-in ended the person's session")
		}
		f.agree(t, patLogin, "existing")
		if sessionPerson(t, f.node, pat) != "" {
			t.Fatal("the real first link kept the person's password session")
		}

		// The address rules.
		f.agree(t, add(testenv.IdPUser{Email: "owner@ｃorp.example", Login: "owner-fullwidth", ObjectID: "obj-fw"}), "address_spelling_mismatch")
		f.agree(t, add(testenv.IdPUser{Email: "owner@corp.ex\u0430mple", Login: "owner-cyrillic", ObjectID: "obj-cyr"}), "domain_not_verified")
		f.agree(t, add(testenv.IdPUser{Email: "ida.admin＠corp.example", Login: "ida-fullwidth-at", ObjectID: "obj-at"}), "no_email")
		f.agree(t, add(testenv.IdPUser{Email: `Ida <ida.admin@corp.example>`, Login: "ida-display", ObjectID: "obj-dn"}), "address_invalid")

		// A person created before addresses had to be proved, who never
		// proved theirs.
		hash, err := account.HashPassword("legacy-pass-2026")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			ids.New(), "lee@corp.example", "lee@corp.example", "Not Lee", hash, store.Now()); err != nil {
			t.Fatal(err)
		}
		f.agree(t, add(testenv.IdPUser{Email: "lee@corp.example", ObjectID: "obj-lee"}), "person_unverified")

		// A member an admin deactivated in Gatehouse, and a user the IdP
		// deactivated over SCIM.
		uma := "uma.user@corp.example"
		_, c := f.agree(t, uma, "new")
		if err := f.node.App.Accounts.SetMemberStatus(ctx, f.account, sessionPerson(t, f.node, c), account.StatusDeactivated, actor); err != nil {
			t.Fatal(err)
		}
		f.agree(t, uma, "member_deactivated")
		if status, body := f.scim(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"vic@corp.example","externalId":"obj-vic","active":false}`); status != http.StatusCreated {
			t.Fatalf("SCIM create: %d %s", status, body)
		}
		f.agree(t, add(testenv.IdPUser{Email: "vic@corp.example", ObjectID: "obj-vic"}), "user_deactivated")

		// The validator's refusals too: more groups than the signature
		// verifier checks.
		many := make([]string, 1500)
		for i := range many {
			many[i] = fmt.Sprintf("group-%04d", i)
		}
		f.agree(t, add(testenv.IdPUser{Email: "max.groups@corp.example", ObjectID: "obj-max", Groups: many}), "too_many_elements")
	})
}
