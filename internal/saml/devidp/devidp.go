// Package devidp is a small SAML identity provider for development: it lets
// a newcomer try Gatehouse's SSO (portal sign-in, Desktop activation) on one
// machine without an Entra/Okta tenant. It serves its metadata, shows a
// sign-in page listing the configured test users, answers an AuthnRequest
// received by HTTP-Redirect and POSTs a signed Response (Response and
// Assertion both signed, RSA-SHA256) to the ACS through an auto-submitting
// form. Its key and certificate are generated once and kept in a directory,
// so the metadata uploaded to Gatehouse stays valid across restarts.
//
// It trusts every service provider that sends it a request and asks no
// password: it is for loopback development only, never for production.
// It is not the test oracle for internal/saml (independent IdPs are); its
// own test checks it against that validator.
package devidp

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"html/template"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"gatehouse/internal/ids"
	"gatehouse/internal/strictjson"
)

// User is one test person the sign-in page offers.
type User struct {
	Email       string   `json:"email"`
	DisplayName string   `json:"name"`
	ObjectID    string   `json:"objectID"`
	Groups      []string `json:"groups"`
}

// DefaultUsers are offered when no users file is given.
var DefaultUsers = []User{
	{Email: "ada@example.com", DisplayName: "Ada Lovelace", ObjectID: "6c1b1f1e-0d1a-4f3e-9a59-0000000000a1",
		Groups: []string{"Desktop Users", "Admins"}},
	{Email: "grace@example.com", DisplayName: "Grace Hopper", ObjectID: "6c1b1f1e-0d1a-4f3e-9a59-0000000000b2",
		Groups: []string{"Desktop Users"}},
	{Email: "alan@example.com", DisplayName: "Alan Turing", ObjectID: "6c1b1f1e-0d1a-4f3e-9a59-0000000000c3"},
}

// Server is the development IdP. Set Users, BaseURL (its own external URL,
// e.g. http://127.0.0.1:8090; the entity ID is BaseURL + "/metadata"), Key
// and Cert, then serve Handler().
type Server struct {
	Users   []User
	BaseURL string
	Key     crypto.Signer
	Cert    *x509.Certificate
	Now     func() time.Time // default time.Now
}

// EntityID is the IdP's entity ID (its metadata URL).
func (s *Server) EntityID() string { return strings.TrimRight(s.BaseURL, "/") + "/metadata" }

// SSOURL is where AuthnRequests go (HTTP-Redirect).
func (s *Server) SSOURL() string { return strings.TrimRight(s.BaseURL, "/") + "/sso" }

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Handler serves GET /, GET /metadata, GET /sso and POST /sso.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.home)
	mux.HandleFunc("GET /metadata", s.metadata)
	mux.HandleFunc("GET /sso", s.signInPage)
	mux.HandleFunc("POST /sso", s.signIn)
	return mux
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	render(w, http.StatusOK, homePage, map[string]any{"Metadata": s.EntityID(), "Users": s.Users})
}

func (s *Server) metadata(w http.ResponseWriter, r *http.Request) {
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", "urn:oasis:names:tc:SAML:2.0:metadata")
	ed.CreateAttr("xmlns:ds", dsig.Namespace)
	ed.CreateAttr("entityID", s.EntityID())
	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("WantAuthnRequestsSigned", "false")
	idp.CreateAttr("protocolSupportEnumeration", "urn:oasis:names:tc:SAML:2.0:protocol")
	kd := idp.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", "signing")
	kd.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(s.Cert.Raw))
	idp.CreateElement("md:NameIDFormat").SetText(nameIDEmail)
	sso := idp.CreateElement("md:SingleSignOnService")
	sso.CreateAttr("Binding", "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect")
	sso.CreateAttr("Location", s.SSOURL())
	doc.Indent(2)
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	doc.WriteTo(w)
}

// authnRequest is what the IdP needs from a request.
type authnRequest struct {
	ID, Issuer, ACS string
}

const maxRequest = 64 << 10

