package testenv_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/ids"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// testSP is a tiny service provider on gatehouse/internal/saml, one business
// account per spAccount, served over HTTP like Gatehouse's routes:
//
//	GET  /saml/{account}/metadata  SP metadata
//	GET  /saml/{account}/login     StartLogin, binding cookie, 303 to the IdP
//	POST /saml/{account}/acs       ConsumeResponse with the cookie's binding
type testSP struct {
	srv *httptest.Server
	svc *saml.Service
	idp saml.IdPSettings

	mu       sync.Mutex
	accounts map[string]*spAccount
}

type spAccount struct {
	id       string
	settings saml.SPSettings
	last     *saml.Assertion
	lastErr  error
	lastXML  []byte // the decoded SAMLResponse last posted
}

func newTestSP(t *testing.T, db *store.DB, idp *testenv.SAMLIdPServer) *testSP {
	t.Helper()
	settings, err := saml.ParseIdPMetadata(idp.MetadataXML())
	if err != nil {
		t.Fatalf("our SP refuses the IdP metadata: %v", err)
	}
	sp := &testSP{svc: &saml.Service{DB: db}, idp: settings, accounts: map[string]*spAccount{}}
	sp.srv = httptest.NewServer(http.HandlerFunc(sp.serve))
	t.Cleanup(sp.srv.Close)
	return sp
}

// account adds a business account and returns its id.
func (sp *testSP) account(t *testing.T) *spAccount {
	t.Helper()
	id := ids.New()
	if _, err := sp.svc.DB.Exec(context.Background(), `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`,
		id, "Account "+id[:8], store.Now()); err != nil {
		t.Fatalf("insert account: %v", err)
	}
	a := &spAccount{id: id, settings: saml.SPSettings{
		EntityID: sp.srv.URL + "/saml/" + id,
		ACSURL:   sp.srv.URL + "/saml/" + id + "/acs",
	}}
	sp.mu.Lock()
	sp.accounts[id] = a
	sp.mu.Unlock()
	return a
}

func (sp *testSP) metadataURL(a *spAccount) string { return sp.srv.URL + "/saml/" + a.id + "/metadata" }
func (sp *testSP) loginURL(a *spAccount) string    { return sp.srv.URL + "/saml/" + a.id + "/login" }

func (sp *testSP) result(a *spAccount) (*saml.Assertion, []byte, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return a.last, a.lastXML, a.lastErr
}

func (sp *testSP) serve(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) != 3 || parts[0] != "saml" {
		http.NotFound(w, r)
		return
	}
	sp.mu.Lock()
	a := sp.accounts[parts[1]]
	sp.mu.Unlock()
	if a == nil {
		http.NotFound(w, r)
		return
	}
	switch {
	case r.Method == http.MethodGet && parts[2] == "metadata":
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		w.Write(saml.SPMetadata(a.settings))
	case r.Method == http.MethodGet && parts[2] == "login":
		binding := ids.Secret(16)
		http.SetCookie(w, &http.Cookie{Name: "sp_binding", Value: binding, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
		redirect, _, err := sp.svc.StartLogin(r.Context(), a.id, a.settings, sp.idp, saml.PurposePortal, "attempt", binding)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, redirect, http.StatusSeeOther)
	case r.Method == http.MethodPost && parts[2] == "acs":
		binding := ""
		if c, err := r.Cookie("sp_binding"); err == nil {
			binding = c.Value
		}
		resp := r.PostFormValue("SAMLResponse")
		raw, _ := base64.StdEncoding.DecodeString(resp)
		got, err := sp.svc.ConsumeResponse(r.Context(), a.id, a.settings, sp.idp, resp, binding)
		sp.mu.Lock()
		a.last, a.lastErr, a.lastXML = got, err, raw
		sp.mu.Unlock()
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if err != nil {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprintf(w, `<!doctype html><title>Refused</title><p id="refusal">%s</p>`, html.EscapeString(err.Error()))
			return
		}
		fmt.Fprintf(w, `<!doctype html><title>Signed in</title><h1 id="result">Signed in as %s</h1><p id="groups">%s</p>`,
			html.EscapeString(got.NameID), html.EscapeString(strings.Join(got.Groups, ",")))
	default:
		http.NotFound(w, r)
	}
}

