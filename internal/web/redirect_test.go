package web_test

import (
	"net/http"
	"net/url"
	"path"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
	"gatehouse/internal/web"
)

// redirectBypasses are targets that must never lead off the site, as the
// value the server reads after the usual one round of form/query decoding.
// They cover the families of open-redirect bypasses: protocol-relative and
// absolute URLs, backslashes (raw, encoded, double-encoded) that browsers
// read as slashes, dot segments that http.Redirect would clean into "/\",
// encoded slashes a proxy may decode, tabs and newlines browsers strip,
// control characters, and Unicode look-alike slashes.
var redirectBypasses = []string{
	"//evil.example/",
	"///evil.example/",
	"////evil.example/",
	"/\\evil.example/",
	"\\\\evil.example/",
	"/./\\evil.example/",
	"/./%5Cevil.example/",
	"/./%5cevil.example/",
	"/x/../\\evil.example/",
	"/x/..%5C..%5Cevil.example/",
	"/..\\evil.example",
	"/%5Cevil.example/",
	"/%255Cevil.example/",
	"/%25255Cevil.example/",
	"/%2F%2Fevil.example/",
	"/%2f/evil.example/",
	"/%252F%252Fevil.example/",
	"/.%2F/evil.example/",
	"/%2e%2e/%2e%2e//evil.example/",
	"/%2e%2e%5cevil.example/",
	"/.//evil.example/",
	"/x/..//evil.example/",
	"/../..//evil.example/",
	"/\t/evil.example/",
	"/\n/evil.example/",
	"/\r\n/evil.example/",
	"\t//evil.example/",
	" //evil.example/",
	"/%09/evil.example/",
	"/%0a/evil.example/",
	"/%0d%0aSet-Cookie:%20x=1",
	"/\x00//evil.example",
	"/%00//evil.example",
	"https://evil.example/",
	"http:evil.example",
	"http:/\\evil.example",
	"javascript:alert(1)",
	"//evil.example@gatehouse.test/",
	"/\u2215\u2215evil.example/",                  // division slash
	"/\u2044\u2044evil.example/",                  // fraction slash
	"/\uff0f\uff0fevil.example/",                  // fullwidth solidus
	"/\uff3cevil.example/",                        // fullwidth reverse solidus
	"/\ufe68evil.example/",                        // small reverse solidus
	"/%EF%BC%8F%EF%BC%8Fevil.example/",            // fullwidth solidus, encoded
	"/%E2%88%95%E2%88%95evil.example/",            // division slash, encoded
	"/%25EF%25BC%258F%25EF%25BC%258Fevil.example", // double-encoded
}

// assertStaysOnSite fails unless loc, a Location header, can only lead to
// this site whatever a browser or proxy does with it: one leading slash, no
// scheme or host, no backslash or control character even after decoding,
// no encoded slash or percent in the path, nothing a second cleaning would
// change, and the host unchanged when resolved the lenient way browsers do
// (backslash as slash, tabs and newlines dropped).
func assertStaysOnSite(t *testing.T, route, payload, loc string) {
	t.Helper()
	fail := func(why string) { t.Errorf("%s with %q → Location %q: %s", route, payload, loc, why) }
	if loc == "" {
		fail("no Location")
		return
	}
	if loc[0] != '/' || len(loc) > 1 && (loc[1] == '/' || loc[1] == '\\') {
		fail("does not start with exactly one slash")
	}
	layer := loc
	for i := 0; i < 4; i++ {
		if strings.ContainsAny(layer, "\\\x00\t\n\r\x0b\x0c\x7f") || strings.ContainsFunc(layer, func(r rune) bool { return r < ' ' }) {
			fail("backslash or control character (decoded " + strings.Repeat("once more ", i) + ")")
			return
		}
		d, err := url.PathUnescape(layer)
		if err != nil || d == layer {
			break
		}
		if strings.HasPrefix(d, "//") || strings.HasPrefix(d, "/\\") {
			fail("decodes to a protocol-relative URL")
		}
		layer = d
	}
	p := loc
	if i := strings.IndexAny(p, "?#"); i >= 0 {
		p = p[:i]
	}
	lp := strings.ToLower(p)
	for _, bad := range []string{"%2f", "%5c", "%25"} {
		if strings.Contains(lp, bad) {
			fail("path holds " + bad)
		}
	}
	for _, r := range p {
		if r > 0x7e {
			fail("path holds non-ASCII")
			break
		}
	}
	clean := path.Clean(p)
	if strings.HasSuffix(p, "/") && !strings.HasSuffix(clean, "/") {
		clean += "/"
	}
	if clean != p {
		fail("path is not clean (http.Redirect or a browser would rewrite it to " + clean + ")")
	}
	u, err := url.Parse(loc)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		fail("has a scheme, host or user")
	}
	lenient := strings.NewReplacer("\\", "/", "\t", "", "\n", "", "\r", "").Replace(loc)
	base, _ := url.Parse("http://gatehouse.test/some/page")
	if ref, err := url.Parse(lenient); err != nil || base.ResolveReference(ref).Host != "gatehouse.test" {
		fail("leaves the site when resolved leniently")
	}
}

