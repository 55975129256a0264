package web_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// portalShot saves a full-page screenshot of the current page as
// $GATEHOUSE_ARTIFACTS/portal/<engine>/<name>.png, and (SQLite run,
// GATEHOUSE_UPDATE_SCREENSHOTS=1) as docs/screenshots/journey3-<name>.png.
func portalShot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := get(t, ctx, chromedp.FullScreenshot(100))
	dir := filepath.Join(testenv.ArtifactsDir(), "portal", filepath.Base(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	if os.Getenv("GATEHOUSE_UPDATE_SCREENSHOTS") == "1" && strings.HasSuffix(t.Name(), "/sqlite") {
		if err := os.WriteFile(filepath.Join(testenv.RepoRoot(), "docs", "screenshots", "journey3-"+name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

var offerRe = regexp.MustCompile(`golden image offered: (.+) \((apple_silicon|intel)\) (\S+) sha256 ([0-9a-f]{64}) id (\S+)`)

// TestBrowserPortalJourney is journey 3 on both engines with the built
// binary's reference client: the admin creates a golden image and a
// policy for a sublicense group in a real browser (multi-step form, effect
// preview) → an agent activated with that key is offered the image for its
// architecture → it reports 3 VMs, one from the image → the image card
// counts it and the offer stops → the policy form's preview counts the
// installation and its VMs exactly → the admin sends Delete on the
// golden-image VM (through the fleet's command queue; the inventory's own
// browser journey sends it from its page) → the agent executes it, reports,
// and is offered the image again. Screenshots of each portal page.
func TestBrowserPortalJourney(t *testing.T) {
	gatehouse := gatehouseBinary(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		e := newPortalEnv(t, node, "nadia@goldfleet.example", "Gold Fleet AG")
		subKey, err := node.App.License.RevealKey(context.Background(), license.Caller{AccountID: e.acct, Role: license.RoleAdmin}, e.k1, operatorActor)
		if err != nil {
			t.Fatal(err)
		}
		armURL, intelURL := "https://images.goldfleet.example/win11-arm.pvmp", "https://images.goldfleet.example/win11-x64.pvmp"

		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 4*time.Minute)
		defer cancel()
		base := node.URL + e.base
		run(t, ctx,
			chromedp.EmulateViewport(1280, 900),
			chromedp.Navigate(node.URL+"/signin"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "nadia@goldfleet.example"),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
			chromedp.Submit(chromedp.CSS("#f-password")),
			chromedp.WaitVisible(chromedp.CSS("header.top .who")),
			// Golden image.
			chromedp.Navigate(base+"/golden-images"),
			chromedp.WaitVisible(chromedp.CSS("#no-images")),
			chromedp.Click(chromedp.CSS("#new-image")),
			chromedp.WaitVisible(chromedp.CSS("#image-form")),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "Windows 11 Design"),
			chromedp.SendKeys(chromedp.CSS("#f-description"), "Design team workstation"),
			chromedp.SendKeys(chromedp.CSS("#f-arm_url"), armURL),
			chromedp.SendKeys(chromedp.CSS("#f-arm_sha256"), shaA),
			chromedp.SendKeys(chromedp.CSS("#f-intel_url"), intelURL),
			chromedp.SendKeys(chromedp.CSS("#f-intel_sha256"), shaB),
		)
		portalShot(t, ctx, "1-golden-image-form")
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#save-image")),
			chromedp.WaitVisible(chromedp.CSS(".image-card")),
		)
		portalShot(t, ctx, "2-golden-images")
		img := strings.TrimPrefix(get(t, ctx, chromedp.Evaluate[string](`document.querySelector('.image-card').id`)), "image-")

		// The policy, step by step; Previous keeps what was typed.
		run(t, ctx,
			chromedp.Navigate(base+"/policies"),
			chromedp.Click(chromedp.CSS("#new-policy")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="general"]`)),
			chromedp.SendKeys(chromedp.CSS("#f-name"), "Design lockdown"),
			chromedp.Click(chromedp.CSS(`input[name="group"][value="`+e.k1+`"]`)),
		)
		portalShot(t, ctx, "3-policy-general")
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#next")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="image"]`)),
			chromedp.Click(chromedp.CSS(`input[name="image"][value="`+img+`"]`)),
		)
		portalShot(t, ctx, "4-policy-image")
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#next")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="controls"]`)),
			chromedp.Click(chromedp.CSS(`input[name="control_license_bound"]`)),
			chromedp.Click(chromedp.CSS("#prev")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="image"]`)),
		)
		if !get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="image"][value="`+img+`"]').checked`)) {
			t.Fatal("Previous lost the chosen image")
		}
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#next")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="controls"]`)),
		)
		if !get(t, ctx, chromedp.Evaluate[bool](`document.querySelector('input[name="control_license_bound"]').checked`)) {
			t.Fatal("Previous/Next lost the security control")
		}
		portalShot(t, ctx, "5-policy-controls")
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#next")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="settings"]`)),
			chromedp.Click(chromedp.CSS(`input[name="gi_on"]`)),
			chromedp.Click(chromedp.CSS(`input[name="other_on"]`)),
			chromedp.SetValue(chromedp.CSS(`#f-gi_clipboard`), "disconnect"),
		)
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#preview-total"))), "reaches 0 of 0 installations")
		portalShot(t, ctx, "6-policy-settings")
		run(t, ctx,
			chromedp.Click(chromedp.CSS("#save-policy")),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Policy “Design lockdown” saved")]`),
		)
		portalShot(t, ctx, "7-policies")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#policies"))), "Design team")

		// An agent activated with the sublicense key is offered the image
		// for its architecture.
		dir := t.TempDir()
		out, err := runAgent(gatehouse, "activate", "--server", node.URL, "--dir", dir, "--key", subKey)
		m := offerRe.FindStringSubmatch(out)
		if err != nil || m == nil {
			t.Fatalf("agent activate: %v (no golden image offered)\n%s", err, out)
		}
		wantURL, wantSHA := armURL, shaA
		if m[2] == "intel" {
			wantURL, wantSHA = intelURL, shaB
		}
		if m[1] != "Windows 11 Design" || m[3] != wantURL || m[4] != wantSHA || m[5] != img {
			t.Fatalf("offer %q, want %s %s for %s", m[0], wantURL, wantSHA, m[2])
		}
		// It reports 3 VMs, one from the image: the offer stops.
		for _, vm := range [][]string{{"--name", "Design WS", "--os", "Windows 11", "--golden-image", img}, {"--name", "Ubuntu Build", "--os", "Ubuntu 24.04"}, {"--name", "macOS Test", "--os", "macOS 15.2"}} {
			out, err := runAgent(gatehouse, append([]string{"vm", "create", "--dir", dir}, vm...)...)
			if err != nil || !strings.Contains(out, "report applied") {
				t.Fatalf("agent vm create %v: %v\n%s", vm, err, out)
			}
			if vm[1] == "macOS Test" && offerRe.MatchString(out) {
				t.Fatalf("still offered the image with a VM from it:\n%s", out)
			}
		}
		run(t, ctx, chromedp.Navigate(base+"/golden-images"), chromedp.WaitVisible(chromedp.CSS(".image-card")))
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#image-"+img+" .image-vms"))), "1 VM")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#image-"+img+" .image-policies"))), "Design lockdown")
		portalShot(t, ctx, "8-golden-images-in-use")
		run(t, ctx, chromedp.Navigate(base+"/user-groups"), chromedp.WaitVisible(chromedp.CSS("#group-"+e.k1)))
		row := get(t, ctx, chromedp.Text(chromedp.CSS("#group-"+e.k1)))
		apptest.MustContain(t, row, "Design lockdown")
		apptest.MustContain(t, row, "Windows 11 Design")
		portalShot(t, ctx, "9-user-groups")

		// The preview now counts the installation and its VMs exactly:
		// USB off for VMs from other sources reaches the Ubuntu and macOS
		// VMs; clipboard is ignored on a macOS VM on Apple silicon only.
		run(t, ctx,
			chromedp.Navigate(base+"/golden-images"),
			chromedp.Click(`//a[normalize-space()="Design lockdown"]`),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="general"]`)),
			chromedp.Click(chromedp.CSS("#tab-settings")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="settings"]`)),
			chromedp.Click(chromedp.CSS(`#settings-other input[name="other_no_usb"]`)),
			chromedp.Click(chromedp.CSS("#tab-controls")),
			chromedp.WaitVisible(chromedp.CSS(`#policy-form[data-step="controls"]`)),
		)
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#preview-total"))), "reaches 1 of 1 installation and 2 of 3 VMs")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#preview-changes"))), "Do not allow external (USB) devices → Yes: 1 installation, 2 VMs")
		if m[2] == "apple_silicon" {
			apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#preview-ignored"))), "clipboard setting ignored on 1 macOS VM on Apple silicon")
		}
		portalShot(t, ctx, "10-policy-preview")

		// The admin sends Delete on the golden-image VM (the inventory's
		// command queue; its page is TestBrowserFleetJourney's), the agent
		// executes it at its next check-in and reports, and is offered the
		// image again.
		var vmID string
		if err := node.App.DB.QueryRow(context.Background(), `SELECT id FROM fleet_vms WHERE account_id = ? AND name = 'Design WS'`, e.acct).Scan(&vmID); err != nil {
			t.Fatal(err)
		}
		if _, err := node.App.Fleet.Enqueue(context.Background(), license.Caller{AccountID: e.acct, Role: license.RoleAdmin}, operatorActor, "delete", []string{vmID}); err != nil {
			t.Fatal(err)
		}
		out, err = runAgent(gatehouse, "checkin", "--trigger", "daily", "--dir", dir)
		if err != nil || !strings.Contains(out, ": done") || !offerRe.MatchString(out) {
			t.Fatalf("agent checkin after Delete: %v (want the command done and the image offered again)\n%s", err, out)
		}
		if list, _ := runAgent(gatehouse, "vm", "list", "--dir", dir); strings.Contains(list, "Design WS") {
			t.Fatalf("the agent still has the golden-image VM:\n%s", list)
		}
		run(t, ctx, chromedp.Navigate(base+"/golden-images"), chromedp.WaitVisible(chromedp.CSS(".image-card")))
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("#image-"+img+" .image-vms"))), "0 VMs")
	})
}
