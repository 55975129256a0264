package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// ssoFixture is a business account whose IdP integration with an
// independent IdP (samlify) is configured and active.
type ssoFixture struct {
	node    *apptest.Node
	idp     *testenv.SAMLIdPServer
	account string
	admin   *apptest.Client // the backup login (password)
	// scimToken is the bearer token of the account's SCIM server.
	scimToken string
}

// scim sends one SCIM request as the IdP would and returns the status and body.
func (f *ssoFixture) scim(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, f.node.URL+"/scim/v2"+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.scimToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

const adminsGroup = "7f8e6a52-0c1d-4b59-9a55-5a0e3f1c2d00"

// newSSOFixture sets an account up through the services the configurator
// pages call (the configurator's own browser test walks the pages).
func newSSOFixture(t *testing.T, dbURL string, dns *testenv.DNSServer, nodes ...*apptest.Node) *ssoFixture {
	t.Helper()
	return newSSOFixtureWith(t, dbURL, dns, testenv.SAMLIdPOptions{})
}

// newSSOFixtureWith is newSSOFixture with the IdP started with opts (Ida
// and Uma are its users when opts has none).
func newSSOFixtureWith(t *testing.T, dbURL string, dns *testenv.DNSServer, opts testenv.SAMLIdPOptions) *ssoFixture {
	t.Helper()
	node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) { c.DNSServer = dns.Addr }})
	if opts.Users == nil {
		opts.Users = []testenv.IdPUser{
			{Email: "ida.admin@corp.example", Name: "Ida Admin", ObjectID: "obj-ida", Groups: []string{adminsGroup, "other"}, Password: "idp-pass"},
			{Email: "uma.user@corp.example", Name: "Uma User", ObjectID: "obj-uma", Groups: []string{"other"}, Password: "idp-pass"},
		}
	}
	idpSrv := testenv.SAMLIdP(t, opts)
	ctx := context.Background()
	admin := apptest.NewClient(t, node.URL)
	admin.SignUp("owner@corp.example", pw, "Owner")
	acct := admin.CreateAccount("Corp SSO Ltd")
	owner, err := node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
	if err != nil {
		t.Fatal(err)
	}
	actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
	_, key, err := node.App.License.Issue(ctx, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 10, Term: license.Term{Years: 1}}, audit.System("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.App.License.RegisterKey(ctx, license.Caller{PersonID: owner.ID, AccountID: acct, Role: "admin"},
		license.RegisterInput{Key: key}, actor); err != nil {
		t.Fatal(err)
	}
	svc := node.App.IdP
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.Start(ctx, acct, idp.ProviderOkta, owner.ID, actor))
	d, err := svc.AddDomain(ctx, acct, "corp.example", actor)
	must(err)
	dns.SetTXT(t, d.TXTName, d.TXTValue)
	d, err = svc.VerifyDomain(ctx, acct, d.ID, actor)
	must(err)
	if d.Status != idp.DomainVerified {
		t.Fatalf("domain not verified: %+v", d)
	}
	must(svc.SetGroup(ctx, acct, idp.GroupAdmins, "GH Admins", adminsGroup, actor))
	must(svc.SetGroup(ctx, acct, idp.GroupDesktopUsers, "Desktop Users", "desktop-users", actor))
	_, err = svc.UploadMetadata(ctx, acct, idpSrv.MetadataXML(), actor)
	must(err)
	scimToken, err := svc.GenerateSCIMToken(ctx, acct, time.Hour, actor)
	must(err)
	for _, step := range []int{2, 4, 5, 6} {
		must(svc.SetStepDone(ctx, acct, step, true, actor))
	}
	must(svc.SetBackupLogin(ctx, acct, owner.ID, actor))
	must(svc.Activate(ctx, acct, actor))
	idpSrv.TrustSP(t, node.URL+"/saml/"+acct+"/metadata")
	return &ssoFixture{node: node, idp: idpSrv, account: acct, admin: admin, scimToken: scimToken}
}

// startSSO submits the "Continue with SSO" form and returns Gatehouse's
// answer with Location set to where it sends the browser (the IdP): a page
// that moves on by itself, since a redirect after the form would break the
// form page's CSP form-action 'self'.
func startSSO(t *testing.T, c *apptest.Client, email string) *apptest.Response {
	t.Helper()
	r := c.Post("/sso", url.Values{"email": {email}}).Expect(t, http.StatusOK)
	href, _ := r.Doc.Find("#continue-to-idp").Attr("href")
	if href == "" || r.Header.Get("Refresh") != "0; url="+href {
		t.Fatalf("POST /sso: no hand-over to the IdP (link %q, Refresh %q)", href, r.Header.Get("Refresh"))
	}
	r.Location = href
	return r
}

