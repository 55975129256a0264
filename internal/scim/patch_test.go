package scim

import (
	"encoding/json"
	"reflect"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// applyPatchJSON runs a PatchOp body over a user given as JSON and returns
// the result as JSON-decoded values (or the error).
func applyPatchJSON(t *testing.T, user, body string) (map[string]any, error) {
	t.Helper()
	in, err := decodeData(user)
	if err != nil {
		t.Fatalf("user: %v", err)
	}
	data, err := normalizeResource(userType, in)
	if err != nil {
		t.Fatalf("user: %v", err)
	}
	b, err := decodeData(body)
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	ops, err := parsePatch(b)
	if err != nil {
		return nil, err
	}
	p := &patcher{rt: userType, res: data}
	for _, o := range ops {
		if err := p.apply(o); err != nil {
			return nil, err
		}
	}
	if err := checkRequired(userType, p.res); err != nil {
		return nil, err
	}
	js, _ := json.Marshal(p.res)
	var out map[string]any
	_ = json.Unmarshal(js, &out)
	return out, nil
}

const patchBase = `{"schemas":["` + URNUser + `"],"userName":"bjensen","active":true,
	"name":{"givenName":"Barbara","familyName":"Jensen","middleName":"J"},
	"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@home.org","type":"home"}],
	"phoneNumbers":[{"value":"555-0100","type":"work"}],
	"` + URNEnterprise + `":{"department":"Tours","manager":{"value":"m-1"}}}`

func TestPatchSemantics(t *testing.T) {
	ops := func(list string) string {
		return `{"schemas":["` + URNPatchOp + `"],"Operations":` + list + `}`
	}
	ent := URNEnterprise
	cases := []struct {
		name  string
		body  string
		check map[string]any // path (dotted, top-level key may be a URN) → expected value (nil: absent)
	}{
		{"replace simple", ops(`[{"op":"replace","path":"displayName","value":"Babs"}]`),
			map[string]any{"displayName": "Babs"}},
		{"op names any case", ops(`[{"op":"Replace","path":"title","value":"A"},{"op":"ADD","path":"nickName","value":"B"},{"op":"Remove","path":"name.middleName"}]`),
			map[string]any{"title": "A", "nickName": "B", "name.middleName": nil, "name.givenName": "Barbara"}},
		{"attribute names any case", ops(`[{"op":"replace","path":"NAME.GIVENNAME","value":"B"}]`),
			map[string]any{"name.givenName": "B"}},
		{"string boolean", ops(`[{"op":"Replace","path":"active","value":"False"}]`),
			map[string]any{"active": false}},
		{"no path, dotted and URN keys", ops(`[{"op":"replace","value":{"name.familyName":"J2","active":false,"` + ent + `:department":"Ops","` + ent + `:manager":{"value":"m-2"}}}]`),
			map[string]any{"name.familyName": "J2", "name.givenName": "Barbara", "active": false, ent + ".department": "Ops", ent + ".manager.value": "m-2"}},
		{"no path, extension object", ops(`[{"op":"add","value":{"` + ent + `":{"costCenter":"CC"}}}]`),
			map[string]any{ent + ".costCenter": "CC", ent + ".department": "Tours"}},
		{"no path, full object with read-only and unknown keys", ops(`[{"op":"replace","value":{"id":"x","meta":{"created":"2000-01-01T00:00:00Z"},"groups":[],"schemas":["` + URNUser + `"],"userName":"b2","customThing":1}}]`),
			map[string]any{"userName": "b2", "id": nil, "meta": nil}},
		{"replace complex merges", ops(`[{"op":"replace","path":"name","value":{"givenName":"Barb"}}]`),
			map[string]any{"name.givenName": "Barb", "name.familyName": "Jensen"}},
		{"add to multi-valued appends, skips duplicates", ops(`[{"op":"add","path":"emails","value":[{"value":"new@x.org","type":"other"},{"value":"babs@home.org","type":"home"}]}]`),
			map[string]any{"emails.len": 3}},
		{"added primary takes over", ops(`[{"op":"add","path":"emails","value":[{"value":"p@x.org","type":"other","primary":true}]}]`),
			map[string]any{"emails.len": 3, "emails.primary": "p@x.org"}},
		{"replace multi-valued", ops(`[{"op":"replace","path":"emails","value":[{"value":"only@x.org"}]}]`),
			map[string]any{"emails.len": 1, "emails.0.value": "only@x.org"}},
		{"filtered replace of a sub-attribute", ops(`[{"op":"replace","path":"emails[type eq \"work\"].value","value":"w@x.org"}]`),
			map[string]any{"emails.len": 2, "emails.0.value": "w@x.org", "emails.0.primary": true}},
		{"filtered add creates the element (Entra)", ops(`[{"op":"Add","path":"phoneNumbers[type eq \"mobile\"].value","value":"555-0199"}]`),
			map[string]any{"phoneNumbers.len": 2, "phoneNumbers.1.type": "mobile", "phoneNumbers.1.value": "555-0199"}},
		{"filtered replace with and-chain creates", ops(`[{"op":"replace","path":"addresses[type eq \"work\" and primary eq true].locality","value":"Austin"}]`),
			map[string]any{"addresses.len": 1, "addresses.0.locality": "Austin", "addresses.0.primary": true}},
		{"filtered replace of the element merges", ops(`[{"op":"replace","path":"emails[value eq \"BABS@home.org\"]","value":{"type":"other"}}]`),
			map[string]any{"emails.1.type": "other", "emails.1.value": "babs@home.org"}},
		{"filtered primary moves primary", ops(`[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true}]`),
			map[string]any{"emails.primary": "babs@home.org", "emails.0.primary": false}},
		{"filtered remove", ops(`[{"op":"remove","path":"emails[type eq \"home\"]"}]`),
			map[string]any{"emails.len": 1}},
		{"filtered remove of a sub-attribute", ops(`[{"op":"remove","path":"emails[type eq \"work\"].primary"}]`),
			map[string]any{"emails.0.primary": nil, "emails.len": 2}},
		{"filtered remove without match is a no-op", ops(`[{"op":"remove","path":"emails[type eq \"fax\"]"}]`),
			map[string]any{"emails.len": 2}},
		{"remove listed values (Entra style)", ops(`[{"op":"remove","path":"emails","value":[{"value":"babs@home.org"}]}]`),
			map[string]any{"emails.len": 1, "emails.0.value": "bjensen@example.com"}},
		{"remove whole attribute", ops(`[{"op":"remove","path":"emails"},{"op":"remove","path":"` + ent + `:manager"}]`),
			map[string]any{"emails": nil, ent + ".manager": nil, ent + ".department": "Tours"}},
		{"remove the whole extension", ops(`[{"op":"remove","path":"` + ent + `"}]`),
			map[string]any{ent: nil}},
		{"remove the last sub-attribute drops the complex", ops(`[{"op":"remove","path":"` + ent + `:manager.value"}]`),
			map[string]any{ent + ".manager": nil}},
		{"manager as a bare id (Entra)", ops(`[{"op":"Add","path":"` + ent + `:manager","value":"m-9"}]`),
			map[string]any{ent + ".manager.value": "m-9"}},
		{"multi.sub without filter sets every element", ops(`[{"op":"replace","path":"phoneNumbers.type","value":"other"}]`),
			map[string]any{"phoneNumbers.0.type": "other"}},
		{"replace with null unassigns", ops(`[{"op":"replace","path":"name.middleName","value":null},{"op":"replace","path":"title","value":""}]`),
			map[string]any{"name.middleName": nil, "title": nil}},
		{"password accepted, never kept", ops(`[{"op":"replace","path":"password","value":"s3cret!"},{"op":"replace","value":{"password":"x"}}]`),
			map[string]any{"password": nil}},
		{"operations apply in order", ops(`[{"op":"add","path":"title","value":"A"},{"op":"remove","path":"title"},{"op":"add","path":"title","value":"C"}]`),
			map[string]any{"title": "C"}},
		{"lone value for a multi-valued attribute", ops(`[{"op":"add","path":"roles","value":{"value":"admin"}}]`),
			map[string]any{"roles.0.value": "admin"}},
	}
	for _, c := range cases {
		got, err := applyPatchJSON(t, patchBase, c.body)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		for path, want := range c.check {
			v := lookupPath(got, path)
			if n, ok := want.(int); ok {
				want = float64(n)
			}
			if !reflect.DeepEqual(v, want) {
				t.Errorf("%s: %s = %#v, want %#v\n%v", c.name, path, v, want, got)
			}
		}
	}
}

// lookupPath reads "a.b.0.c", "emails.len" (list length) and
// "emails.primary" (value of the primary element) from decoded JSON; a first
// segment may be a schema URN.
func lookupPath(m map[string]any, path string) any {
	var v any = m
	parts := splitPath(path)
	for i, p := range parts {
		switch x := v.(type) {
		case map[string]any:
			v = x[p]
		case []any:
			switch p {
			case "len":
				return float64(len(x))
			case "primary":
				for _, e := range x {
					if dig(e, "primary") == true {
						return dig(e, "value")
					}
				}
				return nil
			}
			n := 0
			for _, ch := range p {
				n = n*10 + int(ch-'0')
			}
			if n >= len(x) {
				return nil
			}
			v = x[n]
		default:
			_ = i
			return nil
		}
	}
	if f, ok := v.(float64); ok {
		return f
	}
	return v
}

func splitPath(path string) []string {
	if len(path) > len(URNEnterprise) && path[:len(URNEnterprise)] == URNEnterprise {
		rest := path[len(URNEnterprise):]
		out := []string{URNEnterprise}
		if rest != "" {
			out = append(out, splitDots(rest[1:])...)
		}
		return out
	}
	if path == URNEnterprise {
		return []string{path}
	}
	return splitDots(path)
}

func splitDots(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func TestPatchErrors(t *testing.T) {
	ops := func(list string) string {
		return `{"schemas":["` + URNPatchOp + `"],"Operations":` + list + `}`
	}
	cases := map[string]string{
		`{"Operations":[{"op":"add","path":"title","value":"x"}]}`: ErrInvalidSyntax,
		ops(`{}`):                                                                     ErrInvalidSyntax,
		ops(`[1]`):                                                                    ErrInvalidSyntax,
		ops(`[{"op":"copy","path":"title"}]`):                                         ErrInvalidSyntax,
		ops(`[{"op":"add","path":"title"}]`):                                          ErrInvalidValue,
		ops(`[{"op":"add","path":7,"value":"x"}]`):                                    ErrInvalidPath,
		ops(`[{"op":"remove"}]`):                                                      ErrNoTarget,
		ops(`[{"op":"add","value":[1]}]`):                                             ErrInvalidValue,
		ops(`[{"op":"add","value":{"emails[":"x"}}]`):                                 ErrInvalidPath,
		ops(`[{"op":"add","path":"nosuch","value":"x"}]`):                             ErrInvalidPath,
		ops(`[{"op":"add","path":"name.nosuch","value":"x"}]`):                        ErrInvalidPath,
		ops(`[{"op":"add","path":"title.sub","value":"x"}]`):                          ErrInvalidPath,
		ops(`[{"op":"replace","path":"meta","value":{}}]`):                            ErrMutability,
		ops(`[{"op":"replace","path":"groups[value eq \"x\"].display","value":"y"}]`): ErrMutability,
		ops(`[{"op":"replace","path":"title[value eq \"x\"]","value":"y"}]`):          ErrInvalidPath,
		ops(`[{"op":"replace","path":"emails[type eq \"fax\" or type eq \"x\"].value","value":"y"}]`): ErrNoTarget,
		ops(`[{"op":"replace","path":"emails[bogus eq \"x\"].value","value":"y"}]`):                   ErrInvalidPath,
		ops(`[{"op":"replace","path":"emails[type eq \"work\"].bogus","value":"y"}]`):                 ErrInvalidPath,
		ops(`[{"op":"replace","path":"active","value":1}]`):                                           ErrInvalidValue,
		ops(`[{"op":"replace","path":"name","value":"x y"}]`):                                         ErrInvalidValue,
		ops(`[{"op":"replace","path":"userName","value":""}]`):                                        ErrInvalidValue,
		ops(`[{"op":"replace","path":"emails[type eq \"home\"].primary","value":true},{"op":"add","path":"emails","value":[{"value":"z","primary":true},{"value":"y","primary":true}]}]`): ErrInvalidValue,
	}
	for body, want := range cases {
		_, err := applyPatchJSON(t, patchBase, body)
		e, ok := asError(err)
		if !ok || e.Status != 400 || e.ScimType != want {
			t.Errorf("%s: %v, want 400 %s", body, err, want)
		}
	}
}

// Group membership PATCH in one request with many members, mixed with
// filters the set operations cannot express.
func TestGroupMembershipBatches(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		var users []string
		var values []any
		for i := range 250 {
			id := e.must(201, e.do("POST", "/Users", map[string]any{"schemas": []any{URNUser}, "userName": "m" + itoa(int64(i)) + "@x.example", "displayName": "M" + itoa(int64(i))})).str("id")
			users = append(users, id)
			values = append(values, map[string]any{"value": id})
		}
		gid := e.must(201, e.do("POST", "/Groups", map[string]any{"schemas": []any{URNGroup}, "displayName": "Big"})).str("id")
		e.hooks.take()
		r := e.must(200, e.do("PATCH", "/Groups/"+gid+"?excludedAttributes=members", patchOps(op("Add", "members", values))))
		if _, has := r.body["members"]; has {
			t.Errorf("excludedAttributes=members on PATCH response: %v", r.body["members"])
		}
		if calls := e.hooks.take(); len(calls) != 1 || len(calls[0].added) != 250 {
			t.Fatalf("hooks: %d calls", len(calls))
		}
		// Add again (no change), remove 100 by value list and 2 by filter, in one request.
		ops := []map[string]any{op("add", "members", values[:10])}
		ops = append(ops, op("remove", "members", values[100:200]))
		ops = append(ops, op("remove", `members[value eq "`+users[0]+`" or value eq "`+users[1]+`"]`, nil))
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(ops...)))
		if n := len(memberValues(r)); n != 148 {
			t.Errorf("members after batch: %d", n)
		}
		calls := e.hooks.take()
		if len(calls) != 1 || len(calls[0].added) != 0 || len(calls[0].removed) != 102 {
			t.Errorf("hooks after batch: %+v", len(calls))
		}
		// A filter on display needs the member list: still exact.
		r = e.must(200, e.do("PATCH", "/Groups/"+gid, patchOps(
			op("remove", `members[display sw "M24"]`, nil), // M24, M240..M249
			op("add", "members", []any{map[string]any{"value": users[0]}}),
		)))
		if n := len(memberValues(r)); n != 148-11+1 {
			t.Errorf("members after display filter: %d", n)
		}
		calls = e.hooks.take()
		if len(calls) != 1 || len(calls[0].added) != 1 || len(calls[0].removed) != 11 {
			t.Errorf("hooks after display filter: %+v", calls)
		}
		// Filters on members.
		r = e.must(200, e.do("GET", "/Groups?excludedAttributes=members&"+qf(`members[value eq "`+users[0]+`"]`), nil))
		if r.total() != 1 {
			t.Errorf("members filter: %s", r)
		}
		r = e.must(200, e.do("GET", "/Users?attributes=userName&"+qf(`groups[display eq "big"] and userName sw "m1"`), nil))
		// m1, m10-m19 and m100-m199, minus the removed m1 and m100-m199.
		if r.total() != 10 {
			t.Errorf("groups filter: %d", r.total())
		}
	})
}
