package web_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/agent"
	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/license"
	"gatehouse/internal/license/invitations"
	"gatehouse/internal/testenv"
)

// Group ids the independent IdP sends (Entra-style object ids).
const (
	grpAdmins  = "3d1c6f0e-0a9b-4c55-8f0e-1a2b3c4d5e01"
	grpDesktop = "3d1c6f0e-0a9b-4c55-8f0e-1a2b3c4d5e02"
	grpDesign  = "3d1c6f0e-0a9b-4c55-8f0e-1a2b3c4d5e03"
	grpEng     = "3d1c6f0e-0a9b-4c55-8f0e-1a2b3c4d5e04"
	idpPass    = "idp-pass"
)

// activationFixture is journey 2's starting point: a business account with
// a mixed Enterprise license, a reserved "Design" sublicense whose User
// Groups tab maps the IdP's design group, and an active IdP integration
// with the independent SAML IdP and SCIM on.
type activationFixture struct {
	node      *apptest.Node
	idp       *testenv.SAMLIdPServer
	account   string
	admin     *apptest.Client // owner and backup login (password)
	actor     audit.Actor
	sub       string
	primary   string // key ids
	design    string
	scimToken string
	scimIDs   map[string]string // email → SCIM user id
	scimGrps  map[string]string // IdP group id → SCIM group id
}

var activationUsers = []testenv.IdPUser{
	{Email: "ida.admin@corp.example", Name: "Ida Admin", ObjectID: "oid-ida", Groups: []string{grpAdmins, grpDesktop}, Password: idpPass},
	{Email: "ann.design@corp.example", Name: "Ann Design", ObjectID: "oid-ann", Groups: []string{grpDesktop, grpDesign}, Password: idpPass},
	{Email: "bob.sales@corp.example", Name: "Bob Sales", ObjectID: "oid-bob", Groups: []string{grpDesktop, "grp-sales"}, Password: idpPass},
	{Email: "carl.guest@corp.example", Name: "Carl Guest", ObjectID: "oid-carl", Groups: []string{"grp-sales"}, Password: idpPass},
	{Email: "dana.both@corp.example", Name: "Dana Both", ObjectID: "oid-dana", Groups: []string{grpDesktop, grpEng, grpDesign}, Password: idpPass},
}

