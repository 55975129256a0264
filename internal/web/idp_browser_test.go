package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/jobs"
	"gatehouse/internal/license"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// idpCase is one identity provider the browser walk configures.
type idpCase struct {
	provider    string
	domain      string
	entityID    string // the IdP's, as its metadata says
	ssoURL      string
	adminsName  string
	adminsUUID  string
	usersName   string
	usersUUID   string
	screenshots bool
}

var idpCases = []idpCase{
	{provider: idp.ProviderOkta, domain: "acme-okta.test", entityID: "http://www.okta.com/exk5gatehouse0test",
		ssoURL:     "https://acme.okta.test/app/acme_gatehouse_1/exk5gatehouse0test/sso/saml",
		adminsName: "Gatehouse Admins", adminsUUID: "Gatehouse Admins", usersName: "Gatehouse Desktop Users", usersUUID: "Gatehouse Desktop Users",
		screenshots: true},
	{provider: idp.ProviderEntra, domain: "acme-entra.test", entityID: "https://sts.windows.net/4f0c1d2e-8a9b-4c3d-9e8f-0a1b2c3d4e5f/",
		ssoURL:     "https://login.microsoftonline.com/4f0c1d2e-8a9b-4c3d-9e8f-0a1b2c3d4e5f/saml2",
		adminsName: "Gatehouse Admins", adminsUUID: "6a1e3b52-7c44-4d1a-9f0e-1b2c3d4e5f60",
		usersName: "Gatehouse Desktop Users", usersUUID: "7b2f4c63-8d55-4e2b-a01f-2c3d4e5f6071", screenshots: true},
}

// TestBrowserIdPConfigurator walks the seven steps in Chromium for Okta and
// for Entra ID on both engines: a real dnsmasq serves the TXT record (pending
// first, verified after the record is published and the background job
// ran), IdP metadata made by pysaml2 is uploaded, a SCIM token is generated
// and used against the SCIM server, the integration is activated, and then a
// second admin signing in with a password has no admin rights while the
// backup login keeps them.
func TestBrowserIdPConfigurator(t *testing.T) {
	for _, c := range idpCases {
		t.Run(c.provider, func(t *testing.T) {
			testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
				shots := c.screenshots && strings.HasSuffix(t.Name(), "/sqlite")
				idpWalkConfigurator(t, dbURL, c, shots)
			})
		})
	}
}

