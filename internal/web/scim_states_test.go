package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// SCIM must work from the moment a token exists, whatever the configurator
// says (issue 12 item 1): admins often set up Entra or Okta provisioning
// before SSO. Each IdP's request sequence runs against an account in each
// configurator state; every answer is 2xx or a SCIM 4xx error, a refused
// request changes nothing, and the result is the same in every state.

// scimState names a configurator state and how to reach it.
type scimState struct {
	name  string
	setup func(t *testing.T, s *scimStatesEnv, acct, domain string) (tokens []string)
}

type scimStatesEnv struct {
	node  *apptest.Node
	dns   *testenv.DNSServer
	owner *apptest.Client
	actor audit.Actor
	pid   string
	idp   *testenv.SAMLIdPServer
}

// scimClient sends an IdP's requests, alternating between its tokens (the
// old and new one during a rotation overlap), and checks every answer's
// shape: never 5xx, and every error in SCIM's error format.
type scimClient struct {
	t      *testing.T
	base   string
	tokens []string
	n      int
	// snapshot returns the account's whole SCIM state, to prove refused
	// requests changed nothing.
	snapshot func() string
}

type scimResp struct {
	status int
	body   map[string]any
	raw    string
}

func (c *scimClient) do(method, path string, body any) scimResp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = strings.NewReader(string(b))
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.tokens[c.n%len(c.tokens)])
	c.n++
	req.Header.Set("Content-Type", "application/scim+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := scimResp{status: resp.StatusCode, raw: string(b)}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			c.t.Fatalf("%s %s: %d, body not JSON: %s", method, path, resp.StatusCode, b)
		}
	}
	if r.status >= 500 {
		c.t.Fatalf("%s %s: %d %s", method, path, r.status, b)
	}
	if r.status >= 400 {
		schemas, _ := r.body["schemas"].([]any)
		if len(schemas) != 1 || schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || r.body["detail"] == "" {
			c.t.Fatalf("%s %s: %d without a SCIM error body: %s", method, path, r.status, b)
		}
	}
	return r
}

// must sends a request that has to succeed with want.
func (c *scimClient) must(want int, method, path string, body any) scimResp {
	c.t.Helper()
	r := c.do(method, path, body)
	if r.status != want {
		c.t.Fatalf("%s %s: %d, want %d: %s", method, path, r.status, want, r.raw)
	}
	return r
}

// refused sends a request that must fail with want and change nothing.
func (c *scimClient) refused(want int, method, path string, body any) scimResp {
	c.t.Helper()
	before := c.snapshot()
	r := c.must(want, method, path, body)
	if after := c.snapshot(); after != before {
		c.t.Fatalf("%s %s was refused (%d) but changed the directory:\nbefore %s\nafter  %s", method, path, r.status, before, after)
	}
	return r
}

func (r scimResp) id() string { s, _ := r.body["id"].(string); return s }

func (r scimResp) total() int { f, _ := r.body["totalResults"].(float64); return int(f) }

