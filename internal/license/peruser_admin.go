package license

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/csvexport"
	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/license/peruser"
	"gatehouse/internal/store"
)

// SSOSettings are an account's settings of per-user licensing.
type SSOSettings struct {
	DeviceCap int // devices one person may activate with their seat (default 5)
	// InactivityDays revokes seats not used (no SSO activation, no license
	// check of any of the person's devices) for that many days; 0 = never.
	InactivityDays int
	UpdatedAt      store.Time
}

// SSOSettings returns an account's settings (defaults when never saved).
func (s *Service) SSOSettings(ctx context.Context, accountID string) (SSOSettings, error) {
	st := SSOSettings{DeviceCap: DefaultDeviceCap}
	err := s.DB.QueryRow(ctx, `SELECT device_cap, inactivity_days, updated_at FROM license_sso_settings WHERE account_id = ?`, accountID).
		Scan(&st.DeviceCap, &st.InactivityDays, &st.UpdatedAt)
	if err != nil && !isNoRows(err) {
		return st, fmt.Errorf("sso settings: %w", err)
	}
	return st, nil
}

// SetSSOSettings saves an account's settings (admins only). A lower device
// cap applies to devices activated from then on; devices already active
// stay.
func (s *Service) SetSSOSettings(ctx context.Context, caller Caller, in SSOSettings, actor audit.Actor) error {
	if caller.Role != RoleAdmin {
		return ErrForbidden
	}
	if in.DeviceCap < 1 || in.DeviceCap > 100 {
		return fieldErr("device_cap", "Enter a number of devices from 1 to 100.")
	}
	if in.InactivityDays < 0 || in.InactivityDays > 3650 {
		return fieldErr("inactivity_days", "Enter a number of days from 1 to 3650, or 0 to never revoke unused seats.")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		before, err := s.SSOSettings(ctx, caller.AccountID)
		if err != nil {
			return err
		}
		if err := peruser.SaveSettingsTx(ctx, tx, caller.AccountID, in.DeviceCap, in.InactivityDays, store.At(s.now())); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.sso_settings_changed",
			TargetType: "account", TargetID: caller.AccountID,
			Before: map[string]int{"device_cap": before.DeviceCap, "inactivity_days": before.InactivityDays},
			After:  map[string]int{"device_cap": in.DeviceCap, "inactivity_days": in.InactivityDays}})
	})
}

// UserSeat is one person holding a per-user (SSO) seat, as the "Users: with
// product licenses" list shows them.
type UserSeat struct {
	ID             string
	PersonID       string
	Email          string
	Name           string
	KeyID          string
	KeyName        string
	KeyLast        string
	KeyKind        string
	SubscriptionID string
	Devices        []UserDevice
	GrantedAt      store.Time
	LastUsedAt     store.Time
	LastCheckAt    store.Time // newest license check of their devices
}

// KeyLabel names the seat's key for people.
func (u *UserSeat) KeyLabel() string { return keyDisplay(u.KeyName, u.KeyLast) }

// UserDevice is one of a person's SSO-activated computers.
type UserDevice struct {
	ActivationID string
	ComputerName string
	Serial       string
	AppVersion   string
	ActivatedAt  store.Time
	LastCheckAt  store.Time
}

// seatScope returns a filter on the seats' keys for the caller: admins see
// every seat, license admins the seats of keys they manage.
func (s *Service) seatScope(ctx context.Context, caller Caller) (func(keyID, subID string) bool, error) {
	switch caller.Role {
	case RoleAdmin:
		return func(string, string) bool { return true }, nil
	case RoleLicenseAdmin:
		assigned, err := s.assignedKeys(ctx, s.DB, caller)
		if err != nil {
			return nil, err
		}
		primarySubs := map[string]bool{}
		rows, err := s.DB.Query(ctx, `SELECT k.subscription_id FROM license_key_admins ka JOIN license_keys k ON k.id = ka.key_id
			WHERE ka.account_id = ? AND ka.person_id = ? AND k.kind = 'primary'`, caller.AccountID, caller.PersonID)
		if err != nil {
			return nil, fmt.Errorf("seat scope: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				return nil, err
			}
			primarySubs[id] = true
		}
		return func(keyID, subID string) bool { return assigned[keyID] || primarySubs[subID] }, rows.Err()
	}
	return nil, ErrForbidden
}

// UserSeatFilter narrows the list.
type UserSeatFilter struct {
	KeyID string
	Query string // email or name
}

