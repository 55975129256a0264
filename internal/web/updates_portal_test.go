package web_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
	"gatehouse/internal/updates"
	"gatehouse/internal/updates/deploycfg"
	"gatehouse/internal/updates/feed"
	"gatehouse/internal/updates/feedcheck"
)

var operatorActor = audit.Actor{Type: audit.ActorOperator, ID: "test", Label: "operator: test"}

func intp(v int) *int { return &v }

// publishHosted adds and publishes (early and business) a release whose file
// Gatehouse hosts.
func publishHosted(t *testing.T, node *apptest.Node, minor, build int, file []byte) *updates.Release {
	t.Helper()
	ctx := context.Background()
	r, err := node.App.Updates.AddRelease(ctx, updates.ReleaseInput{Major: intp(20), Minor: intp(minor), Build: intp(build), Revision: intp(1),
		ReleasedAt: "2026-06-01 08:00:00", FileName: "Install Desktop.dmg"}, bytes.NewReader(file), operatorActor)
	if err != nil {
		t.Fatal(err)
	}
	if r, err = node.App.Updates.Publish(ctx, r.ID, updates.PublishInput{Channel: "business"}, operatorActor); err != nil {
		t.Fatal(err)
	}
	return r
}

func auditActions(t *testing.T, node *apptest.Node, acct string) []string {
	t.Helper()
	rows, err := node.App.DB.Query(context.Background(), `SELECT action FROM audit_log WHERE account_id = ? ORDER BY at, id`, acct)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		out = append(out, a)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestUpdatesPortal: update settings, the local update server (mirror →
// verified copy → the account's feed → the file downloads with the right
// SHA-256), on both engines.
func TestUpdatesPortal(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("alice@upd.example", pw, "Alice")
		acct := alice.CreateAccount("Updates Corp")
		base := "/accounts/" + acct

		// Without a license the page says what to do and changes nothing.
		page := alice.Get(base+"/updates").Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text(".panel.empty"), "Register your license key")
		alice.Post(base+"/updates/settings", url.Values{"source": {"none"}, "channel": {"business"}, "check_frequency": {"daily"}}).Expect(t, http.StatusForbidden)

		registerKey(t, alice, acct, issue(t, node, license.EditionEnterprise, license.ModelMixed, 10, false), "Fleet")
		file := bytes.Repeat([]byte("desktop installer "), 70000)
		rel := publishHosted(t, node, 1, 56001, file)

		// Settings: a bad value is a 422 naming the field; a good one is saved.
		r := alice.Post(base+"/updates/settings", url.Values{"source": {"local"}, "channel": {"business"}, "check_frequency": {"hourly"}})
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text(".error-text"), "never, daily, weekly or monthly")
		r = alice.Post(base+"/updates/settings", url.Values{"source": {"local"}, "channel": {"business"}, "check_frequency": {"daily"}, "auto_download": {"1"}})
		r.Expect(t, http.StatusSeeOther)
		page = alice.Get(base+"/updates").Expect(t, http.StatusOK)
		feedURL := page.Text("#local-feed-url")
		if !strings.HasPrefix(feedURL, node.URL+"/updates/local/") {
			t.Fatalf("local feed URL %q", feedURL)
		}
		apptest.MustContain(t, page.Text("#client-settings"), feedURL)
		apptest.MustContain(t, page.Text("#client-settings"), "user controls locked")

		// Mirror the release; the job stores and verifies it.
		alice.Post(base+"/updates/mirrors", url.Values{"release": {rel.ID}}).Expect(t, http.StatusSeeOther)
		if r := alice.Post(base+"/updates/mirrors", url.Values{"release": {rel.ID}}); r.Status != http.StatusUnprocessableEntity {
			t.Fatalf("mirroring twice: %d", r.Status)
		}
		resp, body := rawGet(t, feedURL, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("local feed: %d", resp.StatusCode)
		}
		feedcheck.Check(t, body, feedcheck.Expect{}) // not verified yet: not offered
		if n, err := node.App.Updates.RunMirrors(context.Background()); err != nil || n != 1 {
			t.Fatalf("mirror job: %d %v", n, err)
		}
		page = alice.Get(base + "/updates")
		apptest.MustContain(t, page.Text("#mirror-"+rel.ID), "Ready")

		// The account's feed offers it from the account's own URL…
		resp, body = rawGet(t, feedURL, nil)
		token := between(feedURL, "/updates/local/", "/updates.xml")
		fileURL := node.URL + "/updates/local/" + token + "/files/" + rel.ID + "/Install%20Desktop.dmg"
		fr := feed.Release{Major: 20, Minor: 1, Build: 56001, Revision: 1, Locale: "en_US", Vendor: "parallels", Platform: "mac",
			FileURL: fileURL, Size: int64(len(file)), ReleasedAt: rel.ReleasedAt.Time}
		feedcheck.Check(t, body, feedcheck.Expect{Versions: []feedcheck.Version{feedcheck.VersionOf(fr)}})
		if r, _ := rawGet(t, feedURL, map[string]string{"If-None-Match": resp.Header.Get("ETag")}); r.StatusCode != 304 {
			t.Fatalf("local feed conditional GET: %d", r.StatusCode)
		}
		// …and the file it names downloads with the release's SHA-256.
		m := regexp.MustCompile(`<FilePath>([^<]+)</FilePath>`).FindSubmatch(body)
		if m == nil || string(m[1]) != fileURL {
			t.Fatalf("FilePath %q", m)
		}
		fresp, got := rawGet(t, string(m[1]), nil)
		sum := sha256.Sum256(got)
		if fresp.StatusCode != 200 || hex.EncodeToString(sum[:]) != rel.SHA256 {
			t.Fatalf("mirrored file: %d sha %x", fresp.StatusCode, sum)
		}
		if r, b := rawGet(t, fileURL, map[string]string{"Range": "bytes=100-199"}); r.StatusCode != 206 || !bytes.Equal(b, file[100:200]) {
			t.Fatalf("mirrored file range: %d", r.StatusCode)
		}

		// Another account cannot remove it, and its own feed is empty.
		bob := apptest.NewClient(t, node.URL)
		bob.SignUp("bob@upd.example", pw, "Bob")
		acctB := bob.CreateAccount("Other Corp")
		bob.Post("/accounts/"+acctB+"/updates/mirrors/"+rel.ID+"/remove", nil).Expect(t, http.StatusNotFound)

		alice.Post(base+"/updates/mirrors/"+rel.ID+"/remove", nil).Expect(t, http.StatusSeeOther)
		_, body = rawGet(t, feedURL, nil)
		feedcheck.Check(t, body, feedcheck.Expect{})
		if r, _ := rawGet(t, fileURL, nil); r.StatusCode != 404 {
			t.Fatalf("removed mirror still served: %d", r.StatusCode)
		}
		actions := auditActions(t, node, acct)
		for _, a := range []string{"update.settings_changed", "update.mirror_added", "update.mirror_ready", "update.mirror_removed"} {
			if !contains(actions, a) {
				t.Errorf("audit log lacks %s: %v", a, actions)
			}
		}
	})
}