func newActivationFixture(t *testing.T, dbURL string, dns *testenv.DNSServer, opts ...func(*app.Config)) *activationFixture {
	t.Helper()
	node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) {
		c.DNSServer = dns.Addr
		for _, o := range opts {
			o(c)
		}
	}})
	idpSrv := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: activationUsers})
	ctx := context.Background()
	admin := apptest.NewClient(t, node.URL)
	admin.SignUp("owner@corp.example", pw, "Owner")
	acct := admin.CreateAccount("Corp Activation Ltd")
	owner, err := node.App.Accounts.PersonByEmail(ctx, "owner@corp.example")
	if err != nil {
		t.Fatal(err)
	}
	f := &activationFixture{node: node, idp: idpSrv, account: acct, admin: admin, scimIDs: map[string]string{}, scimGrps: map[string]string{},
		actor: audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The vendor sells a mixed Enterprise license; the admin registers it
	// and creates a reserved sublicense for the design team (pages).
	f.sub = registerKey(t, admin, acct, issue(t, node, license.EditionEnterprise, license.ModelMixed, 10, false), "Corp Enterprise")
	subPath := "/accounts/" + acct + "/licenses/" + f.sub
	admin.Post(subPath+"/keys", url.Values{"key_name": {"Design"}, "kind": {"reserved"}, "seats": {"2"}}).Expect(t, http.StatusSeeOther)
	f.design = keyID(admin.Get(subPath), "Design")
	caller := license.Caller{PersonID: owner.ID, AccountID: acct, Role: license.RoleAdmin}
	d, err := node.App.License.Subscription(ctx, caller, f.sub)
	must(err)
	for _, k := range d.Keys {
		if k.Kind == license.KindPrimary {
			f.primary = k.ID
		}
	}
	// The key's User Groups tab maps the IdP's design group.
	keyPage := admin.Get("/accounts/"+acct+"/keys/"+f.design).Expect(t, http.StatusOK)
	if href, _ := keyPage.Doc.Find("#key-user-groups").Attr("href"); href != "/accounts/"+acct+"/keys/"+f.design+"/groups" {
		t.Fatalf("key page links User Groups to %q", href)
	}
	admin.Post("/accounts/"+acct+"/keys/"+f.design+"/groups", url.Values{"name": {"Design team"}, "uuid": {grpDesign}}).Expect(t, http.StatusSeeOther)

	// The configurator, through the services its pages call.
	svc := node.App.IdP
	must(svc.Start(ctx, acct, idp.ProviderEntra, owner.ID, f.actor))
	dom, err := svc.AddDomain(ctx, acct, "corp.example", f.actor)
	must(err)
	dns.SetTXT(t, dom.TXTName, dom.TXTValue)
	dom, err = svc.VerifyDomain(ctx, acct, dom.ID, f.actor)
	must(err)
	if dom.Status != idp.DomainVerified {
		t.Fatalf("domain not verified: %+v", dom)
	}
	must(svc.SetGroup(ctx, acct, idp.GroupAdmins, "GH Admins", grpAdmins, f.actor))
	must(svc.SetGroup(ctx, acct, idp.GroupDesktopUsers, "Desktop Users", grpDesktop, f.actor))
	_, err = svc.UploadMetadata(ctx, acct, idpSrv.MetadataXML(), f.actor)
	must(err)
	must(svc.SetSCIM(ctx, acct, true, f.actor))
	f.scimToken, err = svc.GenerateSCIMToken(ctx, acct, 0, f.actor)
	must(err)
	for _, step := range []int{2, 4, 5, 6} {
		must(svc.SetStepDone(ctx, acct, step, true, f.actor))
	}
	must(svc.SetBackupLogin(ctx, acct, owner.ID, f.actor))
	must(svc.Activate(ctx, acct, f.actor))
	idpSrv.TrustSP(t, node.URL+"/saml/"+acct+"/metadata")
	return f
}

// scim sends one SCIM request to the node as the IdP's provisioning client
// does and returns the decoded answer.
func (f *activationFixture) scim(t *testing.T, method, path string, body any, want int) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, f.node.URL+"/scim/v2"+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+f.scimToken)
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("SCIM %s %s: %d, want %d: %s", method, path, resp.StatusCode, want, raw)
	}
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out
}

// provision pushes the IdP's users and groups over SCIM, Entra-style:
// POST /Users, then POST /Groups with members.
func (f *activationFixture) provision(t *testing.T) {
	t.Helper()
	for _, u := range activationUsers {
		given, family, _ := strings.Cut(u.Name, " ")
		r := f.scim(t, "POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": u.Email, "externalId": u.ObjectID, "active": true, "displayName": u.Name,
			"name":   map[string]string{"givenName": given, "familyName": family},
			"emails": []map[string]any{{"value": u.Email, "type": "work", "primary": true}}}, http.StatusCreated)
		f.scimIDs[u.Email] = r["id"].(string)
	}
	groups := map[string]string{grpAdmins: "GH Admins", grpDesktop: "Desktop Users", grpDesign: "Design team", grpEng: "Engineering", "grp-sales": "Sales"}
	for id, name := range groups {
		var members []map[string]string
		for _, u := range activationUsers {
			for _, g := range u.Groups {
				if g == id {
					members = append(members, map[string]string{"value": f.scimIDs[u.Email]})
				}
			}
		}
		g := f.scim(t, "POST", "/Groups", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"},
			"displayName": name, "externalId": id, "members": members}, http.StatusCreated)
		f.scimGrps[id] = g["id"].(string)
	}
}

// deactivate has the IdP deactivate a user over SCIM as Entra does.
func (f *activationFixture) deactivate(t *testing.T, email string) {
	t.Helper()
	f.scim(t, "PATCH", "/Users/"+f.scimIDs[email], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}}}, http.StatusOK)
}