func parseRequest(samlRequest string) (authnRequest, error) {
	var req authnRequest
	raw, err := base64.StdEncoding.DecodeString(samlRequest)
	if err != nil {
		return req, fmt.Errorf("SAMLRequest is not base64: %v", err)
	}
	xml, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(raw)), maxRequest+1))
	if err != nil {
		return req, fmt.Errorf("SAMLRequest is not deflated (HTTP-Redirect binding): %v", err)
	}
	if len(xml) > maxRequest {
		return req, errors.New("SAMLRequest too large")
	}
	if bytes.Contains(xml, []byte("<!DOCTYPE")) || bytes.Contains(xml, []byte("<!ENTITY")) {
		return req, errors.New("SAMLRequest contains a DTD")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(xml); err != nil {
		return req, fmt.Errorf("SAMLRequest is not XML: %v", err)
	}
	root := doc.Root()
	if root == nil || root.Tag != "AuthnRequest" || root.NamespaceURI() != "urn:oasis:names:tc:SAML:2.0:protocol" {
		return req, errors.New("SAMLRequest is not an AuthnRequest")
	}
	req.ID = root.SelectAttrValue("ID", "")
	req.ACS = root.SelectAttrValue("AssertionConsumerServiceURL", "")
	if iss := root.SelectElement("Issuer"); iss != nil {
		req.Issuer = strings.TrimSpace(iss.Text())
	}
	u, err := url.Parse(req.ACS)
	switch {
	case req.ID == "":
		return req, errors.New("the AuthnRequest has no ID")
	case req.Issuer == "":
		return req, errors.New("the AuthnRequest has no Issuer (the SP entity ID)")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return req, fmt.Errorf("the AuthnRequest's AssertionConsumerServiceURL %q is not an http(s) URL", req.ACS)
	}
	return req, nil
}

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, err := parseRequest(q.Get("SAMLRequest"))
	if err != nil {
		render(w, http.StatusBadRequest, errorPage, err.Error())
		return
	}
	render(w, http.StatusOK, signInPage, map[string]any{
		"Request": req, "Users": s.Users,
		"SAMLRequest": q.Get("SAMLRequest"), "RelayState": q.Get("RelayState"),
	})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxRequest)
	if err := r.ParseForm(); err != nil {
		render(w, http.StatusBadRequest, errorPage, err.Error())
		return
	}
	req, err := parseRequest(r.PostForm.Get("SAMLRequest"))
	if err != nil {
		render(w, http.StatusBadRequest, errorPage, err.Error())
		return
	}
	i, err := strconv.Atoi(r.PostForm.Get("user"))
	if err != nil || i < 0 || i >= len(s.Users) {
		render(w, http.StatusBadRequest, errorPage, "pick one of the listed users")
		return
	}
	xml, err := s.response(req, s.Users[i])
	if err != nil {
		render(w, http.StatusInternalServerError, errorPage, err.Error())
		return
	}
	render(w, http.StatusOK, postPage, map[string]any{
		"ACS": req.ACS, "SAMLResponse": base64.StdEncoding.EncodeToString(xml), "RelayState": r.PostForm.Get("RelayState"),
	})
}

const (
	nameIDEmail = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
)

