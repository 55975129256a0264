package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// A token of account A never sees or changes account B's users and groups:
// every id of B answers exactly like a missing id.
func TestCrossAccountIsolation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		a := newEnv(t, db)
		b := a.sibling("Beta")
		bu := b.must(201, b.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "shared@example.com", "externalId": "oid-1"})).str("id")
		bg := b.must(201, b.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Admins",
			"members": []any{map[string]any{"value": bu}}})).str("id")

		// Same userName in A is fine: uniqueness is per account.
		au := a.must(201, a.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "shared@example.com"})).str("id")

		for _, path := range []string{"/Users/" + bu, "/Groups/" + bg} {
			a.must(404, a.do("GET", path, nil))
			a.must(404, a.do("PUT", path, map[string]any{"schemas": []any{URNUser, URNGroup}, "userName": "x", "displayName": "x"}))
			a.must(404, a.do("PATCH", path, patchOps(op("replace", "displayName", "pwned"))))
			a.must(404, a.do("DELETE", path, nil))
		}
		for _, f := range []string{`userName eq "shared@example.com"`, `externalId eq "oid-1"`, `id eq "` + bu + `"`, `userName pr`} {
			r := a.must(200, a.do("GET", "/Users?"+qf(f), nil))
			for _, u := range r.list() {
				if u["id"] == bu {
					t.Errorf("filter %s leaked B's user", f)
				}
			}
		}
		if r := a.must(200, a.do("GET", "/Groups", nil)); r.total() != 0 {
			t.Errorf("A sees B's groups: %s", r)
		}
		// A cannot put B's user into its own group.
		ag := a.must(201, a.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Admins"})).str("id")
		a.scimType("invalidValue", a.must(400, a.do("PATCH", "/Groups/"+ag, patchOps(op("add", "members", []any{map[string]any{"value": bu}})))))
		a.must(400, a.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "X", "members": []any{map[string]any{"value": bu}}}))
		if r := a.must(200, a.do("GET", "/Users?"+qf(`groups.value eq "`+bg+`"`), nil)); r.total() != 0 {
			t.Errorf("groups filter leaked: %s", r)
		}

		// B's data is untouched.
		r := b.must(200, b.do("GET", "/Groups/"+bg, nil))
		if r.str("displayName") != "Admins" || len(memberValues(r)) != 1 {
			t.Errorf("B's group changed: %s", r)
		}
		// The configurator methods are scoped too.
		ctx := context.Background()
		if _, err := a.svc.UserGroups(ctx, a.account, bu); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("UserGroups across accounts: %v", err)
		}
		if u, err := a.svc.FindUserForSAML(ctx, a.account, "oid-1", "nobody"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("FindUserForSAML across accounts: %v %v", u, err)
		}
		if u, err := a.svc.FindUserForSAML(ctx, a.account, "", "SHARED@example.com"); err != nil || u.ID != au {
			t.Errorf("FindUserForSAML by name: %v %v", u, err)
		}
		counts, err := a.svc.GroupMemberCounts(ctx, a.account, []string{"Admins"})
		if err != nil || counts["Admins"] != 0 {
			t.Errorf("GroupMemberCounts: %v %v", counts, err)
		}
		act, err := a.svc.Activity(ctx, a.account)
		if err != nil || act.Users != 1 || act.Groups != 1 {
			t.Errorf("Activity: %+v %v", act, err)
		}
	})
}

