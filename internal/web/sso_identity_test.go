package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// sessionPerson is the person id behind c's session cookie ("" when none).
func sessionPerson(t *testing.T, node *apptest.Node, c *apptest.Client) string {
	t.Helper()
	u, _ := url.Parse(node.URL)
	for _, ck := range c.HTTP.Jar.Cookies(u) {
		if ck.Name == "gh_session" {
			s, err := node.App.Accounts.SessionByToken(context.Background(), ck.Value)
			if err != nil {
				return ""
			}
			return s.Person.ID
		}
	}
	return ""
}

// ssoAs signs in at Gatehouse with startEmail (a legitimate address of the
// verified domain: it only picks the account) and at the IdP as the user
// whose login is login, and posts the IdP's signed Response to the ACS.
func (f *ssoFixture) ssoAs(t *testing.T, c *apptest.Client, startEmail, login string) *apptest.Response {
	t.Helper()
	r := startSSO(t, c, startEmail)
	acs, form := f.idp.SignIn(t, c.HTTP, r.Location, login, "idp-pass")
	return c.PostRaw(acs, form)
}

// TestSSOHostileAddressesEndToEnd: an admin exists (Ida, signed in by SSO
// with her object id) and the backup login (a verified password person).
// The independent IdP (samlify) signs, with the account's real IdP key,
// responses whose NameID or name claim is each hostile form of their
// addresses. None gets a session as Ida or the owner; each is either
// refused with its own reason code, shown on the SSO error page and in the
// admins' Recent SSO failures, or becomes a distinct person.
//
// NUL and other C0 control characters cannot be written in XML 1.0, so no
// IdP can sign them; they are refused at the XML parser and are covered
// for SCIM, sign-up and invitations by the service tests.
func TestSSOHostileAddressesEndToEnd(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		ctx := context.Background()
		ida := apptest.NewClient(t, f.node.URL)
		r, _, _ := f.ssoSignIn(t, ida, "ida.admin@corp.example")
		r.Expect(t, http.StatusSeeOther)
		idaID := sessionPerson(t, f.node, ida)
		owner, err := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
		if err != nil || idaID == "" {
			t.Fatalf("fixture: ida %q, owner %v", idaID, err)
		}
		protected := map[string]string{idaID: "Ida (SSO admin)", owner.ID: "the owner (backup login)"}

		type hostile struct {
			name, value string
			want        string // a refusal code, or "distinct"
		}
		cases := []hostile{
			{"display name (issue 18, 1)", `"ida.admin@corp.example" <owner@corp.example>`, "address_invalid"},
			{"display name bare", `Ida <ida.admin@corp.example>`, "address_invalid"},
			{"angle brackets", `<owner@corp.example>`, "address_invalid"},
			{"comment", `ida.admin@corp.example(Ida)`, "address_invalid"},
			{"quoted local part", `"ida.admin"@corp.example`, "address_invalid"},
			{"quoted owner", `"owner"@corp.example`, "address_invalid"},
			{"capital I with dot (issue 18, 2)", "İda.admin@corp.example", "distinct"},
			{"dotless i", "ıda.admin@corp.example", "distinct"},
			{"long s in owner", "owner@corp.example", ""}, // replaced below
			{"Kelvin sign", "\u212Aida@corp.example", "address_invalid"},
			{"decomposed accent", "owne\u0301r@corp.example", "address_invalid"},
			{"Cyrillic e", "ownеr@corp.example", "distinct"},
			{"full-width at", "ida.admin＠corp.example", "no_email"},
			{"full-width domain letters, existing SSO identity", "ida.admin@ｃorp.example", "identity_conflict"},
			{"full-width domain letters, password person", "owner@ｃorp.example", "address_spelling_mismatch"},
			{"Cyrillic a in the domain", "owner@corp.ex\u0430mple", "domain_not_verified"},
			{"trailing dot", "ida.admin@corp.example.", "address_invalid"},
			{"leading space", " ida.admin@corp.example", "address_invalid"},
			{"trailing newline", "ida.admin@corp.example\n", "address_invalid"},
			{"tab inside", "ida.admin\t@corp.example", "address_invalid"},
			{"no-break space", "\u00a0owner@corp.example", "address_invalid"},
			{"zero-width space", "ow\u200bner@corp.example", "address_invalid"},
			{"ASCII case, other object id", "IDA.ADMIN@corp.example", "identity_conflict"},
			{"two ats", "owner@corp.example@evil.example", "address_invalid"},
			{"another organization's domain", "owner@other.example", "domain_not_verified"},
		}
		cases[8] = hostile{"long s", "ſida.admin@corp.example", "distinct"}
		// (The two IDNA spellings of a Unicode domain are one address but
		// two spellings: covered by the full-width cases here, and by
		// TestSSOIDNSpellings for bücher.example.)
		for _, nameIDOnly := range []bool{false, true} {
			for i, c := range cases {
				login := fmt.Sprintf("hostile-%v-%d", nameIDOnly, i)
				// The same IdP user (object id) in both claim layouts.
				u := testenv.IdPUser{Email: c.value, Login: login, ObjectID: fmt.Sprintf("obj-hostile-%d", i), Name: "Mallory",
					Groups: []string{adminsGroup}, Password: "idp-pass"}
				if nameIDOnly {
					// The NameID carries the address; no name claim.
					u.NameID, u.OmitName, u.Email = c.value, true, login+"@unused.example"
				}
				f.idp.AddUser(t, u)
				m := apptest.NewClient(t, f.node.URL)
				resp := f.ssoAs(t, m, "someone@corp.example", login)
				who := sessionPerson(t, f.node, m)
				if what, bad := protected[who]; bad {
					t.Fatalf("%s (NameID only %v): %q signed in as %s", c.name, nameIDOnly, c.value, what)
				}
				switch c.want {
				case "distinct":
					if resp.Status != http.StatusSeeOther || who == "" {
						t.Errorf("%s (NameID only %v): status %d, want a sign-in as a distinct person: %s", c.name, nameIDOnly, resp.Status, resp.Text("main"))
					}
				default:
					if resp.Status != http.StatusForbidden || who != "" {
						t.Errorf("%s (NameID only %v): status %d (person %q), want refused with %s", c.name, nameIDOnly, resp.Status, who, c.want)
						continue
					}
					apptest.MustContain(t, resp.Text("main"), "reason "+c.want)
					ref := strings.TrimSpace(resp.Doc.Find("main code").First().Text())
					fails, err := f.node.App.SSO.RecentFailures(ctx, f.account, 200)
					if err != nil {
						t.Fatal(err)
					}
					found := false
					for _, fl := range fails {
						if fl.Reference == ref {
							found = fl.Code == c.want
						}
					}
					if !found {
						t.Errorf("%s: reference %s with code %s not in Recent SSO failures", c.name, ref, c.want)
					}
				}
			}
		}
		// The admins see the refusals with their reasons on the
		// configurator page (Recent SSO failures).
		page := f.admin.Get("/accounts/"+f.account+"/idp").Expect(t, http.StatusOK)
		for _, code := range []string{"address_invalid", "identity_conflict", "address_spelling_mismatch", "domain_not_verified", "no_email"} {
			apptest.MustContain(t, page.Text("main"), code)
		}
		// Ida still is herself, admin.
		r, _, _ = f.ssoSignIn(t, apptest.NewClient(t, f.node.URL), "ida.admin@corp.example")
		r.Expect(t, http.StatusSeeOther)
	})
}