// response builds the signed Response answering req for u.
func (s *Server) response(req authnRequest, u User) ([]byte, error) {
	now := s.now()
	ts := func(t time.Time) string { return t.Format("2006-01-02T15:04:05Z") }
	respID, assertID := "_"+ids.New(), "_"+ids.New()

	resp := etree.NewElement("samlp:Response")
	resp.CreateAttr("xmlns:samlp", nsProtocol)
	resp.CreateAttr("xmlns:saml", nsAssertion)
	resp.CreateAttr("ID", respID)
	resp.CreateAttr("Version", "2.0")
	resp.CreateAttr("IssueInstant", ts(now))
	resp.CreateAttr("Destination", req.ACS)
	resp.CreateAttr("InResponseTo", req.ID)
	resp.CreateElement("saml:Issuer").SetText(s.EntityID())
	resp.CreateElement("samlp:Status").CreateElement("samlp:StatusCode").CreateAttr("Value", "urn:oasis:names:tc:SAML:2.0:status:Success")

	a := resp.CreateElement("saml:Assertion")
	a.CreateAttr("xmlns:saml", nsAssertion)
	a.CreateAttr("ID", assertID)
	a.CreateAttr("Version", "2.0")
	a.CreateAttr("IssueInstant", ts(now))
	a.CreateElement("saml:Issuer").SetText(s.EntityID())
	subj := a.CreateElement("saml:Subject")
	nid := subj.CreateElement("saml:NameID")
	nid.CreateAttr("Format", nameIDEmail)
	nid.SetText(u.Email)
	sc := subj.CreateElement("saml:SubjectConfirmation")
	sc.CreateAttr("Method", "urn:oasis:names:tc:SAML:2.0:cm:bearer")
	scd := sc.CreateElement("saml:SubjectConfirmationData")
	scd.CreateAttr("InResponseTo", req.ID)
	scd.CreateAttr("NotOnOrAfter", ts(now.Add(5*time.Minute)))
	scd.CreateAttr("Recipient", req.ACS)
	cond := a.CreateElement("saml:Conditions")
	cond.CreateAttr("NotBefore", ts(now.Add(-30*time.Second)))
	cond.CreateAttr("NotOnOrAfter", ts(now.Add(5*time.Minute)))
	cond.CreateElement("saml:AudienceRestriction").CreateElement("saml:Audience").SetText(req.Issuer)
	as := a.CreateElement("saml:AuthnStatement")
	as.CreateAttr("AuthnInstant", ts(now))
	as.CreateAttr("SessionIndex", "_"+ids.New())
	as.CreateElement("saml:AuthnContext").CreateElement("saml:AuthnContextClassRef").
		SetText("urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified")
	st := a.CreateElement("saml:AttributeStatement")
	addAttr := func(name string, values ...string) {
		at := st.CreateElement("saml:Attribute")
		at.CreateAttr("Name", name)
		at.CreateAttr("NameFormat", "urn:oasis:names:tc:SAML:2.0:attrname-format:basic")
		for _, v := range values {
			at.CreateElement("saml:AttributeValue").SetText(v)
		}
	}
	addAttr("objectidentifier", u.ObjectID)
	addAttr("name", u.Email)
	addAttr("displayname", u.DisplayName)
	if len(u.Groups) > 0 {
		addAttr("groups", u.Groups...)
	}

	if err := s.sign(a); err != nil {
		return nil, err
	}
	if err := s.sign(resp); err != nil {
		return nil, err
	}
	doc := etree.NewDocument()
	doc.SetRoot(resp)
	return doc.WriteToBytes()
}

// sign puts an enveloped signature on el, after its Issuer.
func (s *Server) sign(el *etree.Element) error {
	ctx, err := dsig.NewSigningContext(s.Key, [][]byte{s.Cert.Raw})
	if err != nil {
		return err
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return err
	}
	// goxmldsig canonicalises what it digests in place; sign a copy (with the
	// namespace declarations it inherits) so the document stays as built.
	sig, err := ctx.ConstructSignature(el.Copy(), true)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	el.InsertChildAt(el.SelectElement("Issuer").Index()+1, sig)
	return nil
}

