package testenv

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// IdPUser is a person who can sign in at a SAMLIdPServer.
type IdPUser struct {
	Email    string   `json:"email"`    // sign-in name; sent as NameID (emailAddress format) and as the "name" claim
	Name     string   `json:"name"`     // display name ("displayname" claim)
	ObjectID string   `json:"objectID"` // "objectidentifier" claim; the NameID in persistent format
	Groups   []string `json:"groups"`   // "groups" claim, one value each
	Password string   `json:"password"` // what the sign-in form must receive; empty: any non-empty password
	// Login, when set, is what the sign-in form's email field must be
	// exactly (for users whose Email is not something a person types).
	Login string `json:"login,omitempty"`
	// NameID, when set, is sent as the Subject's NameID whatever the
	// format (an IdP whose NameID source attribute a user can edit).
	NameID string `json:"nameID,omitempty"`
	// OmitName leaves the "name" claim out, so the NameID identifies.
	OmitName bool `json:"omitName,omitempty"`
}

// SAMLIdPOptions configures a SAMLIdPServer. SetOptions changes them later.
type SAMLIdPOptions struct {
	Users []IdPUser

	// Which signatures the Response carries. Both false (the zero value)
	// means both signed, like SignAssertion and SignResponse both true.
	SignAssertion, SignResponse bool
	// Unsigned sends no signature at all (for refusal tests); it overrides
	// SignAssertion and SignResponse.
	Unsigned bool

	// EntraClaims sends the attributes under Entra ID's claim URIs
	// (…/identity/claims/objectidentifier, …/ws/2005/05/identity/claims/name,
	// …/identity/claims/displayname, …/ws/2008/06/identity/claims/groups,
	// plus tenantid, identityprovider, authnmethodsreferences and
	// emailaddress), without NameFormat or xsi:type, as Entra does.
	// Otherwise the names are objectidentifier, name, displayname and
	// groups (basic NameFormat, xs:string values).
	EntraClaims bool
	// GroupsOverage sends http://schemas.microsoft.com/claims/groups.link
	// (a Graph URL) instead of the groups, as Entra does past 150 groups.
	GroupsOverage bool
	// NameIDFormat of the Subject's NameID; default
	// urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress. With
	// …:2.0:nameid-format:persistent the NameID is the ObjectID, with
	// …:transient a random value, otherwise the Email.
	NameIDFormat string

	// WantAuthnRequestsSigned makes the IdP require signed AuthnRequests:
	// its metadata (MetadataXML) says WantAuthnRequestsSigned="true", and
	// samlify verifies each request's SigAlg and Signature (SAML bindings
	// §3.4.4.1) with the signing certificate of the requesting SP's
	// metadata. Unsigned requests, requests signed with RSA-SHA1 and
	// signatures that do not verify get a 400 error page (TrySignIn: a
	// *SignInError). SPs registered with SetSP have no certificate, so
	// their requests are refused too.
	WantAuthnRequestsSigned bool
}

// SAMLIdPServer is a real, interactive SAML 2.0 identity provider: samlify
// (npm 2.13.1, an implementation independent of Gatehouse's) in a small Node
// HTTP server on loopback. A browser redirected to SSOURL with an
// HTTP-Redirect AuthnRequest gets a sign-in page (#email, #password,
// button[type=submit]); after a successful sign-in an auto-submitting form
// (with a visible "Continue" button) POSTs SAMLResponse and RelayState to the
// ACS the service provider's metadata names. Wrong credentials show the page
// again with an error (#error). It answers only service providers it was told
// about (TrustSP, TrustSPMetadata, SetSP), any number of them at once.
//
// The Response is built by samlify's IdentityProvider.createLoginResponse:
// InResponseTo the request's ID, Destination and Recipient the ACS, Audience
// the SP's entity ID, signed with rsa-sha256 / sha256 and exclusive c14n by
// a fresh RSA-2048 key whose self-signed certificate is in the metadata.
type SAMLIdPServer struct {
	URL      string // http://127.0.0.1:port
	EntityID string // URL + "/metadata"
	SSOURL   string // URL + "/sso" (HTTP-Redirect binding)

	certPEM  string
	metadata []byte
	token    string
	proc     *proc

	mu   sync.Mutex
	opts SAMLIdPOptions
	sps  map[string]spEntry // by key: metadata URL, or entity ID for SetSP
	keys []string           // registration order
}

type spEntry struct {
	Metadata string `json:"metadata,omitempty"`
	EntityID string `json:"entityID,omitempty"`
	ACSURL   string `json:"acsURL,omitempty"`
}

// samlIdPDir is the Node project holding server.js, found from the module
// root so that tests of any package can start the IdP.
func samlIdPDir() string {
	return filepath.Join(RepoRoot(), "internal", "testenv", "testdata", "samlidp")
}

