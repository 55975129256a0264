package scim

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestSCIMHostileUserNames runs the hostile address table through SCIM
// userName and emails: each form is refused with 400 invalidValue or is a
// user of its own, never the existing admin@corp.example.test (nor found
// by a filter for it), and uniqueness is on the canonical key.
func TestSCIMHostileUserNames(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		adminID := e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "admin@corp.example.test",
			"emails": []any{map[string]any{"value": "admin@corp.example.test", "type": "work"}}})).str("id")
		taken := map[string]bool{"admin@corp.example.test": true}
		for _, c := range hostileTable {
			r := e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": c.raw})
			key, keyErr := account.IdentityKey(c.raw)
			switch {
			case keyErr != nil:
				if r.status != 400 || r.str("scimType") != ErrInvalidValue {
					t.Errorf("%s: userName %q: %s, want 400 invalidValue", c.name, c.raw, r)
				}
			case taken[key]:
				// The same canonical address as an earlier user (ASCII
				// case, the other IDNA spelling): the unique index on the
				// canonical key refuses a second user.
				if r.status != 409 {
					t.Errorf("%s: userName %q: %s, want 409 uniqueness", c.name, c.raw, r)
				}
			default:
				if r.status != 201 || r.str("id") == adminID {
					t.Errorf("%s: userName %q: %s, want a user of its own", c.name, c.raw, r)
				}
				taken[key] = true
			}
			// A filter for the hostile form never finds the admin.
			v := url.Values{"filter": {`userName eq "` + strings.ReplaceAll(strings.ReplaceAll(c.raw, `\`, `\\`), `"`, `\"`) + `"`}}
			l := e.do("GET", "/Users?"+v.Encode(), nil)
			for _, u := range l.list() {
				if u["id"] == adminID && key != "admin@corp.example.test" {
					t.Errorf("%s: filter userName eq %q found the admin", c.name, c.raw)
				}
			}
			// emails[].value is held to the same rules.
			r = e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "u-" + strings.ReplaceAll(c.name, " ", "-"),
				"emails": []any{map[string]any{"value": c.raw, "type": "work"}}})
			if _, err := account.CanonicalEmail(c.raw); err != nil && r.status != 400 {
				t.Errorf("%s: email %q: %s, want 400", c.name, c.raw, r)
			}
		}
		// SAML linking finds the provisioned user only by the same key.
		for _, name := range []string{"admİn@corp.example.test", "ADMIN@corp.example.test", `"x" <admin@corp.example.test>`} {
			u, err := e.svc.FindUserForSAML(context.Background(), e.account, "", name)
			if got := err == nil && u.ID == adminID; got != (name == "ADMIN@corp.example.test") {
				t.Errorf("FindUserForSAML(%q) found the admin: %v", name, got)
			}
		}
	})
}

// hostileTable mirrors account's table (that one is in a _test file of
// another package).
var hostileTable = []struct{ name, raw string }{
	{"display name", `"alice@corp.example.test" <admin@corp.example.test>`},
	{"display name bare", `Alice <admin@corp.example.test>`},
	{"comment", `admin@corp.example.test(Admin)`},
	{"quoted local", `"admin"@corp.example.test`},
	{"capital I dot", "admİn@corp.example.test"},
	{"dotless i", "admın@corp.example.test"},
	{"long s", "ſadmin@corp.example.test"},
	{"Kelvin", "\u212Aadmin@corp.example.test"},
	{"full-width at", "admin＠corp.example.test"},
	{"full-width domain", "admin@ｃｏｒｐ.example.test"},
	{"NUL", "admin@corp.example.test\x00"},
	{"control", "adm\x01in@corp.example.test"},
	{"trailing dot", "admin@corp.example.test."},
	{"leading space", " admin@corp.example.test"},
	{"zero width", "ad\u200bmin@corp.example.test"},
	{"ASCII case", "ADMIN@corp.example.test"},
	{"IDN unicode", "ann@bücher.example"},
	{"IDN ascii", "ann@xn--bcher-kva.example"},
}

// TestSCIMTrailingSlashAndFilterErrors: GET /Users/ and /Groups/ answer as
// without the slash (some clients add it); filter errors are sentences of
// ours, never the parser's internals or stray bytes of the input.
func TestSCIMTrailingSlashAndFilterErrors(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "bjensen@example.com"}))
		e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Admins"}))
		for _, p := range []string{"/Users", "/Groups"} {
			a := e.must(200, e.do("GET", p, nil))
			b := e.must(200, e.do("GET", p+"/", nil))
			if a.total() != 1 || b.total() != a.total() {
				t.Errorf("%s: %d vs %s/: %d", p, a.total(), p, b.total())
			}
			q := e.must(200, e.do("GET", p+"/?count=1", nil))
			if q.total() != 1 {
				t.Errorf("%s/?count=1: %s", p, q)
			}
		}
		for _, f := range []string{`userName eq`, `userName eq "a" and`, `(((userName eq "a"`, `userName eq "a" ) `, `userName zz "a"`,
			"userName eq \"\\uZZZZ\"", `emails[type eq "a"] xx`, "userName eq \"a\"\x01", "userName eq \"\xff\"", "userName eq \"a\x00b\"",
			`emails[type eq "work"`, `emails[type zz "x"]`, `emails[]`} {
			r := e.do("GET", "/Users?"+url.Values{"filter": {f}}.Encode(), nil)
			detail := r.str("detail")
			if r.status != 400 || r.str("scimType") != ErrInvalidFilter {
				t.Errorf("filter %q: %s, want 400 invalidFilter", f, r)
			}
			for _, leak := range []string{"op.", "func", "int32", "\ufffd", "\x00", "\x01", "\xff", "parse conflict", "parser"} {
				if strings.Contains(detail, leak) {
					t.Errorf("filter %q: detail %q shows %q", f, detail, leak)
				}
			}
		}
		// A PATCH path is held to the same rules.
		id := e.must(200, e.do("GET", "/Users", nil)).list()[0]["id"].(string)
		r := e.do("PATCH", "/Users/"+id, map[string]any{"schemas": []any{URNPatchOp},
			"Operations": []any{map[string]any{"op": "replace", "path": "emails[type eq", "value": "x"}}})
		if d := r.str("detail"); r.status != 400 || strings.Contains(d, "op.") || strings.Contains(d, "parse conflict") {
			t.Errorf("bad path: %s", r)
		}
	})
}
