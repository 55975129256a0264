package saml

import (
	"crypto/x509"
	"encoding/base64"
	"testing"
	"time"
)

// FuzzVerifyResponse feeds arbitrary documents (seeded with valid, signed
// and attack responses) to the validator: it must never panic, and anything
// it accepts must have the IdP's issuer and a request ID.
func FuzzVerifyResponse(f *testing.F) {
	e := &env{now: time.Now().UTC().Truncate(time.Second)}
	e.sp = SPSettings{EntityID: "https://gatehouse.test/saml/x", ACSURL: "https://gatehouse.test/saml/x/acs"}
	// An ECDSA key: RSA key generation crawls under the fuzzer's coverage
	// instrumentation.
	k := testKey(f, "ec")
	e.idp = IdPSettings{EntityID: testIdPEntity, SSOURL: "https://idp.example.test/sso", Certificates: []*x509.Certificate{k.cert}}
	r := e.resp("_req1")
	f.Add([]byte(r.xml()))
	f.Add([]byte(goSign(f, r.xml(), k, false, true, false)))
	f.Add([]byte(goSign(f, r.xml(), k, true, true, false)))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a>&b;</a>`))
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"/>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		v, r := verifyResponse(raw, e.sp, e.idp, e.now, defaultClockSkew)
		if r == nil && (v.assertion.Issuer != testIdPEntity || v.inResponseTo == "") {
			t.Fatalf("accepted without issuer or request: %+v", v)
		}
		// The transport decoding too.
		_, _ = decodeResponse(base64.StdEncoding.EncodeToString(raw))
	})
}

// FuzzUnverifiedRequestID: reading where a refused answer belongs never
// panics, and finds the request a well-formed response names.
func FuzzUnverifiedRequestID(f *testing.F) {
	e := &env{now: time.Now().UTC().Truncate(time.Second)}
	e.sp = SPSettings{EntityID: "https://gatehouse.test/saml/x", ACSURL: "https://gatehouse.test/saml/x/acs"}
	f.Add([]byte(e.resp("_req1").xml()))
	f.Add([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" InResponseTo="_r"/>`))
	f.Add([]byte(`<!DOCTYPE a [<!ENTITY b "c">]><a InResponseTo="&b;"/>`))
	f.Add([]byte("not xml"))
	if got := UnverifiedRequestID(base64.StdEncoding.EncodeToString([]byte(e.resp("_req1").xml()))); got != "_req1" {
		f.Fatalf("UnverifiedRequestID of a response to _req1: %q", got)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		_ = UnverifiedRequestID(base64.StdEncoding.EncodeToString(raw))
		_ = UnverifiedRequestID(string(raw))
	})
}

// FuzzParseIdPMetadata: never panic on uploaded metadata.
func FuzzParseIdPMetadata(f *testing.F) {
	k := testKey(f, "ec")
	f.Add([]byte(idpMetadata("urn:idp", [][2]string{{BindingRedirect, "https://idp.test/sso"}}, keyDescriptor("signing", k))))
	f.Add([]byte(`<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata"/>`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, _ = ParseIdPMetadata(raw)
	})
}

// FuzzParseCertificates: never panic on pasted certificates.
func FuzzParseCertificates(f *testing.F) {
	f.Add(testKey(f, "ec").certPEM)
	f.Add(b64(testKey(f, "ec")))
	f.Add("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----")
	f.Fuzz(func(t *testing.T, s string) {
		_, _ = ParseCertificates(s)
	})
}
