package scim

import (
	"slices"
	"strings"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// The requests of Okta's SCIM 2.0 provisioning (Okta's "SCIM 2.0 SPEC Test"
// Runscope suite and the request examples of Okta's SCIM guide): paged
// listing, userName eq with startIndex/count, creation with password and
// empty groups, PUT of the whole user (id and meta included), path-less
// replace of active, group push by name with add/remove/replace members.

func TestOktaUserLifecycle(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)

		// "Test Users endpoint": the list works on an empty account.
		r := e.must(200, e.do("GET", "/Users?count=1&startIndex=1", nil))
		for _, k := range []string{"Resources", "itemsPerPage", "startIndex", "totalResults", "schemas"} {
			if _, ok := r.body[k]; !ok {
				t.Errorf("list response lacks %s: %s", k, r)
			}
		}
		// "Make sure random user doesn't exist".
		r = e.must(200, e.do("GET", "/Users?"+qf(`userName eq "dummyuser-1a2b@okta.local"`)+"&startIndex=1&count=100", nil))
		if r.total() != 0 {
			t.Fatalf("%s", r)
		}

		// "Create Okta user with realistic values".
		user := map[string]any{
			"schemas":     []any{URNUser},
			"userName":    "test.user@okta.local",
			"name":        map[string]any{"givenName": "Test", "familyName": "User"},
			"emails":      []any{map[string]any{"primary": true, "value": "test.user@okta.local", "type": "work"}},
			"displayName": "Test User",
			"locale":      "en-US",
			"externalId":  "00ujl29u0le5T6Aj10h7",
			"groups":      []any{},
			"password":    "1mz050nq",
			"active":      true,
		}
		r = e.must(201, e.do("POST", "/Users", user))
		id := r.str("id")
		if dig(r.body, "active") != true || r.str("name", "familyName") != "User" || r.str("userName") != "test.user@okta.local" {
			t.Errorf("created: %s", r)
		}
		if _, has := r.body["password"]; has {
			t.Errorf("password returned: %s", r)
		}
		var stored string
		if err := db.QueryRow(t.Context(), `SELECT data FROM scim_users WHERE id = ?`, id).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == "" || strings.Contains(stored, "1mz050nq") {
			t.Errorf("password stored: %s", stored)
		}

		// "Verify that user was created".
		r = e.must(200, e.do("GET", "/Users/"+id, nil))
		if r.str("userName") != "test.user@okta.local" {
			t.Errorf("%s", r)
		}
		// "Expect failure when recreating user with same values": 409.
		r = e.must(409, e.do("POST", "/Users", user))
		e.scimType("uniqueness", r)
		// Different case is the same userName.
		user2 := map[string]any{"schemas": []any{URNUser}, "userName": "TEST.USER@okta.local"}
		e.scimType("uniqueness", e.must(409, e.do("POST", "/Users", user2)))
		// "Username Case Sensitivity Check".
		r = e.must(200, e.do("GET", "/Users?"+qf(`userName eq "TEST.USER@OKTA.LOCAL"`)+"&startIndex=1&count=100", nil))
		if r.total() != 1 {
			t.Errorf("case sensitivity: %s", r)
		}
		// "Test invalid User by ID".
		e.must(404, e.do("GET", "/Users/010101001010101", nil))
		e.must(404, e.do("GET", "/Users/0191d6f0-0000-7000-8000-000000000000", nil))

		// Profile update: PUT of the whole user, as Okta sends it.
		put := map[string]any{
			"schemas":  []any{URNUser},
			"id":       id,
			"userName": "test.user@okta.local",
			"name":     map[string]any{"givenName": "Another", "familyName": "User"},
			"emails": []any{
				map[string]any{"primary": true, "value": "test.user@okta.local", "type": "work"},
				map[string]any{"primary": false, "value": "test.user@home.example", "type": "home"},
			},
			"active": true,
			"groups": []any{},
			"meta":   map[string]any{"resourceType": "User"},
		}
		r = e.must(200, e.do("PUT", "/Users/"+id, put))
		if r.str("name", "givenName") != "Another" || len(dig(r.body, "emails").([]any)) != 2 {
			t.Errorf("put: %s", r)
		}
		// PUT replaces: locale, externalId and displayName were not sent.
		for _, k := range []string{"locale", "externalId", "displayName"} {
			if _, has := r.body[k]; has {
				t.Errorf("PUT kept %s: %s", k, r)
			}
		}
		// Two primaries are refused.
		bad := map[string]any{"schemas": []any{URNUser}, "userName": "test.user@okta.local", "emails": []any{
			map[string]any{"primary": true, "value": "a@x"}, map[string]any{"primary": true, "value": "b@x"},
		}}
		e.scimType("invalidValue", e.must(400, e.do("PUT", "/Users/"+id, bad)))

		// Deactivate: path-less replace.
		e.hooks.take()
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("replace", "", map[string]any{"active": false}))))
		if dig(r.body, "active") != false {
			t.Errorf("deactivate: %s", r)
		}
		if calls := e.hooks.take(); len(calls) != 2 || calls[1].kind != "deactivated" {
			t.Errorf("hooks: %+v", calls)
		}
		// Reactivate.
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("replace", "", map[string]any{"active": true}))))
		if dig(r.body, "active") != true {
			t.Errorf("reactivate: %s", r)
		}
		// Okta's full-object replace without path, id included.
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("replace", "", map[string]any{
			"id": id, "userName": "test.user@okta.local", "name": map[string]any{"givenName": "Third"},
			"schemas": []any{URNUser}, "meta": map[string]any{"resourceType": "User"},
		}))))
		if r.str("name", "givenName") != "Third" || r.str("name", "familyName") != "User" {
			t.Errorf("full replace: %s", r)
		}
		acts := e.auditActions()
		if !slices.Contains(acts, "scim.user_deactivated") || !slices.Contains(acts, "scim.user_reactivated") {
			t.Errorf("audit: %v", acts)
		}
	})
}