func patch(ops ...map[string]any) map[string]any {
	list := make([]any, len(ops))
	for i, o := range ops {
		list[i] = o
	}
	return map[string]any{"schemas": []any{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": list}
}

func scimOp(op, path string, value any) map[string]any {
	m := map[string]any{"op": op}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

func members(ids ...string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = map[string]any{"value": id}
	}
	return out
}

func qfilter(f string) string { return "filter=" + url.QueryEscape(f) }

func scimUser(userName, externalID string) map[string]any {
	return map[string]any{
		"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}, "userName": userName, "externalId": externalID,
		"active": true, "name": map[string]any{"givenName": "Test", "familyName": "User"},
		"emails": []any{map[string]any{"value": userName, "type": "work", "primary": true}},
	}
}

func scimGroup(name, externalID string, ids ...string) map[string]any {
	g := map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:Group"}, "displayName": name, "members": members(ids...)}
	if externalID != "" {
		g["externalId"] = externalID
	}
	return g
}

// scimDirectory is what a sequence leaves: users (userName → active) and
// groups (displayName → sorted member userNames).
type scimDirectory struct {
	Users  map[string]bool
	Groups map[string][]string
}

// directory reads the account's SCIM state over SCIM itself.
func (c *scimClient) directory() scimDirectory {
	c.t.Helper()
	d := scimDirectory{Users: map[string]bool{}, Groups: map[string][]string{}}
	names := map[string]string{}
	for _, u := range c.must(200, "GET", "/Users?count=1000", nil).body["Resources"].([]any) {
		m := u.(map[string]any)
		d.Users[m["userName"].(string)] = m["active"] == true
		names[m["id"].(string)] = m["userName"].(string)
	}
	for _, g := range c.must(200, "GET", "/Groups?count=1000", nil).body["Resources"].([]any) {
		m := g.(map[string]any)
		list := []string{}
		ms, _ := m["members"].([]any)
		for _, x := range ms {
			list = append(list, names[x.(map[string]any)["value"].(string)])
		}
		sort.Strings(list)
		d.Groups[m["displayName"].(string)] = list
	}
	return d
}

// scimSequence is one IdP's provisioning conversation; it returns the
// directory it must leave behind. adminsUUID and desktopUUID are the
// groups the account's integration maps (so the membership hooks act).
type scimSequence struct {
	name string
	run  func(c *scimClient, adminsUUID, desktopUUID string) scimDirectory
}

var scimSequences = []scimSequence{
	{"entra", func(c *scimClient, adminsUUID, desktopUUID string) scimDirectory {
		// Entra's connection test and matching queries.
		if r := c.must(200, "GET", "/Users?"+qfilter(`userName eq "nobody-`+ids6()+`@corp.example"`), nil); r.total() != 0 {
			c.t.Fatalf("probe: %s", r.raw)
		}
		var u []string
		for i := 0; i < 4; i++ {
			name := fmt.Sprintf("entra%d@corp.example", i)
			if r := c.must(200, "GET", "/Users?"+qfilter(`emails[type eq "work"].value eq "`+name+`"`), nil); r.total() != 0 {
				c.t.Fatalf("match before create: %s", r.raw)
			}
			u = append(u, c.must(201, "POST", "/Users", scimUser(name, fmt.Sprintf("0a21f0f2-8d2a-4f8e-bf98-%012d", i))).id())
		}
		if r := c.must(200, "GET", "/Users?"+qfilter(`emails[type eq "work"].value eq "ENTRA1@corp.example"`), nil); r.total() != 1 {
			c.t.Fatalf("match after create: %s", r.raw)
		}
		c.must(200, "GET", "/Groups?excludedAttributes=members&"+qfilter(`displayName eq "Desktop Users"`), nil)
		desk := c.must(201, "POST", "/Groups", scimGroup("Desktop Users", desktopUUID)).id()
		adm := c.must(201, "POST", "/Groups", scimGroup("GH Admins", adminsUUID)).id()
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("Add", "members", members(u...))))
		c.must(200, "PATCH", "/Groups/"+adm, patch(scimOp("Add", "members", members(u[0], u[3]))))
		// A member that does not exist: refused, nothing added.
		c.refused(400, "PATCH", "/Groups/"+desk, patch(scimOp("Add", "members", members(u[1], "0191d6f0-0000-7000-8000-000000000000"))))
		// Remove with a value list, and with a filter path.
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("Remove", "members", members(u[0]))))
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("Remove", `members[value eq "`+u[1]+`"]`, nil)))
		c.must(200, "PATCH", "/Groups/"+adm, patch(scimOp("Remove", "members", members(u[0]))))
		// Delete a user who is in both groups, deactivate another.
		c.must(204, "DELETE", "/Users/"+u[3], nil)
		c.must(200, "PATCH", "/Users/"+u[1], patch(scimOp("Replace", "active", "False")))
		c.must(204, "DELETE", "/Groups/"+adm, nil)
		c.refused(404, "DELETE", "/Groups/"+adm, nil)
		return scimDirectory{
			Users:  map[string]bool{"entra0@corp.example": true, "entra1@corp.example": false, "entra2@corp.example": true},
			Groups: map[string][]string{"Desktop Users": {"entra2@corp.example"}},
		}
	}},
	{"okta", func(c *scimClient, adminsUUID, desktopUUID string) scimDirectory {
		c.must(200, "GET", "/Users?count=1&startIndex=1", nil)
		var u []string
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("okta%d@corp.example", i)
			if r := c.must(200, "GET", "/Users?"+qfilter(`userName eq "`+name+`"`)+"&startIndex=1&count=100", nil); r.total() != 0 {
				c.t.Fatalf("lookup: %s", r.raw)
			}
			u = append(u, c.must(201, "POST", "/Users", scimUser(name, fmt.Sprintf("00u%d", i))).id())
		}
		c.refused(409, "POST", "/Users", scimUser("OKTA0@corp.example", "00u9"))
		// Okta's group push names groups by name (the UUID is the name).
		c.must(200, "GET", "/Groups?"+qfilter(`displayName eq "`+desktopUUID+`"`)+"&startIndex=1&count=100", nil)
		desk := c.must(201, "POST", "/Groups", scimGroup(desktopUUID, "", u...)).id()
		adm := c.must(201, "POST", "/Groups", scimGroup(adminsUUID, "", u[0])).id()
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("replace", "", map[string]any{"id": desk, "displayName": desktopUUID})))
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("remove", `members[value eq "`+u[0]+`"]`, nil), scimOp("add", "members", members(u[2]))))
		c.must(200, "PATCH", "/Groups/"+adm, patch(scimOp("replace", "members", members(u[1]))))
		c.must(200, "PATCH", "/Users/"+u[2], patch(scimOp("replace", "", map[string]any{"active": false})))
		c.must(204, "DELETE", "/Groups/"+adm, nil)
		return scimDirectory{
			Users:  map[string]bool{"okta0@corp.example": true, "okta1@corp.example": true, "okta2@corp.example": false},
			Groups: map[string][]string{desktopUUID: {"okta1@corp.example", "okta2@corp.example"}},
		}
	}},
	{"ping", func(c *scimClient, adminsUUID, desktopUUID string) scimDirectory {
		var u []string
		for i := 0; i < 3; i++ {
			name := fmt.Sprintf("ping%d@corp.example", i)
			q := url.Values{"filter": {`userName eq "` + name + `"`}}.Encode() // spaces as '+'
			c.must(200, "GET", "/Users?"+q, nil)
			u = append(u, c.must(201, "POST", "/Users", scimUser(name, "")).id())
		}
		desk := c.must(201, "POST", "/Groups", scimGroup("Desktop Users", desktopUUID, u...)).id()
		adm := c.must(201, "POST", "/Groups", scimGroup("GH Admins", adminsUUID, u...)).id()
		// Ping replaces whole resources.
		c.must(200, "PUT", "/Groups/"+desk, scimGroup("Desktop Users", desktopUUID, u[1]))
		c.must(200, "PUT", "/Groups/"+adm, scimGroup("GH Admins", adminsUUID, u[0], u[1]))
		c.refused(400, "PUT", "/Groups/"+adm, scimGroup("", adminsUUID, u[2]))
		put := scimUser("ping2@corp.example", "")
		put["active"] = false
		c.must(200, "PUT", "/Users/"+u[2], put)
		c.must(204, "DELETE", "/Users/"+u[1], nil)
		return scimDirectory{
			Users:  map[string]bool{"ping0@corp.example": true, "ping2@corp.example": false},
			Groups: map[string][]string{"Desktop Users": {}, "GH Admins": {"ping0@corp.example"}},
		}
	}},
	{"jumpcloud", func(c *scimClient, adminsUUID, desktopUUID string) scimDirectory {
		c.must(200, "GET", "/Users?"+qfilter(`userName eq "jctestconnection@jumpcloud.com"`), nil)
		c.must(200, "GET", "/Users?startIndex=1&count=1", nil)
		c.must(200, "GET", "/ServiceProviderConfig", nil)
		var u []string
		for i := 0; i < 3; i++ {
			u = append(u, c.must(201, "POST", "/Users", scimUser(fmt.Sprintf("jc%d@corp.example", i), fmt.Sprintf("5f3a9c1e2b4d6f00%08d", i))).id())
		}
		c.refused(400, "POST", "/Users", map[string]any{"schemas": []any{"urn:ietf:params:scim:schemas:core:2.0:User"}})
		desk := c.must(201, "POST", "/Groups", scimGroup("Desktop Users", desktopUUID)).id()
		adm := c.must(201, "POST", "/Groups", scimGroup("GH Admins", adminsUUID, u[0])).id()
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("add", "members", members(u[0], u[1], u[2]))))
		c.must(200, "PATCH", "/Groups/"+desk, patch(scimOp("remove", "members", members(u[1], u[2]))))
		put := scimUser("jc1@corp.example", "5f3a9c1e2b4d6f0000000001")
		put["active"] = false
		c.must(200, "PUT", "/Users/"+u[1], put)
		c.must(204, "DELETE", "/Users/"+u[0], nil) // in both groups
		c.must(204, "DELETE", "/Groups/"+adm, nil)
		return scimDirectory{
			Users:  map[string]bool{"jc1@corp.example": false, "jc2@corp.example": true},
			Groups: map[string][]string{"Desktop Users": {}},
		}
	}},
}