// SAMLIdP starts a SAML identity provider on a free loopback port with a
// fresh signing key, stopped at cleanup (and killed with the test process).
// It skips the test (fails under GATEHOUSE_REQUIRE_PEERS=1) when node or the
// npm packages are missing.
func SAMLIdP(t testing.TB, opts SAMLIdPOptions) *SAMLIdPServer {
	t.Helper()
	dir := NodeDir(t, samlIdPDir())
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "samlify")); err != nil {
		peerMissing(t, "samlify not installed in %s (run scripts/install-deps)", dir)
	}
	nodeBin, err := exec.LookPath("node")
	if err != nil {
		peerMissing(t, "node not found (run scripts/install-deps)")
	}
	tmp := t.TempDir()
	certPEM, err := writeIdPKey(tmp)
	if err != nil {
		t.Fatalf("saml idp: key: %v", err)
	}
	var tok [16]byte
	_, _ = rand.Read(tok[:])
	p := &SAMLIdPServer{certPEM: certPEM, token: hex.EncodeToString(tok[:]), opts: opts, sps: map[string]spEntry{}}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("saml idp: %v", err)
		}
		base := "http://127.0.0.1:" + strconv.Itoa(port)
		conf, _ := json.Marshal(map[string]any{
			"port": port, "baseURL": base, "entityID": base + "/metadata",
			"keyFile": filepath.Join(tmp, "key.pem"), "certFile": filepath.Join(tmp, "cert.pem"),
			"token": p.token,
		})
		confFile := filepath.Join(tmp, "config.json")
		if err := os.WriteFile(confFile, conf, 0o600); err != nil {
			t.Fatalf("saml idp: %v", err)
		}
		// --no-validate-asm: samlify's schema validator is libxml2 compiled
		// to asm.js (4 MB); V8 compiling it as asm.js costs 2-3 s of CPU at
		// the first validation, run as plain JavaScript it is ~0.3 s, then
		// ~0.1 s per AuthnRequest.
		cmd := newCmd(nil, syscall.SIGKILL, dir, nodeBin, "--no-validate-asm", "server.js", confFile)
		pr, err := startProc("samlidp", cmd)
		if err != nil {
			t.Fatalf("saml idp: %v", err)
		}
		if lastErr = waitHTTP(pr, base+"/healthz", 30*time.Second); lastErr != nil {
			pr.stop(syscall.SIGKILL, time.Second)
			if strings.Contains(pr.output(), "EADDRINUSE") {
				continue // someone took the port meanwhile
			}
			break
		}
		p.proc = pr
		p.URL, p.EntityID, p.SSOURL = base, base+"/metadata", base+"/sso"
		break
	}
	if p.proc == nil {
		t.Fatalf("saml idp: %v", lastErr)
	}
	t.Cleanup(func() {
		p.proc.stop(syscall.SIGTERM, 5*time.Second)
		if t.Failed() {
			t.Logf("saml idp output:\n%s", p.proc.output())
		}
	})

	p.mu.Lock()
	defer p.mu.Unlock()
	// The answer carries the metadata, as it is for these options.
	if err := p.pushLocked(); err != nil {
		t.Fatalf("saml idp: %v", err)
	}
	return p
}

// writeIdPKey makes an RSA-2048 key and a self-signed certificate (valid
// from an hour ago for a year) as key.pem and cert.pem in dir.
func writeIdPKey(dir string) (certPEM string, err error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return "", err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "Gatehouse testenv SAML IdP", Organization: []string{"testenv"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", err
	}
	certPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte(certPEM), 0o600); err != nil {
		return "", err
	}
	return certPEM, nil
}

// waitHTTP polls u until it answers 200, the process exits or the time is up.
func waitHTTP(p *proc, u string, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.err, p.output())
		}
		resp, err := client.Get(u)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer %s within %s (last: %v)\n%s", p.name, u, timeout, err, p.output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func httpGet(u string) ([]byte, error) {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(u)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", u, resp.Status, bytes.TrimSpace(b))
	}
	return b, nil
}

// MetadataXML returns the IdP metadata samlify generated (entityID,
// signing certificate, HTTP-Redirect SingleSignOnService,
// WantAuthnRequestsSigned), as an admin would download it and upload it
// into Gatehouse. It is also served at EntityID. It changes when
// SetOptions changes WantAuthnRequestsSigned.
func (p *SAMLIdPServer) MetadataXML() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.metadata)
}

// CertificatePEM returns the IdP's signing certificate.
func (p *SAMLIdPServer) CertificatePEM() string { return p.certPEM }

