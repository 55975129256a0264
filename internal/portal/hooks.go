package portal

import (
	"context"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// Licensing hooks (spec 02): they run inside the licensing transaction.

// TrialSuspended unassigns the policies of a suspended Enterprise trial:
// its groups lose their policy; policies and golden images are kept.
func (s *Service) TrialSuspended(ctx context.Context, tx *store.Tx, accountID, subscriptionID string) error {
	rows, err := tx.Query(ctx, `SELECT g.key_id, p.id, p.name FROM portal_policy_groups g
		JOIN license_keys k ON k.id = g.key_id JOIN portal_policies p ON p.id = g.policy_id
		WHERE g.account_id = ? AND k.subscription_id = ? ORDER BY p.name, g.key_id`, accountID, subscriptionID)
	if err != nil {
		return fmt.Errorf("unassign policies: %w", err)
	}
	type unassigned struct{ key, policy, name string }
	var list []unassigned
	for rows.Next() {
		var u unassigned
		if err := rows.Scan(&u.key, &u.policy, &u.name); err != nil {
			rows.Close()
			return err
		}
		list = append(list, u)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	actor := audit.System("license-trial-suspended")
	for _, u := range list {
		if _, err := tx.Exec(ctx, `DELETE FROM portal_policy_groups WHERE key_id = ? AND account_id = ?`, u.key, accountID); err != nil {
			return fmt.Errorf("unassign policies: %w", err)
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "portal.policy_unassigned",
			TargetType: "policy", TargetID: u.policy, TargetLabel: u.name,
			Before: map[string]any{"group": u.key}, After: map[string]any{"reason": "Enterprise trial suspended", "subscription_id": subscriptionID}}); err != nil {
			return err
		}
	}
	if len(list) == 0 {
		return nil
	}
	return s.changed(ctx, tx, accountID)
}

// PurgeEnterprise deletes the account's golden images and policies when
// the retention period after its Enterprise subscription ended is over,
// unless another Enterprise subscription of the account still runs or is
// still within its own retention; profiles go too when no other
// subscription of the account is left. Settings tied to the purged
// subscription's keys always go.
func (s *Service) PurgeEnterprise(ctx context.Context, tx *store.Tx, accountID, subscriptionID string) error {
	var otherEnterprise, otherAny int
	if err := tx.QueryRow(ctx, `SELECT
			COALESCE(SUM(CASE WHEN edition = 'enterprise' THEN 1 ELSE 0 END), 0), COUNT(*)
		FROM subscriptions WHERE account_id = ? AND id <> ? AND purged_at IS NULL`, accountID, subscriptionID).Scan(&otherEnterprise, &otherAny); err != nil {
		return fmt.Errorf("purge portal: %w", err)
	}
	counts := map[string]int64{}
	exec := func(what, q string, args ...any) error {
		r, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("purge portal %s: %w", what, err)
		}
		n, _ := r.RowsAffected()
		counts[what] += n
		return nil
	}
	keysOf := `key_id IN (SELECT id FROM license_keys WHERE subscription_id = ?)`
	if err := exec("policy_groups", `DELETE FROM portal_policy_groups WHERE account_id = ? AND `+keysOf, accountID, subscriptionID); err != nil {
		return err
	}
	if err := exec("profile_keys", `DELETE FROM portal_profile_keys WHERE account_id = ? AND `+keysOf, accountID, subscriptionID); err != nil {
		return err
	}
	if otherEnterprise == 0 {
		if err := exec("policy_groups", `DELETE FROM portal_policy_groups WHERE account_id = ?`, accountID); err != nil {
			return err
		}
		if err := exec("policies", `DELETE FROM portal_policies WHERE account_id = ?`, accountID); err != nil {
			return err
		}
		if err := exec("golden_images", `DELETE FROM portal_images WHERE account_id = ?`, accountID); err != nil {
			return err
		}
	}
	if otherAny == 0 {
		if err := exec("profile_keys", `DELETE FROM portal_profile_keys WHERE account_id = ?`, accountID); err != nil {
			return err
		}
		if err := exec("profiles", `DELETE FROM portal_profiles WHERE account_id = ?`, accountID); err != nil {
			return err
		}
	}
	if err := s.changed(ctx, tx, accountID); err != nil {
		return err
	}
	return audit.Record(ctx, tx, audit.System("license-retention"), audit.Entry{AccountID: accountID, Action: "portal.settings_purged",
		TargetType: "subscription", TargetID: subscriptionID, After: counts})
}
