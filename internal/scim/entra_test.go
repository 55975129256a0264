package scim

import (
	"net/http"
	"slices"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// The request sequences of Microsoft Entra ID's provisioning service, as
// Microsoft documents them ("Develop a SCIM endpoint", request/response
// examples) including its non-compliant habits: capitalised op names, string
// booleans, Remove with a value list, a Microsoft schema URN in group bodies.

func TestEntraUserLifecycle(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		const userName = "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"

		// 1. Does the user exist? Unknown → empty ListResponse, not 404.
		r := e.must(200, e.do("GET", "/Users?"+qf(`userName eq "`+userName+`"`), nil))
		if r.total() != 0 || len(r.list()) != 0 {
			t.Fatalf("unknown user: %s", r)
		}
		if s := dig(r.body, "schemas").([]any); s[0] != URNListResponse {
			t.Errorf("schemas: %v", s)
		}

		// 2. Create.
		r = e.must(201, e.do("POST", "/Users", map[string]any{
			"schemas":    []any{URNUser, URNEnterprise},
			"externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
			"userName":   userName,
			"active":     true,
			"emails": []any{map[string]any{
				"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
			}},
			"meta":  map[string]any{"resourceType": "User"},
			"name":  map[string]any{"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
			"roles": []any{},
			"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": map[string]any{
				"department": "Engineering", "employeeNumber": "701984",
			},
		}))
		id := r.str("id")
		if id == "" || r.str("meta", "resourceType") != "User" || r.str("userName") != userName {
			t.Fatalf("created: %s", r)
		}
		if loc := r.header.Get("Location"); loc != e.srv.URL+"/scim/v2/Users/"+id || r.str("meta", "location") != loc {
			t.Errorf("Location %q, meta.location %q", loc, r.str("meta", "location"))
		}
		if r.header.Get("ETag") == "" || r.header.Get("ETag") != r.str("meta", "version") {
			t.Errorf("ETag %q, meta.version %q", r.header.Get("ETag"), r.str("meta", "version"))
		}
		if s := dig(r.body, "schemas").([]any); len(s) != 2 || s[1] != URNEnterprise {
			t.Errorf("schemas %v", s)
		}
		if r.str(URNEnterprise, "department") != "Engineering" {
			t.Errorf("enterprise extension: %s", r)
		}
		if _, has := r.body["roles"]; has {
			t.Errorf("empty roles stored: %s", r)
		}

		// 3. Read back, and find it by userName in any case.
		r = e.must(200, e.do("GET", "/Users/"+id, nil))
		if r.str("emails") != "" || dig(r.body, "active") != true {
			t.Errorf("get: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`userName eq "TEST_USER_AB6490EE-1E48-479E-A20B-2D77186B5DD1"`), nil))
		if r.total() != 1 || r.list()[0]["id"] != id {
			t.Fatalf("case-insensitive userName: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"`), nil))
		if r.total() != 1 {
			t.Errorf("externalId: %s", r)
		}
		// externalId is caseExact (RFC 7643 §3.1).
		r = e.must(200, e.do("GET", "/Users?"+qf(`externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"`), nil))
		if r.total() != 0 {
			t.Errorf("externalId matched case-insensitively: %s", r)
		}

		// 4. Update multi-valued and single-valued attributes, Entra style.
		e.hooks.take()
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(
			op("Replace", `emails[type eq "work"].value`, "updatedEmail@microsoft.com"),
			op("Replace", "name.familyName", "updatedFamilyName"),
			op("Add", `phoneNumbers[type eq "mobile"].value`, "+1 555 0100"),
			op("Replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "Sales"),
			op("Add", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "9b7a3c2e-0000-4000-8000-000000000001"),
		)))
		emails := dig(r.body, "emails").([]any)
		if len(emails) != 1 || dig(emails[0], "value") != "updatedEmail@microsoft.com" || dig(emails[0], "primary") != true {
			t.Errorf("emails: %v", emails)
		}
		if r.str("name", "familyName") != "updatedFamilyName" || r.str("name", "givenName") != "givenName" {
			t.Errorf("name: %v", r.body["name"])
		}
		phones := dig(r.body, "phoneNumbers").([]any)
		if len(phones) != 1 || dig(phones[0], "type") != "mobile" || dig(phones[0], "value") != "+1 555 0100" {
			t.Errorf("phoneNumbers: %v", phones)
		}
		if r.str(URNEnterprise, "department") != "Sales" || r.str(URNEnterprise, "employeeNumber") != "701984" ||
			r.str(URNEnterprise, "manager", "value") != "9b7a3c2e-0000-4000-8000-000000000001" {
			t.Errorf("enterprise: %v", r.body[URNEnterprise])
		}
		if r.str("meta", "version") != `W/"2"` {
			t.Errorf("version after patch: %s", r.str("meta", "version"))
		}
		calls := e.hooks.take()
		if len(calls) != 1 || calls[0].kind != "changed" || calls[0].user.FamilyName != "updatedFamilyName" {
			t.Errorf("hooks after update: %+v", calls)
		}

		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("Replace", "userName", "5b50642d@testuser.com"))))
		if r.str("userName") != "5b50642d@testuser.com" {
			t.Errorf("userName: %s", r)
		}
		e.hooks.take()

		// 5. Disable with Entra's string boolean.
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("Replace", "active", "False"))))
		if dig(r.body, "active") != false {
			t.Fatalf("active: %s", r)
		}
		calls = e.hooks.take()
		if len(calls) != 2 || calls[0].kind != "changed" || calls[1].kind != "deactivated" || calls[1].user.Active {
			t.Errorf("hooks after disable: %+v", calls)
		}
		// The same PATCH again changes nothing: no new version, no hook.
		r = e.must(200, e.do("PATCH", "/Users/"+id, patchOps(op("Replace", "active", "False"))))
		if r.str("meta", "version") != `W/"4"` || len(e.hooks.take()) != 0 {
			t.Errorf("idempotent disable: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?"+qf(`active eq false`), nil))
		if r.total() != 1 {
			t.Errorf("active eq false: %s", r)
		}

		// 6. Delete.
		e.must(204, e.do("DELETE", "/Users/"+id, nil))
		e.must(404, e.do("GET", "/Users/"+id, nil))
		e.must(404, e.do("DELETE", "/Users/"+id, nil))
		calls = e.hooks.take()
		if len(calls) != 1 || calls[0].kind != "deactivated" || calls[0].user.ID != id {
			t.Errorf("hooks after delete: %+v", calls)
		}

		want := []string{"scim.token_generated", "scim.user_created", "scim.user_updated", "scim.user_updated",
			"scim.user_deactivated", "scim.user_deleted"}
		if got := e.auditActions(); !slices.Equal(got, want) {
			t.Errorf("audit: %v, want %v", got, want)
		}
	})
}

