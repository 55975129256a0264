package scim

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

// GroupMemberCounts returns, per key, how many provisioned users (active or
// not) belong to the SCIM groups the key names. A key matches groups by
// externalId (Entra, Ping, JumpCloud object ids); when no group has that
// externalId, by displayName case-insensitively (Okta and Google use the
// group name as its id). Several groups matching one key count each member
// once. Keys that match nothing map to 0.
func (s *Service) GroupMemberCounts(ctx context.Context, accountID string, groupKeys []string) (map[string]int, error) {
	out := make(map[string]int, len(groupKeys))
	for _, key := range groupKeys {
		if _, done := out[key]; done {
			continue
		}
		n, err := s.countMembers(ctx, accountID, `external_id = ?`, key)
		if err != nil {
			return nil, err
		}
		if n < 0 {
			n, err = s.countMembers(ctx, accountID, `display_name_norm = ?`, fold(key))
			if err != nil {
				return nil, err
			}
		}
		out[key] = max(n, 0)
	}
	return out, nil
}

// countMembers counts distinct members of the groups matching cond; -1 when
// no group matches.
func (s *Service) countMembers(ctx context.Context, accountID, cond, arg string) (int, error) {
	var groups, members int
	err := s.DB.QueryRow(ctx, `SELECT
		(SELECT COUNT(*) FROM scim_groups WHERE account_id = ? AND `+cond+`),
		(SELECT COUNT(DISTINCT m.user_id) FROM scim_groups g CROSS JOIN scim_group_members m
		 WHERE g.account_id = ? AND g.`+cond+` AND m.account_id = g.account_id AND m.group_id = g.id)`, accountID, arg, accountID, arg).Scan(&groups, &members)
	if err != nil {
		return 0, fmt.Errorf("count SCIM group members: %w", err)
	}
	if groups == 0 {
		return -1, nil
	}
	return members, nil
}

// UserGroups returns the groups a provisioned user belongs to
// (store.ErrNotFound when the user is not one of the account's).
func (s *Service) UserGroups(ctx context.Context, accountID, userID string) ([]Group, error) {
	var one int
	if err := s.DB.QueryRow(ctx, `SELECT 1 FROM scim_users WHERE account_id = ? AND id = ?`, accountID, userID).Scan(&one); err != nil {
		return nil, store.NotFound(err)
	}
	rows, err := s.DB.Query(ctx, `SELECT g.id, g.data, g.created, g.last_modified, g.version
		FROM scim_group_members m CROSS JOIN scim_groups g
		WHERE m.account_id = ? AND m.user_id = ? AND g.account_id = m.account_id AND g.id = m.group_id
		ORDER BY g.display_name_norm, g.id`, accountID, userID)
	if err != nil {
		return nil, fmt.Errorf("SCIM user groups: %w", err)
	}
	defer rows.Close()
	var out []Group
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("SCIM user groups: %w", err)
		}
		out = append(out, r.group())
	}
	return out, rows.Err()
}

// FindUserForSAML links a SAML sign-in to a provisioned user: the user whose
// externalId equals the assertion's objectidentifier (exact), else the one
// whose userName has the same identity key (account.IdentityKey) as name,
// the name claim or NameID as sent. store.ErrNotFound when neither matches.
func (s *Service) FindUserForSAML(ctx context.Context, accountID, objectID, name string) (*User, error) {
	if objectID != "" {
		r, err := scanRecord(s.DB.QueryRow(ctx, `SELECT `+recordCols+` FROM scim_users
			WHERE account_id = ? AND external_id = ? ORDER BY id LIMIT 1`, accountID, objectID))
		if err == nil {
			u := r.user()
			return &u, nil
		}
		if err := store.NotFound(err); !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("find SCIM user: %w", err)
		}
	}
	if nameKey, err := account.IdentityKey(name); err == nil {
		r, err := scanRecord(s.DB.QueryRow(ctx, `SELECT `+recordCols+` FROM scim_users
			WHERE account_id = ? AND user_name_norm = ?`, accountID, nameKey))
		if err == nil {
			u := r.user()
			return &u, nil
		}
		if err := store.NotFound(err); !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("find SCIM user: %w", err)
		}
	}
	return nil, store.ErrNotFound
}

// GetUser returns one provisioned user of the account.
func (s *Service) GetUser(ctx context.Context, accountID, id string) (*User, error) {
	r, err := loadRecord(ctx, s.DB, usersTable, accountID, id)
	if err != nil {
		return nil, err
	}
	u := r.user()
	return &u, nil
}