// refusedText reports whether r is the refusal of a request carrying text
// that is not text (NUL, invalid UTF-8): a 4xx without a Location.
func refusedText(t *testing.T, r *apptest.Response) bool {
	t.Helper()
	if (r.Status == http.StatusBadRequest || r.Status == http.StatusUnprocessableEntity) && r.Location == "" {
		apptest.MustContain(t, r.Text("main"), "cannot")
		return true
	}
	return false
}

// TestOpenRedirectBypasses sends every bypass through every route that
// redirects to a user-supplied target, over real HTTP, and checks that each
// answer stays on the site (falling back to the route's safe default), while
// ordinary same-site targets still work.
func TestOpenRedirectBypasses(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("redirects@corp.example", pw, "Rita")
		acct := admin.CreateAccount("Redirect Corp")
		sub := registerKey(t, admin, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 3, false), "")
		subPath := "/accounts/" + acct + "/licenses/" + sub
		key := ""
		admin.Get(subPath + "/invite").Doc.Find("#f-key option").Each(func(_ int, s *goquerySelection) {
			if v := s.AttrOr("value", ""); v != "" && key == "" {
				key = v
			}
		})
		r := postMultipart(t, admin, subPath+"/invite", url.Values{"key": {key}, "language": {"en"},
			"expires": {"7"}, "emails": {"ivy@crew.example"}}, "", "").Expect(t, http.StatusOK)
		action, send := hiddenForm(r, `form[action$="/invite/send"]`)
		admin.PostRaw(action, send).Expect(t, http.StatusSeeOther)
		inv := strings.TrimPrefix(admin.Get(subPath+"/invitations").Doc.Find("table.invitations tbody tr").First().AttrOr("id", ""), "inv-")
		if inv == "" {
			t.Fatal("no invitation listed")
		}
		// Revoked once, so that later revokes and resends answer with
		// their "nothing changed" redirect (which honours back= too).
		admin.Post(subPath+"/invitations/"+inv+"/revoke", url.Values{"back": {subPath + "/invitations"}}).Expect(t, http.StatusSeeOther)

		person := apptest.NewClient(t, node.URL)
		person.SignUp("walker@corp.example", pw, "Walker")
		person.Post("/signout", nil)

		// A redirecting route: send target, return the Location (or, for
		// forms that carry the target, the value the form would post).
		type route struct {
			name string
			do   func(target string) string
		}
		hidden := func(r *apptest.Response) string {
			if refusedText(t, r) {
				return ""
			}
			v, _ := r.Doc.Find(`input[name="next"]`).Attr("value")
			return v
		}
		// loc is where a redirecting answer leads; a target that is not
		// text at all (NUL) is refused before any handler: no redirect.
		loc := func(r *apptest.Response) string {
			if refusedText(t, r) {
				return ""
			}
			return r.Expect(t, http.StatusSeeOther).Location
		}
		var signups int
		routes := []route{
			{"GET /workspace?go=", func(target string) string {
				return loc(admin.Get("/workspace?go=" + url.QueryEscape(target)))
			}},
			{"GET /signin?next= (the form's next)", func(target string) string {
				return hidden(apptest.NewClient(t, node.URL).Get("/signin?next=" + url.QueryEscape(target)))
			}},
			{"POST /signin next=", func(target string) string {
				return loc(person.Post("/signin", url.Values{"email": {"walker@corp.example"}, "password": {pw}, "next": {target}}))
			}},
			{"GET /signup?next= (the form's next)", func(target string) string {
				return hidden(apptest.NewClient(t, node.URL).Get("/signup?next=" + url.QueryEscape(target)))
			}},
			{"POST /signup next=", func(target string) string {
				signups++
				c := apptest.NewClient(t, node.URL)
				r := c.Post("/signup", url.Values{"email": {apptest.Fmt("newcomer%d@corp.example", signups)}, "password": {pw},
					"password_confirm": {pw}, "display_name": {"New"}, "next": {target}})
				if r.Status/100 != 3 {
					return "/" // no redirect at all: nothing to follow
				}
				return r.Location
			}},
			{"POST …/invitations/{id}/revoke back=", func(target string) string {
				return loc(admin.Post(subPath+"/invitations/"+inv+"/revoke", url.Values{"back": {target}}))
			}},
			{"POST …/invitations/{id}/resend back=", func(target string) string {
				return loc(admin.Post(subPath+"/invitations/"+inv+"/resend", url.Values{"back": {target}}))
			}},
			{"POST …/invitations/revoke back=", func(target string) string {
				return loc(admin.Post(subPath+"/invitations/revoke", url.Values{"back": {target}}))
			}},
		}
		for _, rt := range routes {
			for _, p := range redirectBypasses {
				loc := rt.do(p)
				if loc == "" {
					continue // the form carries no target: the safe default applies
				}
				assertStaysOnSite(t, rt.name, p, loc)
				if strings.Contains(strings.ToLower(loc), "evil") && strings.Contains(rt.name, "invitations") {
					t.Errorf("%s with %q → %q: back= outside the subscription's pages was kept", rt.name, p, loc)
				}
			}
		}

		// Ordinary targets keep working.
		if loc := admin.Get("/workspace?go=" + url.QueryEscape("/accounts/"+acct)).Location; loc != "/accounts/"+acct {
			t.Errorf("workspace switch to the account → %q", loc)
		}
		next := subPath + "/invitations?status=pending&q=ivy"
		if loc := person.Post("/signin", url.Values{"email": {"walker@corp.example"}, "password": {pw}, "next": {next}}).Location; loc != next {
			t.Errorf("sign-in with next=%q → %q", next, loc)
		}
		if v := hidden(apptest.NewClient(t, node.URL).Get("/signin?next=" + url.QueryEscape(next))); v != next {
			t.Errorf("sign-in form keeps next=%q as %q", next, v)
		}
		back := subPath + "/invitations?status=revoked"
		if loc := admin.Post(subPath+"/invitations/"+inv+"/revoke", url.Values{"back": {back}}).Location; loc != back {
			t.Errorf("revoke with back=%q → %q", back, loc)
		}
	})
}

