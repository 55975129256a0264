package scim

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// MappedGroupStats counts the provisioned members of the group an IdP
// integration maps by uuid (the configurator's Admins and Desktop Users
// groups). The group matches by externalId, or else by displayName
// case-insensitively, as Okta and Google send names; found is false when
// none does.
func (s *Service) MappedGroupStats(ctx context.Context, accountID, uuid string) (found bool, users, active int, err error) {
	var gid string
	err = s.DB.QueryRow(ctx, `SELECT id FROM scim_groups WHERE account_id = ? AND (external_id = ? OR display_name_norm = ?)
		ORDER BY CASE WHEN external_id = ? THEN 0 ELSE 1 END, created LIMIT 1`,
		accountID, uuid, fold(uuid), uuid).Scan(&gid)
	if err != nil {
		if err = store.NotFound(err); err == store.ErrNotFound {
			return false, 0, 0, nil
		}
		return false, 0, 0, fmt.Errorf("group members: %w", err)
	}
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN u.active THEN 1 ELSE 0 END), 0)
		FROM scim_group_members m JOIN scim_users u ON u.account_id = m.account_id AND u.id = m.user_id
		WHERE m.account_id = ? AND m.group_id = ?`, accountID, gid).Scan(&users, &active); err != nil {
		return false, 0, 0, fmt.Errorf("group members: %w", err)
	}
	return true, users, active, nil
}