// ssoSignIn runs an SP-initiated sign-in over HTTP: Gatehouse → IdP → ACS.
// It returns the ACS's answer and the form that was posted.
func (f *ssoFixture) ssoSignIn(t *testing.T, c *apptest.Client, email string) (*apptest.Response, string, url.Values) {
	t.Helper()
	r := startSSO(t, c, email)
	if !strings.HasPrefix(r.Location, f.idp.SSOURL) {
		t.Fatalf("redirected to %q, want the IdP", r.Location)
	}
	acs, form := f.idp.SignIn(t, c.HTTP, r.Location, email, "idp-pass")
	return c.PostRaw(acs, form), acs, form
}

func TestSSOSignInWithIndependentIdP(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)

		// An admin in the IdP's admins group gets admin rights.
		ida := apptest.NewClient(t, f.node.URL)
		r, acs, form := f.ssoSignIn(t, ida, "Ida.Admin@corp.example")
		r.Expect(t, http.StatusSeeOther)
		if r.Location != "/accounts/"+f.account {
			t.Fatalf("after SSO: %q", r.Location)
		}
		ida.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)

		// The same response posted again is refused (single-use request,
		// replay cache), with a reference the admin can look up.
		again := ida.PostRaw(acs, form).Expect(t, http.StatusForbidden)
		ref := again.Text("code")
		if ref == "" {
			t.Fatal("no reference on the refusal page")
		}

		// A member not in the admins group is signed in without admin rights.
		uma := apptest.NewClient(t, f.node.URL)
		r, _, _ = f.ssoSignIn(t, uma, "uma.user@corp.example")
		r.Expect(t, http.StatusSeeOther)
		uma.Get("/accounts/"+f.account).Expect(t, http.StatusOK)
		uma.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusForbidden)

		// Ida leaves the admins group: at her next SSO sign-in rights are gone.
		f.idp.SetUsers(t, []testenv.IdPUser{{Email: "ida.admin@corp.example", Name: "Ida Admin", ObjectID: "obj-ida", Groups: []string{"other"}, Password: "idp-pass"}})
		ida2 := apptest.NewClient(t, f.node.URL)
		f.ssoSignIn(t, ida2, "ida.admin@corp.example")
		ida2.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusForbidden)

		// The backup login keeps password admin rights; the audit log has
		// the SSO events, and the failure is listed for admins.
		audit := f.admin.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)
		for _, a := range []string{"member.joined_via_sso", "member.role_synced_from_idp"} {
			apptest.MustContain(t, auditText(audit), a)
		}
		page := f.admin.Get("/accounts/"+f.account+"/idp").Expect(t, http.StatusOK)
		failures := page.Text("#sso-failures")
		apptest.MustContain(t, failures, ref)
		apptest.MustContain(t, failures, "replay")

		// Unknown domains get a clear message and no redirect.
		r = uma.Post("/sso", url.Values{"email": {"someone@elsewhere.example"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-email"), "not set up for elsewhere.example")
		// The ACS refuses a GET with a page explaining how to sign in.
		uma.Get(acs).Expect(t, http.StatusMethodNotAllowed)
		// Garbage posted to the ACS is a 4xx with a reference, never a 5xx.
		g := uma.PostRaw(acs, url.Values{"SAMLResponse": {"not base64 at all <xml>"}}).Expect(t, http.StatusForbidden)
		apptest.MustContain(t, g.Text("main"), "Reference")
	})
}

func TestSSOTwoNodesShareRequestsAndReplayCache(t *testing.T) {
	dns := testenv.DNS(t)
	dbURL := testenv.PostgresURL(t)
	f := newSSOFixture(t, dbURL, dns)
	nodeB := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) {
		c.DNSServer = dns.Addr
		c.PublicURL = f.node.URL // both nodes sit behind one public URL
	}})
	c := apptest.NewClient(t, f.node.URL)
	r := startSSO(t, c, "ida.admin@corp.example")
	acs, form := f.idp.SignIn(t, c.HTTP, r.Location, "ida.admin@corp.example", "idp-pass")
	// The IdP posts to node B (a load balancer's choice): accepted once.
	bURL := strings.Replace(acs, f.node.URL, nodeB.URL, 1)
	jarCookies(t, c, f.node.URL, nodeB.URL)
	c.PostRaw(bURL, form).Expect(t, http.StatusSeeOther)
	// Replayed to node A: refused.
	c.PostRaw(acs, form).Expect(t, http.StatusForbidden)
}

// jarCookies copies the browser-binding cookie to the other node's host, as
// one public hostname in front of both nodes would.
func jarCookies(t *testing.T, c *apptest.Client, from, to string) {
	t.Helper()
	fu, _ := url.Parse(from + "/saml/")
	tu, _ := url.Parse(to + "/saml/")
	c.HTTP.Jar.SetCookies(tu, c.HTTP.Jar.Cookies(fu))
}