var idsCounter int

func ids6() string { idsCounter++; return fmt.Sprintf("%06d", idsCounter) }

const desktopGroupUUID = "3c1f8a7e-5b2d-4e9a-8f10-2d4c6b8a9e01"

func TestSCIMInEveryConfiguratorState(t *testing.T) {
	dns := testenv.DNS(t)
	ctx := context.Background()
	states := []scimState{
		{"not-started", func(t *testing.T, s *scimStatesEnv, acct, _ string) []string {
			// The SCIM server issues tokens on its own; the configurator
			// is where admins get them, but nothing requires it.
			tok, err := s.node.App.SCIM.GenerateToken(ctx, acct, s.actor, 0)
			if err != nil {
				t.Fatal(err)
			}
			return []string{tok}
		}},
		{"started-without-saml", func(t *testing.T, s *scimStatesEnv, acct, _ string) []string {
			s.start(t, acct, false)
			return []string{s.token(t, acct, 0)}
		}},
		{"saml-complete-inactive", func(t *testing.T, s *scimStatesEnv, acct, _ string) []string {
			s.start(t, acct, true)
			return []string{s.token(t, acct, 0)}
		}},
		{"active", func(t *testing.T, s *scimStatesEnv, acct, domain string) []string {
			tok := s.activate(t, acct, domain)
			return []string{tok}
		}},
		{"deactivated", func(t *testing.T, s *scimStatesEnv, acct, domain string) []string {
			tok := s.activate(t, acct, domain)
			if err := s.node.App.IdP.Deactivate(ctx, acct, s.actor); err != nil {
				t.Fatal(err)
			}
			return []string{tok}
		}},
		{"token-rotated-in-overlap", func(t *testing.T, s *scimStatesEnv, acct, domain string) []string {
			old := s.activate(t, acct, domain)
			return []string{old, s.token(t, acct, time.Hour)}
		}},
	}
	idpSrv := testenv.SAMLIdP(t, testenv.SAMLIdPOptions{Users: []testenv.IdPUser{{Email: "x@corp.example", Password: "p"}}})
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) { c.DNSServer = dns.Addr }})
		owner := apptest.NewClient(t, node.URL)
		owner.SignUp("owner@states.example", pw, "Owner")
		p, err := node.App.Accounts.PersonByEmail(ctx, "owner@states.example")
		if err != nil {
			t.Fatal(err)
		}
		env := &scimStatesEnv{node: node, dns: dns, owner: owner, pid: p.ID, idp: idpSrv,
			actor: audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.Email}}

		// No token, or a wrong one: 401 in SCIM's format, whatever the state.
		none := &scimClient{t: t, base: node.URL + "/scim/v2", tokens: []string{"ghscim_not-a-token"}}
		none.must(401, "GET", "/Users", nil)
		none.must(401, "POST", "/Users", scimUser("x@corp.example", ""))

		for si, st := range states {
			for qi, seq := range scimSequences {
				t.Run(st.name+"/"+seq.name, func(t *testing.T) {
					acct := owner.CreateAccount(fmt.Sprintf("State %d-%d Ltd", si, qi))
					env.license(t, acct)
					domain := fmt.Sprintf("s%d-%d.states.example", si, qi)
					tokens := st.setup(t, env, acct, domain)
					c := &scimClient{t: t, base: node.URL + "/scim/v2", tokens: tokens}
					c.snapshot = func() string {
						b, _ := json.Marshal(c.directory())
						return string(b)
					}
					adminsUUID, desktopUUID := adminsGroup, desktopGroupUUID
					if seq.name == "okta" {
						adminsUUID, desktopUUID = "GH Admins", "Desktop Users"
					}
					if st.name != "not-started" {
						env.groups(t, acct, adminsUUID, desktopUUID)
					}
					want := seq.run(c, adminsUUID, desktopUUID)
					if got := c.directory(); !reflect.DeepEqual(got, want) {
						t.Fatalf("directory after %s:\n got %+v\nwant %+v", seq.name, got, want)
					}
				})
			}
		}
	})
}

