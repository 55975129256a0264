package web_test

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/testenv"
)

var verifyLinkRe = regexp.MustCompile(`https?://\S+/verify/[A-Za-z0-9_-]+`)

// confirmByMail waits for the confirmation email to addr at the real SMTP
// peer, opens its link in the browser of ctx and confirms.
func confirmByMail(t *testing.T, ctx context.Context, sink *testenv.SMTPSink, addr string) {
	t.Helper()
	msg := sink.WaitFor(t, func(e testenv.Email) bool {
		return len(e.To) == 1 && strings.EqualFold(e.To[0], addr) && strings.Contains(e.Subject, "Confirm your")
	}, time.Minute)
	link := verifyLinkRe.FindString(msg.Text)
	if link == "" {
		t.Fatalf("no confirmation link in the email to %s:\n%s", addr, msg.Text)
	}
	run(t, ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(`//h1[contains(., "Confirm your email address")]`),
		chromedp.Click(`//main//button[contains(., "Confirm")]`),
		chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "confirmed")]`),
	)
}

// signUpInBrowser fills the sign-up form, sees the "check your email" page
// and confirms the address with the delivered link.
func signUpInBrowser(t *testing.T, ctx context.Context, base string, sink *testenv.SMTPSink, name, addr string) {
	t.Helper()
	run(t, ctx,
		chromedp.Navigate(base+"/signup"),
		chromedp.SendKeys(chromedp.CSS("#f-display_name"), name),
		chromedp.SendKeys(chromedp.CSS("#f-email"), addr),
		chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
		chromedp.SendKeys(chromedp.CSS("#f-password_confirm"), pw),
		chromedp.Click(chromedp.CSS(`button[type=submit]`)),
		chromedp.WaitVisible(`//h1[contains(., "Check your email")]`),
	)
	confirmByMail(t, ctx, sink, addr)
}