func TestOktaPaging(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for i := range 7 {
			e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": string(rune('a'+i)) + "@okta.local"}))
		}
		seen := map[string]bool{}
		for start := 1; start <= 7; start += 3 {
			r := e.must(200, e.do("GET", "/Users?startIndex="+itoa(int64(start))+"&count=3", nil))
			if r.total() != 7 || int(r.body["startIndex"].(float64)) != start {
				t.Fatalf("page %d: %s", start, r)
			}
			want := min(3, 7-start+1)
			if len(r.list()) != want || int(r.body["itemsPerPage"].(float64)) != want {
				t.Fatalf("page %d: %d items: %s", start, len(r.list()), r)
			}
			for _, u := range r.list() {
				seen[u["id"].(string)] = true
			}
		}
		if len(seen) != 7 {
			t.Errorf("pages covered %d users", len(seen))
		}
		// Beyond the end, count=0, startIndex=0.
		if r := e.must(200, e.do("GET", "/Users?startIndex=50&count=3", nil)); r.total() != 7 || len(r.list()) != 0 {
			t.Errorf("beyond: %s", r)
		}
		if r := e.must(200, e.do("GET", "/Users?count=0", nil)); r.total() != 7 || len(r.list()) != 0 {
			t.Errorf("count=0: %s", r)
		}
		if r := e.must(200, e.do("GET", "/Users?startIndex=0&count=2", nil)); int(r.body["startIndex"].(float64)) != 1 || len(r.list()) != 2 {
			t.Errorf("startIndex=0: %s", r)
		}
		e.scimType("invalidValue", e.must(400, e.do("GET", "/Users?count=ten", nil)))
		// Sorted, both ways, with a filter too.
		r := e.must(200, e.do("GET", "/Users?sortBy=userName&sortOrder=descending&count=2", nil))
		if l := r.list(); l[0]["userName"] != "g@okta.local" || l[1]["userName"] != "f@okta.local" {
			t.Errorf("sort desc: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`userName sw "b" or userName sw "d" or userName sw "c"`)+"&sortBy=userName&startIndex=2&count=1", nil))
		if r.total() != 3 || r.list()[0]["userName"] != "c@okta.local" {
			t.Errorf("filtered sort: %s", r)
		}
	})
}

