package clientapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/fleet"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// fleetEnv is a client API with the fleet check-in mounted, one activated
// simulated Mac with VMs, and its account's admin.
type fleetEnv struct {
	*env
	fleet *fleet.Service
	c     *agent.Client
	st    *agent.State
	key   string
}

func newFleetEnv(t testing.TB, db *store.DB) *fleetEnv {
	t.Helper()
	e := newEnv(t, db, ratelimit.Limit{Max: 1000, Window: time.Minute})
	fs := fleet.New(db, fleet.Config{})
	fs.Now = e.clock.now
	h := New(e.svc, Config{ActivationLimit: ratelimit.Limit{}})
	h.MountFleet(fs)
	e.srv.Config.Handler = h
	_, key := issue(t, e.svc, e.caller, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 20})
	fe := &fleetEnv{env: e, fleet: fs, c: &agent.Client{BaseURL: e.srv.URL, HTTP: e.http}, key: key}
	fe.st = fe.activate(t, 3)
	return fe
}

// activate activates a new simulated Mac with n VMs.
func (e *fleetEnv) activate(t testing.TB, n int) *agent.State {
	t.Helper()
	st := &agent.State{Device: agent.NewDevice(), Mac: agent.NewMac()}
	act, err := e.c.Activate(context.Background(), e.key, "", st.Device)
	if err != nil {
		t.Fatal(err)
	}
	st.Apply(act, time.Now())
	for i := 0; i < n; i++ {
		st.Mac.VMs = append(st.Mac.VMs, agent.NewVM(fmt.Sprintf("VM %d", i+1), ""))
	}
	return st
}

func (e *fleetEnv) sync(t testing.TB, st *agent.State, trigger string) *agent.CheckInOutcome {
	t.Helper()
	out, err := st.SyncCheckIn(context.Background(), e.c, trigger, time.Now, nil)
	if err != nil {
		t.Fatalf("check-in %s: %v", trigger, err)
	}
	return out
}

func (e *fleetEnv) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e *fleetEnv) vmID(t testing.TB, st *agent.State, vmUUID string) string {
	t.Helper()
	var id string
	if err := e.db.QueryRow(context.Background(), `SELECT id FROM fleet_vms WHERE installation_id = ? AND vm_uuid = ?`, st.ActivationID, vmUUID).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return id
}

