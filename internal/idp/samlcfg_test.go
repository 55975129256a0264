package idp_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/idp"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// idpMetadata renders IdP metadata with one KeyDescriptor per certificate.
func idpMetadata(entity, sso string, certs ...*x509.Certificate) string {
	var keys strings.Builder
	for _, c := range certs {
		fmt.Fprintf(&keys, `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>%s</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`, b64Of(c))
	}
	return fmt.Sprintf(`<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="%s">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">%s
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="%s/post"/>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="%s"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`, entity, keys.String(), sso, sso)
}

// TestMetadataWithTwoCertificates: an IdP in the middle of a certificate
// rotation publishes two signing certificates; both are stored and handed
// to the SAML validator, and the one about to expire is flagged.
func TestMetadataWithTwoCertificates(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		acct, _, actor := e.startedAccount("Rotating", idp.ProviderEntra)
		now := time.Now()
		old := testCert(t, "Old signing", now.Add(-300*24*time.Hour), now.Add(10*24*time.Hour))
		next := testCert(t, "New signing", now.Add(-time.Hour), now.Add(3*365*24*time.Hour))
		xml := idpMetadata("https://sts.windows.net/tenant-1/", "https://login.microsoftonline.com/tenant-1/saml2", old, next)

		got, err := e.svc.UploadMetadata(ctx, acct, []byte(xml), actor)
		if err != nil {
			t.Fatal(err)
		}
		if got.EntityID != "https://sts.windows.net/tenant-1/" || got.SSOBinding != saml.SSOBindingRedirect || len(got.Certificates) != 2 {
			t.Fatalf("parsed %+v", got)
		}
		settings, err := e.svc.IdPSettings(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if settings.SSOURL != "https://login.microsoftonline.com/tenant-1/saml2" || len(settings.Certificates) != 2 ||
			!settings.Certificates[0].Equal(old) || !settings.Certificates[1].Equal(next) {
			t.Fatalf("stored settings %+v", settings)
		}
		in, _ := e.svc.Integration(ctx, acct)
		certs := e.svc.Certificates(in)
		if len(certs) != 2 || !certs[0].ExpiresSoon || certs[0].DaysLeft > 10 || certs[1].ExpiresSoon || certs[1].Expired {
			t.Fatalf("certificate flags %+v", certs)
		}
		o, err := e.svc.Overview(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(o.Steps[3].Warning, "expires in") {
			t.Fatalf("step 4 warning %q", o.Steps[3].Warning)
		}
		// Pasting both certificates by hand stores both as well.
		if err := e.svc.SaveSAML(ctx, acct, idp.SAMLInput{EntityID: "urn:example:idp", SSOURL: "https://idp.example.com/sso",
			Certificates: pemOf(next) + "\n" + pemOf(old)}, actor); err != nil {
			t.Fatal(err)
		}
		if s2, _ := e.svc.IdPSettings(ctx, acct); len(s2.Certificates) != 2 || s2.EntityID != "urn:example:idp" {
			t.Fatalf("pasted settings %+v", s2)
		}
		// Bare base64 (as IdPs display it) works too, one certificate.
		if err := e.svc.SaveSAML(ctx, acct, idp.SAMLInput{EntityID: "urn:example:idp", SSOURL: "https://idp.example.com/sso",
			Certificates: b64Of(next)[:40] + "\n" + b64Of(next)[40:]}, actor); err != nil {
			t.Fatal(err)
		}
		if s3, _ := e.svc.IdPSettings(ctx, acct); len(s3.Certificates) != 1 || !s3.Certificates[0].Equal(next) {
			t.Fatalf("base64 settings %+v", s3)
		}
		acts := auditActions(t, db, acct)
		if !contains(acts, "idp.metadata_uploaded") || !contains(acts, "idp.saml_settings_saved") {
			t.Fatalf("audit %v", acts)
		}
	})
}