func TestOktaGroupPush(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var users []string
		for _, n := range []string{"u1", "u2", "u3", "u4"} {
			r := e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": n + "@okta.local"}))
			users = append(users, r.str("id"))
		}
		r := e.must(200, e.do("GET", "/Groups?"+qf(`displayName eq "Test SCIMv2"`)+"&startIndex=1&count=100", nil))
		if r.total() != 0 {
			t.Fatal(r)
		}
		r = e.must(201, e.do("POST", "/Groups", map[string]any{
			"schemas": []any{URNGroup}, "displayName": "Test SCIMv2",
			"members": []any{map[string]any{"value": users[0], "display": "u1@okta.local"}},
		}))
		gid := r.str("id")
		if m := dig(r.body, "members").([]any); len(m) != 1 {
			t.Errorf("members: %s", r)
		}
		e.hooks.take()

		// Rename: path-less replace with id.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("replace", "", map[string]any{"id": gid, "displayName": "Test SCIMv2 renamed"}))))
		if r.str("displayName") != "Test SCIMv2 renamed" || len(dig(r.body, "members").([]any)) != 1 {
			t.Errorf("rename: %s", r)
		}
		// Add, remove with a filter, in one request.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(
			op("add", "members", []any{map[string]any{"value": users[1], "display": "u2"}, map[string]any{"value": users[2], "display": "u3"}}),
			op("remove", `members[value eq "`+users[0]+`"]`, nil),
		)))
		if got := memberValues(r); !slices.Equal(got, sorted(users[1], users[2])) {
			t.Errorf("after add/remove: %v", got)
		}
		calls := e.hooks.take()
		if len(calls) != 1 || len(calls[0].added) != 2 || !slices.Equal(calls[0].removed, []string{users[0]}) {
			t.Errorf("hooks: %+v", calls)
		}
		// Replace the whole member list.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("replace", "members", []any{
			map[string]any{"value": users[2]}, map[string]any{"value": users[3]},
		}))))
		if got := memberValues(r); !slices.Equal(got, sorted(users[2], users[3])) {
			t.Errorf("after replace: %v", got)
		}
		calls = e.hooks.take()
		if len(calls) != 1 || !slices.Equal(calls[0].added, []string{users[3]}) || !slices.Equal(calls[0].removed, []string{users[1]}) {
			t.Errorf("hooks after replace: %+v", calls)
		}
		// A member that is not a user of the account.
		r = e.must(400, e.do("PATCH", "/Groups/"+gid, patchOps(op("add", "members", []any{map[string]any{"value": "0191d6f0-0000-7000-8000-000000000000"}}))))
		e.scimType("invalidValue", r)
		// replace members [] empties the group.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("replace", "members", []any{}))))
		if _, has := r.body["members"]; has {
			t.Errorf("replace []: %s", r)
		}
		if calls := e.hooks.take(); len(calls) != 1 || len(calls[0].removed) != 2 {
			t.Errorf("hooks after empty: %+v", calls)
		}
		// PUT of the group with members.
		r = e.must(200, e.do("PUT", "/Groups/"+gid, map[string]any{
			"schemas": []any{URNGroup}, "displayName": "Test SCIMv2", "members": []any{map[string]any{"value": users[0]}},
		}))
		if got := memberValues(r); !slices.Equal(got, []string{users[0]}) || r.str("displayName") != "Test SCIMv2" {
			t.Errorf("put: %s", r)
		}
		e.hooks.take()
		e.must(204, e.do("DELETE", "/Groups/"+gid, nil))
		if calls := e.hooks.take(); len(calls) != 1 || !slices.Equal(calls[0].removed, []string{users[0]}) {
			t.Errorf("hooks after delete: %+v", calls)
		}
	})
}

func memberValues(r *resp) []string {
	var out []string
	m, _ := r.body["members"].([]any)
	for _, e := range m {
		out = append(out, dig(e, "value").(string))
	}
	slices.Sort(out)
	return out
}

func sorted(s ...string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}
