package fleet

import (
	"gatehouse/internal/license"
)

// ScopeWhere returns the condition (on a table aliased alias with
// account_id and key_id columns, e.g. fleet_vms v) limiting rows to what
// caller may see: admins see their account's whole fleet; license admins
// the installations of the keys they administer (and of every key of a
// subscription whose primary key they administer), as on Registered
// Computers. Other roles get ErrForbidden.
func ScopeWhere(caller license.Caller, alias string) (string, []any, error) {
	where := alias + ".account_id = ?"
	args := []any{caller.AccountID}
	switch caller.Role {
	case license.RoleAdmin:
	case license.RoleLicenseAdmin:
		where += ` AND (` + alias + `.key_id IN (SELECT key_id FROM license_key_admins WHERE account_id = ? AND person_id = ?)
			OR ` + alias + `.key_id IN (SELECT k.id FROM license_keys k JOIN license_keys pk ON pk.subscription_id = k.subscription_id
				JOIN license_key_admins ka ON ka.key_id = pk.id WHERE ka.account_id = ? AND ka.person_id = ? AND pk.kind = 'primary'))`
		args = append(args, caller.AccountID, caller.PersonID, caller.AccountID, caller.PersonID)
	default:
		return "", nil, ErrForbidden
	}
	return where, args, nil
}
