package web_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

var codeRe = regexp.MustCompile(`\b[A-HJ-NP-Z2-9]{5}(?:-[A-HJ-NP-Z2-9]{5}){3}\b`)

// TestBrowserLicensingJourney is the product's promise (journey 1) in a real
// browser: sign up → register a key from the personal workspace (the
// business account is created on the way) → create a reserved sublicense →
// invite two people, one typed and one from a CSV file → the invitation
// email arrives at a real SMTP server → the reference client activates
// with the code from the email → the admin sees the computer in Registered
// Computers and deactivates it → the client's next check says deactivated,
// the seat is free again, and the audit log shows every step.
func TestBrowserLicensingJourney(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		sink := testenv.SMTP(t)
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) {
			c.SMTPURL = sink.URL
			c.MailInterval = 200 * time.Millisecond
			c.MailFrom = "Gatehouse <no-reply@gatehouse.test>"
		}})
		primary := issue(t, node, license.EditionBusiness, license.ModelPerDevice, 5, false)
		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 3*time.Minute)
		defer cancel()

		// Sign up, then Register Key from the personal workspace.
		// (The address is confirmed with the link the SMTP peer received.)
		signUpInBrowser(t, ctx, node.URL, sink, "Ida Admin", "ida@journey.example")
		run(t, ctx,
			chromedp.WaitVisible(chromedp.CSS(`a[href="/licenses/register"]`)),
			chromedp.Click(chromedp.CSS(`a[href="/licenses/register"]`)),
			chromedp.WaitVisible(chromedp.CSS("#f-key")),
			chromedp.SendKeys(chromedp.CSS("#f-key"), strings.ToLower(primary)),
			chromedp.Click(`//button[contains(., "Check key")]`),
			chromedp.WaitVisible(`//div[contains(@class, "key-preview")][contains(., "not registered yet")]`),
			chromedp.SendKeys(chromedp.CSS("#f-display_name"), "Desktop 2026"),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "Journey Works GmbH"),
			chromedp.SetValue(chromedp.CSS("#f-country"), "DE"),
			chromedp.Click(`//button[contains(., "Register key")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "is created with your Business Edition license")]`),
		)
		loc := get(t, ctx, chromedp.Location())
		subPath := strings.TrimPrefix(loc, node.URL)
		acct := strings.Split(strings.TrimPrefix(subPath, "/accounts/"), "/")[0]

		// Create a reserved sublicense key.
		run(t, ctx,
			chromedp.SendKeys(chromedp.CSS("#f-key_name"), "Pilot group"),
			chromedp.Click(chromedp.CSS(`input[name=kind][value=reserved]`)),
			chromedp.SendKeys(chromedp.CSS("#f-seats"), "2"),
			chromedp.Click(`//button[contains(., "Create key")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "sublicense key Pilot group is created")]`),
		)
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#seats-reserved"))), "2")

		// Invite two people: one typed, one from a CSV file.
		csvPath := filepath.Join(t.TempDir(), "people.csv")
		if err := os.WriteFile(csvPath, []byte("email\nbo@journey.example\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run(t, ctx,
			chromedp.Click(`//main//a[contains(., "Invite Users")]`),
			settled(`form[enctype="multipart/form-data"] #f-key`),
			chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#f-key');
				s.value = [...s.options].find(o => o.text.includes('Pilot group')).value; })()`),
			chromedp.SendKeys(chromedp.CSS("#f-emails"), "al@journey.example"),
			chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{csvPath}),
			chromedp.Click(`//button[contains(., "Review invitations")]`),
			chromedp.WaitVisible(`//h1[contains(., "Review invitations")]`),
		)
		review := get(t, ctx, chromedp.Text(chromedp.CSS("ol.invite-list")))
		apptest.MustContain(t, review, "al@journey.example")
		apptest.MustContain(t, review, "bo@journey.example")
		run(t, ctx,
			chromedp.Click(`//button[contains(., "Send Invitations")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "2 invitations are created")]`),
		)

		// The email arrives over SMTP; the list shows it delivered.
		msg := sink.WaitFor(t, func(e testenv.Email) bool {
			return len(e.To) == 1 && e.To[0] == "bo@journey.example"
		}, time.Minute)
		code := codeRe.FindString(msg.Text)
		if code == "" {
			t.Fatalf("no activation code in the email:\n%s", msg.Text)
		}
		apptest.MustContain(t, msg.Text, "/download?code=")
		sink.WaitFor(t, func(e testenv.Email) bool { return len(e.To) == 1 && e.To[0] == "al@journey.example" }, time.Minute)
		deadline := time.Now().Add(30 * time.Second)
		for {
			run(t, ctx, chromedp.Navigate(node.URL+subPath+"/invitations"), chromedp.WaitVisible(chromedp.CSS("table.invitations")))
			if get(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll('table.invitations .delivery.ok').length`)) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the invitations list does not show both emails delivered: %s", get(t, ctx, chromedp.Text(chromedp.CSS("table.invitations tbody"))))
			}
			time.Sleep(300 * time.Millisecond)
		}

		// The reference client activates with the code from the email.
		gatehouse := gatehouseBinary(t)
		stateDir := t.TempDir()
		out, err := runAgent(gatehouse, "activate", "--server", node.URL, "--dir", stateDir, "--code", code)
		if err != nil || !strings.Contains(out, " activated: Business Edition") {
			t.Fatalf("gatehouse agent activate: %v\n%s", err, out)
		}
		computer := out[:strings.Index(out, " activated")]

		// The admin sees the computer and deactivates it.
		run(t, ctx,
			chromedp.Navigate(node.URL+subPath+"/computers"),
			chromedp.WaitVisible(chromedp.CSS(`table.computers tbody tr`)),
		)
		row := get(t, ctx, chromedp.Text(chromedp.CSS(`table.computers tbody`)))
		apptest.MustContain(t, row, computer)
		apptest.MustContain(t, row, "Pilot group")
		apptest.MustContain(t, row, "Invitation")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("main > p.muted"))), "1 of 5 seats used")
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`input[data-select-all="computer"]`)),
			chromedp.Click(`//button[contains(., "Deactivate")]`),
			chromedp.WaitVisible(`//h1[contains(., "Deactivate 1 computer?")]`),
			chromedp.Click(`//main//button[contains(., "Deactivate")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "1 computer is deactivated")]`),
		)
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("main > p.muted"))), "0 of 5 seats used")

		// The client learns it at its next check; the invitation shows used.
		out, err = runAgent(gatehouse, "check", "--dir", stateDir)
		if err == nil || !strings.Contains(out, "deactivated") {
			t.Fatalf("gatehouse agent check after deactivation: %v\n%s", err, out)
		}
		run(t, ctx, chromedp.Navigate(node.URL+subPath+"/invitations?status=used"), chromedp.WaitVisible(chromedp.CSS("table.invitations")))
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("table.invitations tbody"))), "bo@journey.example")

		// The audit log shows every step, the computer's own included.
		run(t, ctx, chromedp.Navigate(node.URL+"/accounts/"+acct+"/audit"), chromedp.WaitVisible(chromedp.CSS("tbody")))
		audit := get(t, ctx, chromedp.Text(chromedp.CSS("tbody"))) + " " + strings.Join(get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody .audit-action')].map(e => e.title)`)), " ")
		for _, a := range []string{"account.created", "license.key_registered", "license.sublicense_created", "license.invitations_sent", "device.activated", "license.computers_deactivated"} {
			apptest.MustContain(t, audit, a)
		}
	})
}

// gatehouseBinary builds cmd/gatehouse into the test's temp dir (go's build
// cache makes the second engine's build quick); the tests drive its
// reference client (`gatehouse agent`) as a Mac would.
func gatehouseBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	return bin
}

func runAgent(bin string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append([]string{"agent"}, args...)...).CombinedOutput()
	return string(out), err
}