// signInHTTP runs a whole sign-in without a browser: the SP's login URL,
// the IdP's form via SignIn, and the POST to the ACS with the same jar.
func (sp *testSP) signInHTTP(t *testing.T, idp *testenv.SAMLIdPServer, a *spAccount, email, password string) (*saml.Assertion, []byte, error) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(sp.loginURL(a))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("SP login: %s", resp.Status)
	}
	acs, form := idp.SignIn(t, client, resp.Header.Get("Location"), email, password)
	if acs != a.settings.ACSURL {
		t.Fatalf("the IdP posts to %q, want the ACS %q", acs, a.settings.ACSURL)
	}
	if form.Get("RelayState") == "" || form.Get("SAMLResponse") == "" {
		t.Fatalf("form fields %v", form)
	}
	resp, err = client.PostForm(acs, form)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return sp.result(a)
}

// xmlFacts is what a Response looks like from outside: which elements carry
// a ds:Signature, the algorithms, and the attribute Names.
type xmlFacts struct {
	signedParents []string // local names of the elements holding a Signature
	sigAlgs       []string
	digestAlgs    []string
	attrNames     []string
	nameIDFormat  string
}

func responseFacts(t *testing.T, raw []byte) xmlFacts {
	t.Helper()
	var f xmlFacts
	var stack []string
	dec := xml.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("response XML: %v\n%s", err, raw)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			attr := func(k string) string {
				for _, a := range el.Attr {
					if a.Name.Local == k {
						return a.Value
					}
				}
				return ""
			}
			switch el.Name.Local {
			case "Signature":
				if len(stack) > 0 {
					f.signedParents = append(f.signedParents, stack[len(stack)-1])
				}
			case "SignatureMethod":
				f.sigAlgs = append(f.sigAlgs, attr("Algorithm"))
			case "DigestMethod":
				f.digestAlgs = append(f.digestAlgs, attr("Algorithm"))
			case "Attribute":
				f.attrNames = append(f.attrNames, attr("Name"))
			case "NameID":
				f.nameIDFormat = attr("Format")
			}
			stack = append(stack, el.Name.Local)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		}
	}
	slices.Sort(f.signedParents)
	return f
}

