package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// TestUpdatesPagesPhoneWithoutJavaScript opens the Updates and Deployment
// pages in a real browser 390 px wide with JavaScript switched off: the
// pages fit the width (tables scroll inside their panel), the settings form
// saves, a release is mirrored and the deploy.cfg checker shows its report.
func TestUpdatesPagesPhoneWithoutJavaScript(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		alice := apptest.NewClient(t, node.URL)
		alice.SignUp("phone@upd.example", pw, "Phoebe")
		acct := alice.CreateAccount("Phone Corp")
		registerKey(t, alice, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false), "Phones")
		rel := publishHosted(t, node, 2, 57002, []byte(strings.Repeat("dmg", 1000)))

		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 90*time.Second)
		defer cancel()
		run(t, ctx, chromedp.EmulateViewport(390, 844), chromedp.Navigate("about:blank"))
		if _, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
			t.Fatal(err)
		}
		// The page layout (side navigation, main column) is the responsive
		// layout's business; here the side navigation is put out of the way
		// (as a phone layout does) and main is held to the phone's width
		// less its margins, and our content must fit it: no panel wider
		// than main, nothing sticking out of a panel (wide tables scroll
		// inside their .table-wrap).
		fits := func(what string) {
			t.Helper()
			res := get(t, ctx, chromedp.Evaluate[string](`(() => {
				const nav = document.querySelector('nav.side');
				if (nav) nav.style.display = 'none';
				const m = document.querySelector('main');
				m.style.minWidth = '0'; m.style.width = '358px'; m.style.maxWidth = '358px'; m.style.boxSizing = 'border-box';
				const bad = [];
				if (m.scrollWidth > m.clientWidth + 1) bad.push('main scrolls: ' + m.scrollWidth + ' > ' + m.clientWidth);
				for (const p of m.querySelectorAll('.panel, h1, .flash')) {
					if (p.getBoundingClientRect().width > m.clientWidth + 1) bad.push(p.tagName + '#' + p.id + ' is ' + Math.round(p.getBoundingClientRect().width) + ' px');
					if (p.scrollWidth > p.clientWidth + 1) bad.push(p.tagName + '#' + p.id + ' overflows: ' + p.scrollWidth + ' > ' + p.clientWidth);
				}
				for (const e of m.querySelectorAll('.panel *')) {
					const pr = e.closest('.panel').getBoundingClientRect();
					if (!e.closest('.table-wrap') && e.getBoundingClientRect().right > pr.right + 1) bad.push(e.tagName + '[' + (e.name || e.className) + '] sticks out by ' + Math.round(e.getBoundingClientRect().right - pr.right) + ' px');
				}
				return bad.join('; ');
			})()`))
			if res != "" {
				t.Errorf("%s at 390 px: %s", what, res)
			}
		}
		run(t, ctx,
			chromedp.Navigate(node.URL+"/signin"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "phone@upd.example"),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
			chromedp.Submit(chromedp.CSS("#f-password")),
			chromedp.WaitVisible(chromedp.CSS(`form[action="/signout"]`)),
		)
		run(t, ctx,
			chromedp.Navigate(node.URL+"/accounts/"+acct+"/updates"),
			chromedp.WaitVisible(chromedp.CSS("#update-settings")),
		)
		fits("Updates")
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`input[name=source][value=local]`)),
			chromedp.SetValue(chromedp.CSS(`#f-check_frequency`), "daily"),
			chromedp.Click(chromedp.CSS(`input[name=auto_download]`)),
			chromedp.Submit(chromedp.CSS(`#f-check_frequency`)),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Update settings saved")]`),
			chromedp.Click(chromedp.CSS(`#available button[type=submit]`)),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "being copied")]`),
		)
		locked := get(t, ctx, chromedp.Text(chromedp.CSS(`#client-settings`)))
		apptest.MustContain(t, locked, "/updates/local/")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS(`#mirror-`+rel.ID))), "Pending")
		fits("Updates with a mirror")

		run(t, ctx,
			chromedp.Navigate(node.URL+"/accounts/"+acct+"/deployment"),
			chromedp.WaitVisible(chromedp.CSS("#lint")),
		)
		fits("Deployment")
		run(t, ctx,
			chromedp.SendKeys(chromedp.CSS(`#f-text`), "vm_register_mode=\"shared\"\n"),
			chromedp.Submit(chromedp.CSS(`#f-text`)),
			chromedp.WaitVisible(chromedp.CSS(`#lint-result`)),
		)
		report := get(t, ctx, chromedp.Text(chromedp.CSS(`#lint-result`)))
		apptest.MustContain(t, report, "values are case-sensitive")
		apptest.MustContain(t, report, `write vm_register_mode="Shared"`)
		fits("Deployment with a lint report")
	})
}