func idpWalkConfigurator(t *testing.T, dbURL string, c idpCase, shots bool) {
	dns := testenv.DNS(t)
	sink := testenv.SMTP(t)
	node := apptest.Start(t, dbURL, apptest.Options{Configure: func(cfg *app.Config) {
		cfg.DNSServer = dns.Addr
		cfg.SMTPURL, cfg.MailInterval, cfg.MailFrom = sink.URL, 200*time.Millisecond, "Gatehouse <no-reply@gatehouse.test>"
	}})
	bctx := testenv.Browser(t)
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	defer cancel()
	idpAcceptDialogs(ctx)
	adaEmail, maxEmail, bobEmail := "ada@"+c.domain, "max@"+c.domain, "bob@"+c.domain

	// Ada signs up and creates the business account.
	signUpInBrowser(t, ctx, node.URL, sink, "Ada Admin", adaEmail)
	run(t, ctx,
		chromedp.WaitVisible(chromedp.CSS(`a[href="/accounts/new"]`)),
		chromedp.Navigate(node.URL+"/accounts/new"),
		chromedp.WaitVisible(chromedp.CSS("#f-name")),
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Acme "+c.provider),
		chromedp.SetValue(chromedp.CSS("#f-country"), "DE"),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "is created")]`),
	)
	acct := strings.TrimPrefix(get(t, ctx, chromedp.Location()), node.URL+"/accounts/")
	base := node.URL + "/accounts/" + acct + "/idp"

	// Without a license key the configurator explains what to do first.
	run(t, ctx, chromedp.Click(chromedp.CSS(`nav.side a[href$="/idp"]`)),
		chromedp.WaitVisible(`//p[contains(., "Register a license key first")]`))
	idpRegisterLicense(t, node, acct, adaEmail)

	// Bob, a second admin, joins while passwords still give admin rights.
	adaHTTP := apptest.NewClient(t, node.URL)
	adaHTTP.SignIn(adaEmail, pw).Expect(t, http.StatusSeeOther)
	adaHTTP.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {bobEmail}, "role": {"admin"}}).Expect(t, http.StatusSeeOther)
	bob := apptest.NewClient(t, node.URL)
	bob.SignUp(bobEmail, pw, "Bob Second")
	bob.Post(outboxLink(t, node.App.DB, bobEmail, "/invites/"), nil).Expect(t, http.StatusSeeOther)
	bob.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK)

	// Start: choose the IdP.
	run(t, ctx, chromedp.Navigate(base), chromedp.WaitVisible(`//button[contains(., "Start Configuring")]`))
	idpShot(t, ctx, shots, "idp-start", chromedp.CSS("main"))
	run(t, ctx,
		chromedp.Click(chromedp.CSS(`input[name=provider][value=`+c.provider+`]`)),
		chromedp.Click(`//button[contains(., "Start Configuring")]`),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Configuration started")]`),
	)
	apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS(".idp-status"))), "1 of 7 steps complete")

	// Step 1: the domain is pending until its TXT record is published.
	row := `tr[data-domain="` + c.domain + `"]`
	run(t, ctx,
		chromedp.SendKeys(chromedp.CSS("#f-domain"), strings.ToUpper(c.domain)),
		chromedp.Click(`//button[contains(., "Add domain")]`),
		chromedp.WaitVisible(chromedp.CSS(row+` .badge.pending`)),
	)
	found := get(t, ctx, chromedp.Text(chromedp.CSS(row+" .domain-status")))
	apptest.MustContain(t, found, "No TXT record")
	txtName := get(t, ctx, chromedp.Text(chromedp.CSS(row+" code.txt-name")))
	txtValue := get(t, ctx, chromedp.Text(chromedp.CSS(row+" code.txt-value")))
	copied := get(t, ctx, chromedp.AttributeValue(chromedp.CSS(row+` button[data-copy]`), "data-copy"))
	if copied.Value != txtName || !strings.HasSuffix(txtName, "."+c.domain) || !strings.HasPrefix(txtValue, "gatehouse-domain-verification=") {
		t.Fatalf("TXT record %q = %q (copy button %q)", txtName, txtValue, copied.Value)
	}
	idpShot(t, ctx, shots, "idp-step1-pending", chromedp.CSS("#step-1"))

	// The admin publishes the record; the background job finds it. (The
	// job's first re-check is due a minute after adding: move it to now.)
	dns.SetTXT(t, txtName, txtValue)
	if _, err := node.App.DB.Exec(context.Background(), `UPDATE idp_domains SET next_check_at = ? WHERE account_id = ?`, store.Now(), acct); err != nil {
		t.Fatal(err)
	}
	idpRunJob(t, node.App, idp.JobName)
	run(t, ctx, chromedp.Navigate(base+"?open=1"), chromedp.WaitVisible(chromedp.CSS(row+` .badge.verified`)))
	apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS(row+" .domain-status"))), "Found the expected TXT record")
	idpShot(t, ctx, shots, "idp-step1-verified", chromedp.CSS("#step-1"))

	// Step 2: the IdP-specific instructions, then the checkbox.
	run(t, ctx, chromedp.Navigate(base+"?open=2"), chromedp.WaitVisible(chromedp.CSS("#step-2 .idp-guide")))
	guide := get(t, ctx, chromedp.Text(chromedp.CSS("#step-2 .idp-guide")))
	apptest.MustContain(t, guide, map[string]string{idp.ProviderOkta: "Create App Integration", idp.ProviderEntra: "Enterprise applications"}[c.provider])
	idpTickDone(t, ctx, 2)

	// Step 3: click to edit both groups.
	run(t, ctx, chromedp.Navigate(base+"?open=3"), chromedp.WaitVisible(chromedp.CSS("#group-admins")))
	apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#step-3 summary"))), "Desktop Users is not mapped yet")
	for _, g := range []struct{ which, name, uuid string }{{"admins", c.adminsName, c.adminsUUID}, {"users", c.usersName, c.usersUUID}} {
		run(t, ctx,
			chromedp.Navigate(base+"?open=3"),
			chromedp.Click(chromedp.CSS("#group-"+g.which+" details.idp-edit summary")),
			chromedp.WaitVisible(chromedp.CSS("#f-"+g.which+"_name")),
			chromedp.SendKeys(chromedp.CSS("#f-"+g.which+"_name"), g.name),
			chromedp.SendKeys(chromedp.CSS("#f-"+g.which+"_uuid"), g.uuid),
			chromedp.Click(chromedp.CSS("#group-"+g.which+" button[type=submit]")),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "group is saved")]`),
		)
	}
	if got := get(t, ctx, chromedp.Text(chromedp.CSS("#group-users code.group-uuid"))); got != c.usersUUID {
		t.Fatalf("users group UUID %q", got)
	}

	// Step 4: SP values shown read-only; IdP metadata from pysaml2 uploaded.
	run(t, ctx, chromedp.Navigate(base+"?open=4"), chromedp.WaitVisible(chromedp.CSS("#step-4 code.sp-entity-id")))
	spEntity := get(t, ctx, chromedp.Text(chromedp.CSS("#step-4 code.sp-entity-id")))
	spACS := get(t, ctx, chromedp.Text(chromedp.CSS("#step-4 code.sp-acs-url")))
	if spEntity != node.URL+"/saml/"+acct+"/metadata" || spACS != node.URL+"/saml/"+acct+"/acs" {
		t.Fatalf("SP values %q %q", spEntity, spACS)
	}
	spMeta := adaHTTP.Get("/accounts/"+acct+"/idp/sp-metadata.xml").Expect(t, http.StatusOK)
	apptest.MustContain(t, spMeta.Body, `entityID="`+spEntity+`"`)
	metadata := idpPysaml2Metadata(t, c.entityID, c.ssoURL)
	run(t, ctx,
		chromedp.SetUploadFiles(chromedp.CSS("#f-metadata"), []string{metadata}),
		chromedp.Click(chromedp.CSS("#step-4 .idp-upload button")),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Metadata of")]`),
	)
	if got := get(t, ctx, chromedp.Value(chromedp.CSS("#f-idp_entity_id"))); got != c.entityID {
		t.Fatalf("IdP entity ID %q after upload", got)
	}
	apptest.MustContain(t, get(t, ctx, chromedp.Value(chromedp.CSS("#f-idp_sso_url"))), c.ssoURL)
	apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#step-4 .idp-certs"))), "Pysaml2 Test IdP")
	idpShot(t, ctx, shots, "idp-step4-saml", chromedp.CSS("#step-4"))
	idpTickDone(t, ctx, 4)
	settings, err := node.App.IdP.IdPSettings(context.Background(), acct)
	if err != nil || settings.EntityID != c.entityID || len(settings.Certificates) != 1 {
		t.Fatalf("IdPSettings %+v %v", settings, err)
	}

	// Step 5: a bearer token, shown once, used by the IdP's SCIM client.
	run(t, ctx,
		chromedp.Navigate(base+"?open=5"),
		chromedp.WaitVisible(`//p[contains(., "No requests yet")]`),
		chromedp.Click(`//button[contains(., "Generate token")]`),
		chromedp.WaitVisible(chromedp.CSS("#scim-token")),
	)
	token := get(t, ctx, chromedp.Text(chromedp.CSS("#scim-token")))
	idpShot(t, ctx, shots, "idp-step5-token", chromedp.CSS("#step-5"))
	idpProvision(t, node.App.DB, token, c, adaEmail, maxEmail)
	run(t, ctx, chromedp.Navigate(base+"?open=5"), chromedp.WaitVisible(chromedp.CSS("#scim-token-masked")))
	if masked := get(t, ctx, chromedp.Text(chromedp.CSS("#scim-token-masked"))); !strings.HasSuffix(token, strings.TrimPrefix(masked, "ghscim_…")) || strings.Contains(masked, token) {
		t.Fatalf("masked token %q", masked)
	}
	activity := get(t, ctx, chromedp.Text(chromedp.CSS("#step-5 .idp-activity")))
	apptest.MustContain(t, activity, "Last request")
	apptest.MustContain(t, activity, "2 (2 active)")
	idpTickDone(t, ctx, 5)

	// Step 6: provisioned users per mapped group.
	run(t, ctx, chromedp.Navigate(base+"?open=6"), chromedp.WaitVisible(chromedp.CSS("#step-6 .idp-group-counts")))
	counts := get(t, ctx, chromedp.Text(chromedp.CSS("#step-6 .idp-group-counts")))
	apptest.MustContain(t, counts, "Business Account Admins — "+c.adminsName+"\t1 (1 active)")
	apptest.MustContain(t, counts, "Desktop Users — "+c.usersName+"\t2 (2 active)")
	idpTickDone(t, ctx, 6)

	// Step 7: the configuring admin is the backup login by default; Bob
	// (an admin who signed in) could be chosen instead.
	run(t, ctx, chromedp.Navigate(base+"?open=7"), chromedp.WaitVisible(chromedp.CSS("#backup-current")))
	if got := get(t, ctx, chromedp.Text(chromedp.CSS("#backup-current"))); got != adaEmail {
		t.Fatalf("backup login %q", got)
	}
	bobID := idpPersonID(t, node, bobEmail)
	adaID := idpPersonID(t, node, adaEmail)
	for _, b := range []struct{ id, email string }{{bobID, bobEmail}, {adaID, adaEmail}} {
		run(t, ctx,
			chromedp.Navigate(base+"?open=7"),
			chromedp.WaitVisible(chromedp.CSS("#f-backup")),
			chromedp.SetValue(chromedp.CSS("#f-backup"), b.id),
			chromedp.Click(`//form[@action="/accounts/`+acct+`/idp/backup"]//button`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "backup login is saved")]`),
		)
		if got := get(t, ctx, chromedp.Text(chromedp.CSS("#backup-current"))); got != b.email {
			t.Fatalf("backup login %q, want %q", got, b.email)
		}
	}

	// All green: Activate Integration appears.
	status := get(t, ctx, chromedp.Text(chromedp.CSS(".idp-status")))
	apptest.MustContain(t, status, "All 7 steps are complete")
	idpShot(t, ctx, shots, "idp-ready", chromedp.CSS("main"))
	run(t, ctx,
		chromedp.Click(`//button[contains(., "Activate Integration")]`),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "The integration is active")]`),
	)
	apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS(".idp-status"))), "is active")
	idpShot(t, ctx, shots, "idp-active", chromedp.CSS(".idp-status"))
	if owner, active, err := node.App.IdP.AccountForDomain(context.Background(), "someone@"+c.domain); owner != acct || !active || err != nil {
		t.Fatalf("AccountForDomain %q %v %v", owner, active, err)
	}

	// Bob signs in with his password: no admin rights any more.
	bob2 := apptest.NewClient(t, node.URL)
	bob2.SignIn(bobEmail, pw).Expect(t, http.StatusSeeOther)
	denied := bob2.Get("/accounts/"+acct+"/users").Expect(t, http.StatusForbidden)
	apptest.MustContain(t, denied.Body, "Single sign-on is active")
	bob2.Get("/accounts/"+acct+"/idp").Expect(t, http.StatusForbidden)
	bob2.Get("/accounts/"+acct).Expect(t, http.StatusOK) // still a member
	// Ada, the backup login, keeps them with her password.
	ada2 := apptest.NewClient(t, node.URL)
	ada2.SignIn(adaEmail, pw).Expect(t, http.StatusSeeOther)
	ada2.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK)
	ada2.Get("/accounts/"+acct+"/idp").Expect(t, http.StatusOK)

	// Deactivating restores password admin rights.
	run(t, ctx, chromedp.Navigate(base), chromedp.Click(`//button[contains(., "Deactivate")]`),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "is deactivated")]`))
	bob2.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK)

	audit := auditText(adaHTTP.Get("/accounts/"+acct+"/audit").Expect(t, http.StatusOK))
	for _, a := range []string{"idp.configuration_started", "idp.domain_added", "idp.domain_verified", "idp.step_confirmed",
		"idp.group_mapped", "idp.metadata_uploaded", "scim.token_generated", "scim.user_created", "idp.backup_login_set",
		"idp.integration_activated", "idp.integration_deactivated"} {
		apptest.MustContain(t, audit, a)
	}
}

func idpPersonID(t *testing.T, node *apptest.Node, email string) string {
	t.Helper()
	p, err := node.App.Accounts.PersonByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID
}

// idpAcceptDialogs accepts the confirm() of forms with data-confirm.
func idpAcceptDialogs(ctx context.Context) {
	dialogs := chromedp.Events(ctx, page.JavascriptDialogOpening)
	go func() {
		for _, err := range dialogs {
			if err != nil {
				return
			}
			go func() {
				_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
					_, err := chromedp.Call(ctx, page.HandleJavaScriptDialog, page.HandleJavaScriptDialogParams{Accept: true})
					return err
				}))
			}()
		}
	}()
}

// idpTickDone ticks "Configuration in the IdP directory is done" of step n.
func idpTickDone(t *testing.T, ctx context.Context, n int) {
	t.Helper()
	step := fmt.Sprintf("#step-%d", n)
	run(t, ctx,
		chromedp.Click(chromedp.CSS(step+" .idp-done input[name=done]")),
		chromedp.Click(chromedp.CSS(step+" .idp-done button")),
		chromedp.WaitVisible(fmt.Sprintf(`//div[contains(@class, "flash")][contains(., "Step %d is marked as done")]`, n)),
		chromedp.WaitVisible(chromedp.CSS(step+".done")),
	)
}

