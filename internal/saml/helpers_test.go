package saml

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"io"
	"math/big"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"text/template"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// keyPair is a signing key with its self-signed certificate, also written as
// PEM files for the external signers (xmlsec1, pysaml2, samlify).
type keyPair struct {
	key      crypto.Signer
	cert     *x509.Certificate
	keyFile  string
	certFile string
	certPEM  string
	keyPEM   string
}

var (
	keysMu  sync.Mutex
	keys    = map[string]*keyPair{}
	keysDir string
)

// testKey returns a key made once per test process: "idp" (the configured
// IdP), "idp2" (a second IdP key), "attacker" — RSA-2048 — and "ec", a
// P-256 key (quick to make even under the fuzzer's instrumentation).
func testKey(t testing.TB, which string) *keyPair {
	t.Helper()
	keysMu.Lock()
	defer keysMu.Unlock()
	if keysDir == "" {
		dir, err := os.MkdirTemp("", "saml-keys-")
		if err != nil {
			t.Fatal(err)
		}
		keysDir = dir
	}
	if k := keys[which]; k != nil {
		return k
	}
	var signer crypto.Signer
	var err error
	switch which {
	case "idp", "idp2", "attacker":
		signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ec":
		signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		t.Fatalf("no test key %q", which)
	}
	if err != nil {
		t.Fatal(err)
	}
	k := certFor(keysDir, which, signer, time.Now().Add(-time.Hour), time.Now().Add(365*24*time.Hour))
	keys[which] = k
	return k
}

func makeKeyPair(dir, cn string, notBefore, notAfter time.Time) *keyPair {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	return certFor(dir, cn, key, notBefore, notAfter)
}

func certFor(dir, cn string, key crypto.Signer, notBefore, notAfter time.Time) *keyPair {
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn + ".idp.test"},
		NotBefore:    notBefore,
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	must(err)
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	must(err)
	kp := &keyPair{key: key, cert: cert,
		certPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		keyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})),
	}
	if dir != "" {
		kp.keyFile = filepath.Join(dir, cn+"-key.pem")
		kp.certFile = filepath.Join(dir, cn+"-cert.pem")
		must(os.WriteFile(kp.keyFile, []byte(kp.keyPEM), 0o600))
		must(os.WriteFile(kp.certFile, []byte(kp.certPEM), 0o600))
	}
	return kp
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

// env is one business account with a configured IdP and a Service whose
// clock the test controls.
type env struct {
	svc     *Service
	db      *store.DB
	account string
	sp      SPSettings
	idp     IdPSettings
	now     time.Time
}

const testIdPEntity = "https://idp.example.test/metadata"

func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	e := &env{db: db, now: time.Now().UTC().Truncate(time.Second)}
	e.account = newAccount(t, db)
	e.sp = SPSettings{
		EntityID: "https://gatehouse.test/saml/" + e.account,
		ACSURL:   "https://gatehouse.test/saml/" + e.account + "/acs",
	}
	e.idp = IdPSettings{
		EntityID:     testIdPEntity,
		SSOURL:       "https://idp.example.test/sso",
		SSOBinding:   SSOBindingRedirect,
		Certificates: testIdPCerts(t),
	}
	e.svc = &Service{DB: db, Now: func() time.Time { return e.now }}
	return e
}

func newAccount(t testing.TB, db *store.DB) string {
	t.Helper()
	id := ids.New()
	if _, err := db.Exec(context.Background(), `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`,
		id, "Account "+id[:8], store.Now()); err != nil {
		t.Fatalf("insert account: %v", err)
	}
	return id
}

// start begins a sign-in and returns the AuthnRequest ID and the browser
// binding, after checking the redirect URL carries a well-formed request.
func (e *env) start(t testing.TB) (requestID, binding string) {
	t.Helper()
	binding = ids.Secret(16)
	redirect, requestID, err := e.svc.StartLogin(context.Background(), e.account, e.sp, e.idp, PurposePortal, "attempt-1", binding)
	if err != nil {
		t.Fatalf("StartLogin: %v", err)
	}
	if !strings.HasPrefix(redirect, e.idp.SSOURL+"?") {
		t.Fatalf("redirect URL %q does not go to the IdP", redirect)
	}
	return requestID, binding
}