// UserSeats lists the people holding per-user seats in the caller's
// account, by email.
func (s *Service) UserSeats(ctx context.Context, caller Caller, f UserSeatFilter) ([]UserSeat, error) {
	visible, err := s.seatScope(ctx, caller)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT s.id, s.person_id, p.email, p.display_name, s.key_id, k.name, k.key_last, k.kind, s.subscription_id,
		s.granted_at, s.last_used_at FROM license_user_seats s JOIN people p ON p.id = s.person_id JOIN license_keys k ON k.id = s.key_id
		WHERE s.account_id = ? AND s.status = 'active' ORDER BY p.email_norm, s.id`, caller.AccountID)
	if err != nil {
		return nil, fmt.Errorf("user seats: %w", err)
	}
	var out []UserSeat
	index := map[string]int{}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	for rows.Next() {
		var u UserSeat
		if err := rows.Scan(&u.ID, &u.PersonID, &u.Email, &u.Name, &u.KeyID, &u.KeyName, &u.KeyLast, &u.KeyKind, &u.SubscriptionID,
			&u.GrantedAt, &u.LastUsedAt); err != nil {
			rows.Close()
			return nil, fmt.Errorf("user seats: %w", err)
		}
		if !visible(u.KeyID, u.SubscriptionID) || (f.KeyID != "" && u.KeyID != f.KeyID) ||
			(q != "" && !strings.Contains(strings.ToLower(u.Email+" "+u.Name), q)) {
			continue
		}
		index[u.PersonID+"/"+u.KeyID] = len(out)
		out = append(out, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return out, nil
	}
	rows, err = s.DB.Query(ctx, `SELECT a.person_id, a.key_id, a.id, a.computer_name, a.serial, a.app_version, a.activated_at, a.last_check_at
		FROM license_activations a WHERE a.account_id = ? AND a.method = 'sso' AND a.status = 'active' ORDER BY a.activated_at, a.id`, caller.AccountID)
	if err != nil {
		return nil, fmt.Errorf("user devices: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var person, key string
		var d UserDevice
		if err := rows.Scan(&person, &key, &d.ActivationID, &d.ComputerName, &d.Serial, &d.AppVersion, &d.ActivatedAt, &d.LastCheckAt); err != nil {
			return nil, fmt.Errorf("user devices: %w", err)
		}
		i, ok := index[person+"/"+key]
		if !ok {
			continue
		}
		out[i].Devices = append(out[i].Devices, d)
		if d.LastCheckAt.After(out[i].LastCheckAt.Time) {
			out[i].LastCheckAt = d.LastCheckAt
		}
	}
	return out, rows.Err()
}

// ProductLicenseHolders returns the people of an account holding a per-user
// seat (the Users page filter "Users: with product licenses").
func (s *Service) ProductLicenseHolders(ctx context.Context, accountID string) (map[string]bool, error) {
	rows, err := s.DB.Query(ctx, `SELECT person_id FROM license_user_seats WHERE account_id = ? AND status = 'active'`, accountID)
	if err != nil {
		return nil, fmt.Errorf("license holders: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// RevokeUserSeat is an admin revoking a person's per-user seat: their SSO
// devices fail their next license check with "revoked" and the seat returns
// to its pool. It returns how many devices were deactivated.
func (s *Service) RevokeUserSeat(ctx context.Context, caller Caller, personID string, actor audit.Actor) (int, error) {
	visible, err := s.seatScope(ctx, caller)
	if err != nil {
		return 0, err
	}
	if !ids.Valid(personID) {
		return 0, store.ErrNotFound
	}
	var devices int
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		seat, err := activeSeat(ctx, tx, caller.AccountID, personID)
		if err != nil {
			return err
		}
		if seat == nil {
			return store.ErrNotFound
		}
		var subID string
		if err := tx.QueryRow(ctx, `SELECT subscription_id FROM license_keys WHERE id = ?`, seat.keyID).Scan(&subID); err != nil {
			return fmt.Errorf("revoke seat: %w", err)
		}
		if !visible(seat.keyID, subID) {
			return store.ErrNotFound
		}
		var released bool
		devices, released, err = s.RevokePersonTx(ctx, tx, caller.AccountID, personID, RevokeAdmin, actor)
		if err == nil && !released {
			return store.ErrNotFound
		}
		return err
	})
	return devices, err
}

// UserSeatsCSVHeader is the header row of the export.
var UserSeatsCSVHeader = []string{"email", "name", "license_key", "key_name", "devices", "computers", "activated_at", "last_check_at"}

// WriteUserSeatsCSV writes the list as CSV (UTC RFC 3339 times).
func WriteUserSeatsCSV(w io.Writer, seats []UserSeat) error {
	cw, err := csvexport.New(w, UserSeatsCSVHeader...)
	if err != nil {
		return err
	}
	for _, u := range seats {
		names := make([]string, len(u.Devices))
		for i, d := range u.Devices {
			names[i] = d.ComputerName
		}
		if err := cw.Row(u.Email, u.Name, MaskKey(u.KeyLast), u.KeyName, strconv.Itoa(len(u.Devices)),
			strings.Join(names, "; "), csvexport.Time(u.GrantedAt.Time), csvexport.Time(u.LastCheckAt.Time)); err != nil {
			return err
		}
	}
	return cw.Close()
}

// InactivityJobName is the lease name of the inactivity job.
const InactivityJobName = "license-sso-inactivity"

// InactivityJob revokes per-user seats unused for longer than their
// account allows, and deletes old SSO activation attempts. The jobs.Runner's
// lease makes one node run it at a time.
func (s *Service) InactivityJob(interval time.Duration) jobs.Job {
	if interval <= 0 {
		interval = time.Hour
	}
	return jobs.Job{Name: InactivityJobName, Interval: interval, Run: func(ctx context.Context) error {
		if _, err := s.RevokeInactive(ctx); err != nil {
			return err
		}
		_, err := s.PurgeSSOAttempts(ctx)
		return err
	}}
}

// RevokeInactive revokes, in every account that enables it, the seats whose
// person neither activated nor had any device check its license for the
// account's number of days. It returns how many seats it revoked.
func (s *Service) RevokeInactive(ctx context.Context) (int, error) {
	rows, err := s.DB.Query(ctx, `SELECT account_id, inactivity_days FROM license_sso_settings WHERE inactivity_days > 0 ORDER BY account_id`)
	if err != nil {
		return 0, fmt.Errorf("inactivity: %w", err)
	}
	type acct struct {
		id   string
		days int
	}
	var accts []acct
	for rows.Next() {
		var a acct
		if err := rows.Scan(&a.id, &a.days); err != nil {
			rows.Close()
			return 0, err
		}
		accts = append(accts, a)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	actor := audit.System(InactivityJobName)
	revoked := 0
	for _, a := range accts {
		cutoff := store.At(now.Add(-time.Duration(a.days) * 24 * time.Hour))
		rows, err := s.DB.Query(ctx, `SELECT s.person_id FROM license_user_seats s WHERE s.account_id = ? AND s.status = 'active' AND s.last_used_at < ?
			AND NOT EXISTS (SELECT 1 FROM license_activations d WHERE d.account_id = s.account_id AND d.person_id = s.person_id
				AND d.key_id = s.key_id AND d.method = 'sso' AND d.status = 'active' AND d.last_check_at >= ?)`, a.id, cutoff, cutoff)
		if err != nil {
			return revoked, fmt.Errorf("inactivity: %w", err)
		}
		var people []string
		for rows.Next() {
			var p string
			if err := rows.Scan(&p); err != nil {
				rows.Close()
				return revoked, err
			}
			people = append(people, p)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return revoked, err
		}
		slices.Sort(people)
		for _, p := range people {
			// The rule is checked again under the key lock: a license
			// check or an activation that came in meanwhile wins.
			stillIdle := func(tx *store.Tx, seat *seatRow) (bool, error) {
				var n int
				err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM license_user_seats s WHERE s.id = ? AND s.last_used_at < ?
					AND NOT EXISTS (SELECT 1 FROM license_activations d WHERE d.account_id = s.account_id AND d.person_id = s.person_id
						AND d.key_id = s.key_id AND d.method = 'sso' AND d.status = 'active' AND d.last_check_at >= ?)`,
					seat.id, cutoff, cutoff).Scan(&n)
				return n == 1, err
			}
			err := s.DB.InTx(ctx, func(tx *store.Tx) error {
				_, released, err := s.revokePersonTx(ctx, tx, a.id, p, RevokeInactive, actor, stillIdle)
				if released {
					revoked++
				}
				return err
			})
			if err != nil {
				return revoked, err
			}
		}
	}
	return revoked, nil
}