func TestSAMLIdPMetadata(t *testing.T) {
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{})
	if !strings.HasPrefix(idp.URL, "http://127.0.0.1:") || idp.SSOURL != idp.URL+"/sso" || idp.EntityID == "" {
		t.Fatalf("URL %q SSOURL %q EntityID %q", idp.URL, idp.SSOURL, idp.EntityID)
	}
	var md struct {
		EntityID string `xml:"entityID,attr"`
		IDP      struct {
			Keys []struct {
				Use  string `xml:"use,attr"`
				Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
			} `xml:"KeyDescriptor"`
			SSO []struct {
				Binding  string `xml:"Binding,attr"`
				Location string `xml:"Location,attr"`
			} `xml:"SingleSignOnService"`
		} `xml:"IDPSSODescriptor"`
	}
	if err := xml.Unmarshal(idp.MetadataXML(), &md); err != nil {
		t.Fatalf("metadata: %v\n%s", err, idp.MetadataXML())
	}
	if md.EntityID != idp.EntityID {
		t.Errorf("entityID %q, want %q", md.EntityID, idp.EntityID)
	}
	if len(md.IDP.SSO) != 1 || md.IDP.SSO[0].Binding != saml.BindingRedirect || md.IDP.SSO[0].Location != idp.SSOURL {
		t.Errorf("SingleSignOnService %+v, want HTTP-Redirect at %s", md.IDP.SSO, idp.SSOURL)
	}
	cert := idp.Certificate()
	if len(md.IDP.Keys) != 1 || md.IDP.Keys[0].Use != "signing" ||
		strings.Join(strings.Fields(md.IDP.Keys[0].Cert), "") != base64.StdEncoding.EncodeToString(cert.Raw) {
		t.Errorf("KeyDescriptor %+v is not the signing certificate", md.IDP.Keys)
	}
	if !strings.Contains(idp.CertificatePEM(), "BEGIN CERTIFICATE") {
		t.Errorf("CertificatePEM %q", idp.CertificatePEM())
	}
	// Gatehouse's own parser reads it the same way.
	got, err := saml.ParseIdPMetadata(idp.MetadataXML())
	if err != nil {
		t.Fatal(err)
	}
	if got.EntityID != idp.EntityID || got.SSOURL != idp.SSOURL || got.SSOBinding != saml.SSOBindingRedirect ||
		len(got.Certificates) != 1 || !got.Certificates[0].Equal(cert) {
		t.Errorf("parsed %+v", got)
	}
	// A second IdP has its own key and port.
	other := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{})
	if other.URL == idp.URL || other.CertificatePEM() == idp.CertificatePEM() {
		t.Error("two IdPs share a port or a key")
	}
}

var ada = testenv.IdPUser{
	Email: "ada@example.com", Name: "Ada Lovelace", Password: "analytical-engine",
	ObjectID: "0b1c2d3e-0000-4000-8000-00000000000a",
	Groups:   []string{"11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"},
}

func TestSAMLIdPSignIn(t *testing.T) {
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	sp := newTestSP(t, testenv.SQLite(t), idp)
	acct := sp.account(t)
	idp.TrustSP(t, sp.metadataURL(acct))

	entra := []string{
		"http://schemas.microsoft.com/identity/claims/objectidentifier",
		"http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
		"http://schemas.microsoft.com/identity/claims/displayname",
	}
	for _, c := range []struct {
		name       string
		opts       testenv.SAMLIdPOptions
		signed     []string // elements carrying a signature
		wantNames  []string // attribute Names that must be present
		overage    bool
		nameID     string
		nameIDFmt  string
		wantGroups bool
	}{
		{name: "both signed by default", signed: []string{"Assertion", "Response"},
			wantNames: []string{"objectidentifier", "name", "displayname", "groups"}, wantGroups: true},
		{name: "both signed explicitly", opts: testenv.SAMLIdPOptions{SignAssertion: true, SignResponse: true},
			signed: []string{"Assertion", "Response"}, wantGroups: true},
		{name: "assertion signed", opts: testenv.SAMLIdPOptions{SignAssertion: true},
			signed: []string{"Assertion"}, wantGroups: true},
		{name: "response signed", opts: testenv.SAMLIdPOptions{SignResponse: true},
			signed: []string{"Response"}, wantGroups: true},
		{name: "entra claims", opts: testenv.SAMLIdPOptions{EntraClaims: true},
			signed:    []string{"Assertion", "Response"},
			wantNames: append(slices.Clone(entra), "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups"), wantGroups: true},
		{name: "groups overage", opts: testenv.SAMLIdPOptions{EntraClaims: true, GroupsOverage: true},
			signed:    []string{"Assertion", "Response"},
			wantNames: append(slices.Clone(entra), "http://schemas.microsoft.com/claims/groups.link"), overage: true},
		{name: "persistent NameID", opts: testenv.SAMLIdPOptions{NameIDFormat: saml.NameIDFormatPersistent},
			signed: []string{"Assertion", "Response"}, nameID: ada.ObjectID, nameIDFmt: saml.NameIDFormatPersistent, wantGroups: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := c.opts
			opts.Users = []testenv.IdPUser{ada}
			idp.SetOptions(t, opts)
			a, raw, err := sp.signInHTTP(t, idp, acct, "Ada@Example.com", ada.Password)
			if err != nil {
				t.Fatalf("our SP refused samlify's response: %v\n%s", err, raw)
			}
			f := responseFacts(t, raw)
			if !slices.Equal(f.signedParents, c.signed) {
				t.Errorf("signatures on %v, want %v", f.signedParents, c.signed)
			}
			for _, alg := range f.sigAlgs {
				if alg != "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" {
					t.Errorf("SignatureMethod %s", alg)
				}
			}
			for _, alg := range f.digestAlgs {
				if alg != "http://www.w3.org/2001/04/xmlenc#sha256" {
					t.Errorf("DigestMethod %s", alg)
				}
			}
			for _, n := range c.wantNames {
				if !slices.Contains(f.attrNames, n) {
					t.Errorf("no attribute %q in %v", n, f.attrNames)
				}
			}
			wantID, wantFmt := ada.Email, saml.NameIDFormatEmail
			if c.nameID != "" {
				wantID, wantFmt = c.nameID, c.nameIDFmt
			}
			if a.NameID != wantID || a.NameIDFormat != wantFmt || f.nameIDFormat != wantFmt {
				t.Errorf("NameID %q (%s), want %q (%s)", a.NameID, a.NameIDFormat, wantID, wantFmt)
			}
			if a.Issuer != idp.EntityID || a.ObjectID != ada.ObjectID || a.Name != ada.Email || a.DisplayName != ada.Name {
				t.Errorf("assertion %+v", a)
			}
			if a.GroupsOverage != c.overage {
				t.Errorf("GroupsOverage %v, want %v", a.GroupsOverage, c.overage)
			}
			if c.wantGroups && !slices.Equal(a.Groups, ada.Groups) || !c.wantGroups && len(a.Groups) != 0 {
				t.Errorf("groups %v", a.Groups)
			}
			if a.Purpose != saml.PurposePortal || a.AttemptRef != "attempt" {
				t.Errorf("request bookkeeping %+v", a)
			}
		})
	}
}

