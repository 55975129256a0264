package scim

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// filterDocs are the users the filter table runs over, as the list code
// sees them (stored resource + id + meta + groups).
func filterDocs(t testing.TB) map[string]map[string]any {
	t.Helper()
	raw := map[string]string{
		"bjensen": `{"schemas":["` + URNUser + `","` + URNEnterprise + `"],"userName":"bjensen@example.com","externalId":"AbC-1",
			"name":{"givenName":"Barbara","familyName":"Jensen"},"displayName":"Babs Jensen","title":"Tour Guide","userType":"Employee",
			"active":true,"emails":[{"value":"bjensen@example.com","type":"work","primary":true},{"value":"babs@jensen.org","type":"home"}],
			"phoneNumbers":[{"value":"555-555-8377","type":"work"}],
			"` + URNEnterprise + `":{"department":"Tour Operations","employeeNumber":"701984","manager":{"value":"m-1"}}}`,
		"jsmith": `{"schemas":["` + URNUser + `"],"userName":"JSmith@Example.org","name":{"givenName":"John","familyName":"Smith"},
			"userType":"Intern","active":false,"emails":[{"value":"john@example.org","type":"work"}]}`,
		"ümlaut": `{"schemas":["` + URNUser + `"],"userName":"Ünïcode@example.com","displayName":"Straße","active":true,"nickName":"a\"b\\c"}`,
	}
	meta := map[string][2]string{
		"bjensen": {"2011-05-13T04:42:34.000Z", "2012-01-01T00:00:00.000Z"},
		"jsmith":  {"2015-01-01T00:00:00.000Z", "2016-06-01T12:00:00.000Z"},
		"ümlaut":  {"2020-02-29T23:59:59.999Z", "2020-03-01T00:00:00.000Z"},
	}
	docs := map[string]map[string]any{}
	for name, js := range raw {
		in, err := decodeData(js)
		if err != nil {
			t.Fatal(err)
		}
		data, err := normalizeResource(userType, in)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := time.Parse(time.RFC3339Nano, meta[name][0])
		m, _ := time.Parse(time.RFC3339Nano, meta[name][1])
		rec := &record{id: name, data: data, created: c, modified: m, version: 3}
		extra := map[string][]memberRef{"bjensen": {{id: "g-admins", display: "Admins"}}}
		docs[name] = evalDoc(usersTable, rec, extra)
	}
	return docs
}