func (e *env) consume(t testing.TB, xml, binding string) (*Assertion, error) {
	t.Helper()
	return e.svc.ConsumeResponse(context.Background(), e.account, e.sp, e.idp, base64.StdEncoding.EncodeToString([]byte(xml)), binding)
}

func refusalCode(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Code
	}
	if err == nil {
		return "accepted"
	}
	return "error: " + err.Error()
}

// resp describes a Response to build; defaults() fills a valid one.
type resp struct {
	ResponseID, AssertionID    string
	InResponseTo, AssertionIRT string
	Destination, Recipient     string
	Audience                   string
	RespIssuer, Issuer         string
	NameID, NameIDFormat       string
	Status                     string
	IssueInstant               time.Time
	NotBefore, NotOnOrAfter    time.Time
	SCDNotOnOrAfter            time.Time
	Attrs                      []attribute
	// Empty ds:Signature templates for xmlsec1.
	TemplateResponse, TemplateAssertion bool
	SHA1                                bool
}

type attribute struct {
	Name   string
	Values []string
}

func (e *env) resp(requestID string) resp {
	return resp{
		ResponseID: "_r" + ids.New(), AssertionID: "_a" + ids.New(),
		InResponseTo: requestID, AssertionIRT: requestID,
		Destination: e.sp.ACSURL, Recipient: e.sp.ACSURL, Audience: e.sp.EntityID,
		RespIssuer: testIdPEntity, Issuer: testIdPEntity,
		NameID: "ada@example.com", NameIDFormat: NameIDFormatEmail,
		Status:       StatusSuccess,
		IssueInstant: e.now, NotBefore: e.now.Add(-time.Minute), NotOnOrAfter: e.now.Add(5 * time.Minute),
		SCDNotOnOrAfter: e.now.Add(5 * time.Minute),
		Attrs: []attribute{
			{"objectidentifier", []string{"0b1c2d3e-0000-4000-8000-00000000000a"}},
			{"name", []string{"ada@example.com"}},
			{"displayname", []string{"Ada Lovelace"}},
			{"groups", []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"}},
		},
	}
}

const sigTemplate = `<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:SignatureMethod Algorithm="{{.SigAlg}}"/><ds:Reference URI="#{{.ID}}"><ds:Transforms><ds:Transform Algorithm="http://www.w3.org/2000/09/xmldsig#enveloped-signature"/><ds:Transform Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/></ds:Transforms><ds:DigestMethod Algorithm="{{.DigestAlg}}"/><ds:DigestValue></ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue></ds:SignatureValue><ds:KeyInfo><ds:X509Data><ds:X509Certificate></ds:X509Certificate></ds:X509Data></ds:KeyInfo></ds:Signature>`

var respTemplate = template.Must(template.New("r").Funcs(template.FuncMap{
	"t": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") },
	"x": func(s string) string {
		var b strings.Builder
		_ = xmlEscape(&b, s)
		return b.String()
	},
	"sig": func(r resp, id string) string {
		var b strings.Builder
		alg, dig := dsig.RSASHA256SignatureMethod, "http://www.w3.org/2001/04/xmlenc#sha256"
		if r.SHA1 {
			alg, dig = dsig.RSASHA1SignatureMethod, "http://www.w3.org/2000/09/xmldsig#sha1"
		}
		_ = template.Must(template.New("s").Parse(sigTemplate)).Execute(&b, map[string]string{"ID": id, "SigAlg": alg, "DigestAlg": dig})
		return b.String()
	},
}).Parse(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="{{.ResponseID}}" Version="2.0" IssueInstant="{{t .IssueInstant}}"{{if .Destination}} Destination="{{x .Destination}}"{{end}}{{if .InResponseTo}} InResponseTo="{{x .InResponseTo}}"{{end}}>
  <saml:Issuer>{{x .RespIssuer}}</saml:Issuer>{{if .TemplateResponse}}{{sig . .ResponseID}}{{end}}
  <samlp:Status><samlp:StatusCode Value="{{x .Status}}"/></samlp:Status>
  <saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="{{.AssertionID}}" Version="2.0" IssueInstant="{{t .IssueInstant}}">
    <saml:Issuer>{{x .Issuer}}</saml:Issuer>{{if .TemplateAssertion}}{{sig . .AssertionID}}{{end}}
    <saml:Subject>
      <saml:NameID Format="{{x .NameIDFormat}}">{{x .NameID}}</saml:NameID>
      <saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">
        <saml:SubjectConfirmationData{{if .AssertionIRT}} InResponseTo="{{x .AssertionIRT}}"{{end}} NotOnOrAfter="{{t .SCDNotOnOrAfter}}" Recipient="{{x .Recipient}}"/>
      </saml:SubjectConfirmation>
    </saml:Subject>
    <saml:Conditions NotBefore="{{t .NotBefore}}" NotOnOrAfter="{{t .NotOnOrAfter}}">
      <saml:AudienceRestriction><saml:Audience>{{x .Audience}}</saml:Audience></saml:AudienceRestriction>
    </saml:Conditions>
    <saml:AuthnStatement AuthnInstant="{{t .IssueInstant}}" SessionIndex="_s{{.AssertionID}}">
      <saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>
    </saml:AuthnStatement>
    <saml:AttributeStatement>{{range .Attrs}}
      <saml:Attribute Name="{{x .Name}}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">{{range .Values}}<saml:AttributeValue xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="xs:string">{{x .}}</saml:AttributeValue>{{end}}</saml:Attribute>{{end}}
    </saml:AttributeStatement>
  </saml:Assertion>
</samlp:Response>
`))

func (r resp) xml() string {
	var b strings.Builder
	if err := respTemplate.Execute(&b, r); err != nil {
		panic(err)
	}
	return b.String()
}

// goSign signs the Response and/or the Assertion of doc with goxmldsig (for
// the attack tests, which manipulate signed documents; interop tests use the
// external signers).
func goSign(t testing.TB, xml string, k *keyPair, signResponse, signAssertion, sha1 bool) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(xml); err != nil {
		t.Fatalf("parse: %v", err)
	}
	root := doc.Root()
	sign := func(el *etree.Element) {
		ctx, err := dsig.NewSigningContext(k.key, [][]byte{k.cert.Raw})
		if err != nil {
			t.Fatal(err)
		}
		ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
		if sha1 {
			ctx.Hash = crypto.SHA1
			if err := ctx.SetSignatureMethod(dsig.RSASHA1SignatureMethod); err != nil {
				t.Fatal(err)
			}
		}
		// goxmldsig canonicalises the element it digests in place (dropping
		// namespace declarations exc-c14n does not render, like xmlns:xs
		// used only in xsi:type values); sign a copy so the document keeps
		// them, as real IdPs' documents do.
		sig, err := ctx.ConstructSignature(el.Copy(), true)
		if err != nil {
			t.Fatalf("sign: %v", err)
		}
		iss := el.SelectElement("Issuer")
		el.InsertChildAt(iss.Index()+1, sig)
	}
	if signAssertion {
		sign(root.SelectElement("Assertion"))
	}
	if signResponse {
		sign(root)
	}
	s, err := doc.WriteToString()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// runCmd runs an external program and fails the test with its output.
func runCmd(t testing.TB, dir string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requestFromRedirect decodes the AuthnRequest in a redirect URL.
func requestFromRedirect(t testing.TB, redirect string) (samlRequest, relayState string) {
	t.Helper()
	u, err := url.Parse(redirect)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("SAMLRequest"), u.Query().Get("RelayState")
}

func xmlEscape(b *strings.Builder, s string) error {
	return xml.EscapeText(b, []byte(s))
}

// inflate decodes an HTTP-Redirect SAMLRequest.
func inflate(t testing.TB, b64 string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func testIdPCerts(t testing.TB) []*x509.Certificate {
	return []*x509.Certificate{testKey(t, "idp").cert}
}