func (s *scimStatesEnv) license(t *testing.T, acct string) {
	t.Helper()
	ctx := context.Background()
	_, key, err := s.node.App.License.Issue(ctx, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 10, Term: license.Term{Years: 1}}, audit.System("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.node.App.License.RegisterKey(ctx, license.Caller{PersonID: s.pid, AccountID: acct, Role: "admin"},
		license.RegisterInput{Key: key}, s.actor); err != nil {
		t.Fatal(err)
	}
}

func (s *scimStatesEnv) start(t *testing.T, acct string, withSAML bool) {
	t.Helper()
	ctx := context.Background()
	if err := s.node.App.IdP.Start(ctx, acct, idp.ProviderOkta, s.pid, s.actor); err != nil {
		t.Fatal(err)
	}
	if withSAML {
		if _, err := s.node.App.IdP.UploadMetadata(ctx, acct, s.idp.MetadataXML(), s.actor); err != nil {
			t.Fatal(err)
		}
	}
}

func (s *scimStatesEnv) groups(t *testing.T, acct, adminsUUID, desktopUUID string) {
	t.Helper()
	ctx := context.Background()
	if err := s.node.App.IdP.SetGroup(ctx, acct, idp.GroupAdmins, "GH Admins", adminsUUID, s.actor); err != nil {
		t.Fatal(err)
	}
	if err := s.node.App.IdP.SetGroup(ctx, acct, idp.GroupDesktopUsers, "Desktop Users", desktopUUID, s.actor); err != nil {
		t.Fatal(err)
	}
}

