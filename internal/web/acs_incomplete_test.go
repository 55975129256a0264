package web_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// logBuffer collects a node's log lines; safe for the server's goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestACSForUnfinishedIdPSetup: a SAML response posted to the ACS of an
// account whose IdP setup is started but whose SAML settings are not
// complete is refused with the SSO error page (4xx, a reference the admin
// finds under Recent SSO failures), not a 500 with an ERROR in the log.
func TestACSForUnfinishedIdPSetup(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		logs := &logBuffer{}
		node := apptest.Start(t, dbURL, apptest.Options{Logs: logs})
		ctx := context.Background()
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("owner@halfway.example", pw, "Owner")
		acct := admin.CreateAccount("Halfway Ltd")
		owner, err := node.App.Accounts.PersonByEmail(ctx, "owner@halfway.example")
		if err != nil {
			t.Fatal(err)
		}
		actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}
		if _, err := node.App.License.RegisterKey(ctx, license.Caller{PersonID: owner.ID, AccountID: acct, Role: "admin"},
			license.RegisterInput{Key: issue(t, node, license.EditionEnterprise, license.ModelMixed, 5, false)}, actor); err != nil {
			t.Fatal(err)
		}
		if err := node.App.IdP.Start(ctx, acct, idp.ProviderOkta, owner.ID, actor); err != nil {
			t.Fatal(err)
		}

		response := base64.StdEncoding.EncodeToString([]byte(`<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_r1" Version="2.0" IssueInstant="2030-01-01T00:00:00Z" InResponseTo="_x"><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status></samlp:Response>`))
		browser := apptest.NewClient(t, node.URL)
		r := browser.PostRaw("/saml/"+acct+"/acs", url.Values{"SAMLResponse": {response}})
		if r.Status/100 != 4 {
			t.Fatalf("ACS of an unfinished setup: status %d, want 4xx", r.Status)
		}
		apptest.MustContain(t, r.Text("h1"), "Single sign-on did not work")
		apptest.MustContain(t, r.Text("main"), "not set up completely")
		ref := r.Text("code")
		if ref == "" {
			t.Fatal("no reference on the refusal page")
		}
		failures := admin.Get("/accounts/"+acct+"/idp").Expect(t, http.StatusOK).Text("#sso-failures")
		apptest.MustContain(t, failures, ref)
		if strings.Contains(logs.String(), "level=ERROR") {
			t.Errorf("the refusal logged an ERROR:\n%s", logs.String())
		}
	})
}
