package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

// TestBrowserFleetJourney is issue 14's "done when", on both engines,
// with the built binary's reference client over real HTTP and the admin in
// a real browser: an activated agent creates 3 VMs and checks in → they
// appear in the Virtual Machines inventory with the right columns → the
// admin sends Delete on one (selection, confirmation) → it shows "Pending
// delete" → the agent's next check-in executes and acknowledges it → the
// inventory no longer lists it (it is shown as gone on request), the
// command is "Done", and the audit log has every step.
func TestBrowserFleetJourney(t *testing.T) {
	gatehouse := gatehouseBinary(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("ines@vmfleet.example", pw, "Ines Admin")
		acct := admin.CreateAccount("VM Fleet GmbH")
		key := issue(t, node, license.EditionEnterprise, license.ModelPerDevice, 20, true)
		registerKey(t, admin, acct, key, "Enterprise trial")
		vms := node.URL + "/accounts/" + acct + "/vms"

		// The reference client activates, creates three VMs (each creation
		// checks in) and starts one.
		dir := t.TempDir()
		out, err := runAgent(gatehouse, "activate", "--server", node.URL, "--dir", dir, "--key", key)
		if err != nil || !strings.Contains(out, "checked in") {
			t.Fatalf("agent activate: %v\n%s", err, out)
		}
		for _, vm := range [][2]string{{"Win 11 Dev", "Windows 11"}, {"Ubuntu Build", "Ubuntu 24.04"}, {"Old XP", "Windows XP"}} {
			if out, err := runAgent(gatehouse, "vm", "create", "--dir", dir, "--name", vm[0], "--os", vm[1]); err != nil || !strings.Contains(out, "report applied") {
				t.Fatalf("agent vm create %s: %v\n%s", vm[0], err, out)
			}
		}
		if out, err := runAgent(gatehouse, "vm", "start", "Win 11 Dev", "--dir", dir); err != nil || !strings.Contains(out, "report applied") {
			t.Fatalf("agent vm start: %v\n%s", err, out)
		}
		var computer, user string
		if err := node.App.DB.QueryRow(context.Background(), `SELECT computer_name, macos_user FROM fleet_hosts WHERE account_id = ?`, acct).Scan(&computer, &user); err != nil || computer == "" {
			t.Fatalf("host: %q %v", computer, err)
		}

		b := testenv.Browser(t)
		ctx, cancel := context.WithTimeout(b, 3*time.Minute)
		defer cancel()
		run(t, ctx,
			chromedp.Navigate(node.URL+"/signin"),
			chromedp.WaitVisible(chromedp.CSS("#f-email")),
			chromedp.SendKeys(chromedp.CSS("#f-email"), "ines@vmfleet.example"),
			chromedp.SendKeys(chromedp.CSS("#f-password"), pw),
			chromedp.Submit(chromedp.CSS("#f-password")),
			chromedp.WaitVisible(chromedp.CSS("header.top .who")),
			chromedp.Navigate(vms+"?sort=name&dir=asc"),
			chromedp.WaitVisible(chromedp.CSS("table.vms tbody tr")),
		)
		rows := get(t, ctx, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll('table.vms tbody tr')].map(tr => Object.fromEntries(
			[...tr.querySelectorAll('td[class^="c-"]')].map(td => [td.className.slice(2), td.querySelector('a') && td.className === 'c-name' ? td.querySelector('a').textContent.trim() : td.textContent.trim()])))`))
		if len(rows) != 3 {
			t.Fatalf("inventory rows: %v", rows)
		}
		want := map[string][2]string{"Old XP": {"Stopped", "Windows XP"}, "Ubuntu Build": {"Stopped", "Ubuntu 24.04"}, "Win 11 Dev": {"Running", "Windows 11"}}
		for i, name := range []string{"Old XP", "Ubuntu Build", "Win 11 Dev"} {
			r := rows[i]
			if r["name"] != name || r["state"] != want[name][0] || r["os"] != want[name][1] || r["computer"] != computer ||
				r["user"] != user || r["command"] != "None" || !strings.HasPrefix(r["last_reported"], time.Now().UTC().Format("2006-01-02")) {
				t.Fatalf("row %d: %v, want %s %v on %s (%s)", i, r, name, want[name], computer, user)
			}
		}

		// More columns, picked in the column chooser (remembered).
		run(t, ctx,
			chromedp.Click(chromedp.CSS("details.vm-columns > summary")),
			chromedp.Click(chromedp.CSS(`input[name=column][value=desktop_state]`)),
			chromedp.Click(chromedp.CSS(`input[name=column][value=cpu]`)),
			chromedp.Click(chromedp.CSS(`input[name=column][value=desktop_version]`)),
			chromedp.Click(`//button[contains(., "Save columns")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Your columns are saved")]`),
		)
		states := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.vms tbody td.c-desktop_state')].map(td => td.textContent.trim())`))
		cpus := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.vms tbody td.c-cpu')].map(td => td.textContent.trim())`))
		versions := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.vms tbody td.c-desktop_version')].map(td => td.textContent.trim())`))
		if len(states) != 3 || states[0] != "Activated (License key)" || (cpus[0] != "Intel" && cpus[0] != "Apple silicon") || versions[0] == "" || versions[0] == "—" {
			t.Fatalf("chosen columns: state %v cpu %v version %v", states, cpus, versions)
		}

		// Delete "Old XP": select it, confirm, and it is pending.
		run(t, ctx,
			chromedp.Click(`//tr[.//a[normalize-space()="Old XP"]]//input[@name="vm"]`),
			chromedp.Click(`//div[contains(@class, "vm-actions")]//button[@value="delete"]`),
			chromedp.WaitVisible(`//h1[contains(., "Delete 1 VM?")]`),
		)
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("ul.confirm-items"))), "Old XP on "+computer)
		run(t, ctx,
			chromedp.Click(`//main//form//button[contains(., "Delete")]`),
			chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "Delete is queued for 1 VM")]`),
			chromedp.WaitVisible(`//tr[.//a[normalize-space()="Old XP"]]//*[contains(@class, "pending")][contains(., "Pending delete")]`),
		)

		// The agent's next check-in executes and acknowledges it.
		out, err = runAgent(gatehouse, "checkin", "--trigger", "daily", "--dir", dir)
		if err != nil || !strings.Contains(out, ": done") {
			t.Fatalf("agent checkin: %v\n%s", err, out)
		}
		if list, _ := runAgent(gatehouse, "vm", "list", "--dir", dir); strings.Contains(list, "Old XP") {
			t.Fatalf("the agent still has the VM:\n%s", list)
		}

		// The inventory no longer lists it; on request it shows as gone,
		// its last command Done.
		run(t, ctx, chromedp.Navigate(vms+"?sort=name&dir=asc"), chromedp.WaitVisible(chromedp.CSS("table.vms tbody tr")))
		names := get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('table.vms tbody td.c-name > a')].map(a => a.textContent.trim())`))
		if strings.Join(names, "|") != "Ubuntu Build|Win 11 Dev" {
			t.Fatalf("after the delete the inventory lists %v", names)
		}
		run(t, ctx,
			chromedp.Click(chromedp.CSS(`input[name=gone]`)),
			chromedp.Click(`//form[@id="vm-filter"]//button[contains(., "Apply")]`),
			chromedp.WaitVisible(`//tr[contains(@class, "gone")]//a[normalize-space()="Old XP"]`),
			chromedp.Click(`//tr[contains(@class, "gone")]//a[normalize-space()="Old XP"]`),
			chromedp.WaitVisible(chromedp.CSS("table.vm-command-log")),
		)
		log := get(t, ctx, chromedp.Text(chromedp.CSS("table.vm-command-log tbody")))
		apptest.MustContain(t, log, "Delete")
		apptest.MustContain(t, log, "Done")
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS(".vm-explain"))), "Gone")

		// The audit log has every step.
		run(t, ctx, chromedp.Navigate(node.URL+"/accounts/"+acct+"/audit"), chromedp.WaitVisible(chromedp.CSS("tbody")))
		audit := strings.Join(get(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('tbody .audit-action')].map(e => e.title)`)), " ")
		for _, a := range []string{"device.activated", "fleet.command_queued", "fleet.command_delivered", "fleet.command_done"} {
			apptest.MustContain(t, audit, a)
		}
		apptest.MustContain(t, get(t, ctx, chromedp.Text(chromedp.CSS("tbody"))), "Old XP")
	})
}
