package license

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license/peruser"
	"gatehouse/internal/store"
)

// KeyGroup is an IdP group mapped to a license key (the key's User Groups
// tab).
type KeyGroup struct {
	ID        string
	KeyID     string
	UUID      string // what the IdP sends in the groups claim and in SCIM
	Name      string // display name
	CreatedAt store.Time
}

// ReservedGroupsFunc returns the configurator's own mapped groups of an
// account (lower-cased UUID → label): the admins and Desktop Users groups
// cannot also select a seat pool.
type ReservedGroupsFunc func(ctx context.Context, accountID string) (map[string]string, error)

// perUserModel reports whether a subscription model has per-user seats.
func perUserModel(model string) bool { return model == ModelPerUser || model == ModelMixed }

func groupNorm(uuid string) string { return strings.ToLower(strings.TrimSpace(uuid)) }

// KeyGroups lists the IdP groups mapped to a key the caller may manage.
func (s *Service) KeyGroups(ctx context.Context, caller Caller, keyID string) ([]KeyGroup, error) {
	k, err := getKey(ctx, s.DB, caller.AccountID, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.mayManageKey(ctx, s.DB, caller, k); err != nil {
		return nil, err
	}
	return keyGroups(ctx, s.DB, caller.AccountID, "key_id = ?", k.ID)
}

func keyGroups(ctx context.Context, q store.Querier, accountID, where string, args ...any) ([]KeyGroup, error) {
	out, err := store.QueryAll(ctx, q, func(row store.Scanner) (KeyGroup, error) {
		var g KeyGroup
		if err := row.Scan(&g.ID, &g.KeyID, &g.UUID, &g.Name, &g.CreatedAt); err != nil {
			return g, err
		}
		return g, nil
	}, `SELECT id, key_id, group_uuid, display_name, created_at FROM license_key_groups
		WHERE account_id = ? AND `+where+` ORDER BY display_name, id`, append([]any{accountID}, args...)...)
	if err != nil {
		return nil, fmt.Errorf("key groups: %w", err)
	}
	return out, nil
}

func checkGroupField(field, v string) error {
	switch {
	case v == "":
		if field == "uuid" {
			return fieldErr(field, "Enter the group's UUID as your IdP sends it (for Okta and Google Workspace: the group name).")
		}
		return fieldErr(field, "Enter the group's display name as your IdP shows it.")
	case len(v) > 256:
		return fieldErr(field, "Use at most 256 characters.")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fieldErr(field, "Line breaks and control characters are not allowed.")
	}
	return nil
}

// MapGroup maps an IdP group to a sublicense key of a per-user or mixed
// subscription: its members take their seat from that key. A group maps to
// one key; the configurator's admins and Desktop Users groups cannot be
// mapped (reserved, may be nil).
func (s *Service) MapGroup(ctx context.Context, caller Caller, keyID, uuid, name string, reserved ReservedGroupsFunc, actor audit.Actor) (*KeyGroup, error) {
	uuid, name = strings.TrimSpace(uuid), strings.TrimSpace(name)
	if err := checkGroupField("uuid", uuid); err != nil {
		return nil, err
	}
	if err := checkGroupField("name", name); err != nil {
		return nil, err
	}
	if reserved != nil {
		r, err := reserved(ctx, caller.AccountID)
		if err != nil {
			return nil, err
		}
		if label, ok := r[groupNorm(uuid)]; ok {
			return nil, fieldErr("uuid", "This is the %s group of your IdP integration: everyone who activates Desktop is in it. Map the groups that divide your users instead.", label)
		}
	}
	g := &KeyGroup{ID: ids.New(), UUID: uuid, Name: name, CreatedAt: store.At(s.now())}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		if err := s.mayManageKey(ctx, tx, caller, k); err != nil {
			return err
		}
		if k.Kind == KindPrimary {
			return fieldErr("uuid", "People in no mapped group already draw from the primary key; map groups to sublicense keys.")
		}
		sub, err := getSubscription(ctx, tx, k.SubscriptionID)
		if err != nil {
			return err
		}
		if !perUserModel(sub.Model) {
			return fieldErr("uuid", "This license is per device: its keys are activated with the key or an invitation. User groups select seats of per-user (SSO) or mixed licenses.")
		}
		g.KeyID = k.ID
		if err := peruser.InsertGroupTx(ctx, tx, peruser.NewGroup{ID: g.ID, AccountID: caller.AccountID, KeyID: k.ID,
			UUID: uuid, Norm: groupNorm(uuid), Name: name, CreatedBy: caller.PersonID}, g.CreatedAt); err != nil {
			if store.IsUniqueViolation(err) {
				return errGroupTaken // named below, outside the failed transaction
			}
			return fmt.Errorf("map group: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.user_group_mapped",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), After: map[string]string{"group_uuid": uuid, "group_name": name}})
	})
	if errors.Is(err, errGroupTaken) {
		var name, last string
		_ = s.DB.Writer().QueryRow(ctx, `SELECT k.name, k.key_last FROM license_key_groups g JOIN license_keys k ON k.id = g.key_id
			WHERE g.account_id = ? AND g.group_norm = ?`, caller.AccountID, groupNorm(uuid)).Scan(&name, &last)
		other := "another key"
		if last != "" {
			other = quoteName(keyDisplay(name, last))
		}
		return nil, fieldErr("uuid", "This group is already mapped to %s; a group selects one key. Remove it there first.", other)
	}
	if err != nil {
		return nil, err
	}
	return g, nil
}

