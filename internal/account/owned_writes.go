package account

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// The account package owns people, memberships and sessions (see
// docs/architecture.md). Other features change them only through these
// functions, which take the caller's transaction so that one change can
// span features (an SSO sign-in records its identity and the membership in
// one commit).

// JoinViaSSOTx makes personID an active member of accountID with role, at
// their first SSO sign-in.
func JoinViaSSOTx(ctx context.Context, tx *store.Tx, accountID, personID, role string, now store.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at)
		VALUES (?, ?, ?, 'active', ?, ?)`, accountID, personID, role, now, now); err != nil {
		return fmt.Errorf("sso membership: %w", err)
	}
	return nil
}

// SyncRoleOnSignInTx sets the role the IdP decided at a sign-in and records
// the sign-in time.
func SyncRoleOnSignInTx(ctx context.Context, tx *store.Tx, accountID, personID, role string, now store.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE memberships SET role = ?, last_sign_in_at = ? WHERE account_id = ? AND person_id = ?`,
		role, now, accountID, personID); err != nil {
		return fmt.Errorf("sso membership: %w", err)
	}
	return nil
}

// DropSSOAdminTx ends the admin rights of a person the IdP removed from its
// admins group: an admin membership becomes a user one, and their SSO
// sessions of the account lose admin rights. It reports whether the role
// changed.
func DropSSOAdminTx(ctx context.Context, tx *store.Tx, accountID, personID string) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE memberships SET role = ? WHERE account_id = ? AND person_id = ? AND role = ?`,
		RoleUser, accountID, personID, RoleAdmin)
	if err != nil {
		return false, fmt.Errorf("drop admin: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE sessions SET sso_admin = ? WHERE person_id = ? AND sso_account_id = ?`, false, personID, accountID); err != nil {
		return false, fmt.Errorf("drop admin: %w", err)
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// EndPasswordSessionsAtTx deletes the password sessions of people whose
// address is at domain, except keepPersonID's, and returns how many ended.
func EndPasswordSessionsAtTx(ctx context.Context, tx *store.Tx, domain, keepPersonID string) (int64, error) {
	res, err := tx.Exec(ctx, `DELETE FROM sessions WHERE auth_method = ? AND person_id <> ?
		AND person_id IN (SELECT id FROM people WHERE email_norm LIKE ?)`, MethodPassword, keepPersonID, "%@"+domain)
	if err != nil {
		return 0, fmt.Errorf("end password sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}
