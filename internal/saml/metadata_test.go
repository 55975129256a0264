package saml

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func b64(k *keyPair) string { return base64.StdEncoding.EncodeToString(k.cert.Raw) }

// wrapLines breaks base64 into 64-column lines as IdP consoles show it.
func wrapLines(s string) string {
	var b strings.Builder
	for len(s) > 64 {
		b.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	b.WriteString(s)
	return b.String()
}

func TestParseCertificates(t *testing.T) {
	k1, k2 := testKey(t, "idp"), testKey(t, "idp2")
	expired := makeKeyPair("", "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	future := makeKeyPair("", "future", time.Now().Add(24*time.Hour), time.Now().Add(48*time.Hour))
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak := certFor("", "weak", rsa1024, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	cases := []struct {
		name  string
		input string
		n     int    // certificates expected
		err   string // substring of the error, when one is expected
	}{
		{"one PEM", k1.certPEM, 1, ""},
		{"two PEM blocks", k1.certPEM + "\n" + k2.certPEM, 2, ""},
		{"same cert twice", k1.certPEM + k1.certPEM, 1, ""},
		{"PEM with CRLF and indentation", "  " + strings.ReplaceAll(k1.certPEM, "\n", "\r\n"), 1, ""},
		{"bare base64 DER", b64(k1), 1, ""},
		{"bare base64 DER wrapped", wrapLines(b64(k1)) + "\n", 1, ""},
		{"empty", "  \n", 0, "no certificate given"},
		{"garbage PEM", "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n", 0, "not a certificate"},
		{"PEM of random bytes", "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n", 0, "not a certificate (block 1)"},
		{"private key", k1.keyPEM, 0, "private key, not a certificate"},
		{"public key", "-----BEGIN PUBLIC KEY-----\nAAECAwQFBgcICQ==\n-----END PUBLIC KEY-----\n", 0, `"PUBLIC KEY", not a certificate`},
		{"text after the PEM", k1.certPEM + "hello", 0, "unexpected text after PEM block 1"},
		{"not base64", "hello world", 0, "expected PEM"},
		{"expired", expired.certPEM, 0, "expired on " + expired.cert.NotAfter.UTC().Format("2006-01-02")},
		{"not yet valid", future.certPEM, 0, "is not valid before"},
		{"1024-bit RSA", weak.certPEM, 0, "1024-bit RSA key"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			certs, err := ParseCertificates(c.input)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to contain %q", err, c.err)
				}
				return
			}
			if err != nil || len(certs) != c.n {
				t.Fatalf("got %d certs, err %v; want %d", len(certs), err, c.n)
			}
		})
	}
}

const mdHead = `<?xml version="1.0" encoding="utf-8"?>`

func idpMetadata(entityID string, ssos [][2]string, keys string) string {
	var s strings.Builder
	s.WriteString(`<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" entityID="` + entityID + `">`)
	s.WriteString(`<IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">`)
	s.WriteString(keys)
	for _, sso := range ssos {
		s.WriteString(`<SingleSignOnService Binding="` + sso[0] + `" Location="` + sso[1] + `"/>`)
	}
	s.WriteString(`</IDPSSODescriptor></EntityDescriptor>`)
	return s.String()
}

func keyDescriptor(use string, k *keyPair) string {
	u := ""
	if use != "" {
		u = ` use="` + use + `"`
	}
	return `<KeyDescriptor` + u + `><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>` +
		wrapLines(b64(k)) + `</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`
}