func TestFilterSemantics(t *testing.T) {
	docs := filterDocs(t)
	cases := []struct {
		filter string
		want   []string
	}{
		// eq and case rules: userName, emails, displayName caseExact=false; id/externalId caseExact=true.
		{`userName eq "bjensen@example.com"`, []string{"bjensen"}},
		{`userName eq "BJENSEN@EXAMPLE.COM"`, []string{"bjensen"}},
		{`USERNAME EQ "jsmith@example.org"`, []string{"jsmith"}},
		// userName is an identity: only ASCII case is ignored, never Unicode
		// case (ü is not Ü; docs/decisions.md "One canonical address").
		{`userName eq "Ünïcode@EXAMPLE.com"`, []string{"ümlaut"}},
		{`userName eq "ünïcode@EXAMPLE.com"`, nil},
		{`displayName eq "STRASSE"`, []string{"ümlaut"}}, // Unicode case folding: ß = ss
		{`externalId eq "AbC-1"`, []string{"bjensen"}},
		{`externalId eq "abc-1"`, nil},
		{`id eq "bjensen"`, []string{"bjensen"}},
		{`id eq "BJENSEN"`, nil},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bjensen@example.com"`, []string{"bjensen"}},
		// ne is "not eq": an absent attribute is not equal.
		{`userType ne "Employee"`, []string{"jsmith", "ümlaut"}},
		{`title ne "tour guide"`, []string{"jsmith", "ümlaut"}},
		// co sw ew, case-insensitive.
		{`userName co "EXAMPLE"`, []string{"bjensen", "jsmith", "ümlaut"}},
		{`userName sw "J"`, []string{"jsmith"}},
		{`userName ew ".ORG"`, []string{"jsmith"}},
		{`name.familyName co "ens"`, []string{"bjensen"}},
		// gt ge lt le on strings (folded).
		{`userName gt "c"`, []string{"jsmith", "ümlaut"}},
		{`userName ge "jsmith@example.org"`, []string{"jsmith", "ümlaut"}},
		{`userName lt "JSMITH@EXAMPLE.ORG"`, []string{"bjensen"}},
		{`userName le "jsmith@example.org"`, []string{"bjensen", "jsmith"}},
		// pr.
		{`title pr`, []string{"bjensen"}},
		{`name pr`, []string{"bjensen", "jsmith"}},
		{`emails pr`, []string{"bjensen", "jsmith"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager pr`, []string{"bjensen"}},
		// booleans, also as Entra's strings.
		{`active eq true`, []string{"bjensen", "ümlaut"}},
		{`active eq false`, []string{"jsmith"}},
		{`active eq "False"`, []string{"jsmith"}},
		{`active ne true`, []string{"jsmith"}},
		// multi-valued: any value matches; a complex attribute compares its value.
		{`emails co "jensen.org"`, []string{"bjensen"}},
		{`emails.value ew "example.org"`, []string{"jsmith"}},
		{`emails.type eq "home"`, []string{"bjensen"}},
		{`emails[type eq "work" and value co "@example.com"]`, []string{"bjensen"}},
		{`emails[type eq "home" and value co "@example.com"]`, nil}, // both on one element
		{`emails[type eq "work" and value co "example" and primary eq true]`, []string{"bjensen"}},
		{`emails[(type eq "home" or type eq "other") and not (value co "example")]`, []string{"bjensen"}},
		{`emails[not (type eq "work")]`, []string{"bjensen"}},
		{`emails[primary pr]`, []string{"bjensen"}},
		{`phoneNumbers[type eq "work"] and userType eq "Employee"`, []string{"bjensen"}},
		{`groups[value eq "g-admins"]`, []string{"bjensen"}},
		{`groups.display eq "admins"`, []string{"bjensen"}},
		// extension attributes, with and without the URN.
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations"`, []string{"bjensen"}},
		{`urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m-1"`, []string{"bjensen"}},
		{`department sw "Tour"`, []string{"bjensen"}},
		// meta dates, by instant (not by string).
		{`meta.created gt "2011-05-13T04:42:34Z"`, []string{"jsmith", "ümlaut"}},
		{`meta.created ge "2011-05-13T04:42:34Z"`, []string{"bjensen", "jsmith", "ümlaut"}},
		{`meta.created eq "2011-05-13T06:42:34+02:00"`, []string{"bjensen"}},
		{`meta.lastModified lt "2016-06-01T12:00:00.001Z"`, []string{"bjensen", "jsmith"}},
		{`meta.lastModified le "2012-01-01T00:00:00Z"`, []string{"bjensen"}},
		{`meta.resourceType eq "User"`, []string{"bjensen", "jsmith", "ümlaut"}},
		// and / or / not / parentheses, precedence (and binds tighter).
		{`userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")`, []string{"bjensen"}},
		{`userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")`, []string{"ümlaut"}},
		{`title pr or userType eq "Intern"`, []string{"bjensen", "jsmith"}},
		{`userName sw "b" or userName sw "j" and active eq true`, []string{"bjensen"}},
		{`(userName sw "b" or userName sw "j") and active eq true`, []string{"bjensen"}},
		{`not (active eq true)`, []string{"jsmith"}},
		{`userName eq "a" OR userName eq "JSMITH@example.org"`, []string{"jsmith"}},
		// null, escapes, lower-case \u escapes, surrounding spaces.
		{`title eq null`, []string{"jsmith", "ümlaut"}},
		{`title ne null`, []string{"bjensen"}},
		{`nickName eq "a\"b\\c"`, []string{"ümlaut"}},
		{`userName eq "\u00DCn\u00EFcode@example.com"`, []string{"ümlaut"}},
		{`  userName eq "bjensen@example.com"  `, []string{"bjensen"}},
		{`userName eq "x]y" or displayName eq "[Straße]"`, nil},
		// Entra's matching query: a comparison on a sub-attribute after a
		// value filter reads as one more condition inside it.
		{`emails[type eq "work"].value eq "JOHN@example.org"`, []string{"jsmith"}},
		{`emails[type eq "home"].value eq "john@example.org"`, nil},
		{`emails[type eq "work"].value co "example.org" or userName eq "bjensen@example.com"`, []string{"bjensen", "jsmith"}},
		{`emails[type eq "work" or type eq "home"].value pr and active eq false`, []string{"jsmith"}},
	}
	for _, c := range cases {
		f, err := parseFilter(userType, c.filter)
		if err != nil {
			t.Errorf("%s: %v", c.filter, err)
			continue
		}
		var got []string
		for name, d := range docs {
			if f.match(d) {
				got = append(got, name)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestFilterErrors(t *testing.T) {
	for _, f := range []string{
		``, `userName`, `userName eq`, `userName eq "a`, `userName zz "a"`, `nosuch eq "a"`, `name.nosuch eq "a"`,
		`userName eq 1`, `active eq "yes"`, `active gt false`, `active co "t"`, `meta.created gt "not a date"`,
		`meta.created co "2011"`, `name eq "Barbara"`, `emails[nosuch eq "x"]`, `emails[type eq "x"].value`,
		`emails[type eq "x"].nosuch eq "y"`, `emails[type eq "x"].value eq`, `emails[].value eq "y"`,
		`emails[type eq "work"`, `emails type eq "work"]`, `emails[]`, `emails[type eq "a"[x eq "b"]]`,
		`userName eq "a" and`, `(userName eq "a"`, `not userName eq "a"`, `gatehouseValueFilter0 pr`,
		`userName eq "bad \q escape"`, strings.Repeat(`userName eq "a" or `, 300) + `userName eq "a"`,
	} {
		_, err := parseFilter(userType, f)
		e, ok := asError(err)
		if !ok || e.Status != 400 || e.ScimType != ErrInvalidFilter {
			t.Errorf("%q: %v, want 400 invalidFilter", f, err)
		}
	}
}

// The SQL narrowing is exactly the AND-ed indexed equalities.
func TestFilterNarrowing(t *testing.T) {
	cases := map[string][]sqlCond{
		`userName eq "BJensen@Example.com"`:                                {{"user_name_norm", "bjensen@example.com"}},
		`externalId eq "AbC" and active eq true`:                           {{"external_id", "AbC"}},
		`id eq "x" and members[value eq "y"]`:                              {{"id", "x"}},
		`displayName eq "Ops" and (userName eq "a" or userName eq "b")`:    {{"display_name_norm", "ops"}},
		`userName eq "a" or userName eq "b"`:                               nil,
		`not (userName eq "a")`:                                            nil,
		`userName co "a"`:                                                  nil,
		`name.givenName eq "x"`:                                            nil,
		`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "A\u00C9"`: {{"user_name_norm", "AÉ"}}, // identity keys keep non-ASCII names exactly
	}
	for f, want := range cases {
		rt := userType
		if strings.Contains(f, "members") {
			rt = groupType
		}
		cf, err := parseFilter(rt, f)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if !slices.Equal(cf.narrow, want) {
			t.Errorf("%s: narrow %v, want %v", f, cf.narrow, want)
		}
	}
}

func TestProjection(t *testing.T) {
	in, _ := decodeData(`{"schemas":["` + URNUser + `","` + URNEnterprise + `"],"userName":"u","displayName":"U",
		"name":{"givenName":"G","familyName":"F"},"emails":[{"value":"a@x","type":"work"},{"value":"b@x","type":"home"}],
		"` + URNEnterprise + `":{"department":"D","costCenter":"C"}}`)
	data, err := normalizeResource(userType, in)
	if err != nil {
		t.Fatal(err)
	}
	rec := &record{id: "id-1", data: data, version: 1}
	render := func(attrs, excl string) string {
		out := renderUser(rec, []memberRef{{id: "g", display: "G"}}, "https://x/scim/v2")
		parseProjection(userType, attrs, excl).apply(userType, out)
		keys := []string{}
		var walk func(prefix string, v any)
		walk = func(prefix string, v any) {
			switch x := v.(type) {
			case map[string]any:
				for k, e := range x {
					walk(prefix+"."+k, e)
				}
			case []any:
				for _, e := range x {
					walk(prefix+"[]", e)
				}
			default:
				keys = append(keys, strings.TrimPrefix(prefix, "."))
			}
		}
		walk("", out)
		slices.Sort(keys)
		keys = slices.Compact(keys)
		return strings.Join(keys, " ")
	}
	ent := URNEnterprise
	cases := []struct{ attrs, excl, want string }{
		{"userName", "", "id schemas[] userName"},
		{"USERNAME,name.givenName", "", "id name.givenName schemas[] userName"},
		{"emails.value", "", "emails[].value id schemas[]"},
		{ent + ":department", "", "id schemas[] " + ent + ".department"},
		{ent, "", "id schemas[] " + ent + ".costCenter " + ent + ".department"},
		{"meta.version,id", "", "id meta.version schemas[]"},
		{"nosuch", "", "id schemas[]"},
		{"", "groups,meta,emails,name," + ent, "displayName id schemas[] userName"},
		{"", "id,name.familyName,emails.type,meta,groups," + ent + ":costCenter,displayName",
			"emails[].value id name.givenName schemas[] " + ent + ".department userName"},
		{"userName", "userName", "id schemas[] userName"}, // attributes wins
	}
	for _, c := range cases {
		if got := render(c.attrs, c.excl); got != c.want {
			t.Errorf("attributes=%q excludedAttributes=%q:\n got %s\nwant %s", c.attrs, c.excl, got, c.want)
		}
	}
}

func TestEntraStringBooleansEverywhere(t *testing.T) {
	in := map[string]any{}
	if err := json.Unmarshal([]byte(`{"schemas":["`+URNUser+`"],"userName":"x","active":"TRUE","emails":[{"value":"a@x","primary":"True"}]}`), &in); err != nil {
		t.Fatal(err)
	}
	data, err := normalizeResource(userType, in)
	if err != nil {
		t.Fatal(err)
	}
	if data["active"] != true || dig(data["emails"].([]any)[0], "primary") != true {
		t.Errorf("%v", data)
	}
}

// Filter errors name the character where the filter goes wrong in the
// client's own text (not in any rewritten form), and never the parser's
// internals.
func TestFilterErrorPosition(t *testing.T) {
	cases := map[string]string{
		`userName eq "a" and`:                        `at character 20 (the end): the filter ends where an expression should start`,
		`emails[type eq "work"] and userName zz "a"`: `at character 37 ("zz \"a\""): expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after "userName"`,
		`emails[type zz "work"].value eq "a"`:        `at character 13 ("zz \"work\"].value eq …"): expected an operator`,
		`userName eq "a`:                             `at character 15 (the end): a quoted string is not closed`,
		`emails[type eq "work"].value`:               `at character 29 (the end): expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le or pr) after ".value"`,
		`emails[]`:                                   `at character 8 ("]"): the value filter [...] is empty`,
		`userName eq bjensen`:                        `at character 13 ("bjensen"): expected a value: a quoted string, a number, true, false or null`,
		`(userName eq "a"`:                           `at character 1 ("(userName eq \"a\""): this '(' is not closed`,
		`userName eq "a" userName eq "b"`:            `at character 17 ("userName eq \"b\""): expected and, or`,
	}
	for f, want := range cases {
		_, err := parseFilter(userType, f)
		e, ok := asError(err)
		if !ok || e.ScimType != ErrInvalidFilter {
			t.Errorf("%q: %v, want invalidFilter", f, err)
			continue
		}
		if !strings.Contains(e.Detail, want) {
			t.Errorf("%q: %q, want it to contain %q", f, e.Detail, want)
		}
		for _, leak := range []string{"int32", "parse conflict", "op.", vfPrefix} {
			if strings.Contains(e.Detail, leak) {
				t.Errorf("%q: %q leaks %q", f, e.Detail, leak)
			}
		}
	}
}