func TestSAMLBadInput(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	e := newEnv(t, db, nil)
	acct, _, actor := e.startedAccount("Bad", idp.ProviderOkta)
	now := time.Now()
	good := testCert(t, "Good", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	expired := testCert(t, "Expired", now.Add(-400*24*time.Hour), now.Add(-24*time.Hour))

	for name, c := range map[string]struct {
		in    idp.SAMLInput
		field string
		want  string
	}{
		"garbage pem":    {idp.SAMLInput{Certificates: "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----"}, "idp_certificate", "not a certificate"},
		"garbage text":   {idp.SAMLInput{Certificates: "hello world"}, "idp_certificate", "not a certificate"},
		"private key":    {idp.SAMLInput{Certificates: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"}, "idp_certificate", "private key"},
		"expired":        {idp.SAMLInput{Certificates: pemOf(expired)}, "idp_certificate", "expired"},
		"http sso":       {idp.SAMLInput{SSOURL: "http://idp.example.com/sso"}, "idp_sso_url", "https"},
		"not a url":      {idp.SAMLInput{SSOURL: "idp.example.com/sso"}, "idp_sso_url", "not a web address"},
		"entity spaces":  {idp.SAMLInput{EntityID: "my idp"}, "idp_entity_id", "spaces"},
		"url with creds": {idp.SAMLInput{SSOURL: "https://u:p@idp.example.com/"}, "idp_sso_url", "user name"},
	} {
		err := e.svc.SaveSAML(ctx, acct, c.in, actor)
		var fe *idp.FieldError
		if !errors.As(err, &fe) || fe.Field != c.field || !strings.Contains(strings.ToLower(fe.Message), strings.ToLower(c.want)) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Loopback http is fine for local testing.
	if err := e.svc.SaveSAML(ctx, acct, idp.SAMLInput{SSOURL: "http://127.0.0.1:9000/sso"}, actor); err != nil {
		t.Errorf("loopback http: %v", err)
	}

	sp := string(saml.SPMetadata(e.svc.SPSettings(acct)))
	for name, c := range map[string]struct{ xml, want string }{
		"empty":        {"", "Choose the metadata"},
		"not xml":      {"this is not xml", "not valid XML"},
		"not saml":     {`<?xml version="1.0"?><html><body>hi</body></html>`, "not SAML 2.0 metadata"},
		"dtd":          {`<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>` + idpMetadata("urn:x", "https://idp.example.com/sso", good)[len(`<?xml version="1.0"?>`):], "DTD"},
		"sp metadata":  {sp, "service provider"},
		"no cert":      {idpMetadata("urn:x", "https://idp.example.com/sso"), "no signing certificate"},
		"expired cert": {idpMetadata("urn:x", "https://idp.example.com/sso", expired), "expired"},
		"http sso":     {idpMetadata("urn:x", "http://idp.example.com/sso", good), "https"},
	} {
		_, err := e.svc.UploadMetadata(ctx, acct, []byte(c.xml), actor)
		var fe *idp.FieldError
		if !errors.As(err, &fe) || fe.Field != "metadata" || !strings.Contains(fe.Message+" "+fe.Detail, c.want) {
			t.Errorf("%s: %v", name, err)
		}
		// Files that are no metadata at all get a plain instruction; the
		// parser's words stay in the detail.
		if (name == "not xml" || name == "not saml") && (!strings.HasPrefix(fe.Message, "This file is not SAML metadata. In Okta") || strings.Contains(fe.Message, "root element") || strings.Contains(fe.Message, "not valid XML")) {
			t.Errorf("%s: message %q", name, fe.Message)
		}
	}
	in, _ := e.svc.Integration(ctx, acct)
	if in.IdPEntityID != "" || in.IdPCertsPEM != "" {
		t.Fatalf("refused input was stored: %+v", in)
	}
}

func TestSPSettings(t *testing.T) {
	svc := idp.New(nil, idp.Config{PublicURL: "https://gh.example.com/"}, nil, nil)
	sp := svc.SPSettings("0190-acct")
	if sp.EntityID != "https://gh.example.com/saml/0190-acct/metadata" || sp.ACSURL != "https://gh.example.com/saml/0190-acct/acs" {
		t.Fatalf("%+v", sp)
	}
	if svc.SCIMBaseURL() != "https://gh.example.com/scim/v2" {
		t.Fatal(svc.SCIMBaseURL())
	}
	md := string(saml.SPMetadata(svc.SPSettings("0190-acct")))
	if !strings.Contains(md, `entityID="https://gh.example.com/saml/0190-acct/metadata"`) || !strings.Contains(md, `Location="https://gh.example.com/saml/0190-acct/acs"`) {
		t.Fatal(md)
	}
}

// TestSignedRequestsSetting: whether the IdP wants signed AuthnRequests
// comes from its metadata or from step 4's checkbox, reaches the SAML
// settings, and decides what the account's SP metadata states.
func TestSignedRequestsSetting(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		text, err := saml.NewSigningCredential(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, spCert, err := saml.ParseSigningCredential(text)
		if err != nil {
			t.Fatal(err)
		}
		e.svc.SPSigningCert = spCert
		acct, _, actor := e.startedAccount("Signing", idp.ProviderOkta)
		idpCert := testCert(t, "IdP", time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))

		wants := func() bool {
			t.Helper()
			settings, err := e.svc.IdPSettings(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			md, err := e.svc.SPMetadata(ctx, acct)
			if err != nil {
				t.Fatal(err)
			}
			states := strings.Contains(string(md), `AuthnRequestsSigned="true"`)
			if states != settings.WantAuthnRequestsSigned {
				t.Fatalf("SP metadata states AuthnRequestsSigned=%v while the IdP wants signed requests: %v", states, settings.WantAuthnRequestsSigned)
			}
			if !strings.Contains(string(md), `<md:KeyDescriptor use="signing">`) || !strings.Contains(string(md), b64Of(spCert)) {
				t.Fatalf("SP metadata without the signing certificate:\n%s", md)
			}
			return settings.WantAuthnRequestsSigned
		}

		// Before any IdP value: metadata with the certificate, not signing.
		md, err := e.svc.SPMetadata(ctx, acct)
		if err != nil || !strings.Contains(string(md), `AuthnRequestsSigned="false"`) || !strings.Contains(string(md), b64Of(spCert)) {
			t.Fatalf("%v\n%s", err, md)
		}
		xml := idpMetadata("http://www.okta.com/exk1", "https://corp.okta.com/app/sso/saml", idpCert)
		signed := strings.Replace(xml, `<md:IDPSSODescriptor `, `<md:IDPSSODescriptor WantAuthnRequestsSigned="true" `, 1)
		if _, err := e.svc.UploadMetadata(ctx, acct, []byte(signed), actor); err != nil {
			t.Fatal(err)
		}
		if !wants() {
			t.Fatal("WantAuthnRequestsSigned from the metadata was not stored")
		}
		if _, err := e.svc.UploadMetadata(ctx, acct, []byte(xml), actor); err != nil {
			t.Fatal(err)
		}
		if wants() {
			t.Fatal("metadata without WantAuthnRequestsSigned left it on")
		}
		in := idp.SAMLInput{EntityID: "http://www.okta.com/exk1", SSOURL: "https://corp.okta.com/app/sso/saml",
			Certificates: "-----BEGIN CERTIFICATE-----\n" + b64Of(idpCert) + "\n-----END CERTIFICATE-----\n", WantAuthnRequestsSigned: true}
		if err := e.svc.SaveSAML(ctx, acct, in, actor); err != nil {
			t.Fatal(err)
		}
		if !wants() {
			t.Fatal("the ticked checkbox was not stored")
		}
		in.WantAuthnRequestsSigned = false
		if err := e.svc.SaveSAML(ctx, acct, in, actor); err != nil {
			t.Fatal(err)
		}
		if wants() {
			t.Fatal("the unticked checkbox was not stored")
		}
		// The change is audited.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = 'idp.saml_settings_saved'
			AND before_json LIKE '%"signed_requests":true%' AND after_json LIKE '%"signed_requests":false%'`, acct).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d audit entries for switching signed requests off", n)
		}
	})
}
