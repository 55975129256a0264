package web_test

import (
	"context"
	"fmt"
	"gatehouse/internal/license/peruser"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/apptest"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
	"gatehouse/internal/web"
)

// layoutEnv is the business account the layout walk visits: rich enough
// that every page shows real rows (keys, computers, invitations, seats,
// audit entries, an IdP integration in progress), with three members.
type layoutEnv struct {
	node *apptest.Node
	acct string
	// admin is also the operator (created with the setup link).
	admin, licenseAdmin, user          *apptest.Client
	adminID, licenseAdminID, userID    string
	adminEmail, licenseEmail, userMail string
	// params fills the path parameters of the route table, by name.
	params map[string]string
}

// layoutFixtures fill e.params. A feature whose GET pages take a new path
// parameter appends a builder here (from an init in its own test file), so
// the walk reaches its pages with real objects instead of a 404.
var layoutFixtures = []func(t *testing.T, e *layoutEnv){layoutFoundationFixture, layoutLicensingFixture, layoutIdPFixture}

// layoutDocShots are the pages whose screenshots (as the admin sees them)
// docs/screenshots.md shows; GATEHOUSE_UPDATE_SCREENSHOTS=1 rewrites them.
var layoutDocShots = map[string]string{
	"/accounts/{account}/idp":                                 "configurator",
	"/accounts/{account}/licenses":                            "licenses",
	"/accounts/{account}/licenses/{subscription}":             "license-details",
	"/accounts/{account}/audit":                               "audit-log",
	"/accounts/{account}/licenses/{subscription}/invitations": "invitations",
	"/accounts/{account}/golden-images":                       "golden-images",
	"/accounts/{account}/golden-images/{image}":               "golden-image-form",
	"/accounts/{account}/policies":                            "policies",
	"/accounts/{account}/policies/{policy}":                   "policy-form",
	"/accounts/{account}/user-groups":                         "user-groups",
	"/accounts/{account}/profiles":                            "profiles",
	"/accounts/{account}/profiles/{profile}":                  "profile-form",
}

// layoutWidths are the viewport widths every page must fit: a phone and an
// ordinary laptop window.
var layoutWidths = []int64{390, 1280}

// TestLayoutEveryPage opens every GET page of the route table as an admin
// (who is also the operator), a license admin, a plain user and an
// anonymous visitor, at 390 px and 1,280 px, and checks that the page does
// not scroll sideways (wide tables may scroll inside their .table-wrap).
// Screenshots of every page at both widths go to
// $GATEHOUSE_ARTIFACTS/layout/. Layout does not depend on the database
// engine, so it runs on SQLite only.
func TestLayoutEveryPage(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	e := &layoutEnv{node: node, params: map[string]string{}}
	for _, f := range layoutFixtures {
		f(t, e)
	}
	browser := testenv.Browser(t)
	shots := filepath.Join(testenv.ArtifactsDir(), "layout")
	if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}

	type visitor struct {
		name, email, role string // role: "" for anonymous
		http              *apptest.Client
	}
	visitors := []visitor{
		{"admin", e.adminEmail, "admin", e.admin},
		{"license-admin", e.licenseEmail, "license_admin", e.licenseAdmin},
		{"user", e.userMail, "user", e.user},
		{"anonymous", "", "", apptest.NewClient(t, node.URL)},
	}
	routes := node.App.Web.Routes()
	pages := 0
	for _, v := range visitors {
		// Each visitor has its own browser context (own cookies) in the
		// one browser; its tab is reused for every page.
		ctx, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
		ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
		if v.email != "" {
			run(t, ctx,
				chromedp.Navigate(node.URL+"/signin"),
				chromedp.WaitVisible(chromedp.CSS("#f-email")),
				chromedp.SendKeys(chromedp.CSS("#f-email"), v.email),
				chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
				chromedp.Submit(chromedp.CSS("#f-password")),
				chromedp.WaitVisible(chromedp.CSS("header.top .who")),
			)
		}
		for _, width := range layoutWidths {
			run(t, ctx, chromedp.EmulateViewport(width, 900))
			for _, rt := range routes {
				if !layoutVisits(rt, v.role) {
					continue
				}
				path := layoutPath(rt.Path, e)
				// Downloads (CSV, XML) are no pages; the browser would
				// abort the navigation into a download.
				if ct := v.http.Follow(path).Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
					continue
				}
				resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(node.URL+path))
				if err != nil {
					t.Fatalf("%s as %s at %d px: %v", rt.Pattern(), v.name, width, err)
				}
				pages++
				name := fmt.Sprintf("%s/%d/%s", v.name, width, layoutFileName(rt.Path))
				if layoutMustServe(rt, v.role) && resp.Status >= 400 {
					t.Errorf("%s as %s: status %d; give the walk a real object for its path parameters (layoutFixtures)", rt.Pattern(), v.name, resp.Status)
				}
				// The header fits, the page does not scroll sideways, and
				// nothing outside a table scroller sticks out.
				over := get(t, ctx, chromedp.Evaluate[layoutMeasure](layoutProbe))
				if over.ScrollWidth > over.Inner || len(over.Offenders) > 0 {
					t.Errorf("%s as %s at %d px (%s): page is %d px wide for a %d px window; sticking out: %s",
						rt.Pattern(), v.name, width, path, over.ScrollWidth, over.Inner, strings.Join(over.Offenders, ", "))
				}
				// At a laptop's width, every table fits without scrolling.
				if width >= 1280 && len(over.Scrollers) > 0 {
					t.Errorf("%s as %s at %d px (%s): tables scroll sideways: %s", rt.Pattern(), v.name, width, path, strings.Join(over.Scrollers, ", "))
				}
				png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
				if err != nil {
					t.Fatalf("screenshot %s: %v", name, err)
				}
				file := filepath.Join(shots, name+".png")
				if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(file, png, 0o644); err != nil {
					t.Fatal(err)
				}
				if doc := layoutDocShots[rt.Path]; doc != "" && v.role == "admin" && os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" {
					name := filepath.Join(testenv.RepoRoot(), "docs", "screenshots", fmt.Sprintf("%s-%d.png", doc, width))
					if err := os.WriteFile(name, png, 0o644); err != nil {
						t.Fatal(err)
					}
				}
			}
		}
		cancelTimeout()
		cancel()
	}
	if pages < 60 {
		t.Fatalf("only %d pages checked; the walk lost its way", pages)
	}
	t.Logf("%d pages checked; screenshots in %s", pages, shots)
}

