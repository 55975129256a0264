package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// Check-in answer statuses and what happened to the report.
const (
	AnswerOK             = "ok"
	AnswerUnchanged      = "unchanged"
	AnswerReportRequired = "report_required"

	ReportApplied   = "applied"
	ReportDuplicate = "duplicate"
	ReportStale     = "stale"
	ReportNotSent   = "not_sent"
)

// Answer is what a check-in returns.
type Answer struct {
	Status string
	Report string
	// ReportHash is the server's hash of the newest report it holds from
	// the installation; AnswerHash the hash of Sections. The client sends
	// both back in "known".
	ReportHash string
	AnswerHash string
	// Sections is nil on "unchanged" and "report_required".
	Sections *Sections
	Commands []DeliveredCommand
	// NextCheckIn is when to come back (jittered).
	NextCheckIn time.Duration
}

// DeliveredCommand is a command handed to the client.
type DeliveredCommand struct {
	ID       string
	VMID     string // the client's VM ID
	Kind     string
	IssuedAt time.Time
}

// hot is what the one indexed read of a check-in finds.
type hot struct {
	id, status, method, deactivatedBy, keyID, accountID string
	hardwareUUID, computerName                          string
	edition, subStatus                                  string
	endsAt, purgedAt                                    store.Time
	hostExists                                          bool
	reportSeq                                           int64
	reportHash, answerHash                              string
	answerVersion                                       int64
	openCommands                                        int
	settingsVersion                                     int64
}

// hotQuery authenticates the installation and reads everything the
// "unchanged" decision needs, in one statement on primary keys and the
// credential index.
const hotQuery = `SELECT a.id, a.status, a.method, a.deactivated_by, a.key_id, a.account_id, a.hardware_uuid, a.computer_name,
	s.edition, s.status, s.ends_at, s.purged_at,
	h.installation_id IS NOT NULL, COALESCE(h.report_seq, 0), COALESCE(h.report_hash, ''), COALESCE(h.answer_hash, ''),
	COALESCE(h.answer_version, 0), COALESCE(h.open_commands, 0), COALESCE(f.settings_version, 1)
	FROM license_activations a JOIN subscriptions s ON s.id = a.subscription_id
	LEFT JOIN fleet_hosts h ON h.installation_id = a.id
	LEFT JOIN fleet_accounts f ON f.account_id = a.account_id
	WHERE a.credential_hash = ?`

func (s *Service) readHot(ctx context.Context, credential string) (*hot, error) {
	hash, refusal := license.CredentialHash(credential)
	if refusal != nil {
		return nil, refusal
	}
	var h hot
	err := s.DB.QueryRowPrepared(ctx, hotQuery, hash).Scan(&h.id, &h.status, &h.method, &h.deactivatedBy, &h.keyID, &h.accountID,
		&h.hardwareUUID, &h.computerName, &h.edition, &h.subStatus, &h.endsAt, &h.purgedAt,
		&h.hostExists, &h.reportSeq, &h.reportHash, &h.answerHash, &h.answerVersion, &h.openCommands, &h.settingsVersion)
	if err == sql.ErrNoRows {
		return nil, license.UnknownCredential()
	} else if err != nil {
		return nil, fmt.Errorf("check-in: look up installation: %w", err)
	}
	return &h, nil
}

// CheckIn handles one check-in of the installation whose device credential
// is credential. Refusals are *license.DeviceError (credential, license
// state) or *Error (bad input, sequence reuse, unknown command); nothing is
// written when it fails.
func (s *Service) CheckIn(ctx context.Context, credential string, in CheckIn) (*Answer, error) {
	ans, err := s.checkIn(ctx, credential, in)
	switch {
	case err == nil:
		s.countAnswer(ans)
	case isRefusal(err):
		s.stats.checkIns[outRefused].Add(1)
	default:
		s.stats.checkIns[outError].Add(1)
	}
	return ans, err
}

func isRefusal(err error) bool {
	var de *license.DeviceError
	_, ok := IsError(err)
	return ok || errors.As(err, &de)
}