func (f *activationFixture) keyUsed(t *testing.T, keyID string) int {
	t.Helper()
	var n int
	if err := f.node.App.DB.Writer().QueryRow(context.Background(), `SELECT used FROM license_keys WHERE id = ?`, keyID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// browserSignIn is the person's browser over plain HTTP: it opens the URL
// Desktop showed, signs in at the IdP and posts the answer to the ACS. It
// returns the final page. Safe to call from another goroutine.
func (f *activationFixture) browserSignIn(browserURL, email string) (*http.Response, string, error) {
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(browserURL)
	if err != nil {
		return nil, "", err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body), fmt.Errorf("activation page: status %d", resp.StatusCode)
	}
	acs, form, err := f.idp.TrySignIn(c, resp.Header.Get("Location"), email, idpPass)
	if err != nil {
		return nil, "", err
	}
	resp, err = c.PostForm(acs, form)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body), nil
}

// certClaims decodes a certificate's payload (its signature is verified by
// the agent; here we read what it names).
func certClaims(t *testing.T, payload string) map[string]any {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Journey 2, end to end with a real browser: configurator → SCIM
// provisioning → an employee in the design group activates Desktop with
// `gatehouse agent activate --sso` and signs in in chromium → certificate
// names the Design sublicense → a second employee in no mapped group draws
// from the primary key → the IdP deactivates the first over SCIM → their
// next `gatehouse agent check` fails with revoked and the seat is back.
func TestJourney2SSOActivation(t *testing.T) {
	dns := testenv.DNS(t)
	bin := gatehouseBinary(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newActivationFixture(t, dbURL, dns)
		f.provision(t)
		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 3*time.Minute)
		defer cancel()

		// Ann runs the reference client; it prints the sign-in address.
		annDir := t.TempDir()
		cmd := exec.CommandContext(ctx, bin, "agent", "activate", "--server", f.node.URL, "--dir", annDir, "--sso", "Ann.Design@corp.example", "--timeout", "2m")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := bufio.NewScanner(out)
		var transcript strings.Builder
		signInURL := ""
		for signInURL == "" && lines.Scan() {
			line := lines.Text()
			transcript.WriteString(line + "\n")
			if u := strings.TrimSpace(line); strings.HasPrefix(u, f.node.URL+"/sso/desktop/") {
				signInURL = u
			}
		}
		if signInURL == "" {
			_ = cmd.Wait()
			t.Fatalf("the agent printed no sign-in address:\n%s\n%s", transcript.String(), stderr.String())
		}
		// Ann signs in at her IdP in chromium.
		run(t, ctx,
			chromedp.Navigate(signInURL),
			settled("#password"),
			chromedp.SendKeys(chromedp.CSS("#email"), "ann.design@corp.example"),
			chromedp.SendKeys(chromedp.CSS("#password"), idpPass),
			chromedp.Click(chromedp.CSS("button[type=submit]")),
			settled(`#sso-activation[data-result="ok"]`),
		)
		if os.Getenv("GATEHOUSE_SCREENSHOTS") != "" {
			saveScreenshot(t, ctx, "", "sso-activation-done.png")
		}
		// The person reads whose license and which product, not key names.
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#sso-organization"))), "Corp Activation Ltd")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#sso-product"))), "Desktop Enterprise Edition")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("main"))), "Return to Desktop")
		for lines.Scan() {
			transcript.WriteString(lines.Text() + "\n")
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("agent activate --sso: %v\n%s\n%s", err, transcript.String(), stderr.String())
		}
		apptest.MustContain(t, transcript.String(), `with SSO: Enterprise Edition from key "Design"`)

		// The certificate names the Design sublicense, method sso, and Ann;
		// the agent verifies its signature offline.
		st, err := agent.LoadState(annDir)
		if err != nil || st.Certificate == nil {
			t.Fatalf("state %+v %v", st, err)
		}
		claims := certClaims(t, st.Certificate.Payload)
		if claims["key_id"] != f.design || claims["method"] != "sso" || claims["key_name"] != "Design" || claims["user"] != "ann.design@corp.example" {
			t.Fatalf("certificate claims %v", claims)
		}
		apptest.MustContain(t, ssoAgent(t, bin, "verify", "--dir", annDir), "certificate OK")
		apptest.MustContain(t, ssoAgent(t, bin, "check", "--dir", annDir), "active: Enterprise Edition")
		if n := f.keyUsed(t, f.design); n != 1 {
			t.Fatalf("Design used %d, want 1", n)
		}

		// Bob is in no mapped group: he draws from the primary key (his
		// browser is the HTTP helper; his client the agent library).
		c := agent.NewClient(f.node.URL)
		bobAct, err := c.ActivateSSO(ctx, "bob.sales@corp.example", agent.NewDevice(), func(u string) error {
			resp, body, err := f.browserSignIn(u, "bob.sales@corp.example")
			if err == nil && resp.StatusCode != http.StatusOK {
				err = fmt.Errorf("ACS answered %d: %s", resp.StatusCode, body)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		bobClaims := certClaims(t, bobAct.Certificate.Payload)
		if bobClaims["key_id"] != f.primary || bobAct.Method != "sso" || bobAct.User != "bob.sales@corp.example" {
			t.Fatalf("bob: %+v %v", bobAct, bobClaims)
		}

		// The admin sees both under Users: with product licenses.
		page := f.admin.Get("/accounts/"+f.account+"/users/licensed").Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("#seats tbody"), "ann.design@corp.example")
		apptest.MustContain(t, page.Text("#seats tbody"), "bob.sales@corp.example")
		users := f.admin.Get("/accounts/"+f.account+"/users?licensed=1").Expect(t, http.StatusOK)
		apptest.MustContain(t, users.Text("tbody"), "ann.design@corp.example")

		// The IdP deactivates Ann over SCIM: her next check fails with
		// revoked and the Design seat is back in its pool.
		f.deactivate(t, "ann.design@corp.example")
		checkOut := ssoAgent(t, bin, "check", "--dir", annDir)
		apptest.MustContain(t, checkOut, "revoked")
		if n := f.keyUsed(t, f.design); n != 0 {
			t.Fatalf("Design used %d after the IdP deactivated Ann, want 0", n)
		}
		apptest.MustContain(t, ssoAgent(t, bin, "status", "--dir", annDir), "status:        revoked")
		if _, err := c.Check(ctx, bobAct.Credential, ""); err != nil {
			t.Fatalf("bob's license: %v", err)
		}
		// Deactivated in the IdP, Ann cannot activate again.
		_, err = c.ActivateSSO(ctx, "ann.design@corp.example", agent.NewDevice(), func(u string) error {
			_, _, err := f.browserSignIn(u, "ann.design@corp.example")
			return err
		})
		if agent.ErrorCode(err) != "user_deactivated" {
			t.Fatalf("deactivated user activates: %v", err)
		}
		// The audit log tells the story.
		auditPage := f.admin.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK)
		for _, a := range []string{"license.user_group_mapped", "license.user_seat_granted", "license.user_seat_revoked"} {
			apptest.MustContain(t, auditText(auditPage), a)
		}
		if os.Getenv("GATEHOUSE_SCREENSHOTS") != "" {
			run(t, ctx, chromedp.Navigate(f.node.URL+"/signin"), chromedp.WaitVisible(chromedp.CSS("#f-email")),
				chromedp.SendKeys(chromedp.CSS("#f-email"), "owner@corp.example"), chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
				chromedp.Submit(chromedp.CSS("#f-email")), chromedp.WaitVisible(chromedp.CSS("nav.side")))
			saveScreenshot(t, ctx, f.node.URL+"/accounts/"+f.account+"/users/licensed", "sso-users-licensed.png")
			saveScreenshot(t, ctx, f.node.URL+"/accounts/"+f.account+"/keys/"+f.design+"/groups", "sso-key-user-groups.png")
		}
	})
}