func TestCheckInReportsCommandsAndUnchanged(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		out := e.sync(t, e.st, agent.TriggerLaunch)
		if a := out.Answers[0]; a.Status != "ok" || a.Report != "applied" || len(a.Sections) == 0 || a.NextCheckinAfter <= 0 {
			t.Fatalf("first check-in %+v", a)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM fleet_vms WHERE installation_id = ? AND gone_at IS NULL`, e.st.ActivationID); n != 3 {
			t.Fatalf("%d VMs stored", n)
		}
		var name, state, cpu, computer, dstate string
		if err := db.QueryRow(ctx, `SELECT name, state, cpu, computer_name, desktop_state FROM fleet_vms WHERE installation_id = ? AND vm_uuid = ?`,
			e.st.ActivationID, e.st.Mac.VMs[0].ID).Scan(&name, &state, &cpu, &computer, &dstate); err != nil {
			t.Fatal(err)
		}
		if name != "VM 1" || state != "stopped" || cpu != e.st.Mac.CPU || computer != e.st.Device.ComputerName || dstate != "activated_key" {
			t.Fatalf("row %s %s %s %s %s", name, state, cpu, computer, dstate)
		}
		// Nothing changed: the cheap answer, no sections.
		out = e.sync(t, e.st, agent.TriggerDaily)
		if a := out.Answers[0]; a.Status != "unchanged" || len(a.Sections) != 0 || a.NextCheckinAfter < int64((18*time.Hour).Seconds()) {
			t.Fatalf("unchanged check-in %+v", a)
		}
		if e.fleet.PendingLastSeen() != 1 {
			t.Fatalf("last seen not buffered")
		}
		if err := e.fleet.Flush(ctx); err != nil || e.fleet.PendingLastSeen() != 0 {
			t.Fatal(err)
		}
		// A state change is a changed report.
		if err := e.st.Mac.SetState(e.st.Mac.VMs[1].Name, "running", time.Now()); err != nil {
			t.Fatal(err)
		}
		out = e.sync(t, e.st, agent.TriggerVMStateChanged)
		if a := out.Answers[0]; a.Report != "applied" {
			t.Fatalf("state change %+v", a)
		}
		// The admin deletes VM 3: delivered at the next check-in, executed
		// once, acknowledged, the VM gone, every step audited.
		target := e.st.Mac.VMs[2]
		vmID := e.vmID(t, e.st, target.ID)
		cmds, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandDelete, []string{vmID})
		if err != nil || len(cmds) != 1 || cmds[0].State != fleet.CommandPending {
			t.Fatalf("enqueue %+v %v", cmds, err)
		}
		// Enqueuing the same again returns the open command.
		again, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandDelete, []string{vmID})
		if err != nil || again[0].ID != cmds[0].ID {
			t.Fatalf("enqueue again %+v %v", again, err)
		}
		var lastState string
		_ = db.QueryRow(ctx, `SELECT last_command_state FROM fleet_vms WHERE id = ?`, vmID).Scan(&lastState)
		if fleet.CommandLabel(fleet.CommandDelete, lastState) != "Pending delete" {
			t.Fatalf("last command %q", lastState)
		}
		out = e.sync(t, e.st, agent.TriggerDaily)
		if len(out.Answers) != 2 || len(out.Answers[0].Commands) != 1 || out.Answers[0].Commands[0].VMID != target.ID ||
			out.Answers[1].Report != "applied" || len(out.Executed) != 1 || out.Executed[0].Result != "done" {
			t.Fatalf("command round %+v", out)
		}
		if len(e.st.Mac.VMs) != 2 || e.st.Mac.Executions != 1 {
			t.Fatalf("agent VMs %d executions %d", len(e.st.Mac.VMs), e.st.Mac.Executions)
		}
		c, err := e.fleet.CommandByID(ctx, e.caller, cmds[0].ID)
		if err != nil || c.State != fleet.CommandDone || c.Deliveries != 1 {
			t.Fatalf("command %+v %v", c, err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM fleet_vms WHERE id = ? AND gone_at IS NOT NULL AND last_command_state = 'done'`, vmID); n != 1 {
			t.Fatal("deleted VM not gone/done")
		}
		for _, action := range []string{"fleet.command_queued", "fleet.command_delivered", "fleet.command_done"} {
			if n := e.count(t, `SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = ? AND target_id = ?`, e.caller.AccountID, action, vmID); n != 1 {
				t.Fatalf("audit %s: %d", action, n)
			}
		}
		// A repeated acknowledgement changes nothing.
		req := &agent.CheckInRequest{Seq: e.st.Mac.Seq + 1, Trigger: agent.TriggerCommandResult, Known: e.st.Mac.Known,
			CommandResults: []agent.CommandResult{{ID: cmds[0].ID, Result: "failed", Reason: "late"}}}
		if _, err := e.c.CheckIn(ctx, e.st.Credential, req); err != nil {
			t.Fatal(err)
		}
		e.st.Mac.Seq++
		if c, _ := e.fleet.CommandByID(ctx, e.caller, cmds[0].ID); c.State != fleet.CommandDone {
			t.Fatalf("repeated ack changed the command: %+v", c)
		}
		// Settings bumped by the portal: the next light check-in gets a full answer.
		if err := fleet.BumpSettings(ctx, db, e.caller.AccountID, time.Now()); err != nil {
			t.Fatal(err)
		}
		out = e.sync(t, e.st, agent.TriggerNetworkUp)
		if a := out.Answers[0]; a.Status != "ok" || a.Report != "not_sent" || len(a.Sections) == 0 {
			t.Fatalf("after settings change %+v", a)
		}
		if a := e.sync(t, e.st, agent.TriggerNetworkUp).Answers[0]; a.Status != "unchanged" {
			t.Fatalf("then unchanged: %+v", a)
		}
	})
}

