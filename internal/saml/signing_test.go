package saml

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

const (
	algRSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	algSHA256     = "http://www.w3.org/2001/04/xmlenc#sha256"
	algExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	algEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	xmlsecRequest = "urn:oasis:names:tc:SAML:2.0:protocol:AuthnRequest"
)

var (
	signingOnce sync.Once
	signingKey  *rsa.PrivateKey
	signingCert *x509.Certificate
)

// testSigning returns one SP credential for the package's tests (RSA key
// generation takes a while).
func testSigning(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	signingOnce.Do(func() {
		text, err := NewSigningCredential(time.Now())
		if err != nil {
			panic(err)
		}
		signingKey, signingCert, err = ParseSigningCredential(text)
		if err != nil {
			panic(err)
		}
	})
	return signingKey, signingCert
}

// signingEnv is an env whose IdP wants signed AuthnRequests.
func signingEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	e := newEnv(t, db)
	e.idp.WantAuthnRequestsSigned = true
	e.svc.SigningKey, e.svc.SigningCert = testSigning(t)
	return e
}

func TestSigningCredential(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	text, err := NewSigningCredential(now)
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := ParseSigningCredential(text)
	if err != nil {
		t.Fatal(err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("key has %d bits", key.N.BitLen())
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed: %v", err)
	}
	if cert.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("certificate signed with %v", cert.SignatureAlgorithm)
	}
	if !cert.NotBefore.Before(now) || !cert.NotAfter.Equal(now.AddDate(10, 0, 0)) {
		t.Errorf("validity %v – %v", cert.NotBefore, cert.NotAfter)
	}
	// What the certificate is checked against when it is an IdP's
	// (saml.ParseCertificates): it must pass our own rules too.
	if _, err := ParseCertificates(string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}))); err != nil {
		t.Errorf("our certificate fails our own certificate rules: %v", err)
	}

	other, err := NewSigningCredential(now)
	if err != nil {
		t.Fatal(err)
	}
	keyOf := func(s string) string { return s[:strings.Index(s, "-----BEGIN CERTIFICATE")] }
	certOf := func(s string) string { return s[strings.Index(s, "-----BEGIN CERTIFICATE"):] }
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	smallDER, _ := x509.MarshalPKCS8PrivateKey(small)
	for name, bad := range map[string]string{
		"empty":        "",
		"no key":       certOf(text),
		"no cert":      keyOf(text),
		"wrong cert":   keyOf(text) + certOf(other),
		"1024-bit key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: smallDER})) + certOf(text),
	} {
		if _, _, err := ParseSigningCredential(bad); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestEnsureSigningCredential: made once, then every caller (node) gets
// the same credential from the settings table.
func TestEnsureSigningCredential(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		_, c1, err := EnsureSigningCredential(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		k2, c2, err := EnsureSigningCredential(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		if !c1.Equal(c2) || !k2.PublicKey.Equal(c1.PublicKey) {
			t.Fatal("a second call made another credential")
		}
		stored, err := store.Setting(ctx, db, SigningSetting)
		if err != nil || !strings.Contains(stored, "BEGIN PRIVATE KEY") {
			t.Fatalf("setting %q: %v", SigningSetting, err)
		}
	})
}

// rawQuery splits a URL's query into its parameters exactly as they appear
// (still URL-encoded), which is what the signature covers.
func rawQuery(t *testing.T, u string) map[string]string {
	t.Helper()
	_, q, ok := strings.Cut(u, "?")
	if !ok {
		t.Fatalf("no query in %q", u)
	}
	out := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := out[k]; dup {
			t.Fatalf("parameter %s twice in %q", k, u)
		}
		out[k] = v
	}
	return out
}