// Certificate returns the IdP's signing certificate, parsed.
func (p *SAMLIdPServer) Certificate() *x509.Certificate {
	b, _ := pem.Decode([]byte(p.certPEM))
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		panic(err) // we made it
	}
	return c
}

// SetUsers replaces the people who can sign in (taking effect at the next
// sign-in form submitted).
func (p *SAMLIdPServer) SetUsers(t testing.TB, users []IdPUser) {
	t.Helper()
	p.update(t, func(o *SAMLIdPOptions) { o.Users = slices.Clone(users) })
}

// AddUser adds a person, or replaces the one with the same login (or, for
// users without one, the same email).
func (p *SAMLIdPServer) AddUser(t testing.TB, u IdPUser) {
	t.Helper()
	p.update(t, func(o *SAMLIdPOptions) {
		o.Users = slices.DeleteFunc(slices.Clone(o.Users), func(x IdPUser) bool {
			if u.Login != "" || x.Login != "" {
				return x.Login == u.Login // users with a login are told apart by it
			}
			return strings.EqualFold(x.Email, u.Email)
		})
		o.Users = append(o.Users, u)
	})
}

// SetOptions replaces every option, users included.
func (p *SAMLIdPServer) SetOptions(t testing.TB, opts SAMLIdPOptions) {
	t.Helper()
	p.update(t, func(o *SAMLIdPOptions) { *o = opts })
}

// Options returns the current options.
func (p *SAMLIdPServer) Options() SAMLIdPOptions {
	p.mu.Lock()
	defer p.mu.Unlock()
	o := p.opts
	o.Users = slices.Clone(o.Users)
	return o
}

func (p *SAMLIdPServer) update(t testing.TB, change func(*SAMLIdPOptions)) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.opts
	change(&p.opts)
	if err := p.pushLocked(); err != nil {
		p.opts = old
		t.Fatalf("saml idp: %v", err)
	}
}

// SetSP registers (or replaces) a service provider by entity ID and
// HTTP-POST ACS URL.
func (p *SAMLIdPServer) SetSP(t testing.TB, entityID, acsURL string) {
	t.Helper()
	p.addSP(t, "entity:"+entityID, spEntry{EntityID: entityID, ACSURL: acsURL})
}

// TrustSP downloads a service provider's metadata (for Gatehouse:
// GET <base>/saml/<account>/metadata) and registers that SP; samlify reads
// its entity ID and HTTP-POST AssertionConsumerService from it. Calling it
// again with the same URL downloads the metadata again.
func (p *SAMLIdPServer) TrustSP(t testing.TB, spMetadataURL string) {
	t.Helper()
	md, err := httpGet(spMetadataURL)
	if err != nil {
		t.Fatalf("saml idp: SP metadata: %v", err)
	}
	p.addSP(t, "url:"+spMetadataURL, spEntry{Metadata: string(md)})
}

// TrustSPMetadata registers the service provider described by metadata XML.
func (p *SAMLIdPServer) TrustSPMetadata(t testing.TB, metadata []byte) {
	t.Helper()
	p.addSP(t, "xml:"+string(metadata), spEntry{Metadata: string(metadata)})
}

func (p *SAMLIdPServer) addSP(t testing.TB, key string, e spEntry) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	old, had := p.sps[key]
	oldKeys := p.keys
	p.sps[key] = e
	if !had {
		p.keys = append(slices.Clone(p.keys), key)
	}
	if err := p.pushLocked(); err != nil {
		if had {
			p.sps[key] = old
		} else {
			delete(p.sps, key)
		}
		p.keys = oldKeys
		t.Fatalf("saml idp: register SP: %v", err)
	}
}

// pushLocked sends the whole configuration to the server.
func (p *SAMLIdPServer) pushLocked() error {
	o := p.opts
	signA, signR := o.SignAssertion, o.SignResponse
	switch {
	case o.Unsigned:
		signA, signR = false, false
	case !signA && !signR:
		signA, signR = true, true
	}
	users := o.Users
	if users == nil {
		users = []IdPUser{}
	}
	sps := make([]spEntry, 0, len(p.keys))
	for _, k := range p.keys {
		sps = append(sps, p.sps[k])
	}
	body, err := json.Marshal(map[string]any{
		"users": users, "sps": sps,
		"signAssertion": signA, "signResponse": signR,
		"entraClaims": o.EntraClaims, "groupsOverage": o.GroupsOverage,
		"nameIDFormat": o.NameIDFormat, "wantAuthnRequestsSigned": o.WantAuthnRequestsSigned,
	})
	if err != nil {
		return err
	}
	req, _ := http.NewRequest(http.MethodPut, p.URL+"/_testenv/config", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Testenv-Token", p.token)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return fmt.Errorf("configure: %w\n%s", err, p.proc.output())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("configure: %s: %s", resp.Status, bytes.TrimSpace(b))
	}
	var answer struct{ Metadata string }
	if err := json.Unmarshal(b, &answer); err != nil || answer.Metadata == "" {
		return fmt.Errorf("configure: no metadata in the answer %q (%v)", b, err)
	}
	p.metadata = []byte(answer.Metadata)
	return nil
}

