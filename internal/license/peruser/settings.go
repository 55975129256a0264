package peruser

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// SaveSettingsTx stores an organisation's device cap and inactivity limit.
func SaveSettingsTx(ctx context.Context, tx *store.Tx, accountID string, deviceCap, inactivityDays int, now store.Time) error {
	if _, err := tx.Exec(ctx, `INSERT INTO license_sso_settings (account_id, device_cap, inactivity_days, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET device_cap = excluded.device_cap, inactivity_days = excluded.inactivity_days, updated_at = excluded.updated_at`,
		accountID, deviceCap, inactivityDays, now); err != nil {
		return fmt.Errorf("save sso settings: %w", err)
	}
	return nil
}