// TestPreClaimedAddress is issue 19's attack: a stranger signs up with an
// employee's address, then the employee signs in by SSO. The stranger's
// password never gives access to the account, with SSO active or not; the
// stranger's sign-up link, even if they got it, cannot create or take the
// employee's person.
func TestPreClaimedAddress(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		ctx := context.Background()
		const strangerPW = "stranger-pass-2026"
		stranger := apptest.NewClient(t, f.node.URL)
		r := stranger.Post("/signup", url.Values{"email": {"uma.user@corp.example"}, "password": {strangerPW}, "password_confirm": {strangerPW}})
		r.Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, stranger.Get(r.Location).Text("main"), "Check your email")
		stranger.SignIn("uma.user@corp.example", strangerPW).Expect(t, http.StatusUnauthorized)

		// The employee signs in by SSO: her own person, no password.
		uma := apptest.NewClient(t, f.node.URL)
		resp, _, _ := f.ssoSignIn(t, uma, "uma.user@corp.example")
		resp.Expect(t, http.StatusSeeOther)
		umaID := sessionPerson(t, f.node, uma)
		p, err := f.node.App.Accounts.PersonByID(ctx, umaID)
		if err != nil || p.HasPassword || p.EmailNorm != "uma.user@corp.example" {
			t.Fatalf("uma: %+v %v", p, err)
		}
		check := func(when string) {
			t.Helper()
			stranger.SignIn("uma.user@corp.example", strangerPW).Expect(t, http.StatusUnauthorized)
			if who := sessionPerson(t, f.node, stranger); who != "" {
				t.Fatalf("%s: the stranger has a session as %s", when, who)
			}
			if r := stranger.Get("/accounts/" + f.account); r.Status == http.StatusOK {
				t.Fatalf("%s: the stranger sees the account", when)
			}
		}
		check("SSO active")

		// Even holding the link (here taken from the employee's mailbox),
		// the stranger's sign-up cannot become her person.
		token := strangerLink(t, f.node.App.DB)
		stranger.Get("/verify/"+token).Expect(t, http.StatusOK)
		stranger.Post("/verify/"+token, nil).Expect(t, http.StatusConflict)
		check("after the stranger's link")
		// And in the employee's browser the link wants the stranger's
		// password, which she does not know.
		if r := uma.Post("/verify/"+token, url.Values{"password": {"a-guess-1234"}}); r.Status == http.StatusSeeOther {
			t.Fatal("the stranger's link completed in the employee's browser")
		}

		// The backup login turns SSO off: still nothing for the stranger.
		owner, _ := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
		if err := f.node.App.IdP.Deactivate(ctx, f.account, audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}); err != nil {
			t.Fatal(err)
		}
		check("SSO off")
		again := stranger.Post("/signup", url.Values{"email": {"uma.user@corp.example"}, "password": {strangerPW}, "password_confirm": {strangerPW}})
		again.Expect(t, http.StatusSeeOther)
		check("second sign-up with SSO off")
		apptest.MustContain(t, outboxText(t, f.node.App.DB, "uma.user@corp.example"), "exists already")
	})
}

