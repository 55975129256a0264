package scim

import (
	"context"
	"fmt"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

func init() {
	store.RegisterDataMigration(store.DataMigration{Version: 402, Up: migrateUserNames})
}

// migrateUserNames (SCIM 00402) re-derives user_name_norm, the column the
// unique index (account_id, user_name_norm) is on, with account.IdentityKey
// instead of Unicode case folding. IdentityKey never joins two names that
// folding kept apart, so no row collides; a stored userName it refuses gets
// a key no name can have ("unusable " + id: keys have no spaces), so SAML
// never links to it, and the IdP's next PUT or PATCH of that user is told
// why its userName is refused.
func migrateUserNames(ctx context.Context, tx *store.Tx) error {
	rows, err := tx.Query(ctx, `SELECT id, user_name, user_name_norm FROM scim_users`)
	if err != nil {
		return fmt.Errorf("SCIM userName keys: %w", err)
	}
	type row struct{ id, name, norm string }
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name, &r.norm); err != nil {
			rows.Close()
			return fmt.Errorf("SCIM userName keys: %w", err)
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("SCIM userName keys: %w", err)
	}
	changed := all[:0]
	for _, r := range all {
		key, err := account.IdentityKey(r.name)
		if err != nil {
			key = account.UnusablePrefix + r.id
		}
		if key != r.norm {
			r.norm = key
			changed = append(changed, r)
		}
	}
	// Out of the way first, so that no intermediate state trips the index.
	for _, r := range changed {
		if _, err := tx.Exec(ctx, `UPDATE scim_users SET user_name_norm = ? WHERE id = ?`, "migrating "+r.id, r.id); err != nil {
			return fmt.Errorf("SCIM userName keys: %w", err)
		}
	}
	for _, r := range changed {
		if _, err := tx.Exec(ctx, `UPDATE scim_users SET user_name_norm = ? WHERE id = ?`, r.norm, r.id); err != nil {
			return fmt.Errorf("SCIM userName keys: %w", err)
		}
	}
	return nil
}
