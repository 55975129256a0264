package peruser

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// NewSeat is a seat granted to a person on a key.
type NewSeat struct {
	ID, AccountID, SubscriptionID, KeyID, PersonID string
	GroupsJSON                                     string // the IdP groups the grant saw
}

// InsertSeatTx records a granted seat with its first device. The error is
// the driver's own, so that the caller can tell a unique violation (a
// concurrent grant gave the person a seat elsewhere) from a failure.
func InsertSeatTx(ctx context.Context, tx *store.Tx, s NewSeat, now store.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO license_user_seats (id, account_id, subscription_id, key_id, person_id, status, devices,
		groups_json, granted_at, last_used_at) VALUES (?, ?, ?, ?, ?, 'active', 1, ?, ?, ?)`,
		s.ID, s.AccountID, s.SubscriptionID, s.KeyID, s.PersonID, s.GroupsJSON, now, now)
	return err
}

// TouchSeatTx notes that a seat was used again (the same Mac reactivated).
func TouchSeatTx(ctx context.Context, tx *store.Tx, seatID, groupsJSON string, now store.Time) error {
	if _, err := tx.Exec(ctx, `UPDATE license_user_seats SET last_used_at = ?, groups_json = ? WHERE id = ?`, now, groupsJSON, seatID); err != nil {
		return fmt.Errorf("sso seat: %w", err)
	}
	return nil
}

// AddDeviceTx counts one more device on an active seat; it reports false
// when the seat already has deviceCap devices (or is no longer active).
func AddDeviceTx(ctx context.Context, tx *store.Tx, seatID, groupsJSON string, deviceCap int, now store.Time) (bool, error) {
	r, err := tx.Exec(ctx, `UPDATE license_user_seats SET devices = devices + 1, last_used_at = ?, groups_json = ?
		WHERE id = ? AND status = 'active' AND devices < ?`, now, groupsJSON, seatID, deviceCap)
	if err != nil {
		return false, fmt.Errorf("sso seat: add device: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// ReleaseSeatTx releases an active seat of keyID; it reports false when
// the seat was no longer active (nothing changed).
func ReleaseSeatTx(ctx context.Context, tx *store.Tx, seatID, keyID, reason, by string, now store.Time) (bool, error) {
	r, err := tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', devices = 0, released_at = ?, released_reason = ?, released_by = ?
		WHERE id = ? AND key_id = ? AND status = 'active'`, now, reason, by, seatID, keyID)
	if err != nil {
		return false, fmt.Errorf("release seat: %w", err)
	}
	n, _ := r.RowsAffected()
	return n == 1, nil
}

// DropDevicesTx takes n devices off the person's active seat on keyID and
// returns the seat and the devices left on it. A person without an active
// seat there gets the driver's no-rows error, unwrapped.
func DropDevicesTx(ctx context.Context, tx *store.Tx, keyID, personID string, n int) (seatID string, left int, err error) {
	err = tx.QueryRow(ctx, `UPDATE license_user_seats SET devices = devices - ? WHERE key_id = ? AND person_id = ? AND status = 'active'
		RETURNING id, devices`, n, keyID, personID).Scan(&seatID, &left)
	return seatID, left, err
}

// ReleaseEmptySeatTx releases a seat left without devices; it returns how
// many seats it released (0 or 1).
func ReleaseEmptySeatTx(ctx context.Context, tx *store.Tx, seatID, by string, now store.Time) (int, error) {
	r, err := tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', released_at = ?, released_reason = 'no_device', released_by = ?
		WHERE id = ? AND status = 'active' AND devices = 0`, now, by, seatID)
	if err != nil {
		return 0, fmt.Errorf("release seat: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}

// ReleaseKeySeatsTx releases every active seat of a key being deleted,
// with by as both the reason and the actor; it returns how many it released.
func ReleaseKeySeatsTx(ctx context.Context, tx *store.Tx, keyID, by string, now store.Time) (int, error) {
	r, err := tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', devices = 0, released_at = ?, released_reason = ?, released_by = ?
		WHERE key_id = ? AND status = 'active'`, now, by, by, keyID)
	if err != nil {
		return 0, fmt.Errorf("release key seats: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(n), nil
}
