package scim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/testenv"
)

var filterSeeds = []string{
	`userName eq "bjensen"`, `userName Eq "x" and not (title pr)`, `emails[type eq "work" and value co "@x"]`,
	`emails[(type eq "a" or type eq "b") and not (primary eq true)]`, `meta.lastModified gt "2011-05-13T04:42:34Z"`,
	`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "x"`, `title eq null`,
	`groups[value eq "g"] or members[display sw "a"]`, `a eq 1.5e308`, `userName eq "\u00e9\"\\"`,
	`((((userName pr))))`, `x[y[z eq 1]]`, `emails[type eq "]"]`, `userName eq "a" or`, `not(`, `[`, `"`, `\`,
	`userName eq "x" and displayName eq "y" and externalId eq "z" and id eq "w"`,
}

// FuzzFilter: any text either parses and evaluates, or is a 400
// invalidFilter; never a panic, never another error.
func FuzzFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s)
	}
	docs := filterDocs(f)
	f.Fuzz(func(t *testing.T, text string) {
		for _, rt := range []*resourceType{userType, groupType} {
			cf, err := parseFilter(rt, text)
			if err != nil {
				e, ok := asError(err)
				if !ok || e.Status != http.StatusBadRequest || e.ScimType != ErrInvalidFilter {
					t.Fatalf("%q: %v", text, err)
				}
				continue
			}
			for _, d := range docs {
				cf.match(d)
			}
		}
	})
}

// fuzzTarget is one account with a user and a group, served in process.
type fuzzTarget struct {
	h     http.Handler
	token string
	user  string
	group string
}

func newFuzzTarget(f *testing.F) *fuzzTarget {
	db := testenv.SQLite(f)
	svc := &Service{DB: db, RateLimit: ratelimit.Rate{PerSecond: -1}, MaxBodyBytes: 64 << 10}
	account := newAccount(f, db, "Fuzz")
	tok, err := svc.GenerateToken(context.Background(), account, admin, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	ft := &fuzzTarget{h: Handler(svc), token: tok}
	mk := func(path, body string) string {
		rec := ft.serve("POST", path, body)
		var m map[string]any
		if rec.Code != 201 || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
			f.Fatalf("setup %s: %d %s", path, rec.Code, rec.Body)
		}
		return m["id"].(string)
	}
	ft.user = mk("/scim/v2/Users", `{"schemas":["`+URNUser+`","`+URNEnterprise+`"],"userName":"fuzz@example.com",
		"name":{"givenName":"F"},"emails":[{"value":"f@x.example","type":"work","primary":true}],"`+URNEnterprise+`":{"department":"D"}}`)
	other := mk("/scim/v2/Users", `{"schemas":["`+URNUser+`"],"userName":"other@example.com"}`)
	ft.group = mk("/scim/v2/Groups", `{"schemas":["`+URNGroup+`"],"displayName":"G","members":[{"value":"`+other+`"}]}`)
	return ft
}

func (ft *fuzzTarget) serve(method, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, "http://scim.test"+target, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+ft.token)
	req.Header.Set("Content-Type", "application/scim+json")
	rec := httptest.NewRecorder()
	ft.h.ServeHTTP(rec, req)
	return rec
}

func checkFuzzResponse(t *testing.T, what string, rec *httptest.ResponseRecorder) {
	if rec.Code >= 500 {
		t.Fatalf("%s: %d %s", what, rec.Code, rec.Body)
	}
	if rec.Code >= 400 {
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil || m["status"] == nil {
			t.Fatalf("%s: %d without a SCIM error body: %s", what, rec.Code, rec.Body)
		}
	}
}

// FuzzListFilter sends the filter through the HTTP handler.
func FuzzListFilter(f *testing.F) {
	for _, s := range filterSeeds {
		f.Add(s, "userName")
	}
	f.Add(`displayName pr`, "meta.created")
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, filter, sortBy string) {
		q := url.Values{"filter": {filter}, "sortBy": {sortBy}, "attributes": {sortBy}}.Encode()
		for _, p := range []string{"/scim/v2/Users?", "/scim/v2/Groups?"} {
			checkFuzzResponse(t, p+q, ft.serve("GET", p+q, ""))
		}
	})
}

// FuzzPatchOp sends one structured operation to a user and a group.
func FuzzPatchOp(f *testing.F) {
	seeds := []struct{ op, path, value string }{
		{"Replace", "active", `"False"`}, {"add", `emails[type eq "home"].value`, `"h@x"`},
		{"remove", `members[value eq "x"]`, ``}, {"Add", "members", `[{"value":"x"}]`},
		{"replace", "", `{"name.givenName":"G","urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department":"X"}`},
		{"replace", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", `{"manager":"m"}`},
		{"remove", "emails", `[{"value":"f@x.example"}]`}, {"replace", "members", `[]`}, {"add", "name", `{"x":1}`},
		{"replace", `addresses[type eq "work" and primary eq true].locality`, `"A"`}, {"remove", "", ``},
		{"replace", "displayName", `null`}, {"add", `emails[value co "x"]`, `{"primary":true}`},
	}
	for _, s := range seeds {
		f.Add(s.op, s.path, s.value)
	}
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, opName, path, value string) {
		o := map[string]any{"op": opName}
		if path != "" {
			o["path"] = path
		}
		if value != "" {
			var v any
			if json.Unmarshal([]byte(value), &v) != nil {
				v = value
			}
			o["value"] = v
		}
		body, _ := json.Marshal(map[string]any{"schemas": []any{URNPatchOp}, "Operations": []any{o}})
		checkFuzzResponse(t, string(body), ft.serve("PATCH", "/scim/v2/Users/"+ft.user, string(body)))
		checkFuzzResponse(t, string(body), ft.serve("PATCH", "/scim/v2/Groups/"+ft.group, string(body)))
	})
}

// FuzzPatchBody sends raw bytes as a PATCH body.
func FuzzPatchBody(f *testing.F) {
	f.Add(`{"schemas":["` + URNPatchOp + `"],"Operations":[{"op":"replace","value":{"active":false}}]}`)
	f.Add(`{"schemas":["` + URNPatchOp + `"],"Operations":[{"op":"add","path":"members","value":[{"value":1}]}]}`)
	f.Add(`{"schemas":"x","Operations":null}`)
	f.Add(`{"schemas":["` + URNPatchOp + `"],"operations":[{"OP":"ADD","PATH":"title","VALUE":["a",{"b":[]}]}]}`)
	f.Add(`[[[[[[`)
	ft := newFuzzTarget(f)
	f.Fuzz(func(t *testing.T, body string) {
		checkFuzzResponse(t, body, ft.serve("PATCH", "/scim/v2/Users/"+ft.user, body))
		checkFuzzResponse(t, body, ft.serve("PATCH", "/scim/v2/Groups/"+ft.group, body))
		checkFuzzResponse(t, body, ft.serve("POST", "/scim/v2/Users", body))
	})
}