func TestEntraGroupLifecycle(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var users []string
		for _, n := range []string{"ann", "bob", "cyd"} {
			r := e.must(201, e.do("POST", "/Users", map[string]any{
				"schemas": []any{URNUser}, "userName": n + "@contoso.com", "displayName": n, "active": true,
				"externalId": "oid-" + n,
			}))
			users = append(users, r.str("id"))
		}
		e.hooks.take()

		// Look for the group by name first; it does not exist yet.
		r := e.must(200, e.do("GET", "/Groups?excludedAttributes=members&"+qf(`displayName eq "Desktop Users"`), nil))
		if r.total() != 0 {
			t.Fatalf("%s", r)
		}
		r = e.must(201, e.do("POST", "/Groups", map[string]any{
			"schemas":     []any{URNGroup, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"},
			"externalId":  "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
			"displayName": "Desktop Users",
			"meta":        map[string]any{"resourceType": "Group"},
		}))
		gid := r.str("id")
		if r.str("meta", "resourceType") != "Group" || r.str("displayName") != "Desktop Users" {
			t.Fatalf("created: %s", r)
		}
		r = e.must(200, e.do("GET", "/Groups/"+gid+"?excludedAttributes=members", nil))
		if _, has := r.body["members"]; has || r.str("externalId") != "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" {
			t.Errorf("get: %s", r)
		}
		r = e.must(200, e.do("GET", "/Groups?excludedAttributes=members&"+qf(`displayName eq "desktop users"`), nil))
		if r.total() != 1 {
			t.Errorf("displayName filter is case-insensitive: %s", r)
		}

		// Rename.
		e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("Replace", "displayName", "Desktop Users (EU)"))))

		// Add members, $ref null as Entra sends it.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("Add", "members", []any{
			map[string]any{"$ref": nil, "value": users[0]},
			map[string]any{"$ref": nil, "value": users[1]},
			map[string]any{"$ref": nil, "value": users[2]},
		}))))
		if m, _ := r.body["members"].([]any); len(m) != 3 || dig(m[0], "display") == "" || dig(m[0], "$ref") == "" {
			t.Errorf("members: %s", r)
		}
		calls := e.hooks.take()
		if len(calls) != 1 || calls[0].kind != "membership" || len(calls[0].added) != 3 || len(calls[0].removed) != 0 {
			t.Errorf("hooks after add: %+v", calls)
		}
		// Membership check as Entra does it.
		r = e.must(200, e.do("GET", "/Groups?excludedAttributes=members&"+qf(`id eq "`+gid+`" and members[value eq "`+users[1]+`"]`), nil))
		if r.total() != 1 {
			t.Errorf("membership check: %s", r)
		}
		// The user shows the group.
		r = e.must(200, e.do("GET", "/Users/"+users[1], nil))
		if g, _ := r.body["groups"].([]any); len(g) != 1 || dig(g[0], "value") != gid || dig(g[0], "display") != "Desktop Users (EU)" {
			t.Errorf("user groups: %s", r)
		}

		// Remove with a value list (Entra), then with a value filter (RFC).
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("Remove", "members", []any{
			map[string]any{"$ref": nil, "value": users[1]},
		}))))
		if m, _ := r.body["members"].([]any); len(m) != 2 {
			t.Errorf("after remove: %s", r)
		}
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("Remove", `members[value eq "`+users[0]+`"]`, nil))))
		if m, _ := r.body["members"].([]any); len(m) != 1 || dig(m[0], "value") != users[2] {
			t.Errorf("after filtered remove: %s", r)
		}
		calls = e.hooks.take()
		if len(calls) != 2 || !slices.Equal(calls[0].removed, []string{users[1]}) || !slices.Equal(calls[1].removed, []string{users[0]}) {
			t.Errorf("hooks after removes: %+v", calls)
		}
		r = e.must(200, e.do("GET", "/Groups?excludedAttributes=members&"+qf(`id eq "`+gid+`" and members[value eq "`+users[1]+`"]`), nil))
		if r.total() != 0 {
			t.Errorf("membership check after removal: %s", r)
		}
		// Removing a member that is not there is not an error.
		e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(op("Remove", "members", []any{map[string]any{"value": users[1]}}))))
		if len(e.hooks.take()) != 0 {
			t.Error("hook for a no-op removal")
		}

		// Deleting a member user removes it from the group.
		e.must(204, e.do("DELETE", "/Users/"+users[2], nil))
		calls = e.hooks.take()
		if len(calls) != 2 || calls[0].kind != "membership" || calls[0].groupID != gid || !slices.Equal(calls[0].removed, []string{users[2]}) {
			t.Errorf("hooks after user delete: %+v", calls)
		}
		r = e.must(200, e.do("GET", "/Groups/"+gid, nil))
		if _, has := r.body["members"]; has {
			t.Errorf("deleted user still a member: %s", r)
		}

		e.must(204, e.do("DELETE", "/Groups/"+gid, nil))
		e.must(404, e.do("GET", "/Groups/"+gid, nil))
		_ = http.StatusOK
	})
}
