package peruser

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// NewAttempt is a Desktop SSO activation that has started.
type NewAttempt struct {
	ID, AccountID, Email                                      string
	HardwareUUID, Serial, ComputerName, MacOSUser, AppVersion string
	Challenge                                                 string // the PKCE code challenge
	SourceIP                                                  string
	CreatedAt, ExpiresAt                                      store.Time
}

// InsertAttempt records a pending attempt.
func InsertAttempt(ctx context.Context, q store.Querier, a NewAttempt) error {
	if _, err := q.Exec(ctx, `INSERT INTO sso_activation_attempts (id, account_id, email, hardware_uuid, serial, computer_name, macos_user,
		app_version, challenge, state, created_at, expires_at, source_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		a.ID, a.AccountID, a.Email, a.HardwareUUID, a.Serial, a.ComputerName, a.MacOSUser, a.AppVersion, a.Challenge,
		a.CreatedAt, a.ExpiresAt, a.SourceIP); err != nil {
		return fmt.Errorf("start sso activation: %w", err)
	}
	return nil
}

// RefuseAttempt marks a pending attempt refused; it reports false when the
// attempt was decided already.
func RefuseAttempt(ctx context.Context, q store.Querier, id, code, message, reference string) (bool, error) {
	res, err := q.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'refused', refusal_code = ?, refusal_message = ?, refusal_reference = ?
		WHERE id = ? AND state = 'pending'`, code, message, reference, id)
	if err != nil {
		return false, fmt.Errorf("refuse sso attempt: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// CompleteAttemptTx marks a pending attempt completed with the seat's
// person, key and device; it reports false when the attempt was decided
// already.
func CompleteAttemptTx(ctx context.Context, tx *store.Tx, id, personID, keyID, activationID string, expires, now store.Time) (bool, error) {
	r, err := tx.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'completed', completed_at = ?, expires_at = ?, person_id = ?,
		key_id = ?, activation_id = ? WHERE id = ? AND state = 'pending'`, now, expires, personID, keyID, activationID, id)
	if err != nil {
		return false, fmt.Errorf("complete sso attempt: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// RedeemAttemptTx marks a completed, unexpired attempt redeemed; it reports
// false when it was redeemed already or has expired.
func RedeemAttemptTx(ctx context.Context, tx *store.Tx, id string, now store.Time) (bool, error) {
	r, err := tx.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'redeemed', redeemed_at = ? WHERE id = ? AND state = 'completed' AND expires_at > ?`,
		now, id, now)
	if err != nil {
		return false, fmt.Errorf("redeem: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// PurgeAttempts deletes attempts that expired before cutoff and returns
// how many.
func PurgeAttempts(ctx context.Context, q store.Querier, cutoff store.Time) (int, error) {
	res, err := q.Exec(ctx, `DELETE FROM sso_activation_attempts WHERE expires_at < ?`, cutoff)
	if err != nil {
		return 0, fmt.Errorf("purge sso attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}
