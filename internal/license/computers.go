package license

import (
	"context"
	"fmt"
	"io"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/csvexport"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Computer is a registered computer: one device activated on one key.
type Computer struct {
	ID             string
	KeyID          string
	KeyName        string
	KeyLast        string
	SubscriptionID string
	ComputerName   string
	Serial         string
	HardwareUUID   string
	MacOSUser      string
	AppVersion     string
	Method         string // key, invitation, sso
	Status         string // active, deactivated
	ActivatedAt    store.Time
	LastCheckAt    store.Time
	DeactivatedAt  store.Time
	DeactivatedBy  string // device, admin, key_deleted
}

// ComputerFilter narrows the Registered Computers list.
type ComputerFilter struct {
	SubscriptionID     string
	KeyID              string
	Query              string // matches computer name, serial, macOS user, hardware UUID
	IncludeDeactivated bool
	Limit              int // default 100, at most 10,000
	Offset             int
}

// Computers lists the registered computers the caller may see, newest
// activation first, with the total number matching the filter.
func (s *Service) Computers(ctx context.Context, caller Caller, f ComputerFilter) ([]Computer, int, error) {
	where, args, err := s.computerWhere(ctx, caller, f)
	if err != nil {
		return nil, 0, err
	}
	var total int
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM license_activations a JOIN license_keys k ON k.id = a.key_id `+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count computers: %w", err)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	f.Limit = min(f.Limit, 10_000)
	f.Offset = max(f.Offset, 0)
	rows, err := s.DB.Query(ctx, `SELECT a.id, a.key_id, k.name, k.key_last, a.subscription_id, a.computer_name, a.serial, a.hardware_uuid,
		a.macos_user, a.app_version, a.method, a.status, a.activated_at, a.last_check_at, a.deactivated_at, a.deactivated_by
		FROM license_activations a JOIN license_keys k ON k.id = a.key_id `+where+`
		ORDER BY a.activated_at DESC, a.id DESC LIMIT ? OFFSET ?`, append(args, f.Limit, f.Offset)...)
	if err != nil {
		return nil, 0, fmt.Errorf("list computers: %w", err)
	}
	defer rows.Close()
	var out []Computer
	for rows.Next() {
		var c Computer
		if err := rows.Scan(&c.ID, &c.KeyID, &c.KeyName, &c.KeyLast, &c.SubscriptionID, &c.ComputerName, &c.Serial, &c.HardwareUUID,
			&c.MacOSUser, &c.AppVersion, &c.Method, &c.Status, &c.ActivatedAt, &c.LastCheckAt, &c.DeactivatedAt, &c.DeactivatedBy); err != nil {
			return nil, 0, fmt.Errorf("list computers: %w", err)
		}
		out = append(out, c)
	}
	return out, total, rows.Err()
}

func (s *Service) computerWhere(ctx context.Context, caller Caller, f ComputerFilter) (string, []any, error) {
	where := "WHERE a.account_id = ?"
	args := []any{caller.AccountID}
	switch caller.Role {
	case RoleAdmin:
	case RoleLicenseAdmin:
		where += ` AND (a.key_id IN (SELECT key_id FROM license_key_admins WHERE account_id = ? AND person_id = ?)
			OR a.subscription_id IN (SELECT pk.subscription_id FROM license_key_admins ka JOIN license_keys pk ON pk.id = ka.key_id
				WHERE ka.account_id = ? AND ka.person_id = ? AND pk.kind = 'primary'))`
		args = append(args, caller.AccountID, caller.PersonID, caller.AccountID, caller.PersonID)
	default:
		return "", nil, ErrForbidden
	}
	if f.SubscriptionID != "" {
		where += " AND a.subscription_id = ?"
		args = append(args, f.SubscriptionID)
	}
	if f.KeyID != "" {
		where += " AND a.key_id = ?"
		args = append(args, f.KeyID)
	}
	if !f.IncludeDeactivated {
		where += " AND a.status = 'active'"
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		if len(q) > 200 {
			q = q[:200]
		}
		like := "%" + escapeLike(strings.ToLower(q)) + "%"
		where += ` AND (LOWER(a.computer_name) LIKE ? ESCAPE '\' OR LOWER(a.serial) LIKE ? ESCAPE '\'
			OR LOWER(a.macos_user) LIKE ? ESCAPE '\' OR LOWER(a.hardware_uuid) LIKE ? ESCAPE '\')`
		args = append(args, like, like, like, like)
	}
	return where, args, nil
}

// DeactivateComputers deactivates the chosen computers (Registered
// Computers → Actions → Deactivate). Their seats return to their pools at
// once. Ids of other accounts, of keys the caller may not manage, or of
// computers already deactivated are skipped; the count deactivated is
// returned.
func (s *Service) DeactivateComputers(ctx context.Context, caller Caller, activationIDs []string, actor audit.Actor) (int, error) {
	if caller.Role != RoleAdmin && caller.Role != RoleLicenseAdmin {
		return 0, ErrForbidden
	}
	if len(activationIDs) == 0 {
		return 0, fieldErr("computers", "Select at least one computer.")
	}
	if len(activationIDs) > 10_000 {
		return 0, fieldErr("computers", "Select at most 10,000 computers at a time.")
	}
	var valid []string
	seen := map[string]bool{}
	for _, id := range activationIDs {
		if ids.Valid(id) && !seen[id] {
			seen[id] = true
			valid = append(valid, id)
		}
	}
	total := 0
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		where, args, err := s.computerWhere(ctx, caller, ComputerFilter{})
		if err != nil {
			return err
		}
		var refs []actRef
		var names []string
		for start := 0; start < len(valid); start += 500 {
			chunk := valid[start:min(start+500, len(valid))]
			a := append(append([]any{}, args...), toAny(chunk)...)
			rows, err := tx.Query(ctx, `SELECT a.id, a.key_id, a.computer_name FROM license_activations a JOIN license_keys k ON k.id = a.key_id `+
				where+` AND a.id IN (`+store.Placeholders(len(chunk))+`)`, a...)
			if err != nil {
				return fmt.Errorf("deactivate computers: %w", err)
			}
			for rows.Next() {
				var r actRef
				var name string
				if err := rows.Scan(&r.id, &r.keyID, &name); err != nil {
					rows.Close()
					return err
				}
				refs = append(refs, r)
				names = append(names, name)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(refs) == 0 {
			return nil
		}
		n, err := deactivateTx(ctx, tx, refs, "admin", store.At(s.now()))
		if err != nil {
			return err
		}
		total = n
		ids := make([]string, len(refs))
		for i, r := range refs {
			ids[i] = r.id
		}
		label := fmt.Sprintf("%d computers", n)
		if len(names) == 1 {
			label = names[0]
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.computers_deactivated",
			TargetType: "activation", TargetLabel: label, After: map[string]any{"activation_ids": ids, "deactivated": n}})
	})
	return total, err
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// ComputersCSVHeader is the header row of the Registered Computers export.
var ComputersCSVHeader = []string{"computer_name", "serial", "hardware_uuid", "macos_user", "license_key", "key_name",
	"method", "status", "activated_at", "last_check_at", "app_version", "deactivated_at"}

// WriteComputersCSV writes rows as CSV (UTC RFC 3339 times). Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func WriteComputersCSV(w io.Writer, rows []Computer) error {
	cw, err := csvexport.New(w, ComputersCSVHeader...)
	if err != nil {
		return err
	}
	for _, c := range rows {
		if err := cw.Row(c.ComputerName, c.Serial, c.HardwareUUID, c.MacOSUser,
			MaskKey(c.KeyLast), c.KeyName, c.Method, c.Status, csvexport.Time(c.ActivatedAt.Time), csvexport.Time(c.LastCheckAt.Time),
			c.AppVersion, csvexport.Time(c.DeactivatedAt.Time)); err != nil {
			return err
		}
	}
	return cw.Close()
}

// PersonActivation is one computer a person activated with their company
// sign-in (an SSO seat), as the person sees it on their dashboard.
type PersonActivation struct {
	ID           string
	ComputerName string
	AppVersion   string
	ActivatedAt  store.Time
	LastCheckAt  store.Time
}

// PersonActivations lists the active Desktop activations a person holds in
// an account through SSO, newest first.
func (s *Service) PersonActivations(ctx context.Context, accountID, personID string) ([]PersonActivation, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (PersonActivation, error) {
		var a PersonActivation
		return a, row.Scan(&a.ID, &a.ComputerName, &a.AppVersion, &a.ActivatedAt, &a.LastCheckAt)
	}, `SELECT id, computer_name, app_version, activated_at, last_check_at FROM license_activations
		WHERE account_id = ? AND person_id = ? AND status = 'active' ORDER BY activated_at DESC, id LIMIT 100`, accountID, personID)
	if err != nil {
		return nil, fmt.Errorf("person activations: %w", err)
	}
	return out, nil
}