func (s *Service) checkIn(ctx context.Context, credential string, in CheckIn) (*Answer, error) {
	if err := s.validate(&in); err != nil {
		return nil, err
	}
	h, err := s.readHot(ctx, credential)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if r := license.InstallationRefusal(h.status, h.method, h.deactivatedBy, h.subStatus, h.endsAt, h.purgedAt, now); r != nil {
		return nil, r
	}
	// The cheap path: nothing changed on either side.
	if in.Report == nil && len(in.Results) == 0 && h.hostExists && h.openCommands == 0 &&
		in.Known.ReportHash == h.reportHash && in.Known.AnswerHash == h.answerHash && h.answerVersion == h.settingsVersion && h.answerHash != "" {
		s.seen.note(h.id, now)
		return &Answer{Status: AnswerUnchanged, Report: ReportNotSent, ReportHash: h.reportHash, AnswerHash: h.answerHash,
			NextCheckIn: s.jittered(s.Config.Interval)}, nil
	}
	if in.Report == nil && !h.hostExists && len(in.Results) == 0 {
		return &Answer{Status: AnswerReportRequired, Report: ReportNotSent, NextCheckIn: 0}, nil
	}
	if in.Report == nil && in.Known != nil && h.hostExists && in.Known.ReportHash != h.reportHash && len(in.Results) == 0 {
		// The server's copy differs from what the client thinks it sent
		// (e.g. a report lost in a crash or a restore): ask for it again.
		return &Answer{Status: AnswerReportRequired, Report: ReportNotSent, ReportHash: h.reportHash, NextCheckIn: 0}, nil
	}
	s.prepare(ctx)
	var ans *Answer
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		ans, err = s.checkInTx(ctx, tx, h, &in, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	return ans, nil
}

// hostState is the installation's row, locked.
type hostState struct {
	reportSeq     int64
	reportHash    string
	answerHash    string
	answerVersion int64
	openCommands  int
	vmCount       int
	host          Host
}

// The statements every check-in transaction runs, prepared once
// (store.PrepareWriter) so that SQLite does not parse them each time.
const (
	qLockHost = `UPDATE fleet_hosts SET last_trigger = ? WHERE installation_id = ?
		RETURNING report_seq, report_hash, answer_hash, answer_version, open_commands, vm_count, computer_name, mac_serial,
		hardware_uuid, macos_user, cpu, macos_version, desktop_version, desktop_state`
	qHostReport = `UPDATE fleet_hosts SET computer_name = ?, mac_serial = ?, hardware_uuid = ?, macos_user = ?, cpu = ?,
		macos_version = ?, desktop_version = ?, desktop_state = ?, report_seq = ?, report_hash = ?, vm_count = ?, last_report_at = ?,
		answer_hash = ?, answer_version = ? WHERE installation_id = ?`
	qHostAnswer  = `UPDATE fleet_hosts SET answer_hash = ?, answer_version = ? WHERE installation_id = ?`
	qHostColumns = `UPDATE fleet_vms SET macos_user = ?, computer_name = ?, mac_serial = ?, cpu = ?, desktop_version = ?, desktop_state = ? WHERE installation_id = ?`
	qStoredVMs   = `SELECT id, vm_uuid, content_hash, gone_at IS NOT NULL FROM fleet_vms WHERE installation_id = ?`
	qInsertVM    = `INSERT INTO fleet_vms (id, account_id, installation_id, key_id, vm_uuid, name, state, guest_os, os_edition,
		os_build, vm_serial, source, golden_image_id, encryption, tools_version, last_used_at, macos_user, computer_name, mac_serial,
		cpu, desktop_version, desktop_state, content_hash, first_seen_at, last_report_at, last_seen_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateVM = `UPDATE fleet_vms SET name = ?, state = ?, guest_os = ?, os_edition = ?, os_build = ?, vm_serial = ?,
		source = ?, golden_image_id = ?, encryption = ?, tools_version = ?, last_used_at = ?, content_hash = ?, last_report_at = ?,
		last_seen_at = ?, gone_at = NULL WHERE id = ?`
	// A gone VM keeps when it was last reported: its installation's last
	// check-in before this one.
	qVMGone = `UPDATE fleet_vms SET gone_at = ?, last_seen_at = COALESCE((SELECT s.last_seen_at FROM fleet_seen s
		WHERE s.installation_id = fleet_vms.installation_id), last_seen_at) WHERE id = ?`
)

var hotStatements = []string{qLockHost, qHostReport, qHostAnswer, qHostColumns, qStoredVMs, qInsertVM, qUpdateVM, qVMGone}

// prepare prepares the check-in statements once; on failure check-ins run
// them unprepared and it is tried again later.
func (s *Service) prepare(ctx context.Context) {
	if s.prepared.Load() {
		return
	}
	if err := s.DB.PrepareWriter(ctx, hotStatements...); err != nil {
		s.Log.Warn("fleet: prepare check-in statements", "err", err)
		return
	}
	s.prepared.Store(true)
}

func (s *Service) lockHost(ctx context.Context, tx *store.Tx, id, trigger string) (*hostState, error) {
	var st hostState
	err := tx.QueryRowCached(ctx, qLockHost, trigger, id).
		Scan(&st.reportSeq, &st.reportHash, &st.answerHash, &st.answerVersion, &st.openCommands, &st.vmCount, &st.host.ComputerName,
			&st.host.MacSerial, &st.host.HardwareUUID, &st.host.MacOSUser, &st.host.CPU, &st.host.MacOSVersion, &st.host.DesktopVersion,
			&st.host.DesktopState)
	if err == sql.ErrNoRows {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("check-in: lock installation: %w", err)
	}
	return &st, nil
}

func (s *Service) checkInTx(ctx context.Context, tx *store.Tx, h *hot, in *CheckIn, now time.Time) (*Answer, error) {
	at := store.At(now)
	actor := audit.Actor{Type: audit.ActorDevice, ID: h.hardwareUUID, Label: "computer " + h.computerName, IP: in.IP}
	st, err := s.lockHost(ctx, tx, h.id, in.Trigger)
	if err != nil {
		return nil, err
	}
	if st == nil {
		if in.Report == nil {
			// Results from an installation with no host row cannot name
			// any command of it.
			return nil, errf(http.StatusBadRequest, CodeUnknownCommand, "Command %q is not one of this installation's commands.", in.Results[0].ID)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO fleet_hosts (installation_id, account_id, key_id, first_seen_at, last_report_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (installation_id) DO NOTHING`, h.id, h.accountID, h.keyID, at, at); err != nil {
			return nil, fmt.Errorf("check-in: add installation: %w", err)
		}
		// Seen from its first report on (later times come in batches).
		if _, err := tx.Exec(ctx, `INSERT INTO fleet_seen (installation_id, account_id, last_seen_at) VALUES (?, ?, ?)
			ON CONFLICT (installation_id) DO NOTHING`, h.id, h.accountID, at); err != nil {
			return nil, fmt.Errorf("check-in: add installation: %w", err)
		}
		if st, err = s.lockHost(ctx, tx, h.id, in.Trigger); err != nil || st == nil {
			return nil, fmt.Errorf("check-in: lock new installation: %w", err)
		}
	}
	if in.Report != nil {
		actor.Label = "computer " + in.Report.Host.ComputerName
	}
	// Results first: a VM deleted by a command and missing from the same
	// report is "done", not "gone before it was done".
	for _, r := range in.Results {
		if err := s.applyResult(ctx, tx, h, st, actor, r, at); err != nil {
			return nil, err
		}
	}
	ans := &Answer{Status: AnswerOK, Report: ReportNotSent, ReportHash: st.reportHash}
	var vmHashes []string
	applied := false
	if in.Report != nil {
		vmHashes = make([]string, len(in.Report.VMs))
		for i, v := range in.Report.VMs {
			vmHashes[i] = vmContentHash(v)
		}
		rh := reportHash(in.Report, vmHashes)
		switch {
		case in.Seq < st.reportSeq:
			ans.Report = ReportStale
		case in.Seq == st.reportSeq && rh == st.reportHash:
			ans.Report = ReportDuplicate
		case in.Seq == st.reportSeq:
			return nil, errf(http.StatusConflict, CodeSequenceReused, "Report %d was already received with different content; send a new sequence number.", in.Seq)
		default:
			if err := s.applyVMs(ctx, tx, h, st, actor, in.Report, vmHashes, at); err != nil {
				return nil, err
			}
			applied = true
			st.host, st.vmCount, st.reportSeq, st.reportHash = in.Report.Host, len(in.Report.VMs), in.Seq, rh
			ans.Report, ans.ReportHash = ReportApplied, rh
			s.seen.note(h.id, now)
		}
	}
	// Deliver open commands in order. The conditional UPDATE is what makes
	// delivery exclusive: a command already delivered is handed out again
	// only once its lease ran out.
	if st.openCommands > 0 {
		if err := s.deliver(ctx, tx, h, actor, ans, at); err != nil {
			return nil, err
		}
	}
	sections := Sections{}
	if s.Sections != nil {
		inst := Installation{ID: h.id, AccountID: h.accountID, KeyID: h.keyID, Method: h.method, Edition: h.edition,
			CPU: st.host.CPU, DesktopVersion: st.host.DesktopVersion, VMCount: st.vmCount}
		if sections, err = s.Sections.Sections(ctx, tx, inst); err != nil {
			return nil, fmt.Errorf("check-in: answer sections: %w", err)
		}
	}
	sections.normalize()
	ans.Sections = &sections
	ans.AnswerHash = hashOf(sections)
	// One write of the host row: the report (if taken) and the answer.
	if applied {
		host := in.Report.Host
		if _, err := tx.ExecCached(ctx, qHostReport, host.ComputerName, host.MacSerial, host.HardwareUUID, host.MacOSUser, host.CPU,
			host.MacOSVersion, host.DesktopVersion, host.DesktopState, st.reportSeq, st.reportHash, st.vmCount, at,
			ans.AnswerHash, h.settingsVersion, h.id); err != nil {
			return nil, fmt.Errorf("check-in: host: %w", err)
		}
	} else if ans.AnswerHash != st.answerHash || h.settingsVersion != st.answerVersion {
		if _, err := tx.ExecCached(ctx, qHostAnswer, ans.AnswerHash, h.settingsVersion, h.id); err != nil {
			return nil, fmt.Errorf("check-in: %w", err)
		}
	}
	switch {
	case st.openCommands > 0:
		ans.NextCheckIn = s.jittered(s.Config.CommandInterval)
	case ans.Report == ReportApplied:
		ans.NextCheckIn = s.jittered(s.Config.ChangedInterval)
	default:
		ans.NextCheckIn = s.jittered(s.Config.Interval)
	}
	return ans, nil
}