// saveScreenshot stores a full-page screenshot under docs/screenshots (for
// the docs; only when GATEHOUSE_SCREENSHOTS is set).
func saveScreenshot(t *testing.T, ctx context.Context, u, name string) {
	t.Helper()
	if u != "" {
		if err := chromedp.Do(ctx, chromedp.Navigate(u)); err != nil {
			t.Logf("screenshot: %v", err)
			return
		}
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot: %v", err)
		return
	}
	_ = os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "screenshots", name), png, 0o644)
}

// SSO activation refusals and admin pages over HTTP with the independent
// IdP: not in Desktop Users, integration switched off mid-flow, a person in
// groups mapped to two keys (deterministic pick and the admins' warning),
// the device cap, revoke and CSV on "Users: with product licenses", and the
// download links.
func TestSSOActivationRefusalsAndPages(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newActivationFixture(t, dbURL, dns)
		f.provision(t)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c := agent.NewClient(f.node.URL)
		type result struct {
			act    *agent.SSOActivation
			status int
			page   string
			err    error
		}
		activate := func(email string, dev agent.Device) result {
			var res result
			res.act, res.err = c.ActivateSSO(ctx, email, dev, func(u string) error {
				resp, body, err := f.browserSignIn(u, email)
				if resp != nil {
					res.status, res.page = resp.StatusCode, body
				}
				return err
			})
			return res
		}

		// Carl is not in Desktop Users: the page and the installation both
		// name the reason, with the reference the admin finds in the log.
		r := activate("carl.guest@corp.example", agent.NewDevice())
		if agent.ErrorCode(r.err) != "not_in_desktop_users" || r.status != http.StatusForbidden || !strings.Contains(r.page, "not_in_desktop_users") {
			t.Fatalf("carl: %v %d", r.err, r.status)
		}
		fails, err := f.node.App.SSO.RecentFailures(ctx, f.account, 5)
		if err != nil || len(fails) == 0 || fails[0].Code != "not_in_desktop_users" || !strings.Contains(r.page, fails[0].Reference) {
			t.Fatalf("failure log %+v %v", fails, err)
		}
		// The refusal leaves nothing behind: no person, no membership, no
		// sign-in, nobody counted (issue 12 item 4).
		var people, members int
		if err := f.node.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM people WHERE email_norm = ?`, "carl.guest@corp.example").Scan(&people); err != nil {
			t.Fatal(err)
		}
		if err := f.node.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.account_id = ? AND p.email_norm = ?`, f.account, "carl.guest@corp.example").Scan(&members); err != nil {
			t.Fatal(err)
		}
		if people != 0 || members != 0 {
			t.Fatalf("a refused sign-in created %d people and %d memberships", people, members)
		}
		if page := f.admin.Get("/accounts/"+f.account+"/users").Expect(t, http.StatusOK).Body; strings.Contains(page, "carl.guest") {
			t.Fatal("the refused person is listed as a member")
		}

		// Dana is in the design and the engineering groups; Engineering is
		// created after Design, so Design wins — every time — and admins see
		// the warning listing Dana.
		subPath := "/accounts/" + f.account + "/licenses/" + f.sub
		f.admin.Post(subPath+"/keys", url.Values{"key_name": {"Engineering"}, "kind": {"dynamic"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
		eng := keyID(f.admin.Get(subPath), "Engineering")
		f.admin.Post("/accounts/"+f.account+"/keys/"+eng+"/groups", url.Values{"name": {"Engineering"}, "uuid": {grpEng}}).Expect(t, http.StatusSeeOther)
		// A group selects one key; Desktop Users cannot select a pool.
		dup := f.admin.Post("/accounts/"+f.account+"/keys/"+eng+"/groups", url.Values{"name": {"Design again"}, "uuid": {strings.ToUpper(grpDesign)}}).
			Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, dup.Text("#e-uuid"), "already mapped to “Design”")
		du := f.admin.Post("/accounts/"+f.account+"/keys/"+eng+"/groups", url.Values{"name": {"Desktop Users"}, "uuid": {grpDesktop}}).
			Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, du.Text("#e-uuid"), "Desktop Users group")
		danMac := agent.NewDevice()
		r = activate("dana.both@corp.example", danMac)
		if r.err != nil || r.act.KeyName != "Design" {
			t.Fatalf("dana: %+v %v", r.act, r.err)
		}
		dana := activate("dana.both@corp.example", danMac)
		if dana.err != nil || dana.act.KeyName != "Design" {
			t.Fatalf("dana again: %+v %v", dana.act, dana.err)
		}
		users := f.admin.Get("/accounts/"+f.account+"/users/licensed").Expect(t, http.StatusOK)
		apptest.MustContain(t, users.Text("#group-conflicts"), "dana.both@corp.example")
		apptest.MustContain(t, users.Text("#group-conflicts"), "Design, Engineering")
		groupsPage := f.admin.Get("/accounts/"+f.account+"/keys/"+eng+"/groups").Expect(t, http.StatusOK)
		apptest.MustContain(t, groupsPage.Text("#key-groups"), grpEng)
		apptest.MustContain(t, groupsPage.Text("#group-conflicts"), "dana.both@corp.example")

		// Device cap: the admin allows one computer per person.
		f.admin.Post("/accounts/"+f.account+"/users/licensed/settings", url.Values{"device_cap": {"0"}, "inactivity_days": {"0"}}).
			Expect(t, http.StatusUnprocessableEntity)
		f.admin.Post("/accounts/"+f.account+"/users/licensed/settings", url.Values{"device_cap": {"1"}, "inactivity_days": {"90"}}).
			Expect(t, http.StatusSeeOther)
		lastSignIn := func() (v any) {
			t.Helper()
			if err := f.node.App.DB.QueryRow(ctx, `SELECT m.last_sign_in_at FROM memberships m JOIN people p ON p.id = m.person_id
				WHERE m.account_id = ? AND p.email_norm = ?`, f.account, "dana.both@corp.example").Scan(&v); err != nil {
				t.Fatal(err)
			}
			return v
		}
		before := lastSignIn()
		r = activate("dana.both@corp.example", agent.NewDevice())
		if agent.ErrorCode(r.err) != "device_limit" || !strings.Contains(r.page, "device_limit") {
			t.Fatalf("device cap: %v", r.err)
		}
		if after := lastSignIn(); fmt.Sprint(after) != fmt.Sprint(before) {
			t.Fatalf("a refused activation recorded a sign-in: %v → %v", before, after)
		}

		// Revoke from the list; CSV export.
		ann := activate("ann.design@corp.example", agent.NewDevice())
		if ann.err != nil {
			t.Fatal(ann.err)
		}
		csvResp := f.admin.Get("/accounts/"+f.account+"/users/licensed.csv").Expect(t, http.StatusOK)
		rows, err := csv.NewReader(strings.NewReader(csvResp.Body)).ReadAll()
		if err != nil || len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(license.UserSeatsCSVHeader, ",") {
			t.Fatalf("csv %v %v", rows, err)
		}
		users = f.admin.Get("/accounts/"+f.account+"/users/licensed").Expect(t, http.StatusOK)
		action, ok := users.Doc.Find(`#seats tr:contains("ann.design") form`).Attr("action")
		if !ok {
			t.Fatal("no revoke form for ann")
		}
		f.admin.Post(action, nil).Expect(t, http.StatusSeeOther)
		_, err = c.Check(ctx, ann.act.Credential, "")
		if agent.ErrorCode(err) != "revoked" {
			t.Fatalf("after admin revoke: %v", err)
		}
		if n := f.keyUsed(t, f.design); n != 1 { // Dana still holds hers
			t.Fatalf("Design used %d", n)
		}
		f.admin.Post(action, nil).Expect(t, http.StatusNotFound)

		// The IdP removes Dana from Desktop Users over SCIM (Entra's PATCH):
		// her seat is revoked and the Design pool is empty again.
		f.scim(t, "PATCH", "/Groups/"+f.scimGrps[grpDesktop], map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "Remove", "path": "members", "value": []map[string]string{{"value": f.scimIDs["dana.both@corp.example"]}}}}},
			http.StatusOK)
		_, err = c.Check(ctx, dana.act.Credential, "")
		if agent.ErrorCode(err) != "revoked" || !strings.Contains(err.Error(), "Desktop Users") {
			t.Fatalf("after removal from Desktop Users: %v", err)
		}
		if n := f.keyUsed(t, f.design); n != 0 {
			t.Fatalf("Design used %d after Dana left Desktop Users", n)
		}

		// Integration switched off while Bob signs in: the ACS refuses, and
		// the installation learns integration_inactive instead of waiting.
		r = activate("bob.sales@corp.example", agent.NewDevice())
		if r.err != nil {
			t.Fatal(r.err)
		}
		verifier := agent.NewVerifier()
		st, err := c.StartSSO(ctx, "bob.sales@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		if err != nil {
			t.Fatal(err)
		}
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := hc.Get(st.BrowserURL)
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("activation page: %v %v", resp, err)
		}
		resp.Body.Close()
		acs, form, err := f.idp.TrySignIn(hc, resp.Header.Get("Location"), "bob.sales@corp.example", idpPass)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.node.App.IdP.Deactivate(ctx, f.account, f.actor); err != nil {
			t.Fatal(err)
		}
		resp, err = hc.PostForm(acs, form)
		if err != nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("ACS after deactivation: %v %v", resp, err)
		}
		resp.Body.Close()
		_, err = c.RedeemSSO(ctx, st.AttemptID, verifier)
		if agent.ErrorCode(err) != "integration_inactive" {
			t.Fatalf("redeem after deactivation: %v", err)
		}
		// New attempts are refused at once; seats already granted stay.
		_, err = c.StartSSO(ctx, "bob.sales@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		if agent.ErrorCode(err) != "integration_inactive" {
			t.Fatalf("start while inactive: %v", err)
		}
		if _, err := c.Check(ctx, r.act.Credential, ""); err != nil {
			t.Fatalf("granted seat after deactivation: %v", err)
		}
		_, err = c.StartSSO(ctx, "someone@unknown.example", agent.NewDevice(), agent.Challenge(verifier))
		if agent.ErrorCode(err) != "unknown_domain" {
			t.Fatalf("unknown domain: %v", err)
		}
		var ae *agent.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
			t.Fatalf("unknown domain status: %v", err)
		}
	})
}