type layoutMeasure struct {
	ScrollWidth int      `json:"scrollWidth"`
	Inner       int      `json:"inner"`
	Offenders   []string `json:"offenders"`
	// Scrollers are the tables that scroll inside their wrapper.
	Scrollers []string `json:"scrollers"`
}

// layoutProbe measures the page: the document's scroll width, the window's
// width, and the elements (outside .table-wrap scrollers) whose right edge
// is past the window.
const layoutProbe = `(() => {
  const inner = window.innerWidth;
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    if (el.closest('.table-wrap, .sr-only') || out.length >= 8) continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0) continue;
    if (r.right > inner + 0.5) {
      let d = el.tagName.toLowerCase();
      if (el.id) d += '#' + el.id;
      if (el.classList.length) d += '.' + [...el.classList].join('.');
      out.push(d + ' (right ' + Math.round(r.right) + ')');
    }
  }
  const scrollers = [];
  for (const w of document.querySelectorAll('.table-wrap')) {
    if (w.scrollWidth > w.clientWidth + 1) {
      const t = w.querySelector('table');
      scrollers.push((t && t.className ? 'table.' + t.className.split(' ').join('.') : 'table') + ' (' + w.scrollWidth + ' in ' + w.clientWidth + ')');
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, inner: inner, offenders: out, scrollers: scrollers};
})()`

// layoutVisits says whether the walk opens rt as a visitor with role
// (anonymous when ""): every HTML page reachable with a GET; anonymous
// visitors only see public pages (the rest redirect to sign-in, which the
// walk covers as /signin).
func layoutVisits(rt web.Route, role string) bool {
	if rt.Method != http.MethodGet || rt.Access == web.Machine || strings.HasPrefix(rt.Path, "/static/") {
		return false
	}
	if role == "" {
		return rt.Access == web.Public
	}
	if rt.Access == web.Operator {
		return role == "admin" // the admin is the operator
	}
	return true
}

// layoutMustServe: a member route the role may open must answer with the
// page, not an error (which would mean the fixture lacks an object).
func layoutMustServe(rt web.Route, role string) bool {
	if rt.Access != web.Member || role == "" {
		return rt.Access == web.Person || rt.Access == web.Operator
	}
	rank := map[string]int{"user": 1, "license_admin": 2, "admin": 3}
	need := rt.Role
	if need == "" {
		need = "user"
	}
	return rank[role] >= rank[need]
}

func layoutPath(path string, e *layoutEnv) string {
	return paramRe.ReplaceAllStringFunc(path, func(m string) string {
		name := paramRe.FindStringSubmatch(m)[1]
		switch {
		case name == "account":
			return e.acct
		case name == "$":
			return ""
		case e.params[name] != "":
			return e.params[name]
		default:
			return ids.New()
		}
	})
}

func layoutFileName(path string) string {
	s := strings.Trim(path, "/")
	s = strings.NewReplacer("{$}", "", "{", "", "}", "", "/", "_", ".", "_").Replace(s)
	if s == "" {
		s = "home"
	}
	return s
}

