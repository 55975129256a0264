package devidp

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var (
	hiddenField = regexp.MustCompile(`<input type="hidden" name="([A-Za-z]+)" value="([^"]*)">`)
	formAction  = regexp.MustCompile(`<form method="post" action="([^"]*)">`)
)

// form returns the action and hidden fields of the first form on a page.
func form(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	m := formAction.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in:\n%s", page)
	}
	v := url.Values{}
	for _, f := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(f[1], html.UnescapeString(f[2]))
	}
	return html.UnescapeString(m[1]), v
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s\n%s", u, resp.Status, b)
	}
	return string(b)
}

// TestSignInAgainstValidator drives the dev IdP over HTTP as a browser
// would and feeds its answer to internal/saml's strict validator.
func TestSignInAgainstValidator(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		key, cert, err := LoadOrCreateKey(t.TempDir(), "test dev IdP")
		if err != nil {
			t.Fatal(err)
		}
		idpSrv := &Server{Users: DefaultUsers, Key: key, Cert: cert}
		ts := httptest.NewServer(idpSrv.Handler())
		defer ts.Close()
		idpSrv.BaseURL = ts.URL

		c := ts.Client()
		idp, err := saml.ParseIdPMetadata([]byte(get(t, c, ts.URL+"/metadata")))
		if err != nil {
			t.Fatalf("our parser refuses the dev IdP's metadata: %v", err)
		}
		if idp.EntityID != idpSrv.EntityID() || idp.SSOBinding != saml.SSOBindingRedirect {
			t.Fatalf("metadata read as %+v", idp)
		}

		account := ids.New()
		if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, account, "Dev", store.Now()); err != nil {
			t.Fatal(err)
		}
		sp := saml.SPSettings{EntityID: "http://gatehouse.test/saml/" + account, ACSURL: "http://gatehouse.test/saml/" + account + "/acs"}
		svc := &saml.Service{DB: db}
		binding := ids.Secret(16)
		redirect, reqID, err := svc.StartLogin(ctx, account, sp, idp, saml.PurposeDesktop, "attempt-dev", binding)
		if err != nil {
			t.Fatal(err)
		}

		page := get(t, c, redirect)
		if !strings.Contains(page, "Grace Hopper") || !strings.Contains(page, sp.EntityID) {
			t.Fatalf("sign-in page:\n%s", page)
		}
		action, fields := form(t, page)
		fields.Set("user", "1") // Grace
		resp, err := c.PostForm(ts.URL+"/"+action, fields)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		acs, post := form(t, string(b))
		if acs != sp.ACSURL || post.Get("RelayState") != fields.Get("RelayState") || post.Get("RelayState") == "" {
			t.Fatalf("posts to %q with RelayState %q", acs, post.Get("RelayState"))
		}

		a, err := svc.ConsumeResponse(ctx, account, sp, idp, post.Get("SAMLResponse"), binding)
		if err != nil {
			t.Fatalf("validator refused the dev IdP: %v", err)
		}
		if a.RequestID != reqID || a.NameID != "grace@example.com" || a.Name != "grace@example.com" ||
			a.DisplayName != "Grace Hopper" || a.ObjectID != DefaultUsers[1].ObjectID ||
			len(a.Groups) != 1 || a.Groups[0] != "Desktop Users" || a.AttemptRef != "attempt-dev" {
			t.Fatalf("assertion %+v", a)
		}
		// Posting it again is a replay.
		if _, err := svc.ConsumeResponse(ctx, account, sp, idp, post.Get("SAMLResponse"), binding); err == nil {
			t.Fatal("replay accepted")
		}
	})
}

func TestBadRequests(t *testing.T) {
	key, cert, err := LoadOrCreateKey(t.TempDir(), "x")
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Users: DefaultUsers, BaseURL: "http://idp.test", Key: key, Cert: cert}
	for _, q := range []string{"", "SAMLRequest=%%%", "SAMLRequest=aGVsbG8="} {
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/sso?"+q, nil))
		if rec.Code != http.StatusBadRequest {
			t.Errorf("%q: %d", q, rec.Code)
		}
	}
}

func TestKeyPersistsAndUsersFile(t *testing.T) {
	dir := t.TempDir()
	_, c1, err := LoadOrCreateKey(dir, "x")
	if err != nil {
		t.Fatal(err)
	}
	_, c2, err := LoadOrCreateKey(dir, "x")
	if err != nil || !c1.Equal(c2) {
		t.Fatalf("key not reused: %v", err)
	}
	users := filepath.Join(dir, "users.json")
	os.WriteFile(users, []byte(`[{"email":"lin@corp.test","name":"Lin","groups":["g1","g2"]},{"email":"kim@corp.test"}]`), 0o600)
	us, err := LoadUsers(users)
	if err != nil || len(us) != 2 || us[1].DisplayName != "kim@corp.test" || len(us[1].ObjectID) != 36 || us[0].ObjectID == us[1].ObjectID {
		t.Fatalf("%+v %v", us, err)
	}
	os.WriteFile(users, []byte(`[{"mail":"x"}]`), 0o600)
	if _, err := LoadUsers(users); err == nil {
		t.Fatal("unknown field accepted")
	}

	// Run serves until its context ends.
	ctx, cancel := context.WithCancel(context.Background())
	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	done := make(chan error, 1)
	go func() { done <- Run(ctx, addr, "", dir) }()
	var md string
	for i := 0; i < 50; i++ {
		resp, err := http.Get("http://" + addr + "/metadata")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			md = string(b)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	idp, err := saml.ParseIdPMetadata([]byte(md))
	if err != nil || !idp.Certificates[0].Equal(c1) {
		t.Fatalf("Run's metadata: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