func TestParseIdPMetadata(t *testing.T) {
	k1, k2, other := testKey(t, "idp"), testKey(t, "idp2"), testKey(t, "attacker")
	expired := makeKeyPair("", "old", time.Now().Add(-48*time.Hour), time.Now().Add(-24*time.Hour))
	both := [][2]string{{BindingPOST, "https://login.example.test/post"}, {BindingRedirect, "https://login.example.test/redirect"}}
	entra := idpMetadata("https://sts.windows.net/72f988bf/", both, keyDescriptor("signing", k1))
	cases := []struct {
		name     string
		xml      string
		entityID string
		ssoURL   string
		binding  string
		certs    int
		err      string
	}{
		{"Entra-like, redirect preferred", mdHead + entra, "https://sts.windows.net/72f988bf/", "https://login.example.test/redirect", SSOBindingRedirect, 1, ""},
		{"POST only", idpMetadata("urn:idp", both[:1], keyDescriptor("", k1)), "urn:idp", "https://login.example.test/post", SSOBindingPOST, 1, ""},
		{"two signing certs, encryption cert ignored", idpMetadata("urn:idp", both, keyDescriptor("signing", k1)+keyDescriptor("", k2)+keyDescriptor("encryption", other)), "urn:idp", "https://login.example.test/redirect", SSOBindingRedirect, 2, ""},
		{"expired cert beside a current one", idpMetadata("urn:idp", both, keyDescriptor("signing", expired)+keyDescriptor("signing", k1)), "urn:idp", "https://login.example.test/redirect", SSOBindingRedirect, 1, ""},
		{"prefixed md: namespace", `<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="urn:idp"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + b64(k1) + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="` + BindingRedirect + `" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>`, "urn:idp", "https://idp.test/sso", SSOBindingRedirect, 1, ""},
		{"EntitiesDescriptor with one IdP and an SP", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + strings.Replace(string(SPMetadata(SPSettings{EntityID: "urn:sp", ACSURL: "https://sp.test/acs"})), `<?xml version="1.0" encoding="UTF-8"?>`, "", 1) + entra + `</EntitiesDescriptor>`, "https://sts.windows.net/72f988bf/", "https://login.example.test/redirect", SSOBindingRedirect, 1, ""},
		{"EntitiesDescriptor with two IdPs", `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata">` + entra + strings.Replace(entra, "72f988bf", "other", 1) + `</EntitiesDescriptor>`, "", "", "", 0, "describes 2 identity providers"},
		{"DTD", `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>` + entra, "", "", "", 0, "DTD"},
		{"only cert expired", idpMetadata("urn:idp", both, keyDescriptor("signing", expired)), "", "", "", 0, "expired on " + expired.cert.NotAfter.UTC().Format("2006-01-02")},
		{"no signing cert", idpMetadata("urn:idp", both, keyDescriptor("encryption", k1)), "", "", "", 0, "no signing certificate"},
		{"garbage cert", idpMetadata("urn:idp", both, `<KeyDescriptor use="signing"><KeyInfo xmlns="http://www.w3.org/2000/09/xmldsig#"><X509Data><X509Certificate>AAAA</X509Certificate></X509Data></KeyInfo></KeyDescriptor>`), "", "", "", 0, "not a certificate"},
		{"no SSO service", idpMetadata("urn:idp", nil, keyDescriptor("signing", k1)), "", "", "", 0, "no SingleSignOnService"},
		{"only SOAP SSO", idpMetadata("urn:idp", [][2]string{{"urn:oasis:names:tc:SAML:2.0:bindings:SOAP", "https://idp.test/soap"}}, keyDescriptor("signing", k1)), "", "", "", 0, "HTTP-Redirect or HTTP-POST"},
		{"SP metadata", string(SPMetadata(SPSettings{EntityID: "urn:sp", ACSURL: "https://sp.test/acs"})), "", "", "", 0, "service provider"},
		{"not SAML", `<html><body>Sign in</body></html>`, "", "", "", 0, "not SAML 2.0 metadata"},
		{"not XML", `{"issuer": "https://idp"}`, "", "", "", 0, "not valid XML"},
		{"empty", ``, "", "", "", 0, "empty"},
		{"no entityID", strings.Replace(entra, `entityID="https://sts.windows.net/72f988bf/"`, "", 1), "", "", "", 0, "no entityID"},
		{"javascript SSO URL", idpMetadata("urn:idp", [][2]string{{BindingRedirect, "javascript:alert(1)"}}, keyDescriptor("signing", k1)), "", "", "", 0, "not an http(s) URL"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			idp, err := ParseIdPMetadata([]byte(c.xml))
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want it to contain %q", err, c.err)
				}
				t.Logf("%v", err)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if idp.EntityID != c.entityID || idp.SSOURL != c.ssoURL || idp.SSOBinding != c.binding || len(idp.Certificates) != c.certs {
				t.Fatalf("got %q %q %q %d certs", idp.EntityID, idp.SSOURL, idp.SSOBinding, len(idp.Certificates))
			}
		})
	}
}

func TestSPMetadata(t *testing.T) {
	sp := SPSettings{EntityID: "https://gatehouse.test/saml/a&b", ACSURL: "https://gatehouse.test/saml/a/acs"}
	doc, r := parseStrict(SPMetadata(sp))
	if r != nil {
		t.Fatal(r)
	}
	root := doc.Root()
	if !is(root, nsMetadata, "EntityDescriptor") || attr(root, "entityID") != sp.EntityID {
		t.Fatalf("root %s entityID %q", root.Tag, attr(root, "entityID"))
	}
	sd := children(root, nsMetadata, "SPSSODescriptor")[0]
	if attr(sd, "AuthnRequestsSigned") != "false" || attr(sd, "WantAssertionsSigned") != "true" {
		t.Error("signing flags")
	}
	var formats []string
	for _, f := range children(sd, nsMetadata, "NameIDFormat") {
		formats = append(formats, text(f))
	}
	if strings.Join(formats, " ") != NameIDFormatEmail+" "+NameIDFormatPersistent+" "+NameIDFormatUnspecified {
		t.Errorf("formats %q", formats)
	}
	acs := children(sd, nsMetadata, "AssertionConsumerService")
	if len(acs) != 1 || attr(acs[0], "Binding") != BindingPOST || attr(acs[0], "Location") != sp.ACSURL {
		t.Error("ACS")
	}
}
