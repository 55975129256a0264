package fleet

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// MaxSelection is the most VMs one Enqueue may address.
const MaxSelection = 1000

// CommandLabel is what the inventory's "Last command" column shows for a
// command kind in a state ("Pending delete", "Failed to delete", "Done").
func CommandLabel(kind, state string) string {
	switch state {
	case "":
		return "None"
	case CommandPending, CommandDelivered:
		return "Pending " + kind
	case CommandFailed:
		return "Failed to " + kind
	case CommandDone:
		return "Done"
	case CommandCancelled:
		return "Cancelled"
	}
	return state
}

// vmTarget is a VM a command is queued for.
type vmTarget struct {
	id, installationID, vmUUID, name, computer string
	gone, deactivated                          bool
}

// Enqueue queues kind (delete, lock, redownload, restart) for each VM of
// vmIDs (server ids) the caller may manage, in one transaction: all or
// nothing. A VM that already has an open command of the same kind is not
// given a second one; that open command is returned in its place. The
// client picks the commands up at its next check-in. Each queued command is
// audited (fleet.command_queued).
func (s *Service) Enqueue(ctx context.Context, caller license.Caller, actor audit.Actor, kind string, vmIDs []string) ([]Command, error) {
	if !slices.Contains(CommandKinds, kind) {
		return nil, errf(http.StatusBadRequest, CodeInvalidReport, "Unknown command %q: use delete, lock, redownload or restart.", kind)
	}
	vmIDs = dedupe(vmIDs)
	if len(vmIDs) == 0 {
		return nil, errf(http.StatusBadRequest, CodeNothingSelected, "Select at least one virtual machine.")
	}
	if len(vmIDs) > MaxSelection {
		return nil, errf(http.StatusBadRequest, CodeNothingSelected, "Select at most %d virtual machines at a time.", MaxSelection)
	}
	scope, args, err := ScopeWhere(caller, "v")
	if err != nil {
		return nil, err
	}
	now := store.At(s.now())
	var out []Command
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		out = out[:0]
		rows, err := tx.Query(ctx, `SELECT v.id, v.installation_id, v.vm_uuid, v.name, v.computer_name, v.gone_at IS NOT NULL, a.status <> 'active'
			FROM fleet_vms v JOIN license_activations a ON a.id = v.installation_id
			WHERE `+scope+` AND v.id IN (`+store.Placeholders(len(vmIDs))+`)`, append(args, anySlice(vmIDs)...)...)
		if err != nil {
			return fmt.Errorf("enqueue: find vms: %w", err)
		}
		var targets []vmTarget
		for rows.Next() {
			var t vmTarget
			if err := rows.Scan(&t.id, &t.installationID, &t.vmUUID, &t.name, &t.computer, &t.gone, &t.deactivated); err != nil {
				rows.Close()
				return fmt.Errorf("enqueue: find vms: %w", err)
			}
			targets = append(targets, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("enqueue: find vms: %w", err)
		}
		if len(targets) != len(vmIDs) {
			return errf(http.StatusNotFound, CodeNotFound, "Some of the selected virtual machines do not exist or are not yours to manage.")
		}
		// Lock order: installation, then VM — the same as a check-in's.
		slices.SortFunc(targets, func(a, b vmTarget) int {
			return strings.Compare(a.installationID+"\x00"+a.id, b.installationID+"\x00"+b.id)
		})
		for _, t := range targets {
			if t.gone {
				return errf(http.StatusConflict, CodeVMGone, "The virtual machine %q is no longer reported by its computer.", t.name)
			}
			if t.deactivated {
				// It would wait forever: a deactivated Desktop no longer
				// checks in.
				return errf(http.StatusConflict, CodeDesktopDeactivated, "Desktop on %q is deactivated and no longer checks in, so it cannot receive commands.", t.computer)
			}
			c, err := s.enqueueOne(ctx, tx, caller.AccountID, actor, kind, t, now)
			if err != nil {
				return err
			}
			out = append(out, *c)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Service) enqueueOne(ctx context.Context, tx *store.Tx, accountID string, actor audit.Actor, kind string, t vmTarget, now store.Time) (*Command, error) {
	var seq int64
	// Lock the installation's row first; it orders its queue.
	if err := tx.QueryRow(ctx, `UPDATE fleet_hosts SET command_seq = command_seq + 1 WHERE installation_id = ? RETURNING command_seq`,
		t.installationID).Scan(&seq); err != nil {
		return nil, fmt.Errorf("enqueue: lock installation: %w", err)
	}
	existing, err := scanCommand(tx.QueryRow(ctx, `SELECT `+commandColumns+` FROM fleet_commands WHERE vm_id = ? AND kind = ?
		AND state IN ('pending', 'delivered') ORDER BY seq LIMIT 1`, t.id, kind))
	if err == nil {
		return existing, nil
	} else if store.NotFound(err) != store.ErrNotFound {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	c := &Command{ID: ids.New(), AccountID: accountID, InstallationID: t.installationID, VMID: t.id, VMUUID: t.vmUUID,
		Kind: kind, State: CommandPending, Seq: seq, CreatedBy: actor.Label, CreatedAt: now}
	if _, err := tx.Exec(ctx, `INSERT INTO fleet_commands (id, account_id, installation_id, vm_id, vm_uuid, kind, state, seq,
		created_by_type, created_by_id, created_by_label, created_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)`,
		c.ID, accountID, t.installationID, t.id, t.vmUUID, kind, seq, actor.Type, actor.ID, actor.Label, now); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE fleet_hosts SET open_commands = open_commands + 1 WHERE installation_id = ?`, t.installationID); err != nil {
		return nil, fmt.Errorf("enqueue: %w", err)
	}
	if err := setLastCommand(ctx, tx, t.id, c.ID, kind, CommandPending); err != nil {
		return nil, err
	}
	if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "fleet.command_queued", TargetType: "vm",
		TargetID: t.id, TargetLabel: vmLabel(t.name, t.computer), After: map[string]any{"command": c.ID, "kind": kind}}); err != nil {
		return nil, err
	}
	return c, nil
}

func vmLabel(name, computer string) string {
	if computer == "" {
		return name
	}
	return name + " on " + computer
}

func setLastCommand(ctx context.Context, q store.Querier, vmID, commandID, kind, state string) error {
	if _, err := q.Exec(ctx, `UPDATE fleet_vms SET last_command_id = ?, last_command_kind = ?, last_command_state = ? WHERE id = ?`,
		commandID, kind, state, vmID); err != nil {
		return fmt.Errorf("fleet: set last command: %w", err)
	}
	return nil
}

// finishLastCommand updates the VM's "Last command" when commandID is its
// latest command.
func finishLastCommand(ctx context.Context, q store.Querier, vmID, commandID, state string) error {
	if _, err := q.Exec(ctx, `UPDATE fleet_vms SET last_command_state = ? WHERE id = ? AND last_command_id = ?`,
		state, vmID, commandID); err != nil {
		return fmt.Errorf("fleet: set last command: %w", err)
	}
	return nil
}

// Cancel cancels pending commands (by id) the caller may manage, all or
// nothing. A command already delivered cannot be cancelled: the client may
// be executing it (code command_not_pending). Audited as
// fleet.command_cancelled.
func (s *Service) Cancel(ctx context.Context, caller license.Caller, actor audit.Actor, commandIDs []string) error {
	commandIDs = dedupe(commandIDs)
	if len(commandIDs) == 0 {
		return errf(http.StatusBadRequest, CodeNothingSelected, "Select at least one command.")
	}
	if len(commandIDs) > MaxSelection {
		return errf(http.StatusBadRequest, CodeNothingSelected, "Select at most %d commands at a time.", MaxSelection)
	}
	scope, args, err := ScopeWhere(caller, "v")
	if err != nil {
		return err
	}
	now := store.At(s.now())
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		type target struct{ id, installationID, vmID, kind, name, computer string }
		rows, err := tx.Query(ctx, `SELECT c.id, c.installation_id, c.vm_id, c.kind, v.name, v.computer_name
			FROM fleet_commands c JOIN fleet_vms v ON v.id = c.vm_id
			WHERE `+scope+` AND c.id IN (`+store.Placeholders(len(commandIDs))+`)`, append(args, anySlice(commandIDs)...)...)
		if err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		var targets []target
		for rows.Next() {
			var t target
			if err := rows.Scan(&t.id, &t.installationID, &t.vmID, &t.kind, &t.name, &t.computer); err != nil {
				rows.Close()
				return fmt.Errorf("cancel: %w", err)
			}
			targets = append(targets, t)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("cancel: %w", err)
		}
		if len(targets) != len(commandIDs) {
			return errf(http.StatusNotFound, CodeNotFound, "Some of the selected commands do not exist or are not yours to manage.")
		}
		slices.SortFunc(targets, func(a, b target) int {
			return strings.Compare(a.installationID+"\x00"+a.id, b.installationID+"\x00"+b.id)
		})
		for _, t := range targets {
			if _, err := tx.Exec(ctx, `UPDATE fleet_hosts SET command_seq = command_seq WHERE installation_id = ?`, t.installationID); err != nil {
				return fmt.Errorf("cancel: lock installation: %w", err)
			}
			res, err := tx.Exec(ctx, `UPDATE fleet_commands SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'pending'`, now, t.id)
			if err != nil {
				return fmt.Errorf("cancel: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return errf(http.StatusConflict, CodeCommandNotOpen, "The %s command for %q was already delivered or has finished; it can no longer be cancelled.", t.kind, t.name)
			}
			if _, err := tx.Exec(ctx, `UPDATE fleet_hosts SET open_commands = open_commands - 1 WHERE installation_id = ?`, t.installationID); err != nil {
				return fmt.Errorf("cancel: %w", err)
			}
			if err := finishLastCommand(ctx, tx, t.vmID, t.id, CommandCancelled); err != nil {
				return err
			}
			if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "fleet.command_cancelled", TargetType: "vm",
				TargetID: t.vmID, TargetLabel: vmLabel(t.name, t.computer), Before: map[string]any{"command": t.id, "kind": t.kind, "state": CommandPending},
				After: map[string]any{"command": t.id, "kind": t.kind, "state": CommandCancelled}}); err != nil {
				return err
			}
		}
		return nil
	})
}

const commandColumns = `id, account_id, installation_id, vm_id, vm_uuid, kind, state, seq, reason, deliveries, created_by_label,
	created_at, delivered_at, finished_at`

type scanner interface{ Scan(...any) error }

func scanCommand(r scanner) (*Command, error) {
	var c Command
	if err := r.Scan(&c.ID, &c.AccountID, &c.InstallationID, &c.VMID, &c.VMUUID, &c.Kind, &c.State, &c.Seq, &c.Reason,
		&c.Deliveries, &c.CreatedBy, &c.CreatedAt, &c.DeliveredAt, &c.FinishedAt); err != nil {
		return nil, err
	}
	return &c, nil
}

// Commands lists the commands of one VM the caller may see, newest first
// (at most 100).
func (s *Service) Commands(ctx context.Context, caller license.Caller, vmID string) ([]Command, error) {
	scope, args, err := ScopeWhere(caller, "v")
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT `+prefixed("c.", commandColumns)+` FROM fleet_commands c JOIN fleet_vms v ON v.id = c.vm_id
		WHERE `+scope+` AND c.vm_id = ? ORDER BY c.created_at DESC, c.seq DESC LIMIT 100`, append(args, vmID)...)
	if err != nil {
		return nil, fmt.Errorf("list commands: %w", err)
	}
	defer rows.Close()
	var out []Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, fmt.Errorf("list commands: %w", err)
		}
		out = append(out, *c)
	}
	return out, rows.Err()
}

// CommandByID returns one command the caller may see.
func (s *Service) CommandByID(ctx context.Context, caller license.Caller, id string) (*Command, error) {
	scope, args, err := ScopeWhere(caller, "v")
	if err != nil {
		return nil, err
	}
	c, err := scanCommand(s.DB.QueryRow(ctx, `SELECT `+prefixed("c.", commandColumns)+` FROM fleet_commands c JOIN fleet_vms v ON v.id = c.vm_id
		WHERE `+scope+` AND c.id = ?`, append(args, id)...))
	if err != nil {
		if store.NotFound(err) == store.ErrNotFound {
			return nil, errf(http.StatusNotFound, CodeNotFound, "No such command.")
		}
		return nil, fmt.Errorf("command: %w", err)
	}
	return c, nil
}

func prefixed(prefix, columns string) string {
	parts := strings.Split(columns, ",")
	for i, p := range parts {
		parts[i] = prefix + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

func dedupe(in []string) []string {
	seen := make(map[string]bool, len(in))
	out := make([]string, 0, len(in))
	for _, v := range in {
		v = strings.TrimSpace(v)
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

func anySlice(in []string) []any {
	out := make([]any, len(in))
	for i, v := range in {
		out[i] = v
	}
	return out
}