func TestCheckInOrderAndDuplicates(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		old := e.st.Report()
		e.st.Mac.Seq = 10
		send := func(seq int64, rep *agent.FleetReport) (*agent.CheckInResponse, error) {
			return e.c.CheckIn(ctx, e.st.Credential, &agent.CheckInRequest{Seq: seq, Trigger: agent.TriggerLaunch, Report: rep})
		}
		// The newer report (one VM renamed) arrives first.
		newer := e.st.Report()
		newer.VMs = append([]agent.VM(nil), newer.VMs...)
		newer.VMs[0].Name = "Renamed"
		if a, err := send(11, newer); err != nil || a.Report != "applied" {
			t.Fatalf("newer %+v %v", a, err)
		}
		if a, err := send(10, old); err != nil || a.Report != "stale" {
			t.Fatalf("older %+v %v", a, err)
		}
		if a, err := send(11, newer); err != nil || a.Report != "duplicate" {
			t.Fatalf("duplicate %+v %v", a, err)
		}
		_, err := send(11, old)
		wantAPIError(t, err, http.StatusConflict, fleet.CodeSequenceReused)
		var name string
		var seq int64
		if err := db.QueryRow(ctx, `SELECT v.name, h.report_seq FROM fleet_vms v JOIN fleet_hosts h ON h.installation_id = v.installation_id
			WHERE v.vm_uuid = ?`, newer.VMs[0].ID).Scan(&name, &seq); err != nil || name != "Renamed" || seq != 11 {
			t.Fatalf("stored %q %d %v", name, seq, err)
		}
		// A full report without VM 2 marks it gone (kept), and fails its
		// open command with a reason.
		vm2 := e.vmID(t, e.st, newer.VMs[1].ID)
		cmds, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandRestart, []string{vm2})
		if err != nil {
			t.Fatal(err)
		}
		less := *newer
		less.VMs = []agent.VM{newer.VMs[0], newer.VMs[2]}
		if a, err := send(12, &less); err != nil || a.Report != "applied" || len(a.Commands) != 0 {
			t.Fatalf("report without VM 2 %+v %v", a, err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM fleet_vms WHERE id = ? AND gone_at IS NOT NULL`, vm2); n != 1 {
			t.Fatal("VM 2 not marked gone")
		}
		c, _ := e.fleet.CommandByID(ctx, e.caller, cmds[0].ID)
		if c.State != fleet.CommandFailed || c.Reason == "" {
			t.Fatalf("command of a gone VM %+v", c)
		}
		if n := e.count(t, `SELECT open_commands FROM fleet_hosts WHERE installation_id = ?`, e.st.ActivationID); n != 0 {
			t.Fatalf("open commands %d", n)
		}
		// Reported again: back, not gone.
		if a, err := send(13, newer); err != nil || a.Report != "applied" {
			t.Fatalf("back %+v %v", a, err)
		}
		if n := e.count(t, `SELECT COUNT(*) FROM fleet_vms WHERE id = ? AND gone_at IS NULL`, vm2); n != 1 {
			t.Fatal("VM 2 not back")
		}
		// Commands for a gone VM are refused.
		_, _ = send(14, &less)
		_, err = e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandLock, []string{vm2})
		if fe, ok := fleet.IsError(err); !ok || fe.Code != fleet.CodeVMGone {
			t.Fatalf("enqueue for a gone VM: %v", err)
		}
	})
}

func TestCheckInCancel(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		e.sync(t, e.st, agent.TriggerLaunch)
		vms := []string{e.vmID(t, e.st, e.st.Mac.VMs[0].ID), e.vmID(t, e.st, e.st.Mac.VMs[1].ID)}
		cmds, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandLock, vms)
		if err != nil || len(cmds) != 2 || cmds[0].Seq == cmds[1].Seq {
			t.Fatalf("enqueue selection %+v %v", cmds, err)
		}
		if err := e.fleet.Cancel(ctx, e.caller, testActor, []string{cmds[0].ID}); err != nil {
			t.Fatal(err)
		}
		if err := e.fleet.Cancel(ctx, e.caller, testActor, []string{cmds[0].ID}); err == nil {
			t.Fatal("cancelled twice")
		}
		out := e.sync(t, e.st, agent.TriggerDaily)
		if len(out.Answers[0].Commands) != 1 || out.Answers[0].Commands[0].ID != cmds[1].ID {
			t.Fatalf("delivered %+v", out.Answers[0].Commands)
		}
		// Delivered (and done): no longer cancellable.
		err = e.fleet.Cancel(ctx, e.caller, testActor, []string{cmds[1].ID})
		if fe, ok := fleet.IsError(err); !ok || fe.Code != fleet.CodeCommandNotOpen {
			t.Fatalf("cancel delivered: %v", err)
		}
		// Another account sees nothing.
		other := newAccount(t, db)
		if _, err := e.fleet.Enqueue(ctx, other, testActor, fleet.CommandDelete, vms[:1]); err == nil {
			t.Fatal("another account queued a command")
		}
		if _, err := e.fleet.CommandByID(ctx, other, cmds[1].ID); err == nil {
			t.Fatal("another account read a command")
		}
		if n := e.count(t, `SELECT COUNT(*) FROM audit_log WHERE action = 'fleet.command_cancelled' AND account_id = ?`, e.caller.AccountID); n != 1 {
			t.Fatalf("cancel audited %d times", n)
		}
	})
}

// Every bad check-in is a 4xx with a machine-readable reason, and nothing
// is written.
func TestCheckInBadInput(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		e.sync(t, e.st, agent.TriggerLaunch)
		host := `{"computer_name":"Mac","hardware_uuid":"U-1","cpu":"intel","desktop_version":"26.1.0","desktop_state":"activated_key"}`
		vm := func(id string) string { return `{"id":"` + id + `","state":"running"}` }
		many := make([]string, 201)
		for i := range many {
			many[i] = vm(fmt.Sprint("vm-", i))
		}
		big := `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[` + vm(strings.Repeat("x", 128)) + strings.Repeat(","+vm("y"), 1) + `]},"pad":"` + strings.Repeat("a", MaxCheckInBody) + `"}`
		cases := []struct {
			name, body string
			status     int
			code       string
		}{
			{"duplicate VM ids", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[` + vm("a") + `,` + vm("a") + `]}}`, 400, fleet.CodeDuplicateVM},
			{"unknown field", `{"seq":50,"trigger":"launch","colour":"red","report":{"host":` + host + `,"vms":[]}}`, 400, "invalid_request"},
			{"unknown VM field", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[{"id":"a","state":"running","size":1}]}}`, 400, "invalid_request"},
			{"wrong type", `{"seq":"50","trigger":"launch","report":{"host":` + host + `,"vms":[]}}`, 400, "invalid_request"},
			{"wrong VM type", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":{"id":"a"}}}`, 400, "invalid_request"},
			{"too many VMs", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[` + strings.Join(many, ",") + `]}}`, 400, fleet.CodeTooManyVMs},
			{"oversized", big, 413, "body_too_large"},
			{"bad state", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[{"id":"a","state":"flying"}]}}`, 400, fleet.CodeInvalidReport},
			{"bad trigger", `{"seq":50,"trigger":"whim","report":{"host":` + host + `,"vms":[]}}`, 400, fleet.CodeInvalidReport},
			{"zero seq", `{"seq":0,"trigger":"launch","report":{"host":` + host + `,"vms":[]}}`, 400, fleet.CodeInvalidReport},
			{"no host", `{"seq":50,"trigger":"launch","report":{"vms":[]}}`, 400, fleet.CodeInvalidReport},
			{"no vms", `{"seq":50,"trigger":"launch","report":{"host":` + host + `}}`, 400, fleet.CodeInvalidReport},
			{"nothing", `{"seq":50,"trigger":"launch"}`, 400, fleet.CodeReportRequired},
			{"bad cpu", `{"seq":50,"trigger":"launch","report":{"host":` + strings.Replace(host, "intel", "z80", 1) + `,"vms":[]}}`, 400, fleet.CodeInvalidReport},
			{"control char", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[{"id":"a\u0007","state":"running"}]}}`, 400, ""},
			{"bad date", `{"seq":50,"trigger":"launch","report":{"host":` + host + `,"vms":[{"id":"a","state":"running","last_used_at":"yesterday"}]}}`, 400, ""},
			{"unknown command", `{"seq":50,"trigger":"command_result","report":{"host":` + host + `,"vms":[]},"command_results":[{"id":"nope","result":"done"}]}`, 400, fleet.CodeUnknownCommand},
			{"failed without reason", `{"seq":50,"trigger":"command_result","known":{},"command_results":[{"id":"x","result":"failed"}]}`, 400, fleet.CodeInvalidReport},
			{"duplicate key", `{"seq":50,"seq":51,"trigger":"launch","known":{}}`, 400, "invalid_request"},
			{"not json", `{"seq":`, 400, "invalid_request"},
		}
		before := snapshot(t, e)
		for _, c := range cases {
			status, body := e.raw(t, "POST", Prefix+"checkin", "application/json", c.body, "Authorization", "Bearer "+e.st.Credential, "X-Test-Malformed", "1")
			if status != c.status || (c.code != "" && !strings.Contains(body, `"code":"`+c.code+`"`)) || !strings.Contains(body, `"code":"`) {
				t.Errorf("%s: %d %s", c.name, status, body)
			}
		}
		if after := snapshot(t, e); after != before {
			t.Fatalf("bad input wrote something:\n%s\n%s", before, after)
		}
		status, body := e.raw(t, "POST", Prefix+"checkin", "application/json", `{"seq":1,"trigger":"launch","known":{}}`, "Authorization", "Bearer nope-nope-nope-nope-nope-nope")
		if status != 401 || !strings.Contains(body, "unauthorized") {
			t.Fatalf("bad credential %d %s", status, body)
		}
	})
}

