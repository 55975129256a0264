package web_test

import (
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
)

// TestPagesSayWhatIsTrue checks wordings of issue 13 over HTTP with the
// layout walk's fixture: the plain user's dashboard lists their Desktop
// activations with how to free one and the download link; counts agree in
// number; an emptied computer list does not say "not yet"; without a mail
// server the invitations page and the operator's dashboard say where email
// went; error pages show the header of the signed-in person.
func TestPagesSayWhatIsTrue(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	e := &layoutEnv{node: node, params: map[string]string{}}
	layoutFoundationFixture(t, e)
	layoutLicensingFixture(t, e)
	acct := "/accounts/" + e.acct

	// The plain user's dashboard.
	dash := e.user.Get(acct).Expect(t, http.StatusOK)
	mine := dash.Text("#my-desktop")
	for _, want := range []string{"Ulrich’s MacBook Air", "Ulrich’s Mac mini (office)", "last license check", "Account & License › Deactivate"} {
		apptest.MustContain(t, mine, want)
	}
	if href, _ := dash.Doc.Find(`#my-desktop a.button`).Attr("href"); href != "/download?experience=sso" {
		t.Errorf("download link %q", href)
	}
	// The license admin holds no SSO seat: no Desktop card for them.
	if e.licenseAdmin.Get(acct).Has("#my-desktop") {
		t.Error("the license admin sees a Desktop card without activations")
	}

	// One computer: singular; after deactivating it, the empty list says so.
	sub := acct + "/licenses/" + e.params["subscription"]
	primary := e.admin.Get(sub+"/computers?q=Maria").Expect(t, http.StatusOK)
	apptest.MustContain(t, primary.Text("main p.muted"), "1 active computer matches.")
	id, _ := primary.Doc.Find(`input[name="computer"]`).Attr("value")
	e.admin.Post(sub+"/computers/deactivate", url.Values{"computer": {id}, "q": {"Maria"}, "confirm": {"1"}}).Expect(t, http.StatusSeeOther)
	empty := e.admin.Get(sub+"/computers?q=Maria").Expect(t, http.StatusOK)
	apptest.MustContain(t, empty.Text(".panel.empty"), "Tick “Include deactivated”")
	if strings.Contains(empty.Text(".panel.empty"), "yet") {
		t.Errorf("empty list after a deactivation: %q", empty.Text(".panel.empty"))
	}

	// No mail server: the invitations page and the operator say so.
	inv := e.admin.Get(sub+"/invitations").Expect(t, http.StatusOK)
	apptest.MustContain(t, inv.Text("#no-mail-server-invitations"), "No mail server configured")
	apptest.MustContain(t, inv.Text("table.invitations tbody"), "no mail server configured — the operator's outbox holds it")
	apptest.MustContain(t, e.admin.Get(acct).Text("#no-mail-server"), "waits in the outbox")
	if e.user.Get(acct).Has("#no-mail-server") {
		t.Error("a plain user is told about the operator's mail server")
	}

	// Error pages: the signed-in header, not "Sign in".
	for name, page := range map[string]*apptest.Response{
		"404":       e.user.Get("/no-such-page"),
		"acs error": e.user.Post("/saml/"+e.acct+"/acs", url.Values{"SAMLResponse": {"bm90IGEgcmVzcG9uc2U="}}),
	} {
		if page.Status < 400 || page.Status >= 500 {
			t.Errorf("%s: status %d", name, page.Status)
		}
		if !page.Has("header.top .who") || page.Has(`header.top a[href="/signin"]`) {
			t.Errorf("%s: header of a signed-out visitor for a signed-in person", name)
		}
	}
	if anon := apptest.NewClient(t, node.URL).Get("/no-such-page"); !anon.Has(`header.top a[href="/signin"]`) {
		t.Error("404 for a visitor: no Sign in link")
	}
}
