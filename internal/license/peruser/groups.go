package peruser

import (
	"context"

	"gatehouse/internal/store"
)

// NewGroup is an IdP group mapped to a key.
type NewGroup struct {
	ID, AccountID, KeyID string
	UUID, Norm, Name     string // Norm is the UUID as compared (see license.groupNorm)
	CreatedBy            string
}

// InsertGroupTx maps a group to a key. The error is the driver's own, so
// that the caller can tell a unique violation (the group is mapped already)
// from a failure.
func InsertGroupTx(ctx context.Context, tx *store.Tx, g NewGroup, now store.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO license_key_groups (id, account_id, key_id, group_uuid, group_norm, display_name, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, g.ID, g.AccountID, g.KeyID, g.UUID, g.Norm, g.Name, g.CreatedBy, now)
	return err
}

// DeleteGroupTx unmaps a group from a key and returns its UUID and name;
// store.ErrNotFound when the key has no such group.
func DeleteGroupTx(ctx context.Context, tx *store.Tx, accountID, keyID, groupID string) (uuid, name string, err error) {
	err = tx.QueryRow(ctx, `DELETE FROM license_key_groups WHERE id = ? AND account_id = ? AND key_id = ? RETURNING group_uuid, display_name`,
		groupID, accountID, keyID).Scan(&uuid, &name)
	if err != nil {
		return "", "", store.NotFound(err)
	}
	return uuid, name, nil
}
