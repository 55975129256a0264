package fleet_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/fleet"
	"gatehouse/internal/license"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	cmd.Dir = testenv.RepoRoot()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gatehouse: %v\n%s", err, out)
	}
	return bin
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The fleet journey through the built binary and real HTTP: an activated
// agent creates 3 VMs (each creation checks in), they are stored with the
// inventory's columns; the admin queues Delete for one; the agent's next
// check-in executes it once and acknowledges it; the VM is gone, the
// command done, and the audit log has every step. Then a short
// `gatehouse loadgen checkins` run against the same node.
func TestFleetJourneyThroughTheBinary(t *testing.T) {
	bin := buildBinary(t)
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		// /metrics lives on its own listener (--metrics-addr), never the public one.
		metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) { c.MetricsAddr = metricsAddr }})
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("owner@fleet.example", "correct horse battery staple 42", "Owner")
		acct := admin.CreateAccount("Fleet Ltd")
		owner, err := node.App.Accounts.PersonByEmail(ctx, "owner@fleet.example")
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := node.App.License.Issue(ctx, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 50,
			Term: license.Term{Years: 1}}, license.OperatorActor("test vendor"))
		if err != nil {
			t.Fatal(err)
		}
		admin.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key}, "display_name": {"Fleet"}}).Expect(t, http.StatusSeeOther)
		caller := license.Caller{PersonID: owner.ID, AccountID: acct, Role: license.RoleAdmin}
		actor := audit.Actor{Type: audit.ActorPerson, ID: owner.ID, Label: owner.Email}

		dir := t.TempDir()
		out := run(t, bin, "agent", "activate", "--server", node.URL, "--dir", dir, "--key", key)
		if !strings.Contains(out, "checked in: 0 VM(s) reported") {
			t.Fatalf("activate did not check in:\n%s", out)
		}
		for _, vm := range []string{"Win 11 Dev", "Ubuntu Build", "Old XP"} {
			out = run(t, bin, "agent", "vm", "create", "--dir", dir, "--name", vm, "--os", "Windows 11")
			if !strings.Contains(out, "check-in (vm_created): ok, report applied") {
				t.Fatalf("vm create:\n%s", out)
			}
		}
		out = run(t, bin, "agent", "vm", "start", "Win 11 Dev", "--dir", dir)
		if !strings.Contains(out, "check-in (vm_state_changed): ok, report applied") {
			t.Fatalf("vm start:\n%s", out)
		}
		var instID string
		if err := node.App.DB.QueryRow(ctx, `SELECT installation_id FROM fleet_hosts WHERE account_id = ?`, acct).Scan(&instID); err != nil {
			t.Fatal(err)
		}
		type row struct{ id, name, state, guest, computer, dstate, cpu, version, user string }
		rows := map[string]row{}
		q, err := node.App.DB.Query(ctx, `SELECT id, name, state, guest_os, computer_name, desktop_state, cpu, desktop_version, macos_user
			FROM fleet_vms WHERE installation_id = ? AND gone_at IS NULL`, instID)
		if err != nil {
			t.Fatal(err)
		}
		for q.Next() {
			var r row
			if err := q.Scan(&r.id, &r.name, &r.state, &r.guest, &r.computer, &r.dstate, &r.cpu, &r.version, &r.user); err != nil {
				t.Fatal(err)
			}
			rows[r.name] = r
		}
		q.Close()
		if len(rows) != 3 || rows["Win 11 Dev"].state != "running" || rows["Old XP"].state != "stopped" || rows["Old XP"].guest != "Windows 11" ||
			rows["Old XP"].dstate != "activated_key" || rows["Old XP"].computer == "" || rows["Old XP"].version == "" ||
			(rows["Old XP"].cpu != "intel" && rows["Old XP"].cpu != "apple_silicon") {
			t.Fatalf("inventory rows %+v", rows)
		}

		// The admin deletes "Old XP".
		target := rows["Old XP"].id
		cmds, err := node.App.Fleet.Enqueue(ctx, caller, actor, fleet.CommandDelete, []string{target})
		if err != nil {
			t.Fatal(err)
		}
		out = run(t, bin, "agent", "checkin", "--trigger", "daily", "--dir", dir)
		if !strings.Contains(out, "command "+cmds[0].ID+": delete") || !strings.Contains(out, "executed "+cmds[0].ID+": done") ||
			!strings.Contains(out, "check-in (follow-up): ok, report applied") {
			t.Fatalf("check-in with the command:\n%s", out)
		}
		if list := run(t, bin, "agent", "vm", "list", "--dir", dir); strings.Contains(list, "Old XP") || !strings.Contains(list, "Ubuntu Build") {
			t.Fatalf("vm list after delete:\n%s", list)
		}
		c, err := node.App.Fleet.CommandByID(ctx, caller, cmds[0].ID)
		if err != nil || c.State != fleet.CommandDone || c.Deliveries != 1 {
			t.Fatalf("command %+v %v", c, err)
		}
		var gone int
		var lastState string
		if err := node.App.DB.QueryRow(ctx, `SELECT COUNT(*), MAX(last_command_state) FROM fleet_vms WHERE id = ? AND gone_at IS NOT NULL`, target).Scan(&gone, &lastState); err != nil || gone != 1 ||
			fleet.CommandLabel(fleet.CommandDelete, lastState) != "Done" {
			t.Fatalf("deleted VM: gone %d, last command %q, %v", gone, lastState, err)
		}
		for _, action := range []string{"device.activated", "fleet.command_queued", "fleet.command_delivered", "fleet.command_done"} {
			var n int
			if err := node.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ?`, acct, action).Scan(&n); err != nil || n != 1 {
				t.Fatalf("audit %s: %d %v", action, n, err)
			}
		}
		// Nothing new: the cheap answer.
		if out = run(t, bin, "agent", "checkin", "--trigger", "network_up", "--dir", dir); !strings.Contains(out, "check-in (network_up): unchanged") {
			t.Fatalf("unchanged check-in:\n%s", out)
		}

		// The node counts its check-ins for /metrics.
		// The metrics listener starts with the server: wait until it answers.
		var metrics []byte
		for deadline := time.Now().Add(30 * time.Second); ; {
			resp, err := http.Get("http://" + metricsAddr + "/metrics")
			if err == nil {
				metrics, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics listener %s does not answer: %v", metricsAddr, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		if !regexp.MustCompile(`(?m)^gatehouse_fleet_checkins_total\{outcome="unchanged"\} [1-9]`).Match(metrics) ||
			!regexp.MustCompile(`(?m)^gatehouse_fleet_checkins_total\{outcome="applied"\} [1-9]`).Match(metrics) {
			t.Fatalf("metrics without check-in counters:\n%s", metrics)
		}

		// The user's own changes: each checks in with its trigger.
		for _, c := range []struct{ args []string }{
			{[]string{"suspend", "Win 11 Dev"}}, {[]string{"stop", "Win 11 Dev"}},
			{[]string{"rename", "Ubuntu Build", "--name", "Ubuntu CI"}}, {[]string{"delete", "Ubuntu CI"}},
		} {
			out = run(t, bin, append(append([]string{"agent", "vm"}, c.args...), "--dir", dir)...)
			if !strings.Contains(out, "ok, report applied") {
				t.Fatalf("vm %v:\n%s", c.args, out)
			}
		}
		var present, goneNow int
		if err := node.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM fleet_vms WHERE installation_id = ? AND gone_at IS NULL AND state = 'stopped'`, instID).Scan(&present); err != nil || present != 1 {
			t.Fatalf("present stopped VMs %d %v", present, err)
		}
		if err := node.App.DB.QueryRow(ctx, `SELECT COUNT(*) FROM fleet_vms WHERE installation_id = ? AND gone_at IS NOT NULL AND name = 'Ubuntu CI'`, instID).Scan(&goneNow); err != nil || goneNow != 1 {
			t.Fatalf("VM deleted by the user not gone: %d %v", goneNow, err)
		}
		if out, err := exec.Command(bin, "agent", "checkin", "--trigger", "whenever", "--dir", dir).CombinedOutput(); err == nil {
			t.Fatalf("unknown trigger accepted:\n%s", out)
		}

		// The load generator drives a small fleet against the node.
		out = run(t, bin, "loadgen", "checkins", "--server", node.URL, "--key", key, "--hosts", "8", "--vms-per-host", "5",
			"--duration", "1s", "--concurrency", "4", "--quiet")
		if !regexp.MustCompile(`check-ins in [0-9.]+s: [0-9]+/s; latency p50 .*, p95 .*, p99 `).MatchString(out) || strings.Contains(out, "errors:") {
			t.Fatalf("loadgen:\n%s", out)
		}
	})
}