// strangerLink is the newest sign-up link in the outbox.
func strangerLink(t *testing.T, db *store.DB) string {
	t.Helper()
	var text string
	if err := db.QueryRow(context.Background(), `SELECT body_text FROM outbox WHERE subject LIKE ? ORDER BY created_at DESC, id DESC LIMIT 1`,
		"Confirm your email address%").Scan(&text); err != nil {
		t.Fatal(err)
	}
	l := verifyLinkRe.FindString(text)
	if l == "" {
		t.Fatal("no link")
	}
	return l[strings.LastIndex(l, "/")+1:]
}

// TestPreClaimedAddressFromBeforeVerification: the same attack when the
// stranger's row was written by a release without verification (the
// database is built at migration 00001 and the row inserted as that code
// wrote it, with a live session). The upgrade ends the session and leaves
// the stranger unverified; the employee's SSO sign-in is refused with
// person_unverified (shown to the admins) instead of linking; the
// employee proves the address by resetting the password, which removes the
// stranger's; then SSO links, and the stranger's password never works.
func TestPreClaimedAddressFromBeforeVerification(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		const strangerPW = "stranger-pass-2026"
		old, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		if err := old.MigrateTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		hash, err := account.HashPassword(strangerPW)
		if err != nil {
			t.Fatal(err)
		}
		strangerID, sessionSecret := ids.New(), ids.Secret(32)
		now := store.Now()
		if _, err := old.Exec(ctx, `INSERT INTO people (id, email, email_norm, display_name, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			strangerID, "uma.user@corp.example", "uma.user@corp.example", "Not Uma", hash, now); err != nil {
			t.Fatal(err)
		}
		if _, err := old.Exec(ctx, `INSERT INTO sessions (id_hash, person_id, auth_method, created_at, last_seen_at, expires_at) VALUES (?, ?, 'password', ?, ?, ?)`,
			ids.Hash(sessionSecret), strangerID, now, now, store.At(now.Add(time.Hour))); err != nil {
			t.Fatal(err)
		}
		old.Close()

		f := newSSOFixture(t, dbURL, dns) // starts the new release: migrations 00002 and 00003 run
		if _, err := f.node.App.Accounts.SessionByToken(ctx, sessionSecret); err == nil {
			t.Fatal("the stranger's old session survived the upgrade")
		}
		stranger := apptest.NewClient(t, f.node.URL)
		r := stranger.SignIn("uma.user@corp.example", strangerPW).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("main"), "Check your email")
		if who := sessionPerson(t, f.node, stranger); who != "" {
			t.Fatal("an unverified password person got a session")
		}

		uma := apptest.NewClient(t, f.node.URL)
		resp, _, _ := f.ssoSignIn(t, uma, "uma.user@corp.example")
		resp.Expect(t, http.StatusForbidden)
		apptest.MustContain(t, resp.Text("main"), "reason "+"person_unverified")
		apptest.MustContain(t, f.admin.Get("/accounts/"+f.account+"/idp").Text("main"), "person_unverified")

		// Uma proves the address the way the refusal tells her.
		uma.Post("/password/forgot", url.Values{"email": {"uma.user@corp.example"}}).Expect(t, http.StatusSeeOther)
		link := outboxLink(t, f.node.App.DB, "uma.user@corp.example", "/password/reset/")
		uma.Post(link, url.Values{"password": {"uma-own-pass-2026"}, "password_confirm": {"uma-own-pass-2026"}}).Expect(t, http.StatusSeeOther)
		resp, _, _ = f.ssoSignIn(t, uma, "uma.user@corp.example")
		resp.Expect(t, http.StatusSeeOther)
		if who := sessionPerson(t, f.node, uma); who != strangerID {
			t.Fatalf("uma signed in as %q, want the row she proved (%s)", who, strangerID)
		}
		stranger.SignIn("uma.user@corp.example", strangerPW).Expect(t, http.StatusUnauthorized)
		if r := stranger.Get("/accounts/" + f.account); r.Status == http.StatusOK {
			t.Fatal("the stranger sees the account")
		}
		// The first link of a verified password person ended their other
		// sessions and is audited.
		entries, err := f.node.App.Accounts.AuditLog(ctx, f.account, account.AuditFilter{Action: "person.linked_to_sso"})
		if err != nil || len(entries) != 1 || entries[0].TargetID != strangerID || !strings.Contains(entries[0].After, "other_sessions_ended") {
			t.Fatalf("audit: %+v %v", entries, err)
		}
	})
}

// TestSSOIDNSpellings: an address at an internationalized domain has two
// IDNA spellings. They are one canonical address (sign-up, invitations
// and domain ownership agree on it), but SSO links an existing person only
// when the IdP spells the address as the person did, ASCII case aside;
// the other spelling is refused with address_spelling_mismatch for the
// admins to see. The first link of the verified password person ends their
// other sessions.
func TestSSOIDNSpellings(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		ctx := context.Background()
		owner, _ := f.node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
		actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
		d, err := f.node.App.IdP.AddDomain(ctx, f.account, "bücher.example", actor)
		if err != nil {
			t.Fatal(err)
		}
		dns.SetTXT(t, d.TXTName, d.TXTValue)
		if d, err = f.node.App.IdP.VerifyDomain(ctx, f.account, d.ID, actor); err != nil || d.Name != "xn--bcher-kva.example" {
			t.Fatalf("domain %+v %v", d, err)
		}
		ann := apptest.NewClient(t, f.node.URL)
		ann.SignUp("ann@bücher.example", pw, "Ann")
		annID := sessionPerson(t, f.node, ann)

		f.idp.AddUser(t, testenv.IdPUser{Email: "ann@xn--bcher-kva.example", Login: "ann-ascii", ObjectID: "obj-ann-1", Password: "idp-pass"})
		c := apptest.NewClient(t, f.node.URL)
		r := f.ssoAs(t, c, "ann@bücher.example", "ann-ascii").Expect(t, http.StatusForbidden)
		apptest.MustContain(t, r.Text("main"), "reason address_spelling_mismatch")
		if sessionPerson(t, f.node, c) != "" || sessionPerson(t, f.node, ann) != annID {
			t.Fatal("the other spelling signed in or ended Ann's session")
		}

		f.idp.AddUser(t, testenv.IdPUser{Email: "Ann@bücher.example", Login: "ann-unicode", ObjectID: "obj-ann-1", Password: "idp-pass"})
		f.ssoAs(t, c, "ann@bücher.example", "ann-unicode").Expect(t, http.StatusSeeOther)
		if who := sessionPerson(t, f.node, c); who != annID {
			t.Fatalf("signed in as %q, want Ann %s", who, annID)
		}
		if sessionPerson(t, f.node, ann) != "" {
			t.Fatal("Ann's password session survived her first SSO link")
		}
	})
}

// TestSSOSCIMUserOfAnotherObject: a SCIM user found by login name but
// provisioned for another IdP object (its externalId) lends neither its
// identity nor its groups to the sign-in: identity_conflict. Without the
// check, an IdP user who sets their address to an admin's would get the
// admins group from SCIM when their assertion carries no groups.
func TestSSOSCIMUserOfAnotherObject(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		status, body := f.scim(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"sara.admin@corp.example","externalId":"obj-sara","active":true}`)
		if status != http.StatusCreated {
			t.Fatalf("SCIM create user: %d %s", status, body)
		}
		var user struct{ ID string }
		_ = json.Unmarshal([]byte(body), &user)
		if status, body = f.scim(t, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
			"displayName":"GH Admins","externalId":"`+adminsGroup+`","members":[{"value":"`+user.ID+`"}]}`); status != http.StatusCreated {
			t.Fatalf("SCIM create group: %d %s", status, body)
		}
		f.idp.AddUser(t, testenv.IdPUser{Email: "Sara.Admin@corp.example", Login: "mallory", ObjectID: "obj-mallory", Password: "idp-pass"})
		m := apptest.NewClient(t, f.node.URL)
		r := f.ssoAs(t, m, "sara.admin@corp.example", "mallory").Expect(t, http.StatusForbidden)
		apptest.MustContain(t, r.Text("main"), "reason identity_conflict")
		if sessionPerson(t, f.node, m) != "" {
			t.Fatal("signed in")
		}
		// Sara herself (her object id) signs in, with the admins group from SCIM.
		f.idp.AddUser(t, testenv.IdPUser{Email: "sara.admin@corp.example", Login: "sara", ObjectID: "obj-sara", Password: "idp-pass"})
		sara := apptest.NewClient(t, f.node.URL)
		f.ssoAs(t, sara, "sara.admin@corp.example", "sara").Expect(t, http.StatusSeeOther)
		sara.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)
	})
}