func TestSAMLIdPOptionsAtStart(t *testing.T) {
	// Options given to SAMLIdP apply from the first sign-in.
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}, SignResponse: true, EntraClaims: true, GroupsOverage: true})
	sp := newTestSP(t, testenv.SQLite(t), idp)
	acct := sp.account(t)
	idp.TrustSP(t, sp.metadataURL(acct))
	a, raw, err := sp.signInHTTP(t, idp, acct, ada.Email, ada.Password)
	if err != nil {
		t.Fatalf("refused: %v\n%s", err, raw)
	}
	f := responseFacts(t, raw)
	if !slices.Equal(f.signedParents, []string{"Response"}) || !a.GroupsOverage || len(a.Groups) != 0 ||
		!slices.Contains(f.attrNames, "http://schemas.microsoft.com/identity/claims/tenantid") {
		t.Errorf("signed %v, assertion %+v, attributes %v", f.signedParents, a, f.attrNames)
	}
}

func TestSAMLIdPRefusals(t *testing.T) {
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	sp := newTestSP(t, testenv.SQLite(t), idp)
	acct := sp.account(t)

	start := func(t *testing.T, a *spAccount) string {
		t.Helper()
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		resp, err := client.Get(sp.loginURL(a))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Location")
	}

	t.Run("unknown SP", func(t *testing.T) {
		_, _, err := idp.TrySignIn(nil, start(t, acct), ada.Email, ada.Password)
		var se *testenv.SignInError
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(se.Message, "does not know") {
			t.Fatalf("err %v, want the IdP to refuse an SP it was not told about", err)
		}
	})

	idp.TrustSP(t, sp.metadataURL(acct))
	for _, c := range []struct{ name, email, password string }{
		{"wrong password", ada.Email, "nope"},
		{"empty password", ada.Email, ""},
		{"unknown user", "eve@example.com", ada.Password},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := idp.TrySignIn(nil, start(t, acct), c.email, c.password)
			var se *testenv.SignInError
			if !errors.As(err, &se) || se.Status != http.StatusUnauthorized || se.Message != "Wrong email or password." {
				t.Fatalf("err %v, want the sign-in page with an error", err)
			}
		})
	}

	t.Run("not a SAML request", func(t *testing.T) {
		_, _, err := idp.TrySignIn(nil, idp.SSOURL+"?SAMLRequest=bm90IHhtbA%3D%3D", ada.Email, ada.Password)
		var se *testenv.SignInError
		if !errors.As(err, &se) || se.Status != http.StatusBadRequest || !strings.Contains(se.Message, "samlify refused") {
			t.Fatalf("err %v", err)
		}
	})

	t.Run("unsigned response is refused by the SP", func(t *testing.T) {
		idp.SetOptions(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}, Unsigned: true})
		defer idp.SetOptions(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
		_, raw, err := sp.signInHTTP(t, idp, acct, ada.Email, ada.Password)
		var r *saml.Refusal
		if !errors.As(err, &r) || r.Code != saml.CodeSignatureMissing {
			t.Fatalf("err %v, want %s", err, saml.CodeSignatureMissing)
		}
		if f := responseFacts(t, raw); len(f.signedParents) != 0 {
			t.Errorf("signatures on %v", f.signedParents)
		}
	})
}

