package saml

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/testenv"
)

// TestCertificateChoices covers which configured certificate verifies:
// rollover (two configured, either signs), ECDSA keys, KeyInfo omitted,
// and an expired configured certificate.
func TestCertificateChoices(t *testing.T) {
	db := testenv.SQLite(t)
	idp1, idp2, ec := testKey(t, "idp"), testKey(t, "idp2"), testKey(t, "ec")
	stripKeyInfo := func(s string) string {
		i, j := strings.Index(s, "<ds:KeyInfo>"), strings.Index(s, "</ds:KeyInfo>")
		return s[:i] + s[j+len("</ds:KeyInfo>"):]
	}
	expired := makeKeyPair("", "expired", time.Now().Add(-48*time.Hour), time.Now().Add(-time.Hour))
	cases := []struct {
		name       string
		configured []*x509.Certificate
		sign       func(t *testing.T, xml string) string
		code       string
	}{
		{"rollover: new key", []*x509.Certificate{idp1.cert, idp2.cert}, func(t *testing.T, x string) string { return goSign(t, x, idp2, false, true, false) }, "accepted"},
		{"rollover: old key", []*x509.Certificate{idp1.cert, idp2.cert}, func(t *testing.T, x string) string { return goSign(t, x, idp1, true, false, false) }, "accepted"},
		{"rollover: no KeyInfo", []*x509.Certificate{idp1.cert, idp2.cert}, func(t *testing.T, x string) string { return stripKeyInfo(goSign(t, x, idp2, false, true, false)) }, "accepted"},
		{"ECDSA P-256", []*x509.Certificate{ec.cert}, func(t *testing.T, x string) string { return goSign(t, x, ec, true, true, false) }, "accepted"},
		{"key not configured, no KeyInfo", []*x509.Certificate{idp1.cert}, func(t *testing.T, x string) string { return stripKeyInfo(goSign(t, x, idp2, false, true, false)) }, CodeSignatureInvalid},
		{"configured certificate expired", []*x509.Certificate{expired.cert}, func(t *testing.T, x string) string { return goSign(t, x, expired, false, true, false) }, CodeCertificateExpired},
		{"no certificate configured", nil, func(t *testing.T, x string) string { return goSign(t, x, idp1, false, true, false) }, CodeUnknownCertificate},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, db)
			e.idp.Certificates = c.configured
			reqID, binding := e.start(t)
			_, err := e.consume(t, c.sign(t, e.resp(reqID).xml()), binding)
			if got := refusalCode(err); got != c.code {
				t.Fatalf("got %s, want %s: %v", got, c.code, err)
			}
		})
	}
}

func TestStartLoginPOST(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	e.idp.SSOBinding = SSOBindingPOST
	binding := ids.Secret(16)
	if _, _, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "", binding); err == nil {
		t.Fatal("StartLogin accepted a POST-only IdP")
	}
	form, reqID, err := e.svc.StartLoginPOST(context.Background(), e.account, e.sp, e.idp, PurposePortal, "a", binding)
	if err != nil {
		t.Fatal(err)
	}
	if form.Action != e.idp.SSOURL || form.Fields.Get("RelayState") == "" {
		t.Fatalf("form %+v", form)
	}
	xml, r := decodeResponse(form.Fields.Get("SAMLRequest"))
	if r != nil {
		t.Fatal(r)
	}
	doc, r := parseStrict(xml)
	if r != nil || attr(doc.Root(), "ID") != reqID {
		t.Fatalf("request %s: %v", xml, r)
	}
	// And the IdP's answer is consumed like any other.
	if _, err := e.consume(t, goSign(t, e.resp(reqID).xml(), testKey(t, "idp"), false, true, false), binding); err != nil {
		t.Fatal(err)
	}
}