// SignIn does over HTTP what a person does in the browser: it follows
// redirectURL (the IdP URL Gatehouse redirected to) with client, submits the
// sign-in form with email and password, and returns the ACS URL and the form
// fields (SAMLResponse, RelayState) the browser would POST there, so the test
// can POST them itself with its own cookie jar. It fails the test when the
// IdP refuses (wrong password, unknown SP, bad AuthnRequest). A nil client
// means http.DefaultClient.
func (p *SAMLIdPServer) SignIn(t testing.TB, client *http.Client, redirectURL, email, password string) (acsURL string, form url.Values) {
	t.Helper()
	acsURL, form, err := p.TrySignIn(client, redirectURL, email, password)
	if err != nil {
		t.Fatalf("saml idp sign-in as %s: %v", email, err)
	}
	return acsURL, form
}

// SignInError is what TrySignIn returns when the IdP showed an error rather
// than posting a Response: Status is the HTTP status, Message the page's
// error text (e.g. "Wrong email or password.").
type SignInError struct {
	Status  int
	Message string
}

func (e *SignInError) Error() string {
	return fmt.Sprintf("the IdP answered %d: %s", e.Status, e.Message)
}

// TrySignIn is SignIn returning the failure: a *SignInError when the IdP
// showed its sign-in page again or an error page.
func (p *SAMLIdPServer) TrySignIn(client *http.Client, redirectURL, email, password string) (acsURL string, form url.Values, err error) {
	if client == nil {
		client = http.DefaultClient
	}
	if !strings.HasPrefix(redirectURL, p.SSOURL+"?") {
		return "", nil, fmt.Errorf("%q does not go to this IdP's SSO URL %s", redirectURL, p.SSOURL)
	}
	resp, err := client.Get(redirectURL)
	if err != nil {
		return "", nil, err
	}
	page, err := readPage(resp)
	if err != nil {
		return "", nil, err
	}
	f := page.form("signin")
	if f == nil {
		return "", nil, &SignInError{Status: page.status, Message: page.errorText()}
	}
	f.fields.Set("email", email)
	f.fields.Set("password", password)
	action, err := page.base.Parse(f.action)
	if err != nil {
		return "", nil, err
	}
	resp, err = client.PostForm(action.String(), f.fields)
	if err != nil {
		return "", nil, err
	}
	page, err = readPage(resp)
	if err != nil {
		return "", nil, err
	}
	f = page.form("saml-post")
	if f == nil {
		return "", nil, &SignInError{Status: page.status, Message: page.errorText()}
	}
	return f.action, f.fields, nil
}

// htmlPage is an IdP page reduced to what SignIn needs.
type htmlPage struct {
	status int
	base   *url.URL
	forms  map[string]*htmlForm // by id
	errMsg string               // text of #error
	text   string
}

type htmlForm struct {
	action string
	fields url.Values
}

func (pg *htmlPage) form(id string) *htmlForm { return pg.forms[id] }

func (pg *htmlPage) errorText() string {
	if pg.errMsg != "" {
		return pg.errMsg
	}
	s := strings.Join(strings.Fields(pg.text), " ")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

func readPage(resp *http.Response) (*htmlPage, error) {
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("parse IdP page: %w", err)
	}
	pg := &htmlPage{status: resp.StatusCode, base: resp.Request.URL, forms: map[string]*htmlForm{}}
	var text strings.Builder
	var walk func(n *html.Node, form *htmlForm)
	walk = func(n *html.Node, form *htmlForm) {
		if n.Type == html.TextNode {
			text.WriteString(n.Data)
			text.WriteByte(' ')
		}
		if n.Type == html.ElementNode {
			attr := func(k string) string {
				for _, a := range n.Attr {
					if a.Key == k {
						return a.Val
					}
				}
				return ""
			}
			switch n.Data {
			case "form":
				form = &htmlForm{action: attr("action"), fields: url.Values{}}
				pg.forms[attr("id")] = form
			case "input":
				if form != nil && attr("name") != "" {
					form.fields.Add(attr("name"), attr("value"))
				}
			case "script", "style":
				return
			}
			if attr("id") == "error" {
				pg.errMsg = strings.TrimSpace(nodeText(n))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(doc, nil)
	pg.text = text.String()
	if len(pg.forms) == 0 && pg.errMsg == "" && pg.status != http.StatusOK {
		pg.errMsg = fmt.Sprintf("%s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return pg, nil
}

func nodeText(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}
