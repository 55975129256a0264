package web_test

import (
	"bytes"
	"compress/flate"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
)

const sigAlgRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"

// spSigningCert is the certificate of a KeyDescriptor use="signing" in SP
// metadata, and whether the metadata states AuthnRequestsSigned="true".
func spSigningCert(t *testing.T, md string) (cert string, signed bool) {
	t.Helper()
	const open, end = "<ds:X509Certificate>", "</ds:X509Certificate>"
	i, j := strings.Index(md, open), strings.Index(md, end)
	if !strings.Contains(md, `<md:KeyDescriptor use="signing">`) || i < 0 || j < i {
		t.Fatalf("SP metadata without a signing certificate:\n%s", md)
	}
	return md[i+len(open) : j], strings.Contains(md, `AuthnRequestsSigned="true"`)
}

// TestSSOSignedAuthnRequests: the IdP (samlify) requires signed
// AuthnRequests and says so in its metadata; Gatehouse learns it from the
// uploaded metadata, publishes its signing certificate in the SP metadata
// the IdP trusts, signs the HTTP-Redirect request, and samlify verifies it
// with that certificate: the sign-in succeeds.
func TestSSOSignedAuthnRequests(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixtureWith(t, dbURL, dns, testenv.SAMLIdPOptions{WantAuthnRequestsSigned: true})
		settings, err := f.node.App.IdP.IdPSettings(context.Background(), f.account)
		if err != nil || !settings.WantAuthnRequestsSigned {
			t.Fatalf("the uploaded metadata's WantAuthnRequestsSigned was not stored: %v", err)
		}

		// The metadata the IdP downloaded and the configurator's download
		// carry the same certificate and say the requests are signed.
		served := apptest.NewClient(t, f.node.URL).Get("/saml/"+f.account+"/metadata").Expect(t, http.StatusOK)
		cert, signed := spSigningCert(t, served.Body)
		download := f.admin.Get("/accounts/"+f.account+"/idp/sp-metadata.xml").Expect(t, http.StatusOK)
		cert2, signed2 := spSigningCert(t, download.Body)
		if cert != cert2 || !signed || !signed2 {
			t.Fatalf("served and downloaded metadata differ, or do not say AuthnRequestsSigned=\"true\" (%v, %v)", signed, signed2)
		}
		page := f.admin.Get("/accounts/"+f.account+"/idp?open=4").Expect(t, http.StatusOK)
		if !page.Has("#f-idp_signed_requests[checked]") {
			t.Fatal("step 4's checkbox does not show that the IdP requires signed requests")
		}
		if page.Text(".sp-signing-fp") == "" {
			t.Fatal("step 4 does not show the signing certificate's fingerprint")
		}

		ida := apptest.NewClient(t, f.node.URL)
		r := startSSO(t, ida, "ida.admin@corp.example")
		loc, err := url.Parse(r.Location)
		if err != nil {
			t.Fatal(err)
		}
		if loc.Query().Get("SigAlg") != sigAlgRSASHA256 || loc.Query().Get("Signature") == "" {
			t.Fatalf("the AuthnRequest is not signed with RSA-SHA256: %s", r.Location)
		}
		acs, form := f.idp.SignIn(t, ida.HTTP, r.Location, "ida.admin@corp.example", "idp-pass")
		ida.PostRaw(acs, form).Expect(t, http.StatusSeeOther)
		ida.Get("/accounts/"+f.account+"/audit").Expect(t, http.StatusOK) // signed in, as an admin
	})
}

// rewriteRequest inflates the SAMLRequest of an HTTP-Redirect URL, changes
// its XML and puts it back, keeping SigAlg and Signature.
func rewriteRequest(t *testing.T, redirect string, change func(string) string) string {
	t.Helper()
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	raw, err := base64.StdEncoding.DecodeString(q.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	xml, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	changed := change(string(xml))
	if changed == string(xml) {
		t.Fatal("the change changed nothing")
	}
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.DefaultCompression)
	_, _ = w.Write([]byte(changed))
	_ = w.Close()
	q.Set("SAMLRequest", base64.StdEncoding.EncodeToString(b.Bytes()))
	u.RawQuery = q.Encode()
	return u.String()
}

