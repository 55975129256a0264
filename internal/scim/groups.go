package scim

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	filter "github.com/scim2/filter-parser/v2"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

var membersAttr = groupSchema.attr("members")

// memberIDs reads a "members" value: [{"value": id, "type": "User"}, …].
// Members are users of the same account; nested groups are not supported.
func memberIDs(value any, path string) ([]string, error) {
	// Each element must name its member: normalisation would silently drop
	// an element that only carries read-only "display".
	for i, e := range asList(value) {
		if m, ok := e.(map[string]any); ok {
			if v, _ := lookupCI(m, "value"); v == nil {
				return nil, badRequest(ErrInvalidValue, "%s[%d].value (the member's id) is required", path, i)
			}
		}
	}
	nv, ok, err := normalizeValue(membersAttr, value, path)
	if err != nil || !ok {
		return nil, err
	}
	var out []string
	seen := map[string]bool{}
	for i, e := range nv.([]any) {
		m, _ := e.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return nil, badRequest(ErrInvalidValue, "%s[%d].value (the member's id) is required", path, i)
		}
		if t, ok := m["type"].(string); ok && !strings.EqualFold(t, "User") {
			return nil, badRequest(ErrInvalidValue, "%s[%d]: only users can be members (type %q is not supported)", path, i, t)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out, nil
}

// memberPatch accumulates the effect of PATCH operations on "members" as set
// operations, so that adding 100 members to a group of 100,000 touches 100
// rows. Operations it cannot express that way (filters on anything but
// value, sub-attribute paths) load the member list and run the generic
// PATCH engine on it.
type memberPatch struct {
	load         func() ([]any, error)
	replaceAll   bool
	adds         []string
	addSet       map[string]bool
	removes      map[string]bool
	materialized bool
	list         []any
}

func newMemberPatch(load func() ([]any, error)) *memberPatch {
	return &memberPatch{load: load, addSet: map[string]bool{}, removes: map[string]bool{}}
}

func (mp *memberPatch) add(id string) {
	delete(mp.removes, id)
	if !mp.addSet[id] {
		mp.addSet[id] = true
		mp.adds = append(mp.adds, id)
	}
}

func (mp *memberPatch) remove(id string) {
	if mp.addSet[id] {
		delete(mp.addSet, id)
		for i, a := range mp.adds {
			if a == id {
				mp.adds = append(mp.adds[:i], mp.adds[i+1:]...)
				break
			}
		}
	}
	if !mp.replaceAll {
		mp.removes[id] = true
	}
}

func (mp *memberPatch) setAll(ids []string) {
	mp.replaceAll = true
	mp.adds, mp.addSet, mp.removes = nil, map[string]bool{}, map[string]bool{}
	for _, id := range ids {
		mp.add(id)
	}
}

func (mp *memberPatch) apply(rt *resourceType, op string, fp filter.Path, steps []*attr, raw string, value any, hasValue bool) error {
	if !mp.materialized {
		if len(steps) == 1 && fp.ValueExpression == nil {
			switch op {
			case "add":
				ids, err := memberIDs(value, "members")
				if err != nil {
					return err
				}
				for _, id := range ids {
					mp.add(id)
				}
				return nil
			case "replace":
				ids, err := memberIDs(value, "members")
				if err != nil {
					return err
				}
				mp.setAll(ids)
				return nil
			case "remove":
				if hasValue && value != nil {
					// Entra ID: remove the listed members only.
					ids, err := memberIDs(value, "members")
					if err != nil {
						return err
					}
					for _, id := range ids {
						mp.remove(id)
					}
				} else {
					mp.setAll(nil)
				}
				return nil
			}
		}
		if op == "remove" && fp.ValueExpression != nil && fp.SubAttribute == nil {
			if ids, ok := valueEqIDs(fp.ValueExpression); ok {
				for _, id := range ids {
					mp.remove(id)
				}
				return nil
			}
		}
		if err := mp.materialize(); err != nil {
			return err
		}
	}
	doc := map[string]any{"members": mp.list}
	p := &patcher{rt: rt, res: doc}
	if err := p.applyAt(op, fp, raw, value, hasValue, false); err != nil {
		return err
	}
	mp.list = asList(doc["members"])
	for i, e := range mp.list {
		m, _ := e.(map[string]any)
		id, _ := m["value"].(string)
		if id == "" {
			return badRequest(ErrInvalidValue, "members[%d].value (the member's id) is required", i)
		}
		if t, ok := m["type"].(string); ok && !strings.EqualFold(t, "User") {
			return badRequest(ErrInvalidValue, "members[%d]: only users can be members (type %q is not supported)", i, t)
		}
	}
	return nil
}

// materialize switches to working on the whole member list.
func (mp *memberPatch) materialize() error {
	var list []any
	if !mp.replaceAll {
		cur, err := mp.load()
		if err != nil {
			return err
		}
		for _, e := range cur {
			m := e.(map[string]any)
			if !mp.removes[m["value"].(string)] && !mp.addSet[m["value"].(string)] {
				list = append(list, m)
			}
		}
	}
	for _, id := range mp.adds {
		list = append(list, map[string]any{"value": id, "type": "User"})
	}
	mp.list, mp.materialized = list, true
	return nil
}

// result returns the change: either the complete new member set
// (replaceAll) or ids to add and remove.
func (mp *memberPatch) result() (replaceAll bool, adds, removes []string) {
	if mp.materialized {
		seen := map[string]bool{}
		for _, e := range mp.list {
			id := e.(map[string]any)["value"].(string)
			if !seen[id] {
				seen[id] = true
				adds = append(adds, id)
			}
		}
		return true, adds, nil
	}
	for id := range mp.removes {
		removes = append(removes, id)
	}
	sort.Strings(removes)
	return mp.replaceAll, mp.adds, removes
}

func (mp *memberPatch) touched() bool {
	return mp.materialized || mp.replaceAll || len(mp.adds) > 0 || len(mp.removes) > 0
}

// valueEqIDs recognises `value eq "id"` and `value eq "a" or value eq "b"`.
func valueEqIDs(e filter.Expression) ([]string, bool) {
	switch x := e.(type) {
	case *filter.LogicalExpression:
		if !strings.EqualFold(string(x.Operator), "or") {
			return nil, false
		}
		l, ok := valueEqIDs(x.Left)
		if !ok {
			return nil, false
		}
		r, ok := valueEqIDs(x.Right)
		if !ok {
			return nil, false
		}
		return append(l, r...), true
	case *filter.AttributeExpression:
		if !strings.EqualFold(string(x.Operator), "eq") || x.AttributePath.URIPrefix != nil ||
			x.AttributePath.SubAttribute != nil || !strings.EqualFold(x.AttributePath.AttributeName, "value") {
			return nil, false
		}
		s, ok := x.CompareValue.(string)
		if !ok {
			return nil, false
		}
		s, err := unescape(s)
		if err != nil {
			return nil, false
		}
		return []string{s}, true
	}
	return nil, false
}

// applyMembers writes a member change and returns what actually changed.
func applyMembers(ctx context.Context, tx *store.Tx, accountID, groupID string, replaceAll bool, adds, removes []string) (added, removed []string, err error) {
	if len(adds) > 0 {
		found, err := existingUsers(ctx, tx, accountID, adds)
		if err != nil {
			return nil, nil, err
		}
		for _, id := range adds {
			if !found[id] {
				return nil, nil, badRequest(ErrInvalidValue, "member %q is not a user of this account", id)
			}
		}
	}
	if replaceAll {
		cur, err := memberIDsOf(ctx, tx, accountID, groupID)
		if err != nil {
			return nil, nil, err
		}
		want := make(map[string]bool, len(adds))
		for _, id := range adds {
			want[id] = true
		}
		have := make(map[string]bool, len(cur))
		removes = nil
		for _, id := range cur {
			have[id] = true
			if !want[id] {
				removes = append(removes, id)
			}
		}
		var toAdd []string
		for _, id := range adds {
			if !have[id] {
				toAdd = append(toAdd, id)
			}
		}
		adds = toAdd
	}
	if removed, err = removeMembers(ctx, tx, accountID, groupID, removes); err != nil {
		return nil, nil, err
	}
	if added, err = addMembers(ctx, tx, accountID, groupID, adds); err != nil {
		return nil, nil, err
	}
	return added, removed, nil
}

// groupColumns derives the indexed columns from a canonical group.
func groupColumns(data map[string]any) (displayName, externalID string) {
	displayName, _ = data["displayName"].(string)
	externalID, _ = data["externalId"].(string)
	return
}

// splitMembers takes "members" out of a canonical group body.
func splitMembers(body map[string]any) (data map[string]any, members []string, hasMembers bool, err error) {
	if err := checkSchemas(groupType, body); err != nil {
		return nil, nil, false, err
	}
	var raw any
	rest := make(map[string]any, len(body))
	for k, v := range body {
		if strings.EqualFold(k, "members") {
			raw, hasMembers = v, true
			continue
		}
		rest[k] = v
	}
	data, err = normalizeResource(groupType, rest)
	if err != nil {
		return nil, nil, false, err
	}
	if err := checkRequired(groupType, data); err != nil {
		return nil, nil, false, err
	}
	if hasMembers {
		if members, err = memberIDs(raw, "members"); err != nil {
			return nil, nil, false, err
		}
	}
	return data, members, hasMembers, nil
}

func (s *Service) createGroup(ctx context.Context, accountID string, actor audit.Actor, body map[string]any) (*record, error) {
	data, members, _, err := splitMembers(body)
	if err != nil {
		return nil, err
	}
	now := store.At(s.now())
	rec := &record{id: ids.New(), data: data, created: now.Time, modified: now.Time, version: 1}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		js, err := encodeData(data)
		if err != nil {
			return err
		}
		displayName, externalID := groupColumns(data)
		if _, err := tx.Exec(ctx, `INSERT INTO scim_groups (id, account_id, display_name, display_name_norm, external_id,
			data, created, last_modified, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			rec.id, accountID, displayName, fold(displayName), nullable(externalID), js, now, now, rec.version); err != nil {
			return err
		}
		added, _, err := applyMembers(ctx, tx, accountID, rec.id, false, members, nil)
		if err != nil {
			return err
		}
		after := map[string]any{"displayName": displayName}
		if externalID != "" {
			after["externalId"] = externalID
		}
		if len(added) > 0 {
			after["members_added"] = added
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: "scim.group_created",
			TargetType: "scim_group", TargetID: rec.id, TargetLabel: displayName, After: after,
		}); err != nil {
			return err
		}
		if len(added) > 0 {
			return s.hooks().MembershipChanged(ctx, tx, accountID, rec.id, added, nil)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func (s *Service) getGroup(ctx context.Context, accountID, id string) (*record, error) {
	if !ids.Valid(id) {
		return nil, errNotFound
	}
	r, err := loadRecord(ctx, s.DB, groupsTable, accountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound
	}
	return r, err
}

// groupChange is what PUT or PATCH computed for a group.
type groupChange struct {
	data       map[string]any
	members    bool // membership is changed
	replaceAll bool
	adds       []string
	removes    []string
}

func (s *Service) updateGroup(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string,
	change func(tx *store.Tx, cur *record) (*groupChange, error)) (*record, error) {
	return s.updateRecord(ctx, groupsTable, accountID, id, ifMatch, func(tx *store.Tx, cur *record) (*record, error) {
		ch, err := change(tx, cur)
		if err != nil {
			return nil, err
		}
		if err := checkRequired(groupType, ch.data); err != nil {
			return nil, err
		}
		var added, removed []string
		if ch.members {
			if added, removed, err = applyMembers(ctx, tx, accountID, id, ch.replaceAll, ch.adds, ch.removes); err != nil {
				return nil, err
			}
		}
		dataChanged := !valueEqual(nil, ch.data, cur.data)
		if !dataChanged && len(added) == 0 && len(removed) == 0 {
			return cur, nil
		}
		now := store.At(s.now())
		next := &record{id: id, data: ch.data, created: cur.created, modified: now.Time, version: cur.version + 1}
		js, err := encodeData(ch.data)
		if err != nil {
			return nil, err
		}
		displayName, externalID := groupColumns(ch.data)
		res, err := tx.Exec(ctx, `UPDATE scim_groups SET display_name = ?, display_name_norm = ?, external_id = ?,
			data = ?, last_modified = ?, version = ? WHERE account_id = ? AND id = ? AND version = ?`,
			displayName, fold(displayName), nullable(externalID), js, now, next.version, accountID, id, cur.version)
		if err != nil {
			return nil, err
		}
		if n, err := res.RowsAffected(); err != nil {
			return nil, err
		} else if n == 0 {
			return nil, errConcurrent
		}
		before, after := diffTop(cur.data, ch.data)
		action := "scim.group_updated"
		if !dataChanged {
			action = "scim.group_members_changed"
		}
		if len(added) > 0 {
			after["members_added"] = added
		}
		if len(removed) > 0 {
			after["members_removed"] = removed
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: action,
			TargetType: "scim_group", TargetID: id, TargetLabel: displayName,
			Before: before, After: after,
		}); err != nil {
			return nil, err
		}
		if len(added) > 0 || len(removed) > 0 {
			if err := s.hooks().MembershipChanged(ctx, tx, accountID, id, added, removed); err != nil {
				return nil, err
			}
		}
		return next, nil
	})
}

func (s *Service) replaceGroup(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string, body map[string]any) (*record, error) {
	data, members, _, err := splitMembers(body)
	if err != nil {
		return nil, err
	}
	return s.updateGroup(ctx, accountID, actor, id, ifMatch, func(tx *store.Tx, cur *record) (*groupChange, error) {
		// PUT replaces the resource: members not listed are removed.
		return &groupChange{data: deepCopy(data).(map[string]any), members: true, replaceAll: true, adds: members}, nil
	})
}

func (s *Service) patchGroup(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string, ops []patchOp) (*record, error) {
	return s.updateGroup(ctx, accountID, actor, id, ifMatch, func(tx *store.Tx, cur *record) (*groupChange, error) {
		mp := newMemberPatch(func() ([]any, error) {
			refs, err := membersOfGroups(ctx, tx, accountID, []string{id})
			if err != nil {
				return nil, err
			}
			list := make([]any, 0, len(refs[id]))
			for _, r := range refs[id] {
				list = append(list, map[string]any{"value": r.id, "display": r.display, "type": "User"})
			}
			return list, nil
		})
		p := &patcher{rt: groupType, res: deepCopy(cur.data).(map[string]any), members: mp}
		for i, op := range ops {
			if err := p.apply(op); err != nil {
				if e, ok := asError(err); ok {
					return nil, &Error{Status: e.Status, ScimType: e.ScimType, Detail: fmt.Sprintf("Operations[%d]: %s", i, e.Detail)}
				}
				return nil, err
			}
		}
		ch := &groupChange{data: p.res, members: mp.touched()}
		ch.replaceAll, ch.adds, ch.removes = mp.result()
		return ch, nil
	})
}

func (s *Service) deleteGroup(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string) error {
	if !ids.Valid(id) {
		return errNotFound
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, err := loadForChange(ctx, tx, groupsTable, accountID, id, ifMatch)
		if err != nil {
			return err
		}
		members, err := memberIDsOf(ctx, tx, accountID, id)
		if err != nil {
			return err
		}
		// Memberships go first and the hook runs while the group row still
		// exists, so that it can tell which group (admins? Desktop Users?)
		// lost its members.
		if _, err := tx.Exec(ctx, `DELETE FROM scim_group_members WHERE account_id = ? AND group_id = ?`, accountID, id); err != nil {
			return err
		}
		if len(members) > 0 {
			if err := s.hooks().MembershipChanged(ctx, tx, accountID, id, nil, members); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_groups WHERE account_id = ? AND id = ?`, accountID, id); err != nil {
			return err
		}
		g := cur.group()
		return audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: "scim.group_deleted",
			TargetType: "scim_group", TargetID: id, TargetLabel: g.DisplayName,
			Before: map[string]any{"displayName": g.DisplayName, "externalId": g.ExternalID, "members": len(members)},
		})
	})
}