func (s *Service) applyResult(ctx context.Context, tx *store.Tx, h *hot, st *hostState, actor audit.Actor, r CommandResult, at store.Time) error {
	var vmID, kind, vmName, computer string
	err := tx.QueryRow(ctx, `UPDATE fleet_commands SET state = ?, reason = ?, finished_at = ?, lease_until = NULL
		WHERE id = ? AND installation_id = ? AND state IN ('pending', 'delivered') RETURNING vm_id, kind`,
		r.Result, r.Reason, at, r.ID, h.id).Scan(&vmID, &kind)
	if err == sql.ErrNoRows {
		var state string
		err := tx.QueryRow(ctx, `SELECT state FROM fleet_commands WHERE id = ? AND installation_id = ?`, r.ID, h.id).Scan(&state)
		if err == sql.ErrNoRows {
			return errf(http.StatusBadRequest, CodeUnknownCommand, "Command %q is not one of this installation's commands.", r.ID)
		} else if err != nil {
			return fmt.Errorf("check-in: result: %w", err)
		}
		return nil // already finished: a repeated acknowledgement changes nothing
	} else if err != nil {
		return fmt.Errorf("check-in: result: %w", err)
	}
	st.openCommands--
	if _, err := tx.Exec(ctx, `UPDATE fleet_hosts SET open_commands = open_commands - 1 WHERE installation_id = ?`, h.id); err != nil {
		return fmt.Errorf("check-in: result: %w", err)
	}
	if err := finishLastCommand(ctx, tx, vmID, r.ID, r.Result); err != nil {
		return err
	}
	switch {
	case kind == CommandDelete && r.Result == CommandDone:
		_, err = tx.Exec(ctx, `UPDATE fleet_vms SET gone_at = ?, status = 'active', last_seen_at = COALESCE((SELECT s.last_seen_at
			FROM fleet_seen s WHERE s.installation_id = fleet_vms.installation_id), last_seen_at) WHERE id = ? AND gone_at IS NULL`, at, vmID)
	case kind == CommandDelete:
		_, err = tx.Exec(ctx, `UPDATE fleet_vms SET status = 'delete_failed' WHERE id = ?`, vmID)
	}
	if err != nil {
		return fmt.Errorf("check-in: result: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT name, computer_name FROM fleet_vms WHERE id = ?`, vmID).Scan(&vmName, &computer); err != nil {
		return fmt.Errorf("check-in: result: %w", err)
	}
	action, after := "fleet.command_done", map[string]any{"command": r.ID, "kind": kind, "state": r.Result}
	if r.Result == CommandFailed {
		action, after["reason"] = "fleet.command_failed", r.Reason
	}
	return audit.Record(ctx, tx, actor, audit.Entry{AccountID: h.accountID, Action: action, TargetType: "vm", TargetID: vmID,
		TargetLabel: vmLabel(vmName, computer), After: after})
}

type storedVM struct {
	id, hash string
	gone     bool
}

// applyVMs writes a newer full report's VMs: new ones inserted, changed or
// returning ones updated, unchanged ones left alone (their last-seen time
// moves with the batch), missing ones marked gone. The host row itself is
// written by the caller.
func (s *Service) applyVMs(ctx context.Context, tx *store.Tx, h *hot, st *hostState, actor audit.Actor, rep *Report, vmHashes []string, at store.Time) error {
	host := rep.Host
	if host != st.host {
		if _, err := tx.ExecCached(ctx, qHostColumns, host.MacOSUser, host.ComputerName, host.MacSerial, host.CPU, host.DesktopVersion,
			host.DesktopState, h.id); err != nil {
			return fmt.Errorf("check-in: vm host columns: %w", err)
		}
	}
	stored := map[string]storedVM{}
	rows, err := tx.QueryCached(ctx, qStoredVMs, h.id)
	if err != nil {
		return fmt.Errorf("check-in: vms: %w", err)
	}
	for rows.Next() {
		var v storedVM
		var uuid string
		if err := rows.Scan(&v.id, &uuid, &v.hash, &v.gone); err != nil {
			rows.Close()
			return fmt.Errorf("check-in: vms: %w", err)
		}
		stored[uuid] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check-in: vms: %w", err)
	}
	for i, v := range rep.VMs {
		hash := vmHashes[i]
		var image any
		if v.GoldenImageID != "" {
			image = v.GoldenImageID
		}
		old, ok := stored[v.ID]
		delete(stored, v.ID)
		switch {
		case !ok:
			_, err = tx.ExecCached(ctx, qInsertVM, ids.New(), h.accountID, h.id, h.keyID, v.ID, v.Name, v.State, v.GuestOS, v.OSEdition,
				v.OSBuild, v.Serial, v.Source, image, v.Encryption, v.ToolsVersion, v.LastUsedAt, host.MacOSUser, host.ComputerName,
				host.MacSerial, host.CPU, host.DesktopVersion, host.DesktopState, hash, at, at, at)
		case old.hash != hash || old.gone:
			_, err = tx.ExecCached(ctx, qUpdateVM, v.Name, v.State, v.GuestOS, v.OSEdition, v.OSBuild, v.Serial, v.Source, image,
				v.Encryption, v.ToolsVersion, v.LastUsedAt, hash, at, at, old.id)
		}
		if err != nil {
			return fmt.Errorf("check-in: vm %q: %w", v.ID, err)
		}
	}
	// What the full report no longer lists is gone; its open commands
	// cannot run any more.
	for _, v := range stored {
		if v.gone {
			continue
		}
		if _, err := tx.ExecCached(ctx, qVMGone, at, v.id); err != nil {
			return fmt.Errorf("check-in: vm gone: %w", err)
		}
		if err := s.failOpenCommands(ctx, tx, h, st, actor, v.id, at); err != nil {
			return err
		}
	}
	return nil
}

const goneReason = "The virtual machine is no longer reported by its computer."

func (s *Service) failOpenCommands(ctx context.Context, tx *store.Tx, h *hot, st *hostState, actor audit.Actor, vmID string, at store.Time) error {
	rows, err := tx.Query(ctx, `UPDATE fleet_commands SET state = 'failed', reason = ?, finished_at = ?, lease_until = NULL
		WHERE vm_id = ? AND state IN ('pending', 'delivered') RETURNING id, kind`, goneReason, at, vmID)
	if err != nil {
		return fmt.Errorf("check-in: fail commands: %w", err)
	}
	type failed struct{ id, kind string }
	var list []failed
	for rows.Next() {
		var f failed
		if err := rows.Scan(&f.id, &f.kind); err != nil {
			rows.Close()
			return fmt.Errorf("check-in: fail commands: %w", err)
		}
		list = append(list, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check-in: fail commands: %w", err)
	}
	if len(list) == 0 {
		return nil
	}
	st.openCommands -= len(list)
	if _, err := tx.Exec(ctx, `UPDATE fleet_hosts SET open_commands = open_commands - ? WHERE installation_id = ?`, len(list), h.id); err != nil {
		return fmt.Errorf("check-in: fail commands: %w", err)
	}
	var name, computer string
	if err := tx.QueryRow(ctx, `SELECT name, computer_name FROM fleet_vms WHERE id = ?`, vmID).Scan(&name, &computer); err != nil {
		return fmt.Errorf("check-in: fail commands: %w", err)
	}
	for _, f := range list {
		if err := finishLastCommand(ctx, tx, vmID, f.id, CommandFailed); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: h.accountID, Action: "fleet.command_failed", TargetType: "vm",
			TargetID: vmID, TargetLabel: vmLabel(name, computer),
			After: map[string]any{"command": f.id, "kind": f.kind, "state": CommandFailed, "reason": goneReason}}); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) deliver(ctx context.Context, tx *store.Tx, h *hot, actor audit.Actor, ans *Answer, at store.Time) error {
	rows, err := tx.Query(ctx, `SELECT c.id, c.vm_id, c.vm_uuid, c.kind, c.created_at, c.deliveries, v.name, v.computer_name
		FROM fleet_commands c JOIN fleet_vms v ON v.id = c.vm_id
		WHERE c.installation_id = ? AND c.state IN ('pending', 'delivered') AND (c.lease_until IS NULL OR c.lease_until <= ?)
		ORDER BY c.seq`, h.id, at)
	if err != nil {
		return fmt.Errorf("check-in: commands: %w", err)
	}
	type open struct {
		id, vmID, vmUUID, kind, name, computer string
		created                                store.Time
		deliveries                             int
	}
	var list []open
	for rows.Next() {
		var o open
		if err := rows.Scan(&o.id, &o.vmID, &o.vmUUID, &o.kind, &o.created, &o.deliveries, &o.name, &o.computer); err != nil {
			rows.Close()
			return fmt.Errorf("check-in: commands: %w", err)
		}
		list = append(list, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check-in: commands: %w", err)
	}
	lease := store.At(at.Add(s.Config.CommandLease))
	for _, o := range list {
		res, err := tx.Exec(ctx, `UPDATE fleet_commands SET state = 'delivered', deliveries = deliveries + 1, delivered_at = ?, lease_until = ?
			WHERE id = ? AND state IN ('pending', 'delivered') AND (lease_until IS NULL OR lease_until <= ?)`, at, lease, o.id, at)
		if err != nil {
			return fmt.Errorf("check-in: deliver: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		if err := finishLastCommand(ctx, tx, o.vmID, o.id, CommandDelivered); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: h.accountID, Action: "fleet.command_delivered", TargetType: "vm",
			TargetID: o.vmID, TargetLabel: vmLabel(o.name, o.computer),
			After: map[string]any{"command": o.id, "kind": o.kind, "delivery": o.deliveries + 1}}); err != nil {
			return err
		}
		ans.Commands = append(ans.Commands, DeliveredCommand{ID: o.id, VMID: o.vmUUID, Kind: o.kind, IssuedAt: o.created.Time})
	}
	return nil
}
