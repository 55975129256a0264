package testenv_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/saml"
	"gatehouse/internal/testenv"
)

func signingCredential(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	text, err := saml.NewSigningCredential(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	key, cert, err := saml.ParseSigningCredential(text)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// rawParams splits a query into its still URL-encoded parameters.
func rawParams(t *testing.T, u string) map[string]string {
	t.Helper()
	_, q, _ := strings.Cut(u, "?")
	out := map[string]string{}
	for _, kv := range strings.Split(q, "&") {
		k, v, _ := strings.Cut(kv, "=")
		out[k] = v
	}
	return out
}

// TestSAMLIdPSignedAuthnRequests: with WantAuthnRequestsSigned the IdP says
// so in its metadata, verifies the HTTP-Redirect signature of each
// AuthnRequest with the certificate of the SP's metadata (samlify), and
// refuses what is unsigned or does not verify.
func TestSAMLIdPSignedAuthnRequests(t *testing.T) {
	ctx := context.Background()
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}, WantAuthnRequestsSigned: true})
	if md := string(idp.MetadataXML()); !strings.Contains(md, `WantAuthnRequestsSigned="true"`) {
		t.Fatalf("metadata does not ask for signed requests:\n%s", md)
	}
	sp := newTestSP(t, testenv.SQLite(t), idp)
	if !sp.idp.WantAuthnRequestsSigned {
		t.Fatal("Gatehouse's metadata parser missed WantAuthnRequestsSigned")
	}
	key, cert := signingCredential(t)
	sp.svc.SigningKey, sp.svc.SigningCert = key, cert
	acct := sp.account(t)
	acct.settings.SigningCert, acct.settings.AuthnRequestsSigned = cert, true
	idp.TrustSP(t, sp.metadataURL(acct))

	// A signed request signs in.
	a, _, err := sp.signInHTTP(t, idp, acct, ada.Email, ada.Password)
	if err != nil || a.NameID != ada.Email {
		t.Fatalf("signed sign-in: %v %+v", err, a)
	}

	start := func(svc *saml.Service, settings saml.IdPSettings, sps saml.SPSettings, accountID string) string {
		t.Helper()
		u, _, err := svc.StartLogin(ctx, accountID, sps, settings, saml.PurposePortal, "x", ids.Secret(16))
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	signed := start(sp.svc, sp.idp, acct.settings, acct.id)
	q := rawParams(t, signed)
	unsignedIdP := sp.idp
	unsignedIdP.WantAuthnRequestsSigned = false
	otherKey, otherCert := signingCredential(t)
	other := &saml.Service{DB: sp.svc.DB, SigningKey: otherKey, SigningCert: otherCert}
	// RSA-SHA1 over the right octets with the right key.
	sha1Alg := url.QueryEscape("http://www.w3.org/2000/09/xmldsig#rsa-sha1")
	digest := sha1.Sum([]byte("SAMLRequest=" + q["SAMLRequest"] + "&RelayState=" + q["RelayState"] + "&SigAlg=" + sha1Alg))
	sha1Sig, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA1, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	// An SP the IdP knows without a certificate (no metadata).
	bare := sp.account(t)
	idp.SetSP(t, bare.settings.EntityID, bare.settings.ACSURL)

	for name, c := range map[string]struct{ url, want string }{
		"unsigned":          {start(sp.svc, unsignedIdP, acct.settings, acct.id), "requires signed AuthnRequests"},
		"signed by another": {start(other, sp.idp, acct.settings, acct.id), "ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION"},
		"RelayState changed": {strings.Replace(signed, "RelayState="+q["RelayState"], "RelayState=forged", 1),
			"ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION"},
		"signature of another request": {strings.Replace(signed, "Signature="+q["Signature"],
			"Signature="+rawParams(t, start(sp.svc, sp.idp, acct.settings, acct.id))["Signature"], 1),
			"ERR_FAILED_MESSAGE_SIGNATURE_VERIFICATION"},
		"RSA-SHA1": {idp.SSOURL + "?SAMLRequest=" + q["SAMLRequest"] + "&RelayState=" + q["RelayState"] + "&SigAlg=" + sha1Alg +
			"&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sha1Sig)), "RSA-SHA1"},
		"SP without a certificate": {start(sp.svc, sp.idp, bare.settings, bare.id), "has no signing certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, _, err := idp.TrySignIn(nil, c.url, ada.Email, ada.Password)
			var se *testenv.SignInError
			if !errors.As(err, &se) || se.Status != 400 || !strings.Contains(se.Message, c.want) {
				t.Fatalf("got %v, want a 400 saying %q", err, c.want)
			}
		})
	}
	// The untouched request is still good (the refusals above did not
	// consume it).
	if _, _, err := idp.TrySignIn(nil, signed, ada.Email, ada.Password); err != nil {
		t.Fatalf("the genuine request: %v", err)
	}

	// Switched off: the metadata says so and unsigned requests are fine.
	idp.SetOptions(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	if md := string(idp.MetadataXML()); !strings.Contains(md, `WantAuthnRequestsSigned="false"`) {
		t.Fatalf("metadata after switching off:\n%s", md)
	}
	if _, _, err := idp.TrySignIn(nil, start(sp.svc, unsignedIdP, acct.settings, acct.id), ada.Email, ada.Password); err != nil {
		t.Fatalf("unsigned request to an IdP that no longer wants signatures: %v", err)
	}
}