// verifyRedirect checks a redirect URL's Signature the way an IdP does (SAML
// bindings §3.4.4.1): RSA-SHA256 over
// "SAMLRequest=<v>&RelayState=<v>&SigAlg=<v>" with the values exactly as
// they appear in the URL.
func verifyRedirect(t *testing.T, u string, cert *x509.Certificate) error {
	t.Helper()
	q := rawQuery(t, u)
	octets := "SAMLRequest=" + q["SAMLRequest"]
	if rs, ok := q["RelayState"]; ok {
		octets += "&RelayState=" + rs
	}
	octets += "&SigAlg=" + q["SigAlg"]
	sigText, err := url.QueryUnescape(q["Signature"])
	if err != nil {
		t.Fatal(err)
	}
	sig, err := base64.StdEncoding.DecodeString(sigText)
	if err != nil {
		t.Fatalf("Signature is not base64: %v", err)
	}
	digest := sha256.Sum256([]byte(octets))
	return rsa.VerifyPKCS1v15(cert.PublicKey.(*rsa.PublicKey), crypto.SHA256, digest[:], sig)
}

func TestStartLoginSignedRedirect(t *testing.T) {
	db := testenv.SQLite(t)
	_, cert := testSigning(t)

	t.Run("signed per the bindings spec", func(t *testing.T) {
		e := signingEnv(t, db)
		binding := ids.Secret(16)
		redirect, reqID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", binding)
		if err != nil {
			t.Fatal(err)
		}
		q := rawQuery(t, redirect)
		if sigAlg, _ := url.QueryUnescape(q["SigAlg"]); sigAlg != algRSASHA256 {
			t.Fatalf("SigAlg %q", sigAlg)
		}
		if q["RelayState"] == "" || q["Signature"] == "" {
			t.Fatalf("query %v", q)
		}
		if err := verifyRedirect(t, redirect, cert); err != nil {
			t.Fatalf("signature does not verify: %v\n%s", err, redirect)
		}
		// The deflated request itself carries no XML signature (§3.4.4.1).
		samlRequest, _ := requestFromRedirect(t, redirect)
		xml := inflate(t, samlRequest)
		if strings.Contains(xml, "Signature") || !strings.Contains(xml, `ID="`+reqID+`"`) {
			t.Fatalf("request XML:\n%s", xml)
		}

		// The check above is not vacuous: any change breaks it.
		other, err := NewSigningCredential(time.Now())
		if err != nil {
			t.Fatal(err)
		}
		_, otherCert, _ := ParseSigningCredential(other)
		for name, bad := range map[string]string{
			"RelayState changed": strings.Replace(redirect, "RelayState="+q["RelayState"], "RelayState=x"+q["RelayState"], 1),
			"SAMLRequest changed": strings.Replace(redirect, "SAMLRequest="+q["SAMLRequest"],
				"SAMLRequest="+q["SAMLRequest"][:20]+"A"+q["SAMLRequest"][21:], 1),
		} {
			if bad == redirect {
				t.Fatalf("%s: nothing changed", name)
			}
			if verifyRedirect(t, bad, cert) == nil {
				t.Errorf("%s: still verifies", name)
			}
		}
		if verifyRedirect(t, redirect, otherCert) == nil {
			t.Error("verifies with another certificate")
		}
	})

	t.Run("SSO URL with its own query", func(t *testing.T) {
		e := signingEnv(t, db)
		e.idp.SSOURL = "https://idp.example.test/sso?tenant=a+b&app=gh%2F1"
		redirect, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", ids.Secret(16))
		if err != nil {
			t.Fatal(err)
		}
		if q := rawQuery(t, redirect); q["tenant"] != "a+b" || q["app"] != "gh%2F1" {
			t.Fatalf("the IdP's own parameters changed: %s", redirect)
		}
		if err := verifyRedirect(t, redirect, cert); err != nil {
			t.Fatalf("signature does not verify: %v", err)
		}
	})

	t.Run("IdP does not want signatures", func(t *testing.T) {
		e := signingEnv(t, db)
		e.idp.WantAuthnRequestsSigned = false
		redirect, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", ids.Secret(16))
		if err != nil {
			t.Fatal(err)
		}
		if q := rawQuery(t, redirect); q["SigAlg"] != "" || q["Signature"] != "" {
			t.Fatalf("signed anyway: %s", redirect)
		}
	})

	t.Run("IdP wants signatures, SP has no key", func(t *testing.T) {
		e := signingEnv(t, db)
		e.svc.SigningKey, e.svc.SigningCert = nil, nil
		var before, after int
		_ = db.QueryRow(context.Background(), `SELECT COUNT(*) FROM saml_requests`).Scan(&before)
		if _, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", ids.Secret(16)); err == nil {
			t.Fatal("an unsigned request was made for an IdP that wants them signed")
		}
		e.idp.SSOBinding = SSOBindingPOST
		if _, _, err := e.svc.StartLoginPOST(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", ids.Secret(16)); err == nil {
			t.Fatal("an unsigned POST request was made for an IdP that wants them signed")
		}
		_ = db.QueryRow(context.Background(), `SELECT COUNT(*) FROM saml_requests`).Scan(&after)
		if after != before {
			t.Fatalf("requests stored: %d → %d", before, after)
		}
	})
}