func TestSAMLIdPUsersAndSeveralSPs(t *testing.T) {
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	sp := newTestSP(t, testenv.SQLite(t), idp)
	one, two := sp.account(t), sp.account(t)
	idp.TrustSP(t, sp.metadataURL(one))
	idp.SetSP(t, two.settings.EntityID, two.settings.ACSURL)

	for _, acct := range []*spAccount{one, two} {
		a, raw, err := sp.signInHTTP(t, idp, acct, ada.Email, ada.Password)
		if err != nil || a.NameID != ada.Email {
			t.Fatalf("account %s: %+v, %v\n%s", acct.id, a, err, raw)
		}
	}

	// Group membership changes between sign-ins.
	changed := ada
	changed.Groups = []string{"33333333-3333-4333-8333-333333333333"}
	idp.SetUsers(t, []testenv.IdPUser{changed})
	a, _, err := sp.signInHTTP(t, idp, one, ada.Email, ada.Password)
	if err != nil || !slices.Equal(a.Groups, changed.Groups) {
		t.Fatalf("after SetUsers: groups %v, %v", a.Groups, err)
	}
	// AddUser adds someone; with no Password any non-empty one is accepted.
	idp.AddUser(t, testenv.IdPUser{Email: "max@example.com", Name: "Max", ObjectID: "max-oid"})
	a, _, err = sp.signInHTTP(t, idp, two, "max@example.com", "whatever")
	if err != nil || a.NameID != "max@example.com" || a.DisplayName != "Max" || len(a.Groups) != 0 {
		t.Fatalf("added user: %+v, %v", a, err)
	}
	if got := idp.Options().Users; len(got) != 2 {
		t.Errorf("users %v", got)
	}
}