func snapshot(t testing.TB, e *fleetEnv) string {
	t.Helper()
	var out []string
	for _, q := range []string{`SELECT COUNT(*) FROM fleet_vms`, `SELECT COUNT(*) FROM fleet_commands`, `SELECT COUNT(*) FROM audit_log`,
		`SELECT COALESCE(SUM(report_seq), 0) FROM fleet_hosts`, `SELECT COUNT(*) FROM fleet_hosts`} {
		out = append(out, fmt.Sprint(e.count(t, q)))
	}
	var hash string
	_ = e.db.QueryRow(context.Background(), `SELECT report_hash || answer_hash FROM fleet_hosts WHERE installation_id = ?`, e.st.ActivationID).Scan(&hash)
	return strings.Join(out, ",") + "," + hash
}

// Concurrent check-ins of one installation through two nodes (two
// handlers, two services, one database) never both receive a command; it
// is delivered again only after its lease, and executed once.
func TestCommandNeverDeliveredTwiceConcurrently(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		e.sync(t, e.st, agent.TriggerLaunch)
		// The second node.
		fs2 := fleet.New(db, fleet.Config{})
		fs2.Now = e.clock.now
		h2 := New(e.svc, Config{})
		h2.MountFleet(fs2)
		srv2 := httptest.NewServer(h2)
		defer srv2.Close()
		nodes := []*agent.Client{e.c, {BaseURL: srv2.URL, HTTP: &http.Client{Transport: newValidator(t, srv2.URL, nil), Timeout: time.Minute}}}
		vmID := e.vmID(t, e.st, e.st.Mac.VMs[0].ID)
		cmds, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandRestart, []string{vmID})
		if err != nil {
			t.Fatal(err)
		}
		deliveries := func() int {
			var mu sync.Mutex
			got := 0
			var wg sync.WaitGroup
			for i := 0; i < 16; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					resp, err := nodes[i%2].CheckIn(ctx, e.st.Credential, &agent.CheckInRequest{Seq: 1, Trigger: agent.TriggerNetworkUp, Known: e.st.Mac.Known})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					got += len(resp.Commands)
					mu.Unlock()
				}(i)
			}
			wg.Wait()
			return got
		}
		if n := deliveries(); n != 1 {
			t.Fatalf("delivered %d times to concurrent check-ins", n)
		}
		if n := deliveries(); n != 0 {
			t.Fatalf("delivered again within the lease: %d", n)
		}
		e.clock.add(fleet.DefaultConfig().CommandLease + time.Second)
		if n := deliveries(); n != 1 {
			t.Fatalf("after the lease: delivered %d times", n)
		}
		c, _ := e.fleet.CommandByID(ctx, e.caller, cmds[0].ID)
		if c.Deliveries != 2 || c.State != fleet.CommandDelivered {
			t.Fatalf("command %+v", c)
		}
		// The agent, given it twice (say, after a crash before the ack),
		// executes it once and acknowledges both.
		e.clock.add(fleet.DefaultConfig().CommandLease + time.Second)
		out := e.sync(t, e.st, agent.TriggerDaily)
		if e.st.Mac.Executions != 1 || len(out.Executed) != 1 {
			t.Fatalf("executions %d", e.st.Mac.Executions)
		}
		if c, _ := e.fleet.CommandByID(ctx, e.caller, cmds[0].ID); c.State != fleet.CommandDone {
			t.Fatalf("command %+v", c)
		}
	})
}

