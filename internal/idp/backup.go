package idp

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Candidate is a member who may be the backup login.
type Candidate struct {
	PersonID    string
	Email       string
	DisplayName string
	LastSignIn  store.Time
}

// BackupCandidates lists the members who may be the backup login: active
// admins who have signed in to the account at least once. The backup login
// exists to keep admin access when SSO breaks, so it must be an admin.
func (s *Service) BackupCandidates(ctx context.Context, accountID string) ([]Candidate, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (Candidate, error) {
		var c Candidate
		if err := row.Scan(&c.PersonID, &c.Email, &c.DisplayName, &c.LastSignIn); err != nil {
			return c, err
		}
		return c, nil
	}, `SELECT p.id, p.email, p.display_name, m.last_sign_in_at
		FROM memberships m JOIN people p ON p.id = m.person_id
		WHERE m.account_id = ? AND m.status = 'active' AND m.role = 'admin' AND m.last_sign_in_at IS NOT NULL
			AND p.disabled = ? ORDER BY p.email_norm`, accountID, false)
	if err != nil {
		return nil, fmt.Errorf("backup candidates: %w", err)
	}
	return out, nil
}

// backupValid reports whether personID is still a usable backup login:
// an active admin member who signed in at least once, and not disabled.
func backupValid(ctx context.Context, q store.Querier, accountID, personID string) (bool, error) {
	if personID == "" {
		return false, nil
	}
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM memberships m JOIN people p ON p.id = m.person_id
		WHERE m.account_id = ? AND m.person_id = ? AND m.status = 'active' AND m.role = 'admin'
			AND m.last_sign_in_at IS NOT NULL AND p.disabled = ?`, accountID, personID, false).Scan(&one)
	switch err := store.NotFound(err); {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	default:
		return false, fmt.Errorf("check backup login: %w", err)
	}
}

// SetBackupLogin designates the member who keeps password access while SSO
// is active.
func (s *Service) SetBackupLogin(ctx context.Context, accountID, personID string, actor audit.Actor) error {
	if !ids.Valid(personID) {
		return fieldErr("backup", "Choose a member from the list.")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		ok, err := backupValid(ctx, tx, accountID, personID)
		if err != nil {
			return err
		}
		if !ok {
			return fieldErr("backup", "The backup login must be an active admin of this business account who has signed in to it at least once. Invite them, make them an admin, and ask them to sign in first.")
		}
		if in.BackupPersonID == personID {
			return nil
		}
		var email string
		if err := tx.QueryRow(ctx, `SELECT email FROM people WHERE id = ?`, personID).Scan(&email); err != nil {
			return fmt.Errorf("set backup login: %w", err)
		}
		var oldEmail string
		if in.BackupPersonID != "" {
			_ = tx.QueryRow(ctx, `SELECT email FROM people WHERE id = ?`, in.BackupPersonID).Scan(&oldEmail)
		}
		if _, err := tx.Exec(ctx, `UPDATE idp_integrations SET backup_person_id = ?, updated_at = ? WHERE account_id = ?`,
			personID, store.At(s.now()), accountID); err != nil {
			return fmt.Errorf("set backup login: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.backup_login_set",
			TargetType: "person", TargetID: personID, TargetLabel: email,
			Before: map[string]string{"backup_login": oldEmail}, After: map[string]string{"backup_login": email}})
	})
}

// BackupLogin returns the person id of the account's backup login ("" when
// none or not started).
func (s *Service) BackupLogin(ctx context.Context, accountID string) (string, error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if errors.Is(err, ErrNotStarted) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return in.BackupPersonID, nil
}