// idpRunJob runs a registered background job once through the runner, which
// takes the job's lease first, as on any node.
func idpRunJob(t *testing.T, a *app.App, name string) {
	t.Helper()
	for _, j := range a.Jobs.Jobs {
		if j.Name == name {
			a.Jobs.RunOnce(context.Background(), j)
			if ok, err := jobs.TryLease(context.Background(), a.DB, name, "another-node", time.Minute); err != nil || ok {
				t.Fatalf("the job's lease is not held by the runner (%v, %v)", ok, err)
			}
			return
		}
	}
	t.Fatalf("no job %q registered", name)
}

// idpRegisterLicense issues a subscription as the vendor would and registers
// its key in the account.
func idpRegisterLicense(t *testing.T, node *apptest.Node, acct, adminEmail string) {
	t.Helper()
	ctx := context.Background()
	p := idpPersonID(t, node, adminEmail)
	_, key, err := node.App.License.Issue(ctx, license.IssueInput{Edition: license.EditionBusiness, Model: license.ModelPerUser,
		Seats: 10, Term: license.Term{Years: 1}}, audit.System("test-vendor"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.App.License.RegisterKey(ctx, license.Caller{PersonID: p, AccountID: acct, Role: "admin"},
		license.RegisterInput{Key: key}, audit.Actor{Type: audit.ActorPerson, ID: p, Label: adminEmail}); err != nil {
		t.Fatal(err)
	}
}

// idpProvision plays the IdP's SCIM client against the SCIM server (over the
// same database) with the token the configurator showed.
func idpProvision(t *testing.T, db *store.DB, token string, c idpCase, adaEmail, maxEmail string) {
	t.Helper()
	srv := httptest.NewServer(scim.Handler(&scim.Service{DB: db}))
	defer srv.Close()
	call := func(method, path string, body any) map[string]any {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(method, srv.URL+"/scim/v2"+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/scim+json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("SCIM %s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		var out map[string]any
		_ = json.Unmarshal(raw, &out)
		return out
	}
	user := func(email, oid, given string) string {
		u := call("POST", "/Users", map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName": email, "externalId": oid, "active": true, "displayName": given + " Example",
			"name":   map[string]string{"givenName": given, "familyName": "Example"},
			"emails": []map[string]any{{"value": email, "type": "work", "primary": true}}})
		return u["id"].(string)
	}
	ada := user(adaEmail, "0b1c2d3e-0000-4000-8000-00000000000a", "Ada")
	max := user(maxEmail, "0b1c2d3e-0000-4000-8000-00000000000b", "Max")
	group := func(name, uuid string, members ...string) {
		g := map[string]any{"schemas": []string{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name}
		if uuid != name { // Entra sends the object id as externalId; Okta only the name.
			g["externalId"] = uuid
		}
		var ms []map[string]string
		for _, m := range members {
			ms = append(ms, map[string]string{"value": m})
		}
		g["members"] = ms
		call("POST", "/Groups", g)
	}
	group(c.adminsName, c.adminsUUID, ada)
	group(c.usersName, c.usersUUID, ada, max)
}

const idpPysaml2MetadataScript = `import json, sys
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.config import IdPConfig
from saml2.metadata import entity_descriptor
from saml2.saml import NAMEID_FORMAT_EMAILADDRESS

req = json.load(sys.stdin)
cnf = IdPConfig()
cnf.load({
    "entityid": req["entity_id"],
    "xmlsec_binary": "/usr/bin/xmlsec1",
    "key_file": req["key_file"],
    "cert_file": req["cert_file"],
    "service": {"idp": {
        "endpoints": {"single_sign_on_service": [
            (req["sso_url"], BINDING_HTTP_REDIRECT),
            (req["sso_url"], BINDING_HTTP_POST),
        ]},
        "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
    }},
})
sys.stdout.write(str(entity_descriptor(cnf)))
`

// idpPysaml2Metadata has pysaml2 (an independent SAML implementation) write
// the IdP's metadata, with a fresh signing key, and returns the file path.
func idpPysaml2Metadata(t *testing.T, entityID, ssoURL string) string {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import saml2").Run(); err != nil {
		if testenv.RequirePeers() {
			t.Fatalf("required test peer missing: pysaml2 (Debian python3-pysaml2): %v", err)
		}
		t.Skipf("test peer missing: pysaml2 (Debian python3-pysaml2): %v", err)
	}
	testenv.Command(t, "xmlsec1")
	dir := t.TempDir()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Pysaml2 Test IdP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(2 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile, certFile, script := filepath.Join(dir, "idp.key"), filepath.Join(dir, "idp.crt"), filepath.Join(dir, "metadata.py")
	idpMust(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	idpMust(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	idpMust(t, os.WriteFile(script, []byte(idpPysaml2MetadataScript), 0o600))
	in, _ := json.Marshal(map[string]string{"entity_id": entityID, "sso_url": ssoURL, "key_file": keyFile, "cert_file": certFile})
	cmd := exec.Command("/usr/bin/python3", script)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pysaml2 metadata: %v\n%s", err, stderr.String())
	}
	path := filepath.Join(dir, "idp-metadata.xml")
	idpMust(t, os.WriteFile(path, out, 0o600))
	return path
}

func idpMust(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// idpShot saves a screenshot of sel to docs/screenshots/<name>.png when
// GATEHOUSE_UPDATE_SCREENSHOTS=1 (so ordinary runs leave the tree alone).
func idpShot(t *testing.T, ctx context.Context, enabled bool, name string, sel chromedp.CSS) {
	t.Helper()
	if !enabled || os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") != "1" {
		return
	}
	// Okta gets the full set; Entra ID its SAML step, to show how the
	// instructions follow the IdP.
	if strings.Contains(t.Name(), "/entra/") {
		if name != "idp-step4-saml" {
			return
		}
		name = "idp-entra-step4-saml"
	}
	png := get(t, ctx, chromedp.Screenshot(sel))
	dir := filepath.Join(testenv.RepoRoot(), "docs", "screenshots")
	idpMust(t, os.MkdirAll(dir, 0o755))
	idpMust(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}
