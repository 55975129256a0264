package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/ids"
	"gatehouse/internal/testenv"
	"gatehouse/internal/web"
)

// publicMachineRoutes may answer 2xx without credentials by design.
var publicMachineRoutes = map[string]bool{
	"GET /healthz": true,
	// SP metadata is what admins hand to their IdP.
	"GET /saml/{account}/metadata": true,
	// Desktop verifies activation certificates offline with this key.
	"GET /.well-known/gatehouse/activation-key":     true,
	"GET /.well-known/gatehouse/activation-key.pem": true,
	// Desktop reads update feeds and downloads their files without
	// credentials; an organisation's local feed is named by an unguessable
	// token.
	"GET /updates/channels/{channel}/updates.xml":       true,
	"GET /updates/files/{release}/{name}":               true,
	"GET /updates/local/{token}/updates.xml":            true,
	"GET /updates/local/{token}/files/{release}/{name}": true,
}

// IsolationFixture lets features put objects into account A so the walk can
// try to reach them from account B. Keyed by path parameter name.
type isolationFixture map[string]string

var paramRe = regexp.MustCompile(`\{([a-zA-Z_]+)(\.\.\.)?\}`)

func fillPath(path, accountID string, objects isolationFixture) string {
	return paramRe.ReplaceAllStringFunc(path, func(m string) string {
		name := paramRe.FindStringSubmatch(m)[1]
		switch {
		case name == "account":
			return accountID
		case name == "$":
			return ""
		case objects[name] != "":
			return objects[name]
		default:
			return ids.New()
		}
	})
}

// TestTenantIsolationRouteWalk walks every registered route as an anonymous
// visitor and as an admin of another business account, and checks that
// nothing of account A is ever served to them.
func TestTenantIsolationRouteWalk(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		const secret = "Alpha Secret Corp"
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("alice@alpha.example", pw, "Alice")
		acctA := alice.CreateAccount(secret)
		alice.Post("/accounts/"+acctA+"/users/invite", url.Values{"email": {"pending@alpha.example"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
		inv := alice.Get("/accounts/" + acctA + "/users?status=invited")
		inviteAction, _ := inv.Doc.Find(`form[action$="/revoke"]`).First().Attr("action")
		objects := isolationFixture{
			"person": alice.Get("/accounts/"+acctA+"/users").Doc.Find(`form[action$="/role"]`).First().AttrOr("action", ""),
			"invite": inviteAction,
		}
		objects["person"] = between(objects["person"], "/users/", "/role")
		objects["invite"] = between(objects["invite"], "/invites/", "/revoke")
		if objects["person"] == "" || objects["invite"] == "" {
			t.Fatalf("fixture incomplete: %v", objects)
		}
		licensing, licensingUntouched := licenseIsolationFixture(t, node, alice, acctA, secret)
		for k, v := range licensing {
			objects[k] = v
		}
		for k, v := range ssoActivationIsolationFixture(t, node, alice, acctA, objects["person"], secret) {
			objects[k] = v
		}
		for k, v := range updatesIsolationFixture(t, node, alice, acctA) {
			objects[k] = v
		}
		for k, v := range testSignInIsolationFixture(t, node, alice, acctA, objects["person"]) {
			objects[k] = v
		}
		for k, v := range inventoryIsolationFixture(t, node, acctA, objects["subscription"], secret) {
			objects[k] = v
		}
		for k, v := range portalIsolationFixture(t, node, alice, acctA, secret) {
			objects[k] = v
		}

		bob := apptest.NewClient(t, node.URL)
		bob.SignUp("bob@beta.example", pw, "Bob")
		acctB := bob.CreateAccount("Beta Corp")
		anon := apptest.NewClient(t, node.URL)

		routes := node.App.Web.Routes()
		if len(routes) < 20 {
			t.Fatalf("only %d routes registered", len(routes))
		}
		for _, rt := range routes {
			method := rt.Method
			if method == "" {
				method = http.MethodGet
			}
			send := func(c *apptest.Client, path string) *apptest.Response {
				if method == http.MethodGet {
					return c.Get(path)
				}
				req, _ := http.NewRequest(method, c.Base+path, strings.NewReader(url.Values{"csrf_token": {c.CSRF()}, "role": {"admin"}, "status": {"deactivated"}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.HTTP.Do(req)
				if err != nil {
					t.Fatalf("%s %s: %v", method, path, err)
				}
				defer resp.Body.Close()
				buf := new(strings.Builder)
				_, _ = copyLimited(buf, resp)
				return &apptest.Response{Status: resp.StatusCode, Body: buf.String(), Location: resp.Header.Get("Location")}
			}
			pathA := fillPath(rt.Path, acctA, objects)
			name := rt.Pattern()

			// Anonymous visitors.
			r := send(anon, pathA)
			if r.Status >= 500 {
				t.Errorf("%s anonymous: status %d", name, r.Status)
			}
			switch rt.Access {
			case web.Person, web.Member, web.Operator:
				if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/signin") {
					t.Errorf("%s anonymous: status %d location %q, want redirect to sign-in", name, r.Status, r.Location)
				}
			case web.Machine:
				if r.Status < 400 && !publicMachineRoutes[name] {
					t.Errorf("%s anonymous: status %d; a machine route must authenticate (or be listed as public by design)", name, r.Status)
				}
			}
			if strings.Contains(r.Body, secret) {
				t.Errorf("%s anonymous: response contains account A's data", name)
			}

			// An admin of account B, on account A's paths.
			if rt.Access == web.Member {
				r = send(bob, pathA)
				if r.Status != http.StatusNotFound {
					t.Errorf("%s as member of another account: status %d, want 404", name, r.Status)
				}
				if strings.Contains(r.Body, secret) {
					t.Errorf("%s as member of another account: response contains account A's data", name)
				}
				// …and on B's own paths naming A's objects.
				if strings.Count(rt.Path, "{") > 1 {
					r = send(bob, fillPath(rt.Path, acctB, objects))
					if r.Status < 400 || r.Status >= 500 {
						t.Errorf("%s with account A's object ids in account B: status %d, want 4xx", name, r.Status)
					}
					if strings.Contains(r.Body, secret) || strings.Contains(r.Body, "pending@alpha.example") {
						t.Errorf("%s with account A's object ids: response contains account A's data", name)
					}
				}
			}
		}
		// Account A is untouched: its admin is still admin and the invitation pending.
		page := alice.Get("/accounts/"+acctA+"/users").Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("tbody"), "pending@alpha.example")
		apptest.MustContain(t, page.Text("tbody"), "Admin")
		licensingUntouched()
	})
}

func between(s, from, to string) string {
	i := strings.Index(s, from)
	if i < 0 {
		return ""
	}
	s = s[i+len(from):]
	j := strings.Index(s, to)
	if j < 0 {
		return ""
	}
	return s[:j]
}

func copyLimited(b *strings.Builder, resp *http.Response) (int64, error) {
	buf := make([]byte, 32<<10)
	var n int64
	for n < 4<<20 {
		k, err := resp.Body.Read(buf)
		b.Write(buf[:k])
		n += int64(k)
		if err != nil {
			return n, nil
		}
	}
	return n, nil
}
