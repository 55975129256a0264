package web_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	audit_ "gatehouse/internal/audit"
	"gatehouse/internal/testenv"
)

// TestBrowserMemberJourney drives the foundation's journey in a real browser:
// sign up → create a business account → invite a member → the member accepts
// → the admin changes their role → the audit log shows each step and its CSV
// export has those rows.
func TestBrowserMemberJourney(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		sink := testenv.SMTP(t)
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) {
			c.SMTPURL, c.MailInterval, c.MailFrom = sink.URL, 200*time.Millisecond, "Gatehouse <no-reply@gatehouse.test>"
		}})
		admin := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(admin, 2*time.Minute)
		defer cancel()

		// Sign up: nothing exists until the address is confirmed with the
		// link from the email the SMTP peer received.
		signUpInBrowser(t, ctx, node.URL, sink, "Ada Admin", "ada@acme.example")
		run(t, ctx,
			chromedp.WaitVisible(chromedp.CSS(`a[href="/accounts/new"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/accounts/new"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-name")),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "Acme Browsers Inc"),
			chromedp.SetValue(chromedp.CSS("#f-country"), "FR"),
			chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "is created")]`),
		)
		acctURL := get(t, ctx, chromedp.Location())
		acct := strings.TrimPrefix(acctURL, node.URL+"/accounts/")

		run(t, ctx,
			chromedp.Click(chromedp.CSS(`nav.side a[href$="/users"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#f-email`)),
			chromedp.SendKeys(chromedp.CSS(`#f-email`), "max@acme.example"),
			chromedp.SetValue(chromedp.CSS(`#f-invite-role`), "user"),
			chromedp.Submit(chromedp.CSS(`#f-email`)),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "max@acme.example")]`),
		)
		// This node has a mail server (the SMTP peer), so the flash says the
		// invitation went out rather than that it waits in the outbox.
		flash := get(t, ctx, chromedp.Text(chromedp.CSS(`.flash.success`)))
		apptest.MustContain(t, flash, "Invitation sent to max@acme.example.")
		link := outboxLink(t, node.App.DB, "max@acme.example", "/invites/")

		// The member opens the link in their own browser, creates an account
		// and accepts.
		member := testenv.Browser(t)
		mctx, mcancel := context.WithTimeout(member, 2*time.Minute)
		defer mcancel()
		run(t, mctx,
			chromedp.Navigate(link),
			chromedp.WaitVisible(chromedp.CSS(`a[href^="/signup"]`)),
			chromedp.Click(chromedp.CSS(`a[href^="/signup"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-password")),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
			chromedp.SendKeys(chromedp.CSS("#f-password_confirm"), pw),
			chromedp.Click(chromedp.CSS(`button[type=submit]`)),
			chromedp.WaitVisible(`//h1[contains(., "Check your email")]`),
		)
		// Confirming the address leads back to the invitation.
		confirmByMail(t, mctx, sink, "max@acme.example")
		run(t, mctx,
			chromedp.WaitVisible(`//button[contains(., "Accept and join")]`),
			chromedp.Click(`//button[contains(., "Accept and join")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "You joined")]`),
		)
		joined := get(t, mctx, chromedp.Text(chromedp.CSS(`.flash.success`)))
		apptest.MustContain(t, joined, "You joined Acme Browsers Inc as User")

		// The admin makes the member a license admin.
		run(t, ctx,
			chromedp.Navigate(node.URL+"/accounts/"+acct+"/users?q=max"),
			chromedp.WaitVisible(chromedp.CSS(`select[id^="role-"]`)),
			chromedp.SetValue(chromedp.CSS(`select[id^="role-"]`), "license_admin"),
			chromedp.Click(`//button[contains(., "Change role")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "role is changed")]`),
			chromedp.Navigate(node.URL+"/accounts/"+acct+"/users?role=license_admin"),
			chromedp.WaitVisible(chromedp.CSS(`tbody`)),
		)
		table := get(t, ctx, chromedp.Text(chromedp.CSS(`tbody`)))
		apptest.MustContain(t, table, "max@acme.example")

		// The audit log shows each step; the CSV export has those rows.
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`nav.side a[href$="/audit"]`)),
			// The users page has a tbody too: wait for the audit page's own.
			settled(`a[href*="audit.csv"]`),
			chromedp.WaitVisible(chromedp.CSS(`tbody`)),
		)
		audit := get(t, ctx, chromedp.Text(chromedp.CSS(`tbody`)))
		csvText := get(t, ctx, chromedp.Evaluate[string](`fetch(document.querySelector('a[href*="audit.csv"]').href).then(r => r.text())`, chromedp.EvalAwaitPromise))
		// The table shows labels (the code is the tooltip); the CSV keeps codes.
		codes := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody .audit-action')].map(e => e.title)`))
		for _, a := range []string{"account.created", "member.invited", "member.joined", "member.role_changed"} {
			apptest.MustContain(t, audit, audit_.Label(a))
			apptest.MustContain(t, strings.Join(codes, " "), a)
			apptest.MustContain(t, csvText, a)
		}
		rows, err := csv.NewReader(strings.NewReader(csvText)).ReadAll()
		if err != nil || len(rows) < 5 {
			t.Fatalf("csv: %v rows, err %v", len(rows), err)
		}
	})
}

// settled waits until the page shows sel and has stopped moving: the
// document finished loading, it is no auto-submitting SAML form (id
// saml-post, Gatehouse's and the test IdP's), sel matches a visible
// element, and all that holds for the same document on two polls in a
// row. WaitVisible alone can match a node of a page that is about to be
// replaced (a SAML hop, a redirect), and the next Click, SendKeys or Text
// then fails with "No node with given id found" — on a busy machine, where
// the hop is slow. One JavaScript evaluation per poll holds no node id.
func settled(sel string) chromedp.Action[chromedp.Void] {
	expr := fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (document.readyState !== "complete" || document.getElementById("saml-post") || !e || e.getClientRects().length === 0) return "";
		window.__ghDoc = window.__ghDoc || String(Math.random());
		return location.href + "#" + window.__ghDoc;
	})()`, sel)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		prev := ""
		tick := time.NewTicker(25 * time.Millisecond)
		defer tick.Stop()
		for {
			v, err := chromedp.Evaluate[string](expr)(ctx, t)
			switch {
			case err != nil || v == "":
				prev = "" // navigating (the context went away) or not there yet
			case v == prev:
				return chromedp.Void{}, nil
			default:
				prev = v
			}
			select {
			case <-ctx.Done():
				return chromedp.Void{}, fmt.Errorf("waiting for a settled page showing %s: %w", sel, ctx.Err())
			case <-tick.C:
			}
		}
	}
}

func run(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

func get[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