// TestSSOTamperedSignedRequestRefusedByIdP: samlify refuses an AuthnRequest
// whose signature does not cover what arrives, and an unsigned one — also
// when Gatehouse was told (step 4's checkbox, unticked) that the IdP does
// not want signatures.
func TestSSOTamperedSignedRequestRefusedByIdP(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixtureWith(t, dbURL, dns, testenv.SAMLIdPOptions{WantAuthnRequestsSigned: true})
		c := apptest.NewClient(t, f.node.URL)
		genuine := startSSO(t, c, "ida.admin@corp.example").Location
		u, _ := url.Parse(genuine)
		q := u.Query()
		without := func(keys ...string) string {
			v := u.Query()
			for _, k := range keys {
				v.Del(k)
			}
			w := *u
			w.RawQuery = v.Encode()
			return w.String()
		}
		with := func(k, val string) string {
			v := u.Query()
			v.Set(k, val)
			w := *u
			w.RawQuery = v.Encode()
			return w.String()
		}
		refused := func(t *testing.T, redirect, want string) {
			t.Helper()
			_, _, err := f.idp.TrySignIn(c.HTTP, redirect, "ida.admin@corp.example", "idp-pass")
			var se *testenv.SignInError
			if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(se.Message, want) {
				t.Fatalf("got %v, want the IdP to refuse with %q", err, want)
			}
		}
		const badSignature = "ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION"
		for name, tc := range map[string]struct{ url, want string }{
			"ACS URL changed": {rewriteRequest(t, genuine, func(x string) string {
				return strings.Replace(x, "/acs\"", "/acs?evil=1\"", 1)
			}), badSignature},
			"request ID changed": {rewriteRequest(t, genuine, func(x string) string { return strings.Replace(x, `ID="_`, `ID="_0`, 1) }), badSignature},
			"RelayState changed": {with("RelayState", q.Get("RelayState")+"x"), badSignature},
			"SigAlg changed":     {with("SigAlg", "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"), badSignature},
			"signature removed":  {without("Signature", "SigAlg"), "requires signed AuthnRequests"},
		} {
			t.Run(name, func(t *testing.T) { refused(t, tc.url, tc.want) })
		}
		// The genuine request still signs in: only the tampering was refused.
		acs, form := f.idp.SignIn(t, c.HTTP, genuine, "ida.admin@corp.example", "idp-pass")
		c.PostRaw(acs, form).Expect(t, http.StatusSeeOther)

		// The admin unticks "The IdP requires signed authentication
		// requests": the requests go unsigned and this IdP refuses them.
		in, err := f.node.App.IdP.Integration(context.Background(), f.account)
		if err != nil {
			t.Fatal(err)
		}
		base := "/accounts/" + f.account + "/idp"
		saml4 := url.Values{"idp_entity_id": {in.IdPEntityID}, "idp_sso_url": {in.IdPSSOURL}, "idp_certificate": {in.IdPCertsPEM}}
		f.admin.Post(base+"/saml", saml4).Expect(t, http.StatusSeeOther)
		if f.admin.Get(base + "?open=4").Has("#f-idp_signed_requests[checked]") {
			t.Fatal("the checkbox is still ticked")
		}
		md := apptest.NewClient(t, f.node.URL).Get("/saml/" + f.account + "/metadata").Body
		if _, signed := spSigningCert(t, md); signed {
			t.Fatal(`the SP metadata still says AuthnRequestsSigned="true"`)
		}
		unsigned := apptest.NewClient(t, f.node.URL)
		r := startSSO(t, unsigned, "ida.admin@corp.example")
		if strings.Contains(r.Location, "Signature=") {
			t.Fatalf("signed although the IdP is configured not to want it: %s", r.Location)
		}
		refused(t, r.Location, "requires signed AuthnRequests")

		// Ticked again: signed, and the sign-in works.
		saml4.Set("idp_signed_requests", "1")
		done := f.admin.Post(base+"/saml", saml4).Expect(t, http.StatusSeeOther)
		if !f.admin.Get(done.Location).Has("#f-idp_signed_requests[checked]") {
			t.Fatal("the checkbox is not ticked after saving it ticked")
		}
		again := apptest.NewClient(t, f.node.URL)
		r = startSSO(t, again, "ida.admin@corp.example")
		acs, form = f.idp.SignIn(t, again.HTTP, r.Location, "ida.admin@corp.example", "idp-pass")
		again.PostRaw(acs, form).Expect(t, http.StatusSeeOther)
	})
}

// TestSSOSigningKeySharedByNodes: every node signs with the one credential
// made by the first (it lives in the settings table), so any node can start
// a sign-in the IdP verifies with the certificate it downloaded once.
func TestSSOSigningKeySharedByNodes(t *testing.T) {
	dns := testenv.DNS(t)
	dbURL := testenv.PostgresURL(t)
	f := newSSOFixtureWith(t, dbURL, dns, testenv.SAMLIdPOptions{WantAuthnRequestsSigned: true})
	nodeB := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) {
		c.DNSServer = dns.Addr
		c.PublicURL = f.node.URL
	}})
	if !nodeB.App.IdP.SPSigningCert.Equal(f.node.App.IdP.SPSigningCert) {
		t.Fatal("the two nodes have different signing certificates")
	}
	// Node B signs the request; the IdP verifies it with the certificate
	// of the metadata it downloaded from node A; node A's ACS accepts.
	c := apptest.NewClient(t, nodeB.URL)
	r := startSSO(t, c, "ida.admin@corp.example")
	acs, form := f.idp.SignIn(t, c.HTTP, r.Location, "ida.admin@corp.example", "idp-pass")
	if !strings.HasPrefix(acs, f.node.URL+"/") {
		t.Fatalf("ACS %s", acs)
	}
	jarCookies(t, c, nodeB.URL, f.node.URL)
	c.PostRaw(acs, form).Expect(t, http.StatusSeeOther)
}