// layoutFoundationFixture: the admin (the operator, through the setup
// link) creates a business account with a long name and invites a license
// admin and a plain user, who join; a member invitation stays pending and
// a password reset link is waiting.
func layoutFoundationFixture(t *testing.T, e *layoutEnv) {
	ctx := context.Background()
	link, err := e.node.App.Accounts.SetupLink(ctx)
	if err != nil || link == "" {
		t.Fatalf("setup link %q: %v", link, err)
	}
	e.adminEmail, e.licenseEmail, e.userMail = "olivia.operator-admin@northwind-traders.example", "lena.licenses@northwind-traders.example", "ulrich.user@northwind-traders.example"
	e.admin = apptest.NewClient(t, e.node.URL)
	e.admin.Post(link, url.Values{"email": {e.adminEmail}, "password": {pw}, "password_confirm": {pw}, "display_name": {"Olivia Operator"}}).Expect(t, http.StatusSeeOther)
	e.admin.SignIn(e.adminEmail, pw).Expect(t, http.StatusSeeOther)
	e.acct = e.admin.CreateAccount("Northwind Traders International Holding GmbH & Co. KG")
	page := e.admin.Get("/accounts/"+e.acct+"/users").Expect(t, http.StatusOK)
	e.adminID = between(page.Doc.Find(`form[action$="/role"]`).First().AttrOr("action", ""), "/users/", "/role")
	e.licenseAdmin, e.licenseAdminID = addMember(t, e.node, e.admin, e.acct, e.licenseEmail, "license_admin")
	e.user, e.userID = addMember(t, e.node, e.admin, e.acct, e.userMail, "user")
	e.admin.Post("/accounts/"+e.acct+"/users/invite", url.Values{"email": {"pending.person.with.a.long.address@northwind-traders.example"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
	inv := e.admin.Get("/accounts/" + e.acct + "/users?status=invited")
	e.params["person"] = e.userID
	e.params["invite"] = between(inv.Doc.Find(`form[action$="/revoke"]`).First().AttrOr("action", ""), "/invites/", "/revoke")
	e.params["token"] = strings.TrimPrefix(outboxLink(t, e.node.App.DB, "pending.person.with.a.long.address@northwind-traders.example", "/invites/"), e.node.URL+"/invites/")
}

// layoutLicensingFixture: a mixed Enterprise subscription with a reserved
// sublicense, a per-device computer, invitations, a mapped IdP group and an
// SSO seat of the plain user; the license admin manages the primary key.
func layoutLicensingFixture(t *testing.T, e *layoutEnv) {
	ctx := context.Background()
	svc := e.node.App.License
	primaryKey := issue(t, e.node, license.EditionEnterprise, license.ModelMixed, 25, false)
	sub := registerKey(t, e.admin, e.acct, primaryKey, "Enterprise seats for the design and engineering departments")
	subPath := "/accounts/" + e.acct + "/licenses/" + sub
	e.admin.Post(subPath+"/keys", url.Values{"key_name": {"Design and product engineering team"}, "kind": {"reserved"}, "seats": {"5"}}).Expect(t, http.StatusSeeOther)
	page := e.admin.Get(subPath)
	key := keyID(page, "Design and product engineering team")
	primary := strings.TrimPrefix(page.Doc.Find("table.keys tbody tr:has(.kind-primary)").First().AttrOr("id", ""), "key-")
	if key == "" || primary == "" {
		t.Fatalf("keys: sublicense %q primary %q", key, primary)
	}
	caller := license.Caller{PersonID: e.adminID, AccountID: e.acct, Role: license.RoleAdmin}
	if err := svc.AssignKeyAdmin(ctx, caller, primary, e.licenseAdminID, adminActor(e.adminID)); err != nil {
		t.Fatal(err)
	}
	r := postMultipart(t, e.admin, subPath+"/invite", url.Values{"key": {key}, "language": {"en"}, "expires": {"7"},
		"emails": {"maria.designer@northwind-traders.example\nkonstantin.engineering.lead@northwind-traders.example"}}, "", "").Expect(t, http.StatusOK)
	action, form := hiddenForm(r, `form[action$="/invite/send"]`)
	e.admin.PostRaw(action, form).Expect(t, http.StatusSeeOther)
	invitation := ""
	e.admin.Get(subPath + "/invitations").Doc.Find("table.invitations tbody tr").Each(func(_ int, s *goquerySelection) {
		invitation = strings.TrimPrefix(s.AttrOr("id", ""), "inv-")
	})
	if _, err := svc.Activate(ctx, license.ActivateInput{Key: primaryKey, Device: license.Device{HardwareUUID: ids.New(),
		Serial: "C02XL0GHJGH5", ComputerName: "Maria’s MacBook Pro (16-inch, 2024)", MacOSUser: "maria", AppVersion: "26.1.0"}}); err != nil {
		t.Fatal(err)
	}
	g, err := svc.MapGroup(ctx, caller, key, "9b1e5a4c-design-"+ids.New(), "Design and product engineering", nil, adminActor(e.adminID))
	if err != nil {
		t.Fatal(err)
	}
	verifier := ids.Secret(40)
	for _, computer := range []string{"Ulrich’s MacBook Air", "Ulrich’s Mac mini (office)"} {
		a, err := svc.StartSSOActivation(ctx, license.SSOStartInput{AccountID: e.acct, Email: e.userMail,
			Device:        license.Device{HardwareUUID: ids.New(), ComputerName: computer, AppVersion: "26.1.0"},
			CodeChallenge: peruser.ChallengeOf(verifier), ChallengeMethod: "S256"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CompleteSSOActivation(ctx, license.SSOCompleteInput{AttemptID: a.ID, AccountID: e.acct, PersonID: e.userID,
			Email: e.userMail, InDesktopUsers: true}); err != nil {
			t.Fatal(err)
		}
	}
	pending, err := svc.StartSSOActivation(ctx, license.SSOStartInput{AccountID: e.acct, Email: e.userMail,
		Device:        license.Device{HardwareUUID: ids.New(), ComputerName: "Ulrich’s new Mac", AppVersion: "26.1.0"},
		CodeChallenge: peruser.ChallengeOf(verifier), ChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	if invitation == "" {
		t.Fatal("no invitation listed")
	}
	e.params["subscription"], e.params["key"], e.params["invitation"] = sub, key, invitation
	e.params["group"], e.params["attempt"] = g.ID, pending.ID
}

// layoutIdPFixture: the IdP integration is started for Okta with a domain
// waiting for verification.
func layoutIdPFixture(t *testing.T, e *layoutEnv) {
	base := "/accounts/" + e.acct + "/idp"
	e.admin.Post(base+"/start", url.Values{"provider": {"okta"}}).Expect(t, http.StatusSeeOther)
	e.admin.Post(base+"/domains", url.Values{"domain": {"northwind-traders.example"}}).Expect(t, http.StatusSeeOther)
}

// TestLayoutWithoutJavaScript: with scripts switched off, the workspace
// switcher's Go button stays on the select's line at both widths, and on a
// phone the menu opens and leads to another page.
func TestLayoutWithoutJavaScript(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+filepath.Join(t.TempDir(), "gh.db"))
	e := &layoutEnv{node: node, params: map[string]string{}}
	layoutFoundationFixture(t, e)
	ctx, cancel := context.WithTimeout(testenv.Browser(t), 2*time.Minute)
	defer cancel()
	run(t, ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		}),
		chromedp.Navigate(node.URL+"/signin"),
		chromedp.WaitVisible(chromedp.CSS("#f-email")),
		chromedp.SendKeys(chromedp.CSS("#f-email"), e.adminEmail),
		chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
		chromedp.Submit(chromedp.CSS("#f-password")),
		chromedp.WaitVisible(chromedp.CSS("header.top .who")),
	)
	for _, width := range layoutWidths {
		run(t, ctx, chromedp.EmulateViewport(width, 900), chromedp.Navigate(node.URL+"/accounts/"+e.acct), chromedp.WaitVisible(chromedp.CSS("#workspace-go")))
		sameLine := get(t, ctx, chromedp.Evaluate[bool](`(() => {
		  const s = document.getElementById('workspace-switch').getBoundingClientRect();
		  const b = document.getElementById('workspace-go').getBoundingClientRect();
		  return b.top < s.bottom && b.bottom > s.top && b.left >= s.right;
		})()`))
		if !sameLine {
			t.Errorf("at %d px the Go button is not beside the workspace select", width)
		}
	}
	// On a phone the sidebar is hidden and the menu opens.
	run(t, ctx,
		chromedp.EmulateViewport(390, 900),
		chromedp.Navigate(node.URL+"/accounts/"+e.acct),
		chromedp.WaitVisible(chromedp.CSS("details.menu > summary")),
		chromedp.Click(chromedp.CSS("details.menu > summary")),
		chromedp.WaitVisible(chromedp.CSS(`details.menu nav a[href$="/users"]`)),
		chromedp.Click(chromedp.CSS(`details.menu nav a[href$="/users"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#f-invite-role`)),
	)
	if here := get(t, ctx, chromedp.Text(chromedp.CSS("details.menu .menu-here"))); here != "Users" {
		t.Errorf("the closed menu says %q, want the page's entry", here)
	}
}