// xmlsecVerify runs `xmlsec1 --verify` (libxmlsec1 + OpenSSL, independent
// of goxmldsig) on xml with cert as the only trusted key.
func xmlsecVerify(t *testing.T, xml string, cert *x509.Certificate) (string, error) {
	t.Helper()
	dir := t.TempDir()
	in, certFile := filepath.Join(dir, "request.xml"), filepath.Join(dir, "sp.pem")
	if err := os.WriteFile(in, []byte(xml), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	// --pubkey-cert-pem loads the key to verify with; KeyInfo is not
	// trusted (--enabled-key-data limits xmlsec1 to a named key, so the
	// certificate in the signature cannot supply one).
	cmd := exec.Command("xmlsec1", "--verify", "--pubkey-cert-pem", certFile, "--enabled-key-data", "key-name",
		"--id-attr:ID", xmlsecRequest, in)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestStartLoginPOSTSigned(t *testing.T) {
	testenv.Command(t, "xmlsec1")
	e := signingEnv(t, testenv.SQLite(t))
	e.idp.SSOBinding = SSOBindingPOST
	_, cert := testSigning(t)
	form, reqID, err := e.svc.StartLoginPOST(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", ids.Secret(16))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(form.Fields.Get("SAMLRequest"))
	if err != nil {
		t.Fatal(err)
	}
	xml := string(raw)
	if out, err := xmlsecVerify(t, xml, cert); err != nil || !strings.Contains(out, "OK") {
		t.Fatalf("xmlsec1 does not verify the AuthnRequest: %v\n%s\n%s", err, out, xml)
	}

	// The algorithms: RSA-SHA256, SHA-256 digest, exclusive c14n for
	// SignedInfo and the reference, enveloped over the request's own ID,
	// the signature right after the Issuer (schema order).
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatal(err)
	}
	root := doc.Root()
	if len(root.ChildElements()) < 2 || root.ChildElements()[0].Tag != "Issuer" || root.ChildElements()[1].Tag != "Signature" {
		t.Fatalf("element order:\n%s", xml)
	}
	sig := root.ChildElements()[1]
	for path, want := range map[string]string{
		"./SignedInfo/CanonicalizationMethod":         algExcC14N,
		"./SignedInfo/SignatureMethod":                algRSASHA256,
		"./SignedInfo/Reference/DigestMethod":         algSHA256,
		"./SignedInfo/Reference/Transforms/Transform": algEnveloped,
	} {
		if el := sig.FindElement(path); el == nil || el.SelectAttrValue("Algorithm", "") != want {
			t.Errorf("%s: %v, want %s", path, el, want)
		}
	}
	transforms := sig.FindElements("./SignedInfo/Reference/Transforms/Transform")
	if len(transforms) != 2 || transforms[1].SelectAttrValue("Algorithm", "") != algExcC14N {
		t.Errorf("transforms: %d", len(transforms))
	}
	if ref := sig.FindElement("./SignedInfo/Reference"); ref.SelectAttrValue("URI", "") != "#"+reqID {
		t.Errorf("reference %q, request %q", ref.SelectAttrValue("URI", ""), reqID)
	}

	// xmlsec1 is not a rubber stamp: a changed request or another key fails.
	tampered := strings.Replace(xml, e.sp.ACSURL, "https://evil.example/acs", 1)
	if tampered == xml {
		t.Fatal("the ACS URL is not in the request")
	}
	if out, err := xmlsecVerify(t, tampered, cert); err == nil {
		t.Errorf("xmlsec1 verified a tampered request:\n%s", out)
	}
	otherText, _ := NewSigningCredential(time.Now())
	_, other, _ := ParseSigningCredential(otherText)
	if out, err := xmlsecVerify(t, xml, other); err == nil {
		t.Errorf("xmlsec1 verified with another certificate:\n%s", out)
	}
}

func TestSPMetadataSigning(t *testing.T) {
	_, cert := testSigning(t)
	sp := SPSettings{EntityID: "https://gatehouse.test/saml/a/metadata", ACSURL: "https://gatehouse.test/saml/a/acs", SigningCert: cert}
	for _, want := range []bool{false, true} {
		sp.AuthnRequestsSigned = want
		doc, r := parseStrict(SPMetadata(sp))
		if r != nil {
			t.Fatal(r)
		}
		sd := doc.Root().FindElement("./SPSSODescriptor")
		if got := sd.SelectAttrValue("AuthnRequestsSigned", ""); got != map[bool]string{false: "false", true: "true"}[want] {
			t.Errorf("AuthnRequestsSigned=%q, want %v", got, want)
		}
		kds := sd.FindElements("./KeyDescriptor")
		if len(kds) != 1 || kds[0].SelectAttrValue("use", "") != "signing" {
			t.Fatalf("key descriptors: %d", len(kds))
		}
		x := kds[0].FindElement("./KeyInfo/X509Data/X509Certificate")
		if x == nil || kds[0].FindElement("./KeyInfo").NamespaceURI() != nsDSig {
			t.Fatal("no ds:X509Certificate")
		}
		got, err := parseOneCertificate(x.Text())
		if err != nil || !got.Equal(cert) {
			t.Fatalf("published certificate: %v", err)
		}
		// Schema order: KeyDescriptor comes before NameIDFormat.
		if sd.ChildElements()[0].Tag != "KeyDescriptor" {
			t.Errorf("first child %s", sd.ChildElements()[0].Tag)
		}
	}
	// No certificate: nothing to publish, and no claim to sign.
	sp.SigningCert, sp.AuthnRequestsSigned = nil, true
	md := string(SPMetadata(sp))
	if strings.Contains(md, "KeyDescriptor") || !strings.Contains(md, `AuthnRequestsSigned="false"`) {
		t.Fatal(md)
	}
}

func TestParseIdPMetadataWantAuthnRequestsSigned(t *testing.T) {
	k := testKey(t, "idp")
	md := func(attr string) string {
		return strings.Replace(idpMetadata("urn:idp", [][2]string{{BindingRedirect, "https://idp.test/sso"}}, keyDescriptor("signing", k)),
			"<IDPSSODescriptor ", "<IDPSSODescriptor "+attr+" ", 1)
	}
	for attr, want := range map[string]bool{
		``:                                false,
		`WantAuthnRequestsSigned="false"`: false,
		`WantAuthnRequestsSigned="0"`:     false,
		`WantAuthnRequestsSigned="true"`:  true,
		`WantAuthnRequestsSigned=" 1 "`:   true,
	} {
		idp, err := ParseIdPMetadata([]byte(md(attr)))
		if err != nil || idp.WantAuthnRequestsSigned != want {
			t.Errorf("%s: got %v, %v; want %v", attr, idp.WantAuthnRequestsSigned, err, want)
		}
	}
	_, err := ParseIdPMetadata([]byte(md(`WantAuthnRequestsSigned="yes"`)))
	if err == nil || !strings.Contains(err.Error(), `WantAuthnRequestsSigned is "yes", not true or false`) {
		t.Errorf("yes: %v", err)
	}
}
