package web_test

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
)

// idpUpload submits a file upload form with the CSRF token.
func idpUpload(t *testing.T, c *apptest.Client, path, field, filename string, content []byte) *apptest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	idpMust(t, mw.WriteField("csrf_token", c.CSRF()))
	fw, err := mw.CreateFormFile(field, filename)
	idpMust(t, err)
	_, _ = fw.Write(content)
	idpMust(t, mw.Close())
	req, _ := http.NewRequest(http.MethodPost, c.Base+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := c.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	html, _ := doc.Html()
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: html, Doc: doc, Location: resp.Header.Get("Location"), URL: req.URL.String()}
}

// TestIdPConfiguratorOverHTTP covers what the browser walk does not:
// availability, access, inline errors for bad input, the token shown once,
// refusals of incomplete activation and of forged or foreign requests.
func TestIdPConfiguratorOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("ada@http-idp.test", pw, "Ada")
		acct := admin.CreateAccount("HTTP IdP Corp")
		base := "/accounts/" + acct + "/idp"

		// Admins see the entry; without a license key it says what to do.
		dash := admin.Get("/accounts/"+acct).Expect(t, http.StatusOK)
		if !dash.Has(`nav.side a[href="` + base + `"]`) {
			t.Fatal("no IdP Integration entry in the navigation")
		}
		page := admin.Get(base).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("main"), "Register a license key first")
		admin.Post(base+"/start", url.Values{"provider": {"okta"}}).Expect(t, http.StatusConflict)

		idpRegisterLicense(t, node, acct, "ada@http-idp.test")
		page = admin.Get(base).Expect(t, http.StatusOK)
		if page.Doc.Find(`input[name=provider]`).Length() != 6 {
			t.Fatalf("the chooser offers %d IdPs", page.Doc.Find(`input[name=provider]`).Length())
		}
		r := admin.Post(base+"/start", url.Values{"provider": {"keycloak"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text(".error-text"), "Choose your identity provider")
		admin.Post(base+"/start", url.Values{"provider": {"okta"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(base).Expect(t, http.StatusOK)
		if n := page.Doc.Find("details.idp-step").Length(); n != 7 {
			t.Fatalf("%d steps", n)
		}
		if !page.Has("details#step-1[open]") || page.Has("details#step-2[open]") {
			t.Fatal("the first incomplete step should be the open one")
		}
		if !page.Has("details#step-7.done") || page.Has("details#step-1.done") {
			t.Fatal("only step 7 (the default backup login) is complete at the start")
		}
		apptest.MustContain(t, admin.Get("/accounts/"+acct).Text(".cards"), "1 of 7 steps complete")

		// Changing the IdP changes the instructions.
		apptest.MustContain(t, page.Text("#step-2 .idp-guide"), "Create App Integration")
		admin.Post(base+"/provider", url.Values{"provider": {"jumpcloud"}}).Expect(t, http.StatusSeeOther)
		page = admin.Get(base+"?open=2").Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("#step-2 .idp-guide"), "Assertion and Response")
		if !page.Has("details#step-2[open]") {
			t.Fatal("?open=2 did not open step 2")
		}

		// Bad domains: refused with the reason, next to the field.
		for in, want := range map[string]string{"gmail.com": "public email service", "co.uk": "public suffix",
			"com": "public suffix", "bob@example.org": "part after the @", "not a domain": "spaces"} {
			r := admin.Post(base+"/domains", url.Values{"domain": {in}}).Expect(t, http.StatusUnprocessableEntity)
			apptest.MustContain(t, r.Text("#step-1 .error-text"), want)
			if v, _ := r.Doc.Find("#f-domain").Attr("value"); v != in {
				t.Errorf("typed domain %q not kept: %q", in, v)
			}
			if !r.Has("details#step-1[open]") {
				t.Error("the step with the error is not open")
			}
		}

		// Bad SAML input: refused with the reason; typed values kept.
		r = admin.Post(base+"/saml", url.Values{"idp_entity_id": {"urn:acme:idp"}, "idp_sso_url": {"https://idp.example.org/sso"},
			"idp_certificate": {"-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-idp_certificate"), "Not a certificate")
		if v, _ := r.Doc.Find("#f-idp_entity_id").Attr("value"); v != "urn:acme:idp" {
			t.Fatalf("entity ID not kept: %q", v)
		}
		r = idpUpload(t, admin, base+"/saml/metadata", "metadata", "evil.xml",
			[]byte(`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="x"/>`))
		r.Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Doc.Find("#e-metadata").Text(), "DTD")
		r = idpUpload(t, admin, base+"/saml/metadata", "metadata", "page.html", []byte(`<html><body>login</body></html>`))
		r.Expect(t, http.StatusUnprocessableEntity)
		// The admin reads what to do; the parser's reason is folded away.
		apptest.MustContain(t, r.Doc.Find("#e-metadata").Text(), "This file is not SAML metadata.")
		apptest.MustContain(t, r.Doc.Find("details.error-detail #e-metadata-detail").Text(), "not SAML 2.0 metadata")

		// Paths naming nothing are 404s.
		admin.Post(base+"/steps/3", url.Values{"done": {"1"}}).Expect(t, http.StatusNotFound)
		admin.Post(base+"/steps/x", url.Values{"done": {"1"}}).Expect(t, http.StatusNotFound)
		admin.Post(base+"/groups/owners", url.Values{"owners_name": {"x"}}).Expect(t, http.StatusNotFound)
		admin.Post(base+"/domains/01900000-0000-7000-8000-000000000000/verify", nil).Expect(t, http.StatusNotFound)

		// The SCIM token is in the generating response only.
		r = admin.Post(base+"/scim/token", nil).Expect(t, http.StatusOK)
		token := r.Text("#scim-token")
		if !strings.HasPrefix(token, "ghscim_") {
			t.Fatalf("token %q", token)
		}
		page = admin.Get(base+"?open=5").Expect(t, http.StatusOK)
		if strings.Contains(page.Body, token) || !strings.HasSuffix(token, strings.TrimPrefix(page.Text("#scim-token-masked"), "ghscim_…")) {
			t.Fatal("the token is shown again, or not masked")
		}
		apptest.MustContain(t, page.Text("#step-5 .idp-activity"), "No requests yet")
		r = admin.Post(base+"/scim/token", url.Values{"overlap": {"17m"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#step-5 .error-text"), "Choose how long")
		// Switching SCIM off completes step 5 (Google Workspace).
		admin.Post(base+"/scim", url.Values{}).Expect(t, http.StatusSeeOther)
		if page = admin.Get(base).Expect(t, http.StatusOK); !page.Has("details#step-5.done") {
			t.Fatal("step 5 not complete with SCIM off")
		}

		// Activation is refused while steps are open, with the reason.
		r = admin.Post(base+"/activate", nil).Expect(t, http.StatusConflict)
		apptest.MustContain(t, r.Text(".flash.error"), "still open: step 1, 2, 3, 4, 6")
		if r.Has(`form[action$="/activate"]`) {
			t.Fatal("Activate Integration is offered before all steps are green")
		}

		// A form without its CSRF token is refused.
		admin.PostRaw(base+"/activate", url.Values{}).Expect(t, http.StatusForbidden)

		// A plain member neither sees the entry nor reaches the pages.
		admin.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {"uma@http-idp.test"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
		uma := apptest.NewClient(t, node.URL)
		uma.SignUp("uma@http-idp.test", pw, "Uma")
		uma.Post(outboxLink(t, node.App.DB, "uma@http-idp.test", "/invites/"), nil).Expect(t, http.StatusSeeOther)
		if uma.Get("/accounts/"+acct).Expect(t, http.StatusOK).Has(`nav.side a[href="` + base + `"]`) {
			t.Fatal("a user sees the IdP Integration entry")
		}
		uma.Get(base).Expect(t, http.StatusForbidden)
		uma.Post(base+"/activate", nil).Expect(t, http.StatusForbidden)
		uma.Get(base+"/sp-metadata.xml").Expect(t, http.StatusForbidden)
	})
}
