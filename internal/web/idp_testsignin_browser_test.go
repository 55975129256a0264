package web_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
)

// TestBrowserIdPTestSignIn: in Chromium, the admin opens IdP Integration,
// clicks Test sign-in, signs in at the independent IdP (samlify) in the
// new tab and reads the result there: accepted, with what the IdP sent,
// the user it maps to, the rights and the seat pool; then a refused test
// (an address outside the verified domains) with its reason. Afterwards
// the database holds no new person, session, membership, SSO link or seat.
// The result page fits a phone and a laptop window; with
// GATEHOUSE_UPDATE_SCREENSHOTS=1 its screenshots go to docs/screenshots.
func TestBrowserIdPTestSignIn(t *testing.T) {
	dns := testenv.DNS(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		f := newSSOFixture(t, dbURL, dns)
		f.prepareTestSignIn(t)
		ctx, cancel := context.WithTimeout(testenv.Browser(t), 3*time.Minute)
		defer cancel()
		run(t, ctx,
			chromedp.Navigate(f.node.URL+"/signin"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "owner@corp.example"),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
			chromedp.Submit(chromedp.CSS("#f-password")),
			chromedp.WaitVisible(chromedp.CSS("header.top .who")),
		)
		before := footprint(t, f.node.App.DB) // the admin's own session included
		shots := strings.HasSuffix(t.Name(), "/sqlite")

		tab := browserTestSignIn(t, ctx, f, danaUser.Email, "accepted")
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-outcome"))), "Gatehouse accepts this sign-in")
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-maps-to"))), "New user "+danaUser.Email)
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-admin"))), "Yes")
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-seat-pool"))), "Design seats")
		attrs := get(t, tab, chromedp.Text(chromedp.CSS("#test-attributes")))
		for _, want := range []string{"objectidentifier", "obj-dana", "design-team"} {
			apptest.MustContain(t, attrs, want)
		}
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-groups"))), "admin rights")
		testResultFits(t, tab, "accepted", shots)

		tab = browserTestSignIn(t, ctx, f, eveUser.Email, "refused")
		if code := get(t, tab, chromedp.Text(chromedp.CSS("#test-code"))); code != "domain_not_verified" {
			t.Fatalf("refused test: code %q, want domain_not_verified", code)
		}
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-advice"))), "verify the domain in step 1")
		apptest.MustContain(t, get(t, tab, chromedp.Text(chromedp.CSS("#test-maps-to"))), "Refused")
		testResultFits(t, tab, "refused", shots)

		// The configurator lists both tests for the admin.
		run(t, ctx, chromedp.Navigate(f.node.URL+"/accounts/"+f.account+"/idp"), chromedp.WaitVisible(chromedp.CSS("#test-sign-in-list")))
		list := get(t, ctx, chromedp.Text(chromedp.CSS("#test-sign-in-list")))
		apptest.MustContain(t, list, "Accepted")
		apptest.MustContain(t, list, "domain_not_verified")
		sameFootprint(t, "browser test sign-ins", before, footprint(t, f.node.App.DB))
	})
}

// browserTestSignIn clicks Test sign-in on the configurator in ctx's tab,
// signs in as email at the IdP in the tab that opens and waits there for
// the result page in state. It returns the new tab (closed at cleanup).
func browserTestSignIn(t *testing.T, ctx context.Context, f *ssoFixture, email, state string) context.Context {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(f.node.URL+"/accounts/"+f.account+"/idp"),
		chromedp.WaitVisible(chromedp.CSS("#test-sign-in-start")),
	)
	opened := chromedp.WaitNewTarget(ctx, func(info *target.Info) bool { return info.Type == "page" })
	run(t, ctx, chromedp.Click(chromedp.CSS("#test-sign-in-start")))
	var id target.ID
	select {
	case id = <-opened:
	case <-ctx.Done():
		t.Fatal("Test sign-in opened no new tab")
	}
	if id == "" {
		t.Fatal("Test sign-in opened no new tab")
	}
	tab, cancel := chromedp.NewContext(ctx, chromedp.WithTargetID(id))
	t.Cleanup(cancel)
	run(t, tab,
		// At the independent IdP's sign-in page, past the SAML hop.
		settled("#password"),
		chromedp.SendKeys(chromedp.CSS("#email"), email),
		chromedp.SendKeys(chromedp.CSS("#password"), "idp-pass"),
		chromedp.Click(chromedp.CSS("button[type=submit]")),
		settled(`#test-result[data-state="`+state+`"] #test-outcome`),
	)
	return tab
}

// testResultFits checks the result page at 390 px and 1,280 px like the
// layout walk does, and saves its screenshots.
func testResultFits(t *testing.T, tab context.Context, name string, docs bool) {
	t.Helper()
	dir := filepath.Join(testenv.ArtifactsDir(), "test-sign-in")
	idpMust(t, os.MkdirAll(dir, 0o755))
	for _, width := range layoutWidths {
		run(t, tab, chromedp.EmulateViewport(width, 900), chromedp.WaitVisible(chromedp.CSS("#test-outcome")))
		over := get(t, tab, chromedp.Evaluate[layoutMeasure](layoutProbe))
		if over.ScrollWidth > over.Inner || len(over.Offenders) > 0 {
			t.Errorf("%s test result at %d px: page is %d px wide for a %d px window; sticking out: %s",
				name, width, over.ScrollWidth, over.Inner, strings.Join(over.Offenders, ", "))
		}
		if width >= 1280 && len(over.Scrollers) > 0 {
			t.Errorf("%s test result at %d px: tables scroll sideways: %s", name, width, strings.Join(over.Scrollers, ", "))
		}
		png := get(t, tab, chromedp.FullScreenshot(100))
		file := fmt.Sprintf("test-sign-in-%s-%d.png", name, width)
		idpMust(t, os.WriteFile(filepath.Join(dir, file), png, 0o644))
		if docs && os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" {
			idpMust(t, os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "screenshots", file), png, 0o644))
		}
	}
}