// Every trigger of spec 07 is accepted; buffered last-seen times reach the
// host and its present VMs when flushed, and never move backwards; a
// deactivated installation is refused like a license check.
func TestCheckInTriggersLastSeenAndRefusal(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		e.sync(t, e.st, agent.TriggerLaunch)
		for _, trig := range append(agent.Triggers, agent.TriggerCommandResult) {
			if a := e.sync(t, e.st, trig).Answers[0]; a.Status != "unchanged" {
				t.Fatalf("trigger %s: %+v", trig, a)
			}
		}
		seen := func() (host, vm int64) {
			// The flush writes only fleet_seen; the VM rows keep the time
			// they were last written.
			if err := db.QueryRow(ctx, `SELECT s.last_seen_at, MAX(v.last_seen_at) FROM fleet_seen s JOIN fleet_vms v ON v.installation_id = s.installation_id
				WHERE s.installation_id = ? GROUP BY s.last_seen_at`, e.st.ActivationID).Scan(&host, &vm); err != nil {
				t.Fatal(err)
			}
			return
		}
		if err := e.fleet.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		h0, _ := seen()
		e.clock.add(time.Hour)
		e.sync(t, e.st, agent.TriggerDaily)
		if h, _ := seen(); h != h0 {
			t.Fatal("an unchanged check-in wrote last_seen_at before the flush")
		}
		if err := e.fleet.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		h1, v1 := seen()
		if h1 != store.Millis(e.clock.now()) || v1 >= h1 {
			t.Fatalf("after flush: seen %d, vm rows %d, want %d and the VM rows untouched", h1, v1, store.Millis(e.clock.now()))
		}
		// An older time flushed later does not move it back.
		e.clock.add(-2 * time.Hour)
		e.sync(t, e.st, agent.TriggerDaily)
		if err := e.fleet.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		if h, v := seen(); h != h1 || v != v1 {
			t.Fatalf("last seen moved back: %d %d", h, v)
		}
		if err := e.svc.DeactivateDevice(ctx, e.st.Credential); err != nil {
			t.Fatal(err)
		}
		_, err := e.st.SyncCheckIn(ctx, e.c, agent.TriggerLaunch, time.Now, nil)
		wantAPIError(t, err, http.StatusForbidden, license.CodeDeactivated)
		// Commands for its VMs are refused: they would never be picked up.
		_, err = e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandDelete, []string{e.vmID(t, e.st, e.st.Mac.VMs[0].ID)})
		if fe, ok := fleet.IsError(err); !ok || fe.Code != fleet.CodeDesktopDeactivated {
			t.Fatalf("enqueue for a deactivated Desktop: %v", err)
		}
	})
}