// LoadOrCreateKey returns the IdP's RSA key and self-signed certificate from
// dir (key.pem, cert.pem), creating them (valid ten years) on first use.
func LoadOrCreateKey(dir, commonName string) (crypto.Signer, *x509.Certificate, error) {
	keyFile, certFile := filepath.Join(dir, "key.pem"), filepath.Join(dir, "cert.pem")
	keyPEM, kerr := os.ReadFile(keyFile)
	certPEM, cerr := os.ReadFile(certFile)
	if kerr == nil && cerr == nil {
		kb, _ := pem.Decode(keyPEM)
		cb, _ := pem.Decode(certPEM)
		if kb == nil || cb == nil {
			return nil, nil, fmt.Errorf("dev IdP key or certificate in %s is not PEM; delete both files to make new ones", dir)
		}
		key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("dev IdP key %s: %w", keyFile, err)
		}
		cert, err := x509.ParseCertificate(cb.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("dev IdP certificate %s: %w", certFile, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, nil, fmt.Errorf("dev IdP key %s cannot sign", keyFile)
		}
		return signer, cert, nil
	}
	if !errors.Is(kerr, os.ErrNotExist) && kerr != nil {
		return nil, nil, kerr
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"Gatehouse development IdP"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}

// LoadUsers reads a users file: a JSON array of
// {"email", "name", "objectID", "groups": […]}. Missing objectIDs are
// derived from the email so they stay the same across restarts.
func LoadUsers(path string) ([]User, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("users file: %w", err)
	}
	if err := strictjson.Check(b, strictjson.Options{}); err != nil {
		return nil, fmt.Errorf("users file %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var users []User
	if err := dec.Decode(&users); err != nil {
		return nil, fmt.Errorf("users file %s: expected a JSON array of {\"email\", \"name\", \"objectID\", \"groups\"}: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users file %s lists no users", path)
	}
	for i := range users {
		u := &users[i]
		if !strings.Contains(u.Email, "@") {
			return nil, fmt.Errorf("users file %s: user %d has no valid email", path, i+1)
		}
		if u.DisplayName == "" {
			u.DisplayName = u.Email
		}
		if u.ObjectID == "" {
			u.ObjectID = stableID(u.Email)
		}
	}
	return users, nil
}

// stableID derives a UUID-shaped id from an email.
func stableID(email string) string {
	h := ids.Hash(strings.ToLower(email))
	return h[0:8] + "-" + h[8:12] + "-4" + h[13:16] + "-8" + h[17:20] + "-" + h[20:32]
}

// Run serves the development IdP on addr (e.g. "127.0.0.1:8090") with the
// users of usersFile (DefaultUsers when empty) and its key in dataDir, until
// ctx ends. It prints where the metadata is.
func Run(ctx context.Context, addr, usersFile, dataDir string) error {
	users := DefaultUsers
	if usersFile != "" {
		var err error
		if users, err = LoadUsers(usersFile); err != nil {
			return err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("dev IdP: %w", err)
	}
	base := "http://" + ln.Addr().String()
	key, cert, err := LoadOrCreateKey(dataDir, "Gatehouse dev IdP")
	if err != nil {
		ln.Close()
		return fmt.Errorf("dev IdP key: %w", err)
	}
	s := &Server{Users: users, BaseURL: base, Key: key, Cert: cert}
	srv := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(os.Stderr, "Development SAML IdP (no passwords — for local testing only) at %s/\n  metadata: %s\n  users: %d\n", base, s.EntityID(), len(users))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-errc:
		return err
	}
}

func render(w http.ResponseWriter, status int, t *template.Template, data any) {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

const pageHead = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Gatehouse dev IdP</title>
<style>body{font:16px system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em}
.user{display:block;width:100%;text-align:left;padding:.8em;margin:.5em 0;border:1px solid #ccc;border-radius:6px;background:#fafafa;cursor:pointer}
.user:hover{background:#eef}small{color:#555}code{background:#eee;padding:0 .2em}</style></head><body>`

var (
	homePage = template.Must(template.New("home").Parse(pageHead + `<h1>Gatehouse development IdP</h1>
<p>For local testing only: anyone can sign in as any user below, without a password.</p>
<p>Metadata URL (upload it in the SSO configurator): <code>{{.Metadata}}</code></p>
<h2>Users</h2><ul>{{range .Users}}<li>{{.DisplayName}} &lt;{{.Email}}&gt; <small>{{.ObjectID}}{{if .Groups}} — groups: {{range $i, $g := .Groups}}{{if $i}}, {{end}}{{$g}}{{end}}{{end}}</small></li>{{end}}</ul></body></html>`))

	signInPage = template.Must(template.New("signin").Parse(pageHead + `<h1>Sign in</h1>
<p><b>{{.Request.Issuer}}</b> asks who you are. Pick a test user:</p>
<form method="post" action="sso">
<input type="hidden" name="SAMLRequest" value="{{.SAMLRequest}}">
<input type="hidden" name="RelayState" value="{{.RelayState}}">
{{range $i, $u := .Users}}<button class="user" name="user" value="{{$i}}"><b>{{$u.DisplayName}}</b><br><small>{{$u.Email}}{{if $u.Groups}} — {{range $j, $g := $u.Groups}}{{if $j}}, {{end}}{{$g}}{{end}}{{end}}</small></button>
{{end}}</form>
<p><small>The answer goes to {{.Request.ACS}}.</small></p></body></html>`))

	postPage = template.Must(template.New("post").Parse(pageHead + `<p>Returning to the application…</p>
<form method="post" action="{{.ACS}}">
<input type="hidden" name="SAMLResponse" value="{{.SAMLResponse}}">
{{if .RelayState}}<input type="hidden" name="RelayState" value="{{.RelayState}}">{{end}}
<noscript><button>Continue</button></noscript></form>
<script>document.forms[0].submit()</script></body></html>`))

	errorPage = template.Must(template.New("error").Parse(pageHead + `<h1>Cannot sign in</h1><p>{{.}}</p></body></html>`))
)