func TestTokens(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		e := newEnv(t, db)
		e.svc.Now = func() time.Time { return now }

		info, err := e.svc.TokenStatus(ctx, e.account)
		if err != nil || !info.Exists || info.Last4 != e.token[len(e.token)-4:] || !info.PreviousValidUntil.IsZero() {
			t.Fatalf("status: %+v %v", info, err)
		}
		var stored int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM scim_tokens WHERE token_hash = ?`, e.token).Scan(&stored); err != nil || stored != 0 {
			t.Errorf("token stored in clear (%d, %v)", stored, err)
		}
		old := e.token
		tok2, err := e.svc.GenerateToken(ctx, e.account, admin, 30*time.Minute)
		if err != nil || tok2 == old || !strings.HasPrefix(tok2, "ghscim_") {
			t.Fatalf("regenerate: %q %v", tok2, err)
		}
		info, _ = e.svc.TokenStatus(ctx, e.account)
		if !info.PreviousValidUntil.Equal(now.Add(30*time.Minute)) || info.Last4 != tok2[len(tok2)-4:] {
			t.Errorf("status after regenerate: %+v", info)
		}
		// Both work during the overlap.
		e.must(200, e.do("GET", "/Users", nil))
		e.token = tok2
		e.must(200, e.do("GET", "/Users", nil))
		// After the overlap only the new one does.
		now = now.Add(31 * time.Minute)
		e.token = old
		e.must(401, e.do("GET", "/Users", nil))
		e.token = tok2
		e.must(200, e.do("GET", "/Users", nil))

		// Regenerating twice in a row: the token of the first overlap stops now.
		tok3, _ := e.svc.GenerateToken(ctx, e.account, admin, time.Hour)
		tok4, _ := e.svc.GenerateToken(ctx, e.account, admin, time.Hour)
		for tok, want := range map[string]int{tok2: 401, tok3: 200, tok4: 200} {
			e.token = tok
			e.must(want, e.do("GET", "/Users", nil))
		}
		if _, err := e.svc.GenerateToken(ctx, "0191d6f0-0000-7000-8000-00000000dead", admin, 0); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("token for a missing account: %v", err)
		}

		// Switched off: 403 in SCIM form, recorded as the last error.
		e.token = tok4
		if err := e.svc.SetEnabled(ctx, e.account, false, admin); err != nil {
			t.Fatal(err)
		}
		if on, _ := e.svc.Enabled(ctx, e.account); on {
			t.Error("still enabled")
		}
		e.must(403, e.do("GET", "/Users", nil))
		act, _ := e.svc.Activity(ctx, e.account)
		if !strings.Contains(act.LastError, "403") || !act.LastErrorAt.Equal(now) || !act.LastRequestAt.Equal(now) {
			t.Errorf("activity: %+v", act)
		}
		if err := e.svc.SetEnabled(ctx, e.account, true, admin); err != nil {
			t.Fatal(err)
		}
		e.must(200, e.do("GET", "/Users", nil))
		acts := e.auditActions()
		for _, want := range []string{"scim.token_generated", "scim.token_regenerated", "scim.disabled", "scim.enabled"} {
			if !slices.Contains(acts, want) {
				t.Errorf("audit lacks %s: %v", want, acts)
			}
		}
	})
}

func TestRateLimit(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		e := newEnv(t, db)
		e.svc.Now = func() time.Time { return now }
		// A burst of 3, refilled at one request per minute.
		e.svc.RateLimit = ratelimit.Rate{PerSecond: 1.0 / 60, Burst: 3}
		for range 3 {
			e.must(200, e.do("GET", "/Users", nil))
		}
		r := e.must(429, e.do("GET", "/Users", nil))
		if r.header.Get("Retry-After") != "60" {
			t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
		}
		// Another token (account) has its own budget.
		o := e.sibling("Other")
		o.must(200, o.do("GET", "/Users", nil))
		now = now.Add(time.Minute)
		e.must(200, e.do("GET", "/Users", nil))
		e.must(429, e.do("GET", "/Users", nil))

		// A second node sharing the database sees the first node's
		// requests once they are flushed (by its first request a second or
		// more after the last flush: the one a minute later above), and
		// grants no fresh burst.
		node2 := &Service{DB: db, Now: e.svc.Now, RateLimit: e.svc.RateLimit}
		srv2 := httptest.NewServer(Handler(node2))
		defer srv2.Close()
		req, _ := http.NewRequest("GET", srv2.URL+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+e.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 429 {
			t.Errorf("second node: status %d, want 429 (budget spent on the first node)", res.StatusCode)
		}
	})
}

// Malformed requests are 4xx in SCIM error form, never 5xx.
func TestBadRequests(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.svc.MaxBodyBytes = 4096
		uid := e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "bad@example.com"})).str("id")
		gid := e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "G"})).str("id")
		cases := []struct {
			method, path string
			body         any
			status       int
			scimType     string
			headers      []string
		}{
			{"POST", "/Users", `{"schemas":`, 400, "invalidSyntax", nil},
			{"POST", "/Users", `[]`, 400, "invalidSyntax", nil},
			{"POST", "/Users", `{"schemas":["` + URNUser + `"],"userName":"a"} trailing`, 400, "invalidSyntax", nil},
			{"POST", "/Users", ``, 400, "invalidSyntax", nil},
			{"POST", "/Users", map[string]any{"userName": "noschemas"}, 400, "invalidSyntax", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNGroup}, "userName": "x"}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": 42}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "x", "active": "maybe"}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "x", "name": "Bob"}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "x", "emails": []any{42}}, 400, "invalidValue", nil},
			{"POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "x", "userName ": "y", "USERNAME": "z"}, 400, "invalidSyntax", nil},
			{"POST", "/Users", `{"schemas":["` + URNUser + `"],"userName":"` + strings.Repeat("x", 5000) + `"}`, 413, "", nil},
			{"POST", "/Users", `{}`, 415, "", []string{"Content-Type", "text/plain"}},
			{"GET", "/Users?" + qf(`userName eq`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`userName xx "a"`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`nosuch eq "a"`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`active gt true`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`userName eq 12`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`meta.created gt "yesterday"`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(`name eq "x"`), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?" + qf(strings.Repeat("(", 3000)), nil, 400, "invalidFilter", nil},
			{"GET", "/Users?sortBy=nosuch", nil, 400, "invalidValue", nil},
			{"GET", "/Users?sortOrder=up", nil, 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, map[string]any{"Operations": []any{}}, 400, "invalidSyntax", nil},
			{"PATCH", "/Users/" + uid, patchOps(), 400, "invalidSyntax", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("move", "userName", "x")), 400, "invalidSyntax", nil},
			{"PATCH", "/Users/" + uid, patchOps(map[string]any{"op": 7}), 400, "invalidSyntax", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "userName", nil)), 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("remove", "userName", nil)), 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("remove", "", nil)), 400, "noTarget", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "", "x")), 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "nosuch", "x")), 400, "invalidPath", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "emails[type eq", "x")), 400, "invalidPath", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "id", "x")), 400, "mutability", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "meta.created", "2020-01-01T00:00:00Z")), 400, "mutability", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("add", "groups", []any{map[string]any{"value": gid}})), 400, "mutability", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", "active", "yes")), 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", `emails[type gt true].value`, "x")), 400, "invalidPath", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", `emails[type co "w"].value`, "x")), 400, "noTarget", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("replace", `userName[value eq "x"]`, "x")), 400, "invalidPath", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("add", "emails", []any{map[string]any{"value": "a@x", "primary": true}, map[string]any{"value": "b@x", "primary": true}})), 400, "invalidValue", nil},
			{"PATCH", "/Users/" + uid, patchOps(op("add", "userName", "x")), 200, "", []string{"If-Match", `W/"99"`}},
			{"PATCH", "/Groups/" + gid, patchOps(op("add", "members", []any{map[string]any{"display": "no value"}})), 400, "invalidValue", nil},
			{"PATCH", "/Groups/" + gid, patchOps(op("add", "members", []any{map[string]any{"value": gid, "type": "Group"}})), 400, "invalidValue", nil},
			{"PATCH", "/Groups/" + gid, patchOps(op("replace", "displayName", nil)), 400, "invalidValue", nil},
			{"PATCH", "/Groups/" + gid, patchOps(op("replace", "members[value eq \"x\"].display", "y")), 400, "mutability", nil},
			{"DELETE", "/Users/" + uid, nil, 412, "", []string{"If-Match", `W/"99"`}},
			{"PUT", "/Users/" + uid, map[string]any{"schemas": []any{URNUser}, "userName": "y"}, 412, "", []string{"If-Match", `"7"`}},
			{"DELETE", "/Users", nil, 405, "", nil},
			{"PUT", "/Groups", nil, 405, "", nil},
			{"POST", "/Users/" + uid, map[string]any{}, 405, "", nil},
			{"POST", "/ServiceProviderConfig", map[string]any{}, 405, "", nil},
			{"GET", "/Nope", nil, 404, "", nil},
			{"GET", "/Users/" + uid + "/x", nil, 404, "", nil},
			{"GET", "/Me", nil, 501, "", nil},
			{"POST", "/Bulk", map[string]any{}, 501, "", nil},
			{"GET", "/Schemas/urn:nope", nil, 404, "", nil},
			{"GET", "/ResourceTypes/Nope", nil, 404, "", nil},
		}
		for _, c := range cases {
			name := fmt.Sprintf("%s %s %v", c.method, c.path, c.body)
			if len(name) > 120 {
				name = name[:120]
			}
			r := e.do(c.method, c.path, c.body, c.headers...)
			want := c.status
			if want == 200 {
				want = 412 // the If-Match case
			}
			if r.status != want {
				t.Errorf("%s: got %s, want %d", name, r, want)
				continue
			}
			checkErrorShape(t, r)
			if got, _ := r.body["scimType"].(string); got != c.scimType {
				t.Errorf("%s: scimType %q, want %q (%s)", name, got, c.scimType, r)
			}
		}
		// Nothing above changed the user.
		r := e.must(200, e.do("GET", "/Users/"+uid, nil))
		if r.str("userName") != "bad@example.com" || r.str("meta", "version") != `W/"1"` {
			t.Errorf("user changed by bad requests: %s", r)
		}
		// A matching If-Match passes; application/json is accepted.
		e.must(200, e.do("PATCH", "/Users/"+uid, patchOps(op("add", "title", "x")), "If-Match", `W/"1"`, "Content-Type", "application/json; charset=utf-8"))
		e.must(304, e.do("GET", "/Users/"+uid, nil, "If-None-Match", `W/"2"`))
		act, _ := e.svc.Activity(context.Background(), e.account)
		if act.LastError == "" {
			t.Errorf("no last error recorded: %+v", act)
		}
	})
}

// A failing hook rolls the whole change back.
func TestHookFailureRollsBack(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.allow500 = true
		id := e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "h@example.com"})).str("id")
		e.hooks.failNext = true
		e.must(500, e.do("PATCH", "/Users/"+id, patchOps(op("replace", "active", false))))
		r := e.must(200, e.do("GET", "/Users/"+id, nil))
		if dig(r.body, "active") != true || r.str("meta", "version") != `W/"1"` {
			t.Errorf("change survived a failed hook: %s", r)
		}
		e.hooks.failNext = true
		e.must(500, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "h2@example.com"}))
		if r := e.must(200, e.do("GET", "/Users?"+qf(`userName eq "h2@example.com"`), nil)); r.total() != 0 {
			t.Errorf("user created despite failed hook")
		}
		if acts := e.auditActions(); slices.Contains(acts, "scim.user_deactivated") {
			t.Errorf("audit entry survived: %v", acts)
		}
	})
}

func TestDiscovery(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.prefix = "/scim" // the short base answers too
		r := e.must(200, e.do("GET", "/ServiceProviderConfig", nil))
		if dig(r.body, "patch", "supported") != true || dig(r.body, "bulk", "supported") != false ||
			dig(r.body, "etag", "supported") != true || dig(r.body, "filter", "maxResults") != float64(1000) {
			t.Errorf("spc: %s", r)
		}
		r = e.must(200, e.do("GET", "/ResourceTypes", nil))
		if r.total() != 2 || r.list()[0]["endpoint"] != "/Users" {
			t.Errorf("resource types: %s", r)
		}
		e.must(200, e.do("GET", "/ResourceTypes/User", nil))
		r = e.must(200, e.do("GET", "/Schemas", nil))
		if r.total() != 3 {
			t.Errorf("schemas: %s", r)
		}
		r = e.must(200, e.do("GET", "/Schemas/"+URNEnterprise, nil))
		if attrs, _ := r.body["attributes"].([]any); len(attrs) != 6 {
			t.Errorf("enterprise schema: %s", r)
		}
		r = e.must(200, e.do("GET", "/Schemas/"+URNUser, nil))
		for _, a := range r.body["attributes"].([]any) {
			if n := dig(a, "name"); n == "id" || n == "meta" {
				t.Errorf("common attribute %v listed in the User schema", n)
			}
			if dig(a, "name") == "userName" && (dig(a, "uniqueness") != "server" || dig(a, "required") != true || dig(a, "caseExact") != false) {
				t.Errorf("userName: %v", a)
			}
		}
		r = e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "short@example.com"}))
		if !strings.HasSuffix(r.header.Get("Location"), "/scim/Users/"+r.str("id")) {
			t.Errorf("Location under /scim: %q", r.header.Get("Location"))
		}
		_ = http.StatusOK
	})
}

func TestGroupMemberCountsAndLinking(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db)
		mk := func(userName, ext string, active bool) string {
			return e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": userName, "externalId": ext, "active": active})).str("id")
		}
		u1 := mk("one@example.com", "oid-1", true)
		u2 := mk("two@example.com", "oid-2", false)
		u3 := mk("three@example.com", "", true)
		members := func(ids ...string) []any {
			var l []any
			for _, id := range ids {
				l = append(l, map[string]any{"value": id})
			}
			return l
		}
		e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Gatehouse Admins",
			"externalId": "6e2f5d1c-aaaa-4bbb-8ccc-000000000001", "members": members(u1, u2)}))
		g2 := e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Desktop Users", "members": members(u1, u2, u3)})).str("id")

		counts, err := e.svc.GroupMemberCounts(ctx, e.account, []string{"6e2f5d1c-aaaa-4bbb-8ccc-000000000001", "desktop users", "Nope", "Gatehouse Admins"})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"6e2f5d1c-aaaa-4bbb-8ccc-000000000001": 2, "desktop users": 3, "Nope": 0, "Gatehouse Admins": 2}
		for k, v := range want {
			if counts[k] != v {
				t.Errorf("count[%s] = %d, want %d", k, counts[k], v)
			}
		}
		groups, err := e.svc.UserGroups(ctx, e.account, u3)
		if err != nil || len(groups) != 1 || groups[0].ID != g2 || groups[0].DisplayName != "Desktop Users" {
			t.Errorf("UserGroups: %+v %v", groups, err)
		}
		if g, err := e.svc.UserGroups(ctx, e.account, u1); err != nil || len(g) != 2 {
			t.Errorf("UserGroups u1: %+v %v", g, err)
		}
		// objectidentifier first; else the name, case-insensitively.
		if u, err := e.svc.FindUserForSAML(ctx, e.account, "oid-2", "one@example.com"); err != nil || u.ID != u2 || u.Active {
			t.Errorf("by object id: %+v %v", u, err)
		}
		if u, err := e.svc.FindUserForSAML(ctx, e.account, "oid-unknown", "Three@Example.com"); err != nil || u.ID != u3 {
			t.Errorf("by name: %+v %v", u, err)
		}
		if _, err := e.svc.FindUserForSAML(ctx, e.account, "OID-1", ""); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("object id is case-sensitive: %v", err)
		}
		act, err := e.svc.Activity(ctx, e.account)
		if err != nil || act.Users != 3 || act.ActiveUsers != 2 || act.Groups != 2 || act.LastRequestAt.IsZero() {
			t.Errorf("activity: %+v %v", act, err)
		}
	})
}

// POST /.search and attributes/excludedAttributes on write responses.
func TestSearchAndProjectionOnWrites(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.svc.BaseURL = "https://gatehouse.example.com/scim/v2/"
		r := e.must(201, e.do("POST", "/Users?attributes=userName", map[string]any{
			"schemas": []any{URNUser}, "userName": "s@example.com", "displayName": "S", "title": "T",
		}))
		if len(r.body) != 3 || r.str("userName") != "s@example.com" || r.str("id") == "" {
			t.Errorf("attributes on POST: %s", r)
		}
		if loc := r.header.Get("Location"); loc != "https://gatehouse.example.com/scim/v2/Users/"+r.str("id") {
			t.Errorf("Location with BaseURL: %q", loc)
		}
		id := r.str("id")
		r = e.must(200, e.do("PATCH", "/Users/"+id+"?excludedAttributes=title,meta", patchOps(op("replace", "title", "U"))))
		if _, has := r.body["title"]; has || r.body["meta"] != nil || r.str("displayName") != "S" {
			t.Errorf("excludedAttributes on PATCH: %s", r)
		}
		r = e.must(200, e.do("PUT", "/Users/"+id+"?attributes=title", map[string]any{"schemas": []any{URNUser}, "userName": "s@example.com", "title": "V"}))
		if r.str("title") != "V" || r.str("userName") != "" {
			t.Errorf("attributes on PUT: %s", r)
		}
		e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "t@example.com"}))
		r = e.must(200, e.do("POST", "/Users/.search", map[string]any{
			"schemas": []any{URNSearch}, "filter": `userName sw "s@" or userName sw "t@"`,
			"attributes": []any{"userName"}, "sortBy": "userName", "sortOrder": "descending", "startIndex": 1, "count": 1,
		}))
		if r.total() != 2 || len(r.list()) != 1 || r.list()[0]["userName"] != "t@example.com" || len(r.list()[0]) != 3 {
			t.Errorf(".search: %s", r)
		}
		e.scimType("invalidSyntax", e.must(400, e.do("POST", "/Users/.search", map[string]any{"filter": "userName pr"})))
		e.must(200, e.do("POST", "/Groups/.search", map[string]any{"schemas": []any{URNSearch}}))
	})
}
