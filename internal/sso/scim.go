package sso

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
)

// SCIMAdapter lets SSO find SCIM-provisioned users.
type SCIMAdapter struct{ SCIM *scim.Service }

// FindUserForSAML implements SCIMDirectory.
func (a SCIMAdapter) FindUserForSAML(ctx context.Context, accountID, objectID, name string) (*SCIMUser, error) {
	u, err := a.SCIM.FindUserForSAML(ctx, accountID, objectID, name)
	if err != nil {
		return nil, err
	}
	groups, err := a.SCIM.UserGroups(ctx, accountID, u.ID)
	if err != nil {
		return nil, err
	}
	out := &SCIMUser{ID: u.ID, UserName: u.UserName, ExternalID: u.ExternalID, Active: u.Active}
	for _, g := range groups {
		if g.ExternalID != "" {
			out.GroupKeys = append(out.GroupKeys, g.ExternalID)
		}
		out.GroupKeys = append(out.GroupKeys, g.DisplayName)
	}
	return out, nil
}

// RevokeFunc is called inside the SCIM transaction when a person loses the
// right to use Desktop through SSO (deactivated, deleted, or removed from
// Desktop Users): the SSO activation feature revokes their seats here.
type RevokeFunc func(ctx context.Context, tx *store.Tx, accountID, personID, reason string) error

// Effects applies what SCIM changes mean for people (spec 03): a deactivated
// or deleted user loses their sessions (and, through OnRevoke, their SSO
// seats); leaving the admins group ends admin rights at once; leaving
// Desktop Users revokes SSO seats. It implements scim.Hooks.
type Effects struct {
	Accounts  *account.Service
	Directory Directory
	OnRevoke  []RevokeFunc
}

var _ scim.Hooks = (*Effects)(nil)

// tokenActor is how these effects appear in the audit log.
func tokenActor() audit.Actor {
	return audit.Actor{Type: audit.ActorToken, ID: "scim", Label: "identity provider (SCIM)"}
}

// UserDeactivated implements scim.Hooks.
func (e *Effects) UserDeactivated(ctx context.Context, tx *store.Tx, accountID string, u scim.User) error {
	personIDs, err := linkedPeople(ctx, tx, accountID, u.ID, u.ExternalID, u.UserName)
	if err != nil {
		return err
	}
	for _, pid := range personIDs {
		if err := e.Accounts.EndSessions(ctx, tx, pid); err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, tokenActor(), audit.Entry{AccountID: accountID, Action: "member.sessions_ended_by_idp",
			TargetType: "person", TargetID: pid, TargetLabel: u.UserName}); err != nil {
			return err
		}
		for _, f := range e.OnRevoke {
			if err := f(ctx, tx, accountID, pid, "deactivated_in_idp"); err != nil {
				return err
			}
		}
	}
	return nil
}

// UserChanged implements scim.Hooks: records the link between the SCIM user
// and a person who signed in before the user was provisioned.
func (e *Effects) UserChanged(ctx context.Context, tx *store.Tx, accountID string, u scim.User) error {
	key, err := account.IdentityKey(u.UserName)
	if err != nil {
		key = " " // SCIM refuses such userNames; matches no identity
	}
	_, err = tx.Exec(ctx, `UPDATE sso_identities SET scim_user_id = ? WHERE account_id = ? AND scim_user_id = ''
		AND ((object_id <> '' AND object_id = ?) OR name_norm = ?)`, u.ID, accountID, u.ExternalID, key)
	if err != nil {
		return fmt.Errorf("link SCIM user: %w", err)
	}
	return nil
}

// MembershipChanged implements scim.Hooks.
func (e *Effects) MembershipChanged(ctx context.Context, tx *store.Tx, accountID, groupID string, added, removed []string) error {
	if len(removed) == 0 {
		return nil
	}
	in, err := e.Directory.Integration(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil && !errors.Is(err, ErrIdPIncomplete) {
		// Without SAML settings the mapped groups still mean what they
		// mean: SCIM works from the moment its token exists.
		return err
	}
	var name, external string
	err = tx.QueryRow(ctx, `SELECT display_name, COALESCE(external_id, '') FROM scim_groups WHERE account_id = ? AND id = ?`,
		accountID, groupID).Scan(&name, &external)
	if err != nil && !errors.Is(store.NotFound(err), store.ErrNotFound) {
		return fmt.Errorf("SCIM group: %w", err)
	}
	matches := func(uuid string) bool {
		return uuid != "" && (strings.EqualFold(uuid, external) || strings.EqualFold(uuid, name))
	}
	isAdmins, isDesktop := matches(in.Groups.AdminsUUID), matches(in.Groups.DesktopUsersUUID)
	if !isAdmins && !isDesktop {
		return nil
	}
	for _, userID := range removed {
		personIDs, err := linkedPeople(ctx, tx, accountID, userID, "", "")
		if err != nil {
			return err
		}
		for _, pid := range personIDs {
			if isAdmins && pid != in.BackupPersonID {
				if err := dropAdmin(ctx, tx, accountID, pid); err != nil {
					return err
				}
			}
			if isDesktop {
				for _, f := range e.OnRevoke {
					if err := f(ctx, tx, accountID, pid, "removed_from_desktop_users"); err != nil {
						return err
					}
				}
			}
		}
	}
	return nil
}

// dropAdmin ends admin rights of a person removed from the IdP's admins
// group: the role becomes user and their SSO sessions lose admin rights.
func dropAdmin(ctx context.Context, tx *store.Tx, accountID, personID string) error {
	dropped, err := account.DropSSOAdminTx(ctx, tx, accountID, personID)
	if err != nil {
		return err
	}
	if dropped {
		return audit.Record(ctx, tx, tokenActor(), audit.Entry{AccountID: accountID, Action: "member.role_synced_from_idp",
			TargetType: "person", TargetID: personID, Before: map[string]string{"role": account.RoleAdmin},
			After: map[string]string{"role": account.RoleUser}})
	}
	return nil
}

// linkedPeople finds the people of an account linked to a SCIM user: by the
// recorded SCIM id, the IdP object id, or the login name.
func linkedPeople(ctx context.Context, tx *store.Tx, accountID, scimUserID, externalID, userName string) ([]string, error) {
	key := ""
	if userName != "" {
		if k, err := account.IdentityKey(userName); err == nil {
			key = k
		}
	}
	out, err := store.QueryAll(ctx, tx, func(row store.Scanner) (string, error) {
		var id string
		if err := row.Scan(&id); err != nil {
			return id, err
		}
		return id, nil
	}, `SELECT person_id FROM sso_identities WHERE account_id = ?
		AND (scim_user_id = ? OR (? <> '' AND object_id = ?) OR (? <> '' AND name_norm = ?))`,
		accountID, scimUserID, externalID, externalID, key, key)
	if err != nil {
		return nil, fmt.Errorf("linked people: %w", err)
	}
	return out, nil
}