func (s *scimStatesEnv) token(t *testing.T, acct string, overlap time.Duration) string {
	t.Helper()
	tok, err := s.node.App.IdP.GenerateSCIMToken(context.Background(), acct, overlap, s.actor)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// activate walks every step the way the configurator's pages do and
// returns the SCIM token it issued.
func (s *scimStatesEnv) activate(t *testing.T, acct, domain string) string {
	t.Helper()
	ctx := context.Background()
	svc := s.node.App.IdP
	s.start(t, acct, true)
	s.groups(t, acct, adminsGroup, desktopGroupUUID)
	d, err := svc.AddDomain(ctx, acct, domain, s.actor)
	if err != nil {
		t.Fatal(err)
	}
	s.dns.SetTXT(t, d.TXTName, d.TXTValue)
	if d, err = svc.VerifyDomain(ctx, acct, d.ID, s.actor); err != nil || d.Status != idp.DomainVerified {
		t.Fatalf("verify domain: %v %+v", err, d)
	}
	tok := s.token(t, acct, 0)
	for _, step := range []int{2, 4, 5, 6} {
		if err := svc.SetStepDone(ctx, acct, step, true, s.actor); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.SetBackupLogin(ctx, acct, s.pid, s.actor); err != nil {
		t.Fatal(err)
	}
	if err := svc.Activate(ctx, acct, s.actor); err != nil {
		t.Fatal(err)
	}
	return tok
}