func TestBrowserSSOSignIn(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 90*time.Second)
		defer cancel()
		run(t, ctx,
			chromedp.Navigate(f.node.URL+"/signin"),
			chromedp.Click(`//a[contains(., "Continue with SSO")]`),
			// The sign-in page has an #f-email too: wait for the SSO form's.
			settled(`form[action="/sso"] #f-email`),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "ida.admin@corp.example"),
			chromedp.Submit(chromedp.CSS("#f-email")),
			// At the independent IdP's sign-in page, past the SAML hop.
			settled("#password"),
			chromedp.SendKeys(chromedp.CSS("#email"), "ida.admin@corp.example"),
			chromedp.SendKeys(chromedp.CSS("#password"), "idp-pass"),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			settled("nav.side"),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Signed in with single sign-on")]`),
		)
		nav := get(t, ctx, chromedp.Text(chromedp.CSS("nav.side")))
		apptest.MustContain(t, nav, "Audit log") // admin navigation
		apptest.MustContain(t, nav, "Corp SSO Ltd")
	})
}

// TestSCIMDeactivationEndsSSOSession: an employee provisioned over SCIM signs
// in with SSO; when the IdP deactivates them, their next request is signed
// out, and a new SSO sign-in is refused with the reason.
func TestSCIMDeactivationEndsSSOSession(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		status, body := f.scim(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"uma.user@corp.example","externalId":"obj-uma","active":true,
			"name":{"givenName":"Uma","familyName":"User"},"emails":[{"value":"uma.user@corp.example","type":"work","primary":true}]}`)
		if status != http.StatusCreated {
			t.Fatalf("SCIM create: %d %s", status, body)
		}
		var created struct{ ID string }
		if err := json.Unmarshal([]byte(body), &created); err != nil || created.ID == "" {
			t.Fatalf("SCIM create body: %s", body)
		}

		uma := apptest.NewClient(t, f.node.URL)
		f.ssoSignIn(t, uma, "uma.user@corp.example")
		uma.Get("/accounts/"+f.account).Expect(t, http.StatusOK)

		// Entra deactivates with a string boolean.
		status, body = f.scim(t, "PATCH", "/Users/"+created.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Replace","path":"active","value":"False"}]}`)
		if status != http.StatusOK {
			t.Fatalf("SCIM deactivate: %d %s", status, body)
		}
		r := uma.Get("/accounts/"+f.account).Expect(t, http.StatusSeeOther)
		if !strings.HasPrefix(r.Location, "/signin") {
			t.Fatalf("after IdP deactivation: redirected to %q", r.Location)
		}
		again := apptest.NewClient(t, f.node.URL)
		r, _, _ = f.ssoSignIn(t, again, "uma.user@corp.example")
		r.Expect(t, http.StatusForbidden)
		apptest.MustContain(t, r.Text("main"), "deactivated in your organization's identity provider")

		audit := f.admin.Get("/accounts/"+f.account+"/audit?action=member.sessions_ended_by_idp").Expect(t, http.StatusOK)
		apptest.MustContain(t, audit.Body, `title="member.sessions_ended_by_idp"`)
	})
}

// TestSCIMAdminsGroupRemovalDropsAdminRights: removing a signed-in admin
// from the IdP's admins group over SCIM ends their admin rights at once.
func TestSCIMAdminsGroupRemovalDropsAdminRights(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		status, body := f.scim(t, "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],
			"userName":"ida.admin@corp.example","externalId":"obj-ida","active":true}`)
		if status != http.StatusCreated {
			t.Fatalf("SCIM create user: %d %s", status, body)
		}
		var user struct{ ID string }
		_ = json.Unmarshal([]byte(body), &user)
		status, body = f.scim(t, "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],
			"displayName":"GH Admins","externalId":"`+adminsGroup+`","members":[{"value":"`+user.ID+`"}]}`)
		if status != http.StatusCreated {
			t.Fatalf("SCIM create group: %d %s", status, body)
		}
		var group struct{ ID string }
		_ = json.Unmarshal([]byte(body), &group)

		ida := apptest.NewClient(t, f.node.URL)
		f.ssoSignIn(t, ida, "ida.admin@corp.example")
		ida.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)

		status, body = f.scim(t, "PATCH", "/Groups/"+group.ID, `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
			"Operations":[{"op":"Remove","path":"members[value eq \"`+user.ID+`\"]"}]}`)
		if status != http.StatusNoContent && status != http.StatusOK {
			t.Fatalf("SCIM remove member: %d %s", status, body)
		}
		ida.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusForbidden)
		ida.Get("/accounts/"+f.account).Expect(t, http.StatusOK) // still a member
	})
}
