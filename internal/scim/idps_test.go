package scim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// JumpCloud: "Test Connection" is a GET of /Users with a filter (and a page
// request); a wrong token must be a clear 401. Users carry the enterprise
// extension; updates come as PUT.
func TestJumpCloudTestConnectionAndSync(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		r := e.must(200, e.do("GET", "/Users?"+qf(`userName eq "jctestconnection@jumpcloud.com"`), nil))
		if r.total() != 0 {
			t.Fatal(r)
		}
		e.must(200, e.do("GET", "/Users?startIndex=1&count=1", nil))
		e.must(200, e.do("GET", "/ServiceProviderConfig", nil))

		bad := *e
		bad.token = "ghscim_not-the-token"
		r = bad.must(401, bad.do("GET", "/Users?"+qf(`userName eq "x"`), nil))
		if !strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("WWW-Authenticate: %q", r.header.Get("WWW-Authenticate"))
		}
		bad.token = ""
		bad.must(401, bad.do("GET", "/Users", nil, "Authorization", "Basic dXNlcjpwYXNz"))

		user := map[string]any{
			"schemas":     []any{URNUser, URNEnterprise},
			"userName":    "jane.doe@example.org",
			"externalId":  "5f3a9c1e2b4d6f0012345678",
			"displayName": "Jane Doe",
			"title":       "Engineer",
			"name":        map[string]any{"givenName": "Jane", "familyName": "Doe"},
			"emails":      []any{map[string]any{"value": "jane.doe@example.org", "type": "work", "primary": true}},
			"phoneNumbers": []any{
				map[string]any{"value": "+1 303 555 0100", "type": "work"},
				map[string]any{"value": "+1 303 555 0199", "type": "mobile"},
			},
			"addresses": []any{map[string]any{
				"type": "work", "streetAddress": "1 Main St", "locality": "Boulder", "region": "CO",
				"postalCode": "80302", "country": "US", "primary": true,
			}},
			"active": true,
			URNEnterprise: map[string]any{
				"employeeNumber": "42", "costCenter": "CC-7", "organization": "Example", "division": "R&D",
				"department": "Platform", "manager": map[string]any{"value": "5f3a9c1e2b4d6f0099999999", "displayName": "Boss"},
			},
		}
		r = e.must(201, e.do("POST", "/Users", user))
		id := r.str("id")
		if r.str(URNEnterprise, "manager", "value") != "5f3a9c1e2b4d6f0099999999" {
			t.Errorf("manager: %s", r)
		}
		// manager.displayName is readOnly (RFC 7643 §4.3): not taken from the client.
		if r.str(URNEnterprise, "manager", "displayName") != "" {
			t.Errorf("readOnly manager.displayName stored: %s", r)
		}
		if r.str("addresses") != "" || len(dig(r.body, "addresses").([]any)) != 1 {
			t.Errorf("addresses: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`addresses[locality eq "boulder" and type eq "work"]`), nil))
		if r.total() != 1 {
			t.Errorf("address filter: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "platform"`), nil))
		if r.total() != 1 {
			t.Errorf("enterprise filter: %s", r)
		}

		// Deactivate with a PUT of the whole user.
		user["active"] = false
		user["title"] = "Senior Engineer"
		e.hooks.take()
		r = e.must(200, e.do("PUT", "/Users/"+id, user))
		if dig(r.body, "active") != false || r.str("title") != "Senior Engineer" {
			t.Errorf("put: %s", r)
		}
		if calls := e.hooks.take(); len(calls) != 2 || calls[1].kind != "deactivated" {
			t.Errorf("hooks: %+v", calls)
		}

		// Groups: create, then members with PATCH.
		r = e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Engineering"}))
		gid := r.str("id")
		e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("add", "members", []any{map[string]any{"value": id}}))))
		r = e.must(200, e.do("GET", "/Users/"+id+"?attributes=groups", nil))
		if g, _ := r.body["groups"].([]any); len(g) != 1 || r.str("userName") != "" || r.str("id") != id {
			t.Errorf("attributes=groups: %s", r)
		}
	})
}

// Ping Identity: the filter is the template `userName eq "%s"`, which
// PingFederate sends form-encoded (spaces as '+'); provisioning uses POST,
// PUT or PATCH and disables with active=false.
func TestPingProvisioning(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		lookup := func(userName string) *resp {
			// url.Values encodes spaces as '+', as Ping does.
			v := url.Values{"filter": {`userName eq "` + userName + `"`}}
			return e.must(200, e.do("GET", "/Users?"+v.Encode(), nil))
		}
		if r := lookup("pat.ping@example.com"); r.total() != 0 {
			t.Fatal(r)
		}
		r := e.must(201, e.do("POST", "/Users", map[string]any{
			"schemas":    []any{URNUser},
			"userName":   "pat.ping@example.com",
			"externalId": "7d3f0a52-6c5e-4f7b-9b1a-2c3d4e5f6a7b",
			"name":       map[string]any{"givenName": "Pat", "familyName": "Ping"},
			"emails":     []any{map[string]any{"value": "pat.ping@example.com", "type": "work", "primary": true}},
			"active":     true,
		}))
		id := r.str("id")
		if r := lookup("Pat.Ping@Example.com"); r.total() != 1 {
			t.Errorf("lookup: %s", r)
		}
		// A userName with an apostrophe (atext) and a login name with a
		// quote and a backslash, escaped in the filter. (A quoted or
		// backslashed address is refused: docs/decisions.md.)
		e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": `o'brien@example.com`}))
		if r := lookup(`O'Brien@example.com`); r.total() != 1 {
			t.Errorf("apostrophe lookup: %s", r)
		}
		e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": `o"brien\x`}))
		if r := lookup(`o\"brien\\x`); r.total() != 1 {
			t.Errorf("escaped lookup: %s", r)
		}
		e.must(400, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": `o"brien\x@example.com`}))

		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(
			op("replace", "name.givenName", "Patricia"),
			op("add", "title", "Manager"),
			op("remove", "emails", nil),
		)))
		if r.str("name", "givenName") != "Patricia" || r.str("title") != "Manager" || r.body["emails"] != nil {
			t.Errorf("patch: %s", r)
		}
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("replace", "active", false))))
		if dig(r.body, "active") != false {
			t.Errorf("disable: %s", r)
		}
		if r := e.must(200, e.do("GET", "/Users?"+qf(`userName eq "pat.ping@example.com" and active eq false`), nil)); r.total() != 1 {
			t.Errorf("%s", r)
		}
		e.must(204, e.do("DELETE", "/Users/"+id, nil))
		_ = http.StatusOK
	})
}