// TestRedirectTarget pins the function's answers (the HTTP test above proves
// every route uses it).
func TestRedirectTarget(t *testing.T) {
	for _, p := range redirectBypasses {
		got := web.RedirectTarget(p, "/safe")
		assertStaysOnSite(t, "RedirectTarget", p, got)
		if strings.Contains(got, "evil") && got != "/evil.example/" && got != "/evil.example" {
			// Cleaning "/.//evil.example/" gives the harmless same-site
			// path "/evil.example/"; anything else must fall back.
			t.Errorf("RedirectTarget(%q) = %q", p, got)
		}
	}
	for in, want := range map[string]string{
		"/accounts/x":                    "/accounts/x",
		"/accounts/x/":                   "/accounts/x/",
		"/accounts/x/licenses?q=a%2Fb#k": "/accounts/x/licenses?q=a%2Fb#k",
		"/accounts/x/../y":               "/accounts/y",
		"/a%20b":                         "/a%20b",
		"":                               "/safe",
		"accounts/x":                     "/safe",
		"/" + strings.Repeat("a", 3000):  "/safe",
	} {
		if got := web.RedirectTarget(in, "/safe"); got != want {
			t.Errorf("RedirectTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRedirectTarget(f *testing.F) {
	for _, p := range redirectBypasses {
		f.Add(p)
	}
	f.Add("/accounts/x?y=z")
	f.Fuzz(func(t *testing.T, in string) {
		got := web.RedirectTarget(in, "/safe")
		assertStaysOnSite(t, "RedirectTarget", in, got)
		if again := web.RedirectTarget(got, "/other"); again != got {
			t.Errorf("RedirectTarget is not stable: %q → %q → %q", in, got, again)
		}
	})
}