// The download links: without an installer configured, a page explaining
// the installation; with --download-url, a redirect carrying the experience
// and the invitation code.
func TestDownloadLinks(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		plain := apptest.Start(t, dbURL)
		c := apptest.NewClient(t, plain.URL)
		r := c.Get("/download?experience=sso").Expect(t, http.StatusOK)
		if v, _ := r.Doc.Find("#download").Attr("data-experience"); v != "sso" {
			t.Fatalf("experience %q", v)
		}
		apptest.MustContain(t, r.Text("#download"), "Continue with SSO")
		code := invitations.GenerateCode()
		r = c.Get("/download?code="+url.QueryEscape(strings.ToLower(code))).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("#download-code"), code)
		c.Get("/download?code=NOT-A-CODE").Expect(t, http.StatusBadRequest)
		c.Get("/download?experience=%3Cscript%3E").Expect(t, http.StatusBadRequest)

		withURL := apptest.Start(t, dbURL, apptest.Options{Configure: func(cfg *app.Config) {
			cfg.DownloadURL = "https://downloads.example.com/desktop.dmg?channel=stable"
		}})
		c = apptest.NewClient(t, withURL.URL)
		r = c.Get("/download?experience=sso").Expect(t, http.StatusFound)
		if r.Location != "https://downloads.example.com/desktop.dmg?channel=stable&experience=sso" {
			t.Fatalf("redirect %q", r.Location)
		}
		r = c.Get("/download?code="+url.QueryEscape(code)).Expect(t, http.StatusFound)
		u, _ := url.Parse(r.Location)
		if u.Query().Get("code") != code || u.Query().Get("experience") != "key" {
			t.Fatalf("redirect %q", r.Location)
		}
	})
}

// ssoAgent runs `gatehouse agent ARGS…` and returns its combined output
// (a refusal exits 1; the output says why).
func ssoAgent(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"agent"}, args...)...).CombinedOutput()
	if err != nil {
		t.Logf("gatehouse agent %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}