var errGroupTaken = errors.New("group mapped to another key")

func quoteName(n string) string { return "“" + n + "”" }

// UnmapGroup removes a group from a key. People already holding seats keep
// them; they move on their next SSO activation.
func (s *Service) UnmapGroup(ctx context.Context, caller Caller, keyID, groupID string, actor audit.Actor) error {
	if !ids.Valid(groupID) {
		return store.ErrNotFound
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		if err := s.mayManageKey(ctx, tx, caller, k); err != nil {
			return err
		}
		uuid, name, err := peruser.DeleteGroupTx(ctx, tx, caller.AccountID, k.ID, groupID)
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.user_group_unmapped",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), Before: map[string]string{"group_uuid": uuid, "group_name": name}})
	})
}

// liveSub is a per-user or mixed subscription as pool choice sees it.
type liveSub struct {
	id, status        string
	endsAt, purgedAt  store.Time
	primaryID, prName string
	primaryLast       string
}

// mappedKey is a key some group maps to.
type mappedKey struct {
	keyID, name, kind, last, subID string
	createdAt                      store.Time
	groups                         []string // normalized
}

// poolCandidates reads the account's live per-user subscriptions and the
// keys groups map to.
func poolCandidates(ctx context.Context, q store.Querier, accountID string, now time.Time) (live []liveSub, refusal *DeviceError, keys []mappedKey, err error) {
	rows, err := q.Query(ctx, `SELECT s.id, s.status, s.ends_at, s.purged_at, COALESCE(p.id, ''), COALESCE(p.name, ''), COALESCE(p.key_last, '')
		FROM subscriptions s LEFT JOIN license_keys p ON p.subscription_id = s.id AND p.kind = 'primary'
		WHERE s.account_id = ? AND s.model IN ('per_user', 'mixed') ORDER BY s.registered_at, s.id`, accountID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("per-user subscriptions: %w", err)
	}
	var all []liveSub
	for rows.Next() {
		var l liveSub
		if err := rows.Scan(&l.id, &l.status, &l.endsAt, &l.purgedAt, &l.primaryID, &l.prName, &l.primaryLast); err != nil {
			rows.Close()
			return nil, nil, nil, fmt.Errorf("per-user subscriptions: %w", err)
		}
		all = append(all, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, nil, err
	}
	if len(all) == 0 {
		return nil, deviceErr(CodeNoSSOLicense, "Your organization has no per-user (SSO) Desktop license. Ask your IT admin, or activate Desktop with a license key."), nil, nil
	}
	for _, l := range all {
		if subscriptionRefusal(l.status, l.endsAt, l.purgedAt, now) == nil {
			live = append(live, l)
		}
	}
	if len(live) == 0 {
		last := all[len(all)-1]
		if r := subscriptionRefusal(last.status, last.endsAt, last.purgedAt, now); r != nil && r.Code == CodeSuspended {
			return nil, deviceErr(CodeSubscriptionSuspended, "Your organization's Desktop license is suspended. Ask your IT admin."), nil, nil
		}
		return nil, deviceErr(CodeSubscriptionExpired, "Your organization's Desktop license has expired. Ask your IT admin to renew it."), nil, nil
	}
	rows, err = q.Query(ctx, `SELECT k.id, k.name, k.kind, k.key_last, k.subscription_id, k.created_at, g.group_norm
		FROM license_key_groups g JOIN license_keys k ON k.id = g.key_id
		WHERE g.account_id = ? AND k.account_id = ? AND k.deleted_at IS NULL ORDER BY k.created_at, k.id`, accountID, accountID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("mapped groups: %w", err)
	}
	defer rows.Close()
	isLive := map[string]bool{}
	for _, l := range live {
		isLive[l.id] = true
	}
	for rows.Next() {
		var k mappedKey
		var g string
		if err := rows.Scan(&k.keyID, &k.name, &k.kind, &k.last, &k.subID, &k.createdAt, &g); err != nil {
			return nil, nil, nil, fmt.Errorf("mapped groups: %w", err)
		}
		if !isLive[k.subID] {
			continue
		}
		if n := len(keys); n > 0 && keys[n-1].keyID == k.keyID {
			keys[n-1].groups = append(keys[n-1].groups, g)
			continue
		}
		k.groups = []string{g}
		keys = append(keys, k)
	}
	return live, nil, keys, rows.Err()
}

// matchKeys returns the mapped keys whose groups intersect the person's,
// in the deterministic order: created first, then by id.
func matchKeys(keys []mappedKey, groups []string) []mappedKey {
	have := map[string]bool{}
	for _, g := range groups {
		have[groupNorm(g)] = true
	}
	var out []mappedKey
	for _, k := range keys {
		if slices.ContainsFunc(k.groups, func(g string) bool { return have[g] }) {
			out = append(out, k)
		}
	}
	return out
}

// pickPool chooses where a person with groups takes their seat (see the
// package notes in peruser.go).
func pickPool(ctx context.Context, q store.Querier, accountID string, groups []string, now time.Time) (*pool, error) {
	live, refusal, keys, err := poolCandidates(ctx, q, accountID, now)
	if err != nil {
		return nil, err
	}
	if refusal != nil {
		return nil, refusal
	}
	matched := matchKeys(keys, groups)
	if len(matched) == 0 {
		l := live[0]
		if l.primaryID == "" {
			return nil, fmt.Errorf("pick pool: subscription %s has no primary key", l.id)
		}
		return &pool{keyID: l.primaryID, keyName: l.prName, keyKind: KindPrimary, keyLast: l.primaryLast, subscriptionID: l.id}, nil
	}
	p := &pool{keyID: matched[0].keyID, keyName: matched[0].name, keyKind: matched[0].kind, keyLast: matched[0].last, subscriptionID: matched[0].subID}
	for _, m := range matched {
		p.candidates = append(p.candidates, m.keyID)
	}
	return p, nil
}

// GroupConflict is a person whose groups map to several keys: they draw
// from Chosen (the key created first) until the mapping is fixed.
type GroupConflict struct {
	PersonID string
	Email    string
	Chosen   string   // key name
	Keys     []string // all keys their groups map to, chosen first
}

// GroupConflicts lists people holding per-user seats whose groups (as seen
// at their latest SSO activation) map to more than one key under the
// current mapping.
func (s *Service) GroupConflicts(ctx context.Context, caller Caller) ([]GroupConflict, error) {
	if caller.Role != RoleAdmin && caller.Role != RoleLicenseAdmin {
		return nil, ErrForbidden
	}
	_, refusal, keys, err := poolCandidates(ctx, s.DB, caller.AccountID, s.now())
	if err != nil || refusal != nil || len(keys) < 2 {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT s.person_id, p.email, s.groups_json FROM license_user_seats s JOIN people p ON p.id = s.person_id
		WHERE s.account_id = ? AND s.status = 'active' ORDER BY p.email_norm`, caller.AccountID)
	if err != nil {
		return nil, fmt.Errorf("group conflicts: %w", err)
	}
	defer rows.Close()
	var out []GroupConflict
	for rows.Next() {
		var c GroupConflict
		var raw string
		if err := rows.Scan(&c.PersonID, &c.Email, &raw); err != nil {
			return nil, fmt.Errorf("group conflicts: %w", err)
		}
		var groups []string
		_ = json.Unmarshal([]byte(raw), &groups)
		m := matchKeys(keys, groups)
		if len(m) < 2 {
			continue
		}
		for _, k := range m {
			c.Keys = append(c.Keys, keyDisplay(k.name, k.last))
		}
		c.Chosen = c.Keys[0]
		out = append(out, c)
	}
	return out, rows.Err()
}

func keyDisplay(name, last string) string {
	if name != "" {
		return name
	}
	return MaskKey(last)
}
