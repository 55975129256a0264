package scim

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestStrictBodies: a body that names an attribute twice (attribute names
// are case-insensitive) is refused with invalidSyntax naming it, and text
// PostgreSQL cannot store (NUL, invalid UTF-8) is refused with a 400 on both
// engines (instead of a 500 on PostgreSQL and stored bytes on SQLite) —
// in bodies, filters and resource ids alike. Nothing is created.
func TestStrictBodies(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, c := range []struct {
			name, method, path, body, scimType, mention string
		}{
			{"same key twice", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@corp.example","userName":"eve@corp.example"}`, ErrInvalidSyntax, `"userName"`},
			{"same key in another case", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@corp.example","USERNAME":"eve@corp.example"}`, ErrInvalidSyntax, `"USERNAME"`},
			{"nested", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@corp.example","name":{"givenName":"Ann","givenname":"Eve"}}`, ErrInvalidSyntax, `"givenname"`},
			{"group", "POST", "/Groups", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"A","displayName":"B"}`, ErrInvalidSyntax, `"displayName"`},
			{"NUL in a value", "POST", "/Users", `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"nul@corp.example","displayName":"Ann\u0000Admin"}`, ErrInvalidValue, "NUL"},
			{"invalid UTF-8", "POST", "/Groups", "{\"schemas\":[\"urn:ietf:params:scim:schemas:core:2.0:Group\"],\"displayName\":\"bad \xff\"}", ErrInvalidValue, "UTF-8"},
		} {
			r := e.must(http.StatusBadRequest, e.do(c.method, c.path, c.body))
			e.scimType(c.scimType, r)
			if d, _ := r.body["detail"].(string); !strings.Contains(d, c.mention) {
				t.Errorf("%s: detail %q does not mention %s", c.name, d, c.mention)
			}
		}
		if n := e.do("GET", "/Users", nil).total() + e.do("GET", "/Groups", nil).total(); n != 0 {
			t.Fatalf("%d resources were created from refused bodies", n)
		}

		// A user to PATCH and PUT.
		u := e.must(http.StatusCreated, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "ann@corp.example"}))
		id := u.str("id")
		r := e.must(http.StatusBadRequest, e.do("PATCH", "/Users/"+id,
			`{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","op":"add","path":"active","value":false}]}`))
		e.scimType(ErrInvalidSyntax, r)
		apptestContains(t, r.body["detail"], `"op"`)
		apptestContains(t, r.body["detail"], "Operations[0]")
		r = e.must(http.StatusBadRequest, e.do("PUT", "/Users/"+id,
			`{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"ann@corp.example","active":true,"Active":false}`))
		e.scimType(ErrInvalidSyntax, r)
		if got := e.must(http.StatusOK, e.do("GET", "/Users/"+id, nil)); got.body["active"] != true {
			t.Errorf("a refused PUT changed the user: %s", got)
		}

		// NUL and invalid UTF-8 in filters and ids: a 4xx, never a 500.
		for _, f := range []string{`userName eq "a` + "\x00" + `b"`, `displayName eq "` + "\xff" + `"`} {
			r := e.do("GET", "/Users?"+qf(f), nil)
			if r.status != http.StatusBadRequest {
				t.Errorf("filter %q: %s", f, r)
			}
		}
		for _, p := range []string{"/Users/" + url.PathEscape("a\x00b"), "/Groups/%FF", "/Users?attributes=" + url.QueryEscape("userName\x00")} {
			if r := e.do("GET", p, nil); r.status/100 != 4 {
				t.Errorf("GET %s: %s", p, r)
			}
		}
	})
}

func apptestContains(t *testing.T, v any, sub string) {
	t.Helper()
	s, _ := v.(string)
	if !strings.Contains(s, sub) {
		t.Errorf("%q does not contain %q", s, sub)
	}
}
