package idp

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// Mapped groups of step 3.
const (
	GroupAdmins       = "admins"
	GroupDesktopUsers = "users"
)

// GroupLabel names a mapped group as admins read it.
func GroupLabel(which string) string {
	if which == GroupAdmins {
		return "Business Account Admins"
	}
	return "Desktop Users"
}

// SetGroup maps one of the two groups (GroupAdmins or GroupDesktopUsers) to
// an IdP group: its display name and the UUID the IdP sends. Both empty
// clears the mapping (the admins group cannot be cleared while active).
func (s *Service) SetGroup(ctx context.Context, accountID, which, name, uuid string, actor audit.Actor) error {
	if which != GroupAdmins && which != GroupDesktopUsers {
		return fmt.Errorf("unknown group %q: %w", which, store.ErrNotFound)
	}
	name, uuid = strings.TrimSpace(name), strings.TrimSpace(uuid)
	prefix := which + "_"
	switch {
	case name == "" && uuid != "":
		return fieldErr(prefix+"name", "Enter the group's display name as your IdP shows it.")
	case uuid == "" && name != "":
		return fieldErr(prefix+"uuid", "Enter the group's UUID (for Okta and Google Workspace: the group name again).")
	}
	for field, v := range map[string]string{prefix + "name": name, prefix + "uuid": uuid} {
		if len(v) > 256 {
			return fieldErr(field, "At most 256 characters.")
		}
		if strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return fieldErr(field, "Line breaks and control characters are not allowed.")
		}
	}
	nameCol, uuidCol := "admins_group_name", "admins_group_uuid"
	if which == GroupDesktopUsers {
		nameCol, uuidCol = "users_group_name", "users_group_uuid"
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		oldName, oldUUID := in.Groups.AdminsName, in.Groups.AdminsUUID
		otherUUID := in.Groups.DesktopUsersUUID
		if which == GroupDesktopUsers {
			oldName, oldUUID, otherUUID = in.Groups.DesktopUsersName, in.Groups.DesktopUsersUUID, in.Groups.AdminsUUID
		}
		if which == GroupAdmins && uuid == "" && in.Active {
			return fieldErr(prefix+"uuid", "The integration is active: admin rights come from this group, so it cannot be cleared. Deactivate the integration first.")
		}
		if uuid != "" && strings.EqualFold(uuid, otherUUID) {
			return fieldErr(prefix+"uuid", "This UUID is already mapped to the other group: admins and Desktop Users must be two different IdP groups. (Admins who also use Desktop belong to both.)")
		}
		if oldName == name && oldUUID == uuid {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE idp_integrations SET `+nameCol+` = ?, `+uuidCol+` = ?, updated_at = ? WHERE account_id = ?`,
			name, uuid, store.At(s.now()), accountID); err != nil {
			return fmt.Errorf("map group: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.group_mapped",
			TargetType: "idp_group", TargetID: which, TargetLabel: GroupLabel(which),
			Before: map[string]string{"name": oldName, "uuid": oldUUID}, After: map[string]string{"name": name, "uuid": uuid}})
	})
}

// Groups returns the account's mapped groups (zero values when unset).
func (s *Service) Groups(ctx context.Context, accountID string) (Groups, error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if err != nil {
		return Groups{}, err
	}
	return in.Groups, nil
}

// GroupCount is how many provisioned users sit in a mapped group.
type GroupCount struct {
	Which       string
	Label       string
	Name        string
	UUID        string
	Found       bool // a SCIM group matches the UUID
	Users       int  // its members
	ActiveUsers int
}

// GroupMemberCounts reports the SCIM-provisioned members of the two mapped
// groups (the SCIM package matches a UUID to its group:
// scim.Service.MappedGroupStats).
func (s *Service) GroupMemberCounts(ctx context.Context, accountID string) ([]GroupCount, error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if err != nil {
		return nil, err
	}
	out := []GroupCount{
		{Which: GroupAdmins, Label: GroupLabel(GroupAdmins), Name: in.Groups.AdminsName, UUID: in.Groups.AdminsUUID},
		{Which: GroupDesktopUsers, Label: GroupLabel(GroupDesktopUsers), Name: in.Groups.DesktopUsersName, UUID: in.Groups.DesktopUsersUUID},
	}
	for i := range out {
		if out[i].UUID == "" {
			continue
		}
		if out[i].Found, out[i].Users, out[i].ActiveUsers, err = s.SCIM.MappedGroupStats(ctx, accountID, out[i].UUID); err != nil {
			return nil, err
		}
	}
	return out, nil
}