// TestDeploymentPortal: deploy.cfg generation (SSO and key, admins and
// license admins), the checker behind the upload form, and .mobileconfig
// downloads.
func TestDeploymentPortal(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("alice@dep.example", pw, "Alice")
		acct := alice.CreateAccount("Deploy Corp")
		base := "/accounts/" + acct
		primary := issue(t, node, license.EditionEnterprise, license.ModelMixed, 20, false)
		sub := registerKey(t, alice, acct, primary, "Fleet")
		subPath := base + "/licenses/" + sub
		alice.Post(subPath+"/keys", url.Values{"key_name": {"Design team"}, "kind": {"reserved"}, "seats": {"3"}}).Expect(t, http.StatusSeeOther)
		subPage := alice.Get(subPath)
		designKey := keyID(subPage, "Design team")
		primaryKey := strings.TrimPrefix(subPage.Doc.Find("table.keys tbody tr").First().AttrOr("id", ""), "key-")
		if designKey == "" || primaryKey == "" {
			t.Fatal("keys not found")
		}

		page := alice.Get(base+"/deployment").Expect(t, http.StatusOK)
		if n := page.Doc.Find(`#deploycfg select[name=key_id] option[value!=""]`).Length(); n != 2 {
			t.Fatalf("admin sees %d keys, want 2", n)
		}
		// The form starts from the account's update settings.
		if v := page.Doc.Find(`#f-v_update_source`).AttrOr("value", ""); v != "vendor" {
			t.Fatalf("update_source prefilled with %q", v)
		}

		gen := func(c *apptest.Client, form url.Values) *apptest.Response {
			return c.Post(base+"/deployment/deploy.cfg", form)
		}
		// SSO for the design team, with a VM line and settings.
		r := gen(alice, url.Values{"key_id": {designKey}, "experience": {"sso"}, "v_vm_register_mode": {"Shared"},
			"v_update_source": {"vendor"}, "v_update_channel": {"early"}, "v_sso_login_dialog_header": {"Sign in with Deploy Corp"},
			"vms": {`"Windows 11.pvmp"=copy("./Windows 11.pvmp")`}}).Expect(t, http.StatusOK)
		if !strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") {
			t.Fatalf("download headers: %v", r.Header)
		}
		if diags := deploycfg.Lint("deploy.cfg", []byte(r.Body)); len(diags) != 0 {
			t.Fatalf("generated file lints with %v:\n%s", diags, r.Body)
		}
		for _, want := range []string{`#license_key="`, `vm_register_mode="Shared"`, `update_channel="early"`, `"Windows 11.pvmp"=copy("./Windows 11.pvmp")`, "Design team"} {
			apptest.MustContain(t, r.Body, want)
		}
		// Conflicts and bad values come back on the form with the field.
		r = gen(alice, url.Values{"key_id": {designKey}, "experience": {"sso"}, "v_vm_register_mode": {"Shared"}, "v_vm_destination_folder": {"/abs"}})
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Doc.Find(`#f-v_vm_destination_folder`).Parent().Find(".error-text").Text(), "relative to /Users/Shared/Parallels")
		r = gen(alice, url.Values{"key_id": {designKey}, "experience": {"sso"}, "vms": {"vm_reset_hwid=\"yes\"\n\"a.pvm\"=move(\"b.pvm\")"}})
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#deploycfg"), "only VM lines")
		apptest.MustContain(t, r.Text("#deploycfg"), "not a conflict strategy")

		// The key experience puts the full key in the file (admins only).
		r = gen(alice, url.Values{"key_id": {primaryKey}, "experience": {"key"}}).Expect(t, http.StatusOK)
		norm, _ := license.NormalizeKey(primary)
		apptest.MustContain(t, r.Body, `license_key="`+norm+`"`)
		actions := auditActions(t, node, acct)
		for _, a := range []string{"update.deploycfg_generated", "license.key_revealed"} {
			if !contains(actions, a) {
				t.Errorf("audit lacks %s", a)
			}
		}

		// A license admin of the design key sees only that key, may not
		// put a key in a file, and cannot name another key.
		lisa, lisaID := addMember(t, node, alice, acct, "lisa@dep.example", "license_admin")
		alice.Post(base+"/keys/"+designKey+"/admins", url.Values{"person": {lisaID}}).Expect(t, http.StatusSeeOther)
		page = lisa.Get(base+"/deployment").Expect(t, http.StatusOK)
		if opts := page.Doc.Find(`#deploycfg select[name=key_id] option[value!=""]`); opts.Length() != 1 || opts.AttrOr("value", "") != designKey {
			t.Fatalf("license admin sees keys %v", opts.Text())
		}
		if !page.Has(`a[href$="/deployment"]`) || page.Has(`a[href$="/updates"]`) {
			t.Error("license admin navigation: Deployment yes, Updates no")
		}
		lisa.Get(base+"/updates").Expect(t, http.StatusForbidden)
		r = gen(lisa, url.Values{"key_id": {designKey}, "experience": {"key"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#deploycfg"), "Only account admins")
		r = gen(lisa, url.Values{"key_id": {primaryKey}, "experience": {"sso"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#deploycfg"), "Choose one of your license keys")
		gen(lisa, url.Values{"key_id": {designKey}, "experience": {"sso"}}).Expect(t, http.StatusOK)

		// The checker behind the upload form.
		r = postMultipart(t, alice, base+"/deployment/lint", nil, "deploy.cfg", "vm_register_mode=\"Shared\"\nvm_destination_folder=\"/abs\"\nlicence_key=\"x\"\n")
		r.Expect(t, http.StatusUnprocessableEntity)
		res := r.Text("#lint-result")
		apptest.MustContain(t, res, "2 errors")
		apptest.MustContain(t, res, `unknown variable "licence_key"`)
		apptest.MustContain(t, res, `did you mean "license_key"?`)
		if n := r.Doc.Find("#lint-result tr.diag").Length(); n != 2 {
			t.Fatalf("%d diagnostic rows", n)
		}
		r = alice.Post(base+"/deployment/lint", url.Values{"text": {"vm_reset_hwid=\"yes\"\n"}}).Expect(t, http.StatusOK)
		apptest.MustContain(t, r.Text("#lint-result"), "no problems found")

		// .mobileconfig: same settings, same profile; python reads it.
		mc := func(form url.Values) *apptest.Response { return alice.Post(base+"/deployment/mobileconfig", form) }
		m1 := mc(url.Values{"key_id": {designKey}, "experience": {"sso"}, "pppc": {"1"}}).Expect(t, http.StatusOK)
		m2 := mc(url.Values{"key_id": {designKey}, "experience": {"sso"}, "pppc": {"1"}}).Expect(t, http.StatusOK)
		if m1.Header.Get("Content-Type") != "application/x-apple-aspen-config" || m1.Body != m2.Body {
			t.Fatalf("profile: %s, stable %v", m1.Header.Get("Content-Type"), m1.Body == m2.Body)
		}
		k := mc(url.Values{"key_id": {primaryKey}, "experience": {"key"}}).Expect(t, http.StatusOK)
		checkProfile(t, m1.Body, "SSO", "")
		checkProfile(t, k.Body, "LicenseKey", norm)
		lisaMC := lisa.Post(base+"/deployment/mobileconfig", url.Values{"key_id": {designKey}, "experience": {"key"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, lisaMC.Text("#mobileconfig"), "Only account admins")
	})
}

func checkProfile(t *testing.T, body, experience, key string) {
	t.Helper()
	if _, err := os.Stat(feedcheck.Python); err != nil {
		t.Skip("python3 missing")
	}
	p := filepath.Join(t.TempDir(), "p.mobileconfig")
	_ = os.WriteFile(p, []byte(body), 0o600)
	out, err := exec.Command(feedcheck.Python, "-c", `
import plistlib, sys
p = plistlib.load(open(sys.argv[1], 'rb'))
a = [x for x in p['PayloadContent'] if x['PayloadType'] == 'com.parallels.desktop.console'][0]
print(p['PayloadType'], a['ActivationExperience'], a.get('LicenseKey', ''))
`, p).CombinedOutput()
	if err != nil {
		t.Fatalf("plistlib: %v %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != strings.TrimSpace("Configuration "+experience+" "+key) {
		t.Fatalf("profile reads %q", got)
	}
}

// TestSignedProfileDownload: with --mdm-signing-cert/--mdm-signing-key the
// portal's .mobileconfig is CMS-signed; openssl verifies it against the
// certificate and gets the profile back.
func TestSignedProfileDownload(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl missing")
	}
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if out, err := exec.Command("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=Deploy Corp MDM",
		"-keyout", keyFile, "-out", certFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v %s", err, out)
	}
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) { c.MDMSigningCert, c.MDMSigningKey = certFile, keyFile }})
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("signer@dep.example", pw, "Sig")
		acct := alice.CreateAccount("Signed Corp")
		sub := registerKey(t, alice, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "Macs")
		key := strings.TrimPrefix(alice.Get("/accounts/"+acct+"/licenses/"+sub).Doc.Find("table.keys tbody tr").First().AttrOr("id", ""), "key-")
		page := alice.Get("/accounts/" + acct + "/deployment")
		apptest.MustContain(t, page.Text("#mobileconfig"), "signed with the operator's certificate")
		r := alice.Post("/accounts/"+acct+"/deployment/mobileconfig", url.Values{"key_id": {key}, "experience": {"key"}, "pppc": {"1"}}).Expect(t, http.StatusOK)
		in, out := filepath.Join(t.TempDir(), "p.mobileconfig"), filepath.Join(t.TempDir(), "p.plist")
		_ = os.WriteFile(in, []byte(r.Body), 0o600)
		if res, err := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", certFile, "-purpose", "any", "-out", out).CombinedOutput(); err != nil {
			t.Fatalf("openssl cms -verify: %v\n%s", err, res)
		}
		profile, _ := os.ReadFile(out)
		norm := ""
		if k, err := node.App.License.RevealKey(context.Background(), license.Caller{AccountID: acct, Role: license.RoleAdmin}, key, operatorActor); err == nil {
			norm = k
		}
		checkProfile(t, string(profile), "LicenseKey", norm)
	})
}