// A license admin manages the VMs of the keys they administer only.
func TestCommandsLicenseAdminScope(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		var subID string
		if err := db.QueryRow(ctx, `SELECT id FROM subscriptions WHERE account_id = ?`, e.caller.AccountID).Scan(&subID); err != nil {
			t.Fatal(err)
		}
		k, designKey, err := e.svc.CreateSublicense(ctx, e.caller, subID, license.KeyInput{Name: "Design", Kind: "reserved", Seats: 2}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		la := ids.New()
		if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`, la, la+"@example.com", la+"@example.com", store.Now()); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES (?, ?, 'license_admin', 'active', ?)`, e.caller.AccountID, la, store.Now()); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.AssignKeyAdmin(ctx, e.caller, k.ID, la, testActor); err != nil {
			t.Fatal(err)
		}
		laCaller := license.Caller{PersonID: la, AccountID: e.caller.AccountID, Role: license.RoleLicenseAdmin}
		e.sync(t, e.st, agent.TriggerLaunch) // on the first key: not theirs
		e.key = designKey
		design := e.activate(t, 1)
		e.sync(t, design, agent.TriggerLaunch)
		theirs := e.vmID(t, design, design.Mac.VMs[0].ID)
		notTheirs := e.vmID(t, e.st, e.st.Mac.VMs[0].ID)
		if _, err := e.fleet.Enqueue(ctx, laCaller, testActor, fleet.CommandRestart, []string{theirs}); err != nil {
			t.Fatalf("license admin on their key: %v", err)
		}
		if _, err := e.fleet.Enqueue(ctx, laCaller, testActor, fleet.CommandRestart, []string{notTheirs}); err == nil {
			t.Fatal("license admin queued a command on another key's VM")
		}
		if _, err := e.fleet.Enqueue(ctx, license.Caller{PersonID: la, AccountID: e.caller.AccountID, Role: "member"}, testActor, fleet.CommandRestart, []string{theirs}); err != fleet.ErrForbidden {
			t.Fatalf("member: %v", err)
		}
	})
}