func TestSAMLIdPBrowser(t *testing.T) {
	idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}, EntraClaims: true})
	sp := newTestSP(t, testenv.SQLite(t), idp)
	acct := sp.account(t)
	idp.TrustSP(t, sp.metadataURL(acct))

	ctx, cancel := context.WithTimeout(testenv.Browser(t), 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx,
		chromedp.Navigate(sp.loginURL(acct)),
		chromedp.WaitVisible(chromedp.CSS("#email")),
		chromedp.SendKeys(chromedp.CSS("#email"), ada.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), "wrong"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#error")),
	); err != nil {
		t.Fatal(err)
	}
	msg, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#error")))
	if err != nil || msg != "Wrong email or password." {
		t.Fatalf("error text %q, %v", msg, err)
	}
	// The email stays filled in; the password does not.
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS("#password"), ada.Password),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS("#result")),
	); err != nil {
		t.Fatal(err)
	}
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#result")))
	if err != nil || got != "Signed in as "+ada.Email {
		t.Fatalf("SP page %q, %v", got, err)
	}
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil || loc != acct.settings.ACSURL {
		t.Errorf("landed on %q, want the ACS %q (%v)", loc, acct.settings.ACSURL, err)
	}
	a, _, err := sp.result(acct)
	if err != nil || a.ObjectID != ada.ObjectID || !slices.Equal(a.Groups, ada.Groups) {
		t.Errorf("assertion %+v, %v", a, err)
	}
}

// TestSAMLIdPDiesWithTestProcess kills a test process that started an IdP
// and checks the IdP stops answering.
func TestSAMLIdPDiesWithTestProcess(t *testing.T) {
	if os.Getenv("TESTENV_SAMLIDP_CHILD") == "1" {
		idp := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{})
		fmt.Printf("IDP_URL=%s\n", idp.URL)
		time.Sleep(time.Hour)
		return
	}
	testenv.NodeDir(t, testenv.RepoRoot()+"/internal/testenv/testdata/samlidp")
	cmd := exec.Command(os.Args[0], "-test.run=^TestSAMLIdPDiesWithTestProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "TESTENV_SAMLIDP_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "IDP_URL="); ok {
				lines <- u
			}
		}
		close(lines)
	}()
	var u string
	select {
	case u = <-lines:
	case <-time.After(2 * time.Minute):
		t.Fatal("the child test did not start an IdP")
	}
	if u == "" {
		t.Fatal("the child test ended without starting an IdP")
	}
	if resp, err := http.Get(u + "/healthz"); err != nil {
		t.Fatalf("IdP not answering while its test runs: %v", err)
	} else {
		resp.Body.Close()
	}
	cmd.Process.Kill()
	cmd.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := (&http.Client{Timeout: time.Second}).Get(u + "/healthz")
		if err != nil {
			return // gone
		}
		resp.Body.Close()
		if time.Now().After(deadline) {
			t.Fatalf("the IdP at %s still answers 30s after its test process was killed", u)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// BenchmarkSAMLIdPStart measures starting an IdP until it answers (key
// generation, node, samlify) plus fetching its metadata.
func BenchmarkSAMLIdPStart(b *testing.B) {
	for b.Loop() {
		testenv.SAMLIdP(b, testenv.SAMLIdPOptions{})
	}
}

// BenchmarkSAMLIdPSignIn measures one HTTP sign-in at the IdP: the
// AuthnRequest parsed and schema-checked by samlify, the form posted, the
// signed Response built (StartLogin on our side included).
func BenchmarkSAMLIdPSignIn(b *testing.B) {
	idp := testenv.SAMLIdP(b, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{ada}})
	db := testenv.SQLite(b)
	acct := ids.New()
	if _, err := db.Exec(context.Background(), `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, acct, "Bench", store.Now()); err != nil {
		b.Fatal(err)
	}
	sp := saml.SPSettings{EntityID: "https://sp.test/saml/" + acct, ACSURL: "https://sp.test/saml/" + acct + "/acs"}
	settings, err := saml.ParseIdPMetadata(idp.MetadataXML())
	if err != nil {
		b.Fatal(err)
	}
	idp.SetSP(b, sp.EntityID, sp.ACSURL)
	svc := &saml.Service{DB: db}
	for b.Loop() {
		redirect, _, err := svc.StartLogin(context.Background(), acct, sp, settings, saml.PurposePortal, "bench", ids.Secret(16))
		if err != nil {
			b.Fatal(err)
		}
		idp.SignIn(b, nil, redirect, ada.Email, ada.Password)
	}
}
