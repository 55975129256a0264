package invitations

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/store"
)

// ErrRepeated is InsertBatchTx's answer to a form submitted twice (the same
// idempotency key): nothing is inserted.
var ErrRepeated = errors.New("repeated submission")

// Batch is one submission of the Invite Users form.
type Batch struct {
	ID, AccountID, KeyID, IdempotencyKey, CreatedBy string
	Count                                           int
	CreatedAt                                       store.Time
}

// InsertBatchTx records a submission; ErrRepeated when its idempotency key
// was used before.
func InsertBatchTx(ctx context.Context, tx *store.Tx, b Batch) error {
	if _, err := tx.Exec(ctx, `INSERT INTO license_invitation_batches (id, account_id, key_id, idempotency_key, invitations, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, b.ID, b.AccountID, b.KeyID, b.IdempotencyKey, b.Count, b.CreatedBy, b.CreatedAt); err != nil {
		if store.IsUniqueViolation(err) {
			return ErrRepeated
		}
		return fmt.Errorf("send invitations: %w", err)
	}
	return nil
}

// BatchID finds the batch an idempotency key made.
func BatchID(ctx context.Context, q store.Querier, accountID, idempotencyKey string) (string, error) {
	var id string
	if err := q.QueryRow(ctx, `SELECT id FROM license_invitation_batches WHERE account_id = ? AND idempotency_key = ?`,
		accountID, idempotencyKey).Scan(&id); err != nil {
		return "", fmt.Errorf("send invitations: find earlier submission: %w", err)
	}
	return id, nil
}

// New is an invitation to insert; its code is stored as Hash and sealed.
type New struct {
	ID, AccountID, KeyID, BatchID, Email, Language, CodeHash, CodeSealed, CreatedBy string
	ValidDays                                                                       int
	CreatedAt, ExpiresAt                                                            store.Time
}

// InsertTx stores one invitation, sent once at CreatedAt.
func InsertTx(ctx context.Context, tx *store.Tx, n New) error {
	if _, err := tx.Exec(ctx, `INSERT INTO license_invitations (id, account_id, key_id, batch_id, email, language, code_hash, code_sealed,
		valid_days, created_by, created_at, expires_at, sent_count, last_sent_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`, n.ID, n.AccountID, n.KeyID, n.BatchID, n.Email, n.Language,
		n.CodeHash, n.CodeSealed, n.ValidDays, n.CreatedBy, n.CreatedAt, n.ExpiresAt, n.CreatedAt); err != nil {
		return fmt.Errorf("send invitations: %w", err)
	}
	return nil
}

// Record is a stored invitation as the admin actions need it.
type Record struct {
	ID, KeyID, Email, Language, CodeHash, CodeSealed string
	ValidDays                                        int
	Used, Revoked                                    store.Time
}

// Get loads invitation id of accountID (store.ErrNotFound when there is
// none).
func Get(ctx context.Context, q store.Querier, accountID, id string) (*Record, error) {
	var r Record
	err := q.QueryRow(ctx, `SELECT id, key_id, email, language, code_hash, code_sealed, valid_days, used_at, revoked_at
		FROM license_invitations WHERE id = ? AND account_id = ?`, id, accountID).Scan(
		&r.ID, &r.KeyID, &r.Email, &r.Language, &r.CodeHash, &r.CodeSealed, &r.ValidDays, &r.Used, &r.Revoked)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &r, nil
}

// RevokeTx revokes a pending invitation; false when it was used or revoked
// already.
func RevokeTx(ctx context.Context, tx *store.Tx, accountID, id string, now store.Time) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE license_invitations SET revoked_at = ? WHERE id = ? AND account_id = ? AND used_at IS NULL AND revoked_at IS NULL`,
		now, id, accountID)
	if err != nil {
		return false, fmt.Errorf("revoke invitation: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// RevokeForKeyTx revokes every pending invitation of a key (the key is
// being deleted).
func RevokeForKeyTx(ctx context.Context, tx *store.Tx, keyID string, now store.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE license_invitations SET revoked_at = ? WHERE key_id = ? AND used_at IS NULL AND revoked_at IS NULL`, now, keyID); err != nil {
		return fmt.Errorf("delete key: revoke invitations: %w", err)
	}
	return nil
}

// RenewTx records one more sending of a pending invitation and moves its
// expiry; false when it was used or revoked meanwhile.
func RenewTx(ctx context.Context, tx *store.Tx, id string, expires, now store.Time) (bool, error) {
	res, err := tx.Exec(ctx, `UPDATE license_invitations SET expires_at = ?, sent_count = sent_count + 1, last_sent_at = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, expires, now, id)
	if err != nil {
		return false, fmt.Errorf("resend invitation: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// UseTx marks a pending, unexpired invitation used by activationID. When it
// cannot (used, revoked or expired meanwhile) it returns false and the
// invitation's used and revoked times, so the caller can say which.
func UseTx(ctx context.Context, tx *store.Tx, id, activationID string, now store.Time) (ok bool, used, revoked store.Time, err error) {
	res, err := tx.Exec(ctx, `UPDATE license_invitations SET used_at = ?, activation_id = ?
		WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL AND expires_at > ?`, now, activationID, id, now)
	if err != nil {
		return false, used, revoked, fmt.Errorf("take seat: use invitation: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return true, used, revoked, nil
	}
	if err := tx.QueryRow(ctx, `SELECT used_at, revoked_at FROM license_invitations WHERE id = ?`, id).Scan(&used, &revoked); err != nil {
		return false, used, revoked, fmt.Errorf("take seat: %w", err)
	}
	return false, used, revoked, nil
}

// AccountOf returns the business account of the invitation whose code has
// hash ("" when none has).
func AccountOf(ctx context.Context, q store.Querier, hash string) (string, error) {
	var acct string
	err := q.QueryRow(ctx, `SELECT account_id FROM license_invitations WHERE code_hash = ?`, hash).Scan(&acct)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("invitation account: %w", err)
	}
	return acct, nil
}