// What the portal reads from the inventory.
func TestInventoryDataForThePortal(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		e.st.Mac.VMs[0].Source, e.st.Mac.VMs[0].GoldenImageID = "golden_image", "img-1"
		e.st.Mac.VMs[1].Source, e.st.Mac.VMs[1].GoldenImageID = "golden_image", "img-1"
		e.sync(t, e.st, agent.TriggerLaunch)
		counts, err := fleet.CountVMsByImage(ctx, db, e.caller.AccountID, []string{"img-1", "img-2"})
		if err != nil || counts["img-1"] != 2 || counts["img-2"] != 0 {
			t.Fatalf("counts %v %v", counts, err)
		}
		var keyID string
		if err := db.QueryRow(ctx, `SELECT key_id FROM fleet_hosts WHERE installation_id = ?`, e.st.ActivationID).Scan(&keyID); err != nil {
			t.Fatal(err)
		}
		hosts, err := e.fleet.HostsForKeys(ctx, e.caller.AccountID, []string{keyID})
		if err != nil || len(hosts) != 1 || len(hosts[0].VMs) != 3 || hosts[0].CPU != e.st.Mac.CPU {
			t.Fatalf("hosts %+v %v", hosts, err)
		}
		if other, _ := e.fleet.HostsForKeys(ctx, newAccount(t, db).AccountID, []string{keyID}); len(other) != 0 {
			t.Fatal("another account saw the hosts")
		}
	})
}

// The fleet load generator executes and acknowledges the commands an admin
// queues while it runs, each once.
func TestFleetLoadAcknowledgesCommands(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newFleetEnv(t, db)
		ctx := context.Background()
		f, err := agent.SetupFleet(ctx, e.c, e.key, 6, 3, 4, nil)
		if err != nil {
			t.Fatal(err)
		}
		var vmIDs []string
		for _, h := range f.Hosts {
			vmIDs = append(vmIDs, e.vmID(t, h, h.Mac.VMs[0].ID))
		}
		cmds, err := e.fleet.Enqueue(ctx, e.caller, testActor, fleet.CommandRestart, vmIDs)
		if err != nil {
			t.Fatal(err)
		}
		executed, acked := 0, 0
		for round := 0; round < 100; round++ {
			res := f.Run(ctx, agent.FleetLoadOptions{N: 24, Concurrency: 3, Changed: 0.2})
			if res.Errors() > 0 {
				t.Fatalf("load: %s", res.Summary())
			}
			executed += res.Executed
			acked += res.Acked
			if n := e.count(t, `SELECT COUNT(*) FROM fleet_commands WHERE account_id = ? AND state = 'done'`, e.caller.AccountID); n == len(cmds) {
				break
			}
		}
		if n := e.count(t, `SELECT COUNT(*) FROM fleet_commands WHERE account_id = ? AND state = 'done'`, e.caller.AccountID); n != len(cmds) {
			t.Fatalf("%d of %d commands done", n, len(cmds))
		}
		if executed != len(cmds) || acked < len(cmds) {
			t.Fatalf("executed %d, acknowledged %d, want %d", executed, acked, len(cmds))
		}
	})
}
