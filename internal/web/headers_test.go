package web_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/testenv"
)

// formAction returns the form-action directive of a response's CSP.
func formAction(t *testing.T, r *apptest.Response) string {
	t.Helper()
	for _, d := range strings.Split(r.Header.Get("Content-Security-Policy"), ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(d), "form-action "); ok {
			return v
		}
	}
	t.Fatalf("%s: no form-action in CSP %q", r.URL, r.Header.Get("Content-Security-Policy"))
	return ""
}

// TestSecurityHeaders: forms may post only to Gatehouse (CSP form-action
// 'self'), except the page that hands a sign-in to an HTTP-POST-binding IdP,
// which may post to that IdP's SSO URL and nowhere else; every CSV export
// and every page is no-store; HSTS is sent exactly when the public URL is
// https.
func TestSecurityHeaders(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		acct := "/accounts/" + f.account
		anon := apptest.NewClient(t, f.node.URL)
		for _, r := range []*apptest.Response{
			anon.Get("/signin"), anon.Get("/signup"), anon.Get("/sso"), anon.Get("/password/forgot"),
			f.admin.Get(acct), f.admin.Get(acct + "/idp"), f.admin.Get(acct + "/users"), f.admin.Get("/personal"),
			anon.Get("/no/such/page"),
		} {
			if got := formAction(t, r); got != "'self'" {
				t.Errorf("%s: form-action %s; want 'self' only", r.URL, got)
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q", r.URL, cc)
			}
			if h := r.Header.Get("Strict-Transport-Security"); h != "" {
				t.Errorf("%s: HSTS %q on a plain-http deployment", r.URL, h)
			}
		}

		// Every export.
		sub := ""
		f.admin.Get(acct + "/licenses").Doc.Find(`a[href*="/licenses/"]`).Each(func(_ int, s *goquerySelection) {
			if id := subscriptionFromLocation(t, s.AttrOr("href", "")); sub == "" && ids.Valid(id) {
				sub = id
			}
		})
		if sub == "" {
			t.Fatal("no subscription listed")
		}
		for _, p := range []string{acct + "/audit.csv", acct + "/users/licensed.csv",
			acct + "/licenses/" + sub + "/computers.csv", acct + "/licenses/" + sub + "/invitations.csv"} {
			r := f.admin.Get(p).Expect(t, http.StatusOK)
			if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
				t.Errorf("%s: Content-Type %q", p, r.Header.Get("Content-Type"))
			}
			if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s: Cache-Control %q; want no-store", p, cc)
			}
		}

		// The IdP switches to the HTTP-POST binding (its SSO URL is a small
		// server here that shows what it received): the hand-over page may
		// post to that URL, and only that page.
		got := make(chan string, 4)
		postIdP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost && r.URL.Path == "/sso" && r.PostFormValue("SAMLRequest") != "" {
				got <- r.PostFormValue("SAMLRequest")
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				_, _ = w.Write([]byte(`<!doctype html><h1 id="idp-got">SAMLRequest received</h1>`))
				return
			}
			http.Error(w, "not the IdP's SSO endpoint", http.StatusNotFound)
		}))
		defer postIdP.Close()
		ssoURL := postIdP.URL + "/sso"
		orig := string(f.idp.MetadataXML())
		md := strings.Replace(orig, `Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="`+f.idp.SSOURL+`"`,
			`Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="`+ssoURL+`"`, 1)
		if md == orig {
			t.Fatalf("the IdP metadata names no HTTP-Redirect SSO service at %s:\n%s", f.idp.SSOURL, orig)
		}
		owner, err := f.node.App.Accounts.PersonByEmail(context.Background(), "owner@corp.example")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.node.App.IdP.UploadMetadata(context.Background(), f.account, []byte(md), audit.Actor{Type: audit.ActorPerson, ID: owner.ID}); err != nil {
			t.Fatal(err)
		}
		c := apptest.NewClient(t, f.node.URL)
		r := c.Post("/sso", map[string][]string{"email": {"ida.admin@corp.example"}}).Expect(t, http.StatusOK)
		if action := r.Doc.Find("form#saml-post").AttrOr("action", ""); action != ssoURL {
			t.Fatalf("POST-binding form posts to %q, want %q", action, ssoURL)
		}
		if got := formAction(t, r); got != "'self' "+ssoURL {
			t.Errorf("POST-binding hand-over: form-action %s; want 'self' %s", got, ssoURL)
		}
		if got := formAction(t, c.Get("/sso")); got != "'self'" {
			t.Errorf("after a POST-binding hand-over the SSO form allows %s", got)
		}

		// In a real browser, the hand-over reaches the IdP under this policy.
		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 60*time.Second)
		defer cancel()
		run(t, ctx,
			chromedp.Navigate(f.node.URL+"/sso"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "ida.admin@corp.example"),
			chromedp.Submit(chromedp.CSS("#f-email")),
			chromedp.WaitVisible(chromedp.CSS("#idp-got")),
		)
		if req := <-got; req == "" {
			t.Fatal("the IdP got no SAMLRequest")
		}
	})

	// HSTS when the public URL is https.
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db", apptest.Options{Configure: func(c *app.Config) { c.PublicURL = "https://gatehouse.example" }})
	c := apptest.NewClient(t, node.URL)
	for _, p := range []string{"/signin", "/healthz", "/no/such/page"} {
		if h := c.Get(p).Header.Get("Strict-Transport-Security"); h != "max-age=31536000" {
			t.Errorf("%s on an https deployment: HSTS %q", p, h)
		}
	}
}

// TestOutputEncoding: markup typed into names comes back as text on every
// page that shows it (html/template escaping), never as elements.
func TestOutputEncoding(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		const script, img = `"><script>alert(1)</script>`, `<img src=x onerror=alert(2)>`
		c := apptest.NewClient(t, node.URL)
		c.SignUp("markup@corp.example", pw, img)
		acct := c.CreateAccount(script)
		for _, p := range []string{"/personal", "/accounts/" + acct, "/accounts/" + acct + "/users", "/accounts/" + acct + "/audit", "/accounts/" + acct + "/profile"} {
			r := c.Get(p).Expect(t, http.StatusOK)
			if strings.Contains(r.Body, "<script>alert(1)") || strings.Contains(r.Body, "<img src=x") {
				t.Errorf("%s: markup from a name is in the page unescaped", p)
			}
			if r.Doc.Find("img[onerror]").Length() > 0 || strings.Contains(r.Doc.Find("script").Text(), "alert(") {
				t.Errorf("%s: a name became an element", p)
			}
		}
		apptest.MustContain(t, c.Get("/personal").Text("main"), script) // shown, as text
	})
}
