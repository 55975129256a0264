package saml

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gatehouse/internal/testenv"
)

// xmlsecSign signs a template (whose ds:Signature has empty values) with
// the xmlsec1 command-line tool, an independent XML-DSig implementation
// (libxmlsec1 + OpenSSL). xmlsec1 fills the first signature template of
// the document; idAttrs names the elements whose ID attribute it resolves.
func xmlsecSign(t *testing.T, template string, k *keyPair, idAttrs ...string) string {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.xml"), filepath.Join(dir, "out.xml")
	if err := os.WriteFile(in, []byte(template), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--sign", "--privkey-pem", k.keyFile + "," + k.certFile}
	for _, a := range idAttrs {
		args = append(args, "--id-attr:ID", a)
	}
	runCmd(t, dir, "xmlsec1", append(args, "--output", out, in)...)
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

const (
	xmlsecAssertion = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"
	xmlsecResponse  = "urn:oasis:names:tc:SAML:2.0:protocol:Response"
)

func TestInteropXmlsec1(t *testing.T) {
	testenv.Command(t, "xmlsec1")
	k := testKey(t, "idp")
	e := newEnv(t, testenv.SQLite(t))
	cases := []struct {
		name string
		sign func(r resp) string
	}{
		{"assertion signed", func(r resp) string {
			r.TemplateAssertion = true
			return xmlsecSign(t, r.xml(), k, xmlsecAssertion)
		}},
		{"response signed", func(r resp) string {
			r.TemplateResponse = true
			return xmlsecSign(t, r.xml(), k, xmlsecResponse)
		}},
		{"both signed", func(r resp) string {
			r.TemplateAssertion = true
			inner := xmlsecSign(t, r.xml(), k, xmlsecAssertion)
			// Add the Response's template after its Issuer and sign again:
			// xmlsec1 signs the first template, which is now the Response's.
			i := strings.Index(inner, "</saml:Issuer>") + len("</saml:Issuer>")
			r.TemplateAssertion, r.TemplateResponse = false, true
			tmpl := r.xml()
			j := strings.Index(tmpl, "<ds:Signature")
			sigTmpl := tmpl[j : strings.Index(tmpl, "</ds:Signature>")+len("</ds:Signature>")]
			return xmlsecSign(t, inner[:i]+sigTmpl+inner[i:], k, xmlsecResponse, xmlsecAssertion)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reqID, binding := e.start(t)
			signed := c.sign(e.resp(reqID))
			if strings.Contains(signed, "<ds:SignatureValue></ds:SignatureValue>") || strings.Count(signed, "<ds:SignatureValue>") < 1 {
				t.Fatalf("xmlsec1 left a template unsigned:\n%s", signed)
			}
			a, err := e.consume(t, signed, binding)
			if err != nil {
				t.Fatalf("refused: %v\n%s", err, signed)
			}
			checkAda(t, a, reqID)
		})
	}

	t.Run("Entra-style claim URIs with group overage", func(t *testing.T) {
		reqID, binding := e.start(t)
		r := e.resp(reqID)
		r.NameIDFormat = NameIDFormatPersistent
		r.NameID = "k7Hq3b2r1nPpXcL0zZt9Yw-persistent"
		r.Attrs = []attribute{
			{"http://schemas.microsoft.com/identity/claims/tenantid", []string{"72f988bf-86f1-41af-91ab-2d7cd011db47"}},
			{"http://schemas.microsoft.com/identity/claims/objectidentifier", []string{"0b1c2d3e-0000-4000-8000-00000000000a"}},
			{"http://schemas.microsoft.com/identity/claims/displayname", []string{"Ada Lovelace"}},
			{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name", []string{"ada@example.com"}},
			{"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", []string{"ada@example.com"}},
			{"http://schemas.microsoft.com/claims/groups.link", []string{"https://graph.windows.net/72f988bf/users/0b1c2d3e/getMemberObjects"}},
		}
		r.TemplateAssertion = true
		a, err := e.consume(t, xmlsecSign(t, r.xml(), k, xmlsecAssertion), binding)
		if err != nil {
			t.Fatalf("refused: %v", err)
		}
		if a.ObjectID != "0b1c2d3e-0000-4000-8000-00000000000a" || a.Name != "ada@example.com" || a.DisplayName != "Ada Lovelace" {
			t.Errorf("claims: %q %q %q", a.ObjectID, a.Name, a.DisplayName)
		}
		if !a.GroupsOverage || len(a.Groups) != 0 {
			t.Errorf("overage %v groups %q", a.GroupsOverage, a.Groups)
		}
		if a.Attributes["tenantid"][0] != "72f988bf-86f1-41af-91ab-2d7cd011db47" || a.NameIDFormat != NameIDFormatPersistent {
			t.Errorf("attributes %v", a.Attributes)
		}
	})

	t.Run("SHA-1 signed by xmlsec1 refused", func(t *testing.T) {
		reqID, binding := e.start(t)
		r := e.resp(reqID)
		r.TemplateAssertion, r.SHA1 = true, true
		_, err := e.consume(t, xmlsecSign(t, r.xml(), k, xmlsecAssertion), binding)
		if refusalCode(err) != CodeWeakAlgorithm {
			t.Fatalf("got %v", err)
		}
	})
}
