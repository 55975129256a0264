package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"gatehouse/internal/store"
)

// table describes where a resource type lives.
type table struct {
	rt   *resourceType
	name string
	// sqlSort maps a sortBy path to a NOT NULL column the database can
	// order by; other sort keys are sorted in Go.
	sqlSort map[string]string
	// narrowCols are the *_norm/indexed columns narrow conditions may use.
	narrowCols map[string]bool
}

var (
	usersTable = &table{
		rt: userType, name: "scim_users",
		sqlSort:    map[string]string{"id": "id", "userName": "user_name_norm", "meta.created": "created", "meta.lastModified": "last_modified"},
		narrowCols: map[string]bool{"id": true, "external_id": true, "user_name_norm": true, "display_name_norm": true},
	}
	groupsTable = &table{
		rt: groupType, name: "scim_groups",
		sqlSort:    map[string]string{"id": "id", "displayName": "display_name_norm", "meta.created": "created", "meta.lastModified": "last_modified"},
		narrowCols: map[string]bool{"id": true, "external_id": true, "display_name_norm": true},
	}
)

const recordCols = `id, data, created, last_modified, version`

type scanner interface{ Scan(dest ...any) error }

func scanRecord(sc scanner) (*record, error) {
	var r record
	var data string
	var created, modified store.Time
	if err := sc.Scan(&r.id, &data, &created, &modified, &r.version); err != nil {
		return nil, err
	}
	m, err := decodeData(data)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", r.id, err)
	}
	r.data, r.created, r.modified = m, created.Time, modified.Time
	return &r, nil
}

func decodeData(s string) (map[string]any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]any{}
	}
	return m, nil
}

func encodeData(m map[string]any) (string, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "", err
	}
	return strings.TrimSuffix(b.String(), "\n"), nil
}

// loadRecord reads one resource of the account; another account's row is
// reported exactly like a missing one.
func loadRecord(ctx context.Context, q store.Querier, t *table, accountID, id string) (*record, error) {
	r, err := scanRecord(q.QueryRow(ctx, `SELECT `+recordCols+` FROM `+t.name+` WHERE account_id = ? AND id = ?`, accountID, id))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return r, nil
}

// loadRecords reads the resources with the given ids, in that order.
func loadRecords(ctx context.Context, q store.Querier, t *table, accountID string, ids []string) ([]*record, error) {
	byID := make(map[string]*record, len(ids))
	for _, chunk := range chunks(ids, 500) {
		args := append([]any{accountID}, anySlice(chunk)...)
		rows, err := q.Query(ctx, `SELECT `+recordCols+` FROM `+t.name+` WHERE account_id = ? AND id IN (`+store.Placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return nil, err
			}
			byID[r.id] = r
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	out := make([]*record, 0, len(ids))
	for _, id := range ids {
		if r, ok := byID[id]; ok {
			out = append(out, r)
		}
	}
	return out, nil
}

func chunks(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > n {
		out = append(out, ids[:n])
		ids = ids[n:]
	}
	if len(ids) > 0 {
		out = append(out, ids)
	}
	return out
}

func anySlice(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// memberRef is one membership as rendered: the other side's id and name.
type memberRef struct {
	id      string
	display string
}

// groupsOfUsers returns, per user id, the groups the user belongs to.
func groupsOfUsers(ctx context.Context, q store.Querier, accountID string, userIDs []string) (map[string][]memberRef, error) {
	out := map[string][]memberRef{}
	for _, chunk := range chunks(userIDs, 500) {
		args := append([]any{accountID}, anySlice(chunk)...)
		rows, err := q.Query(ctx, `SELECT m.user_id, g.id, g.display_name FROM scim_group_members m CROSS JOIN scim_groups g
			WHERE m.account_id = ? AND m.user_id IN (`+store.Placeholders(len(chunk))+`)
			AND g.account_id = m.account_id AND g.id = m.group_id ORDER BY g.display_name_norm, g.id`, args...)
		if err != nil {
			return nil, err
		}
		if err := collectRefs(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// allGroupsOfUsers returns the memberships of every user of the account.
func allGroupsOfUsers(ctx context.Context, q store.Querier, accountID string) (map[string][]memberRef, error) {
	out := map[string][]memberRef{}
	rows, err := q.Query(ctx, `SELECT m.user_id, g.id, g.display_name FROM scim_group_members m
		JOIN scim_groups g ON g.account_id = m.account_id AND g.id = m.group_id
		WHERE m.account_id = ?`, accountID)
	if err != nil {
		return nil, err
	}
	return out, collectRefs(rows, out)
}

// membersOfGroups returns, per group id, its members with their display names.
func membersOfGroups(ctx context.Context, q store.Querier, accountID string, groupIDs []string) (map[string][]memberRef, error) {
	out := map[string][]memberRef{}
	for _, chunk := range chunks(groupIDs, 500) {
		args := append([]any{accountID}, anySlice(chunk)...)
		// CROSS JOIN fixes the join order on SQLite (memberships first, by
		// index); on PostgreSQL it is an ordinary inner join.
		rows, err := q.Query(ctx, `SELECT m.group_id, u.id, CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.user_name END
			FROM scim_group_members m CROSS JOIN scim_users u
			WHERE m.account_id = ? AND m.group_id IN (`+store.Placeholders(len(chunk))+`)
			AND u.account_id = m.account_id AND u.id = m.user_id ORDER BY m.group_id, m.user_id`, args...)
		if err != nil {
			return nil, err
		}
		if err := collectRefs(rows, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func allMembersOfGroups(ctx context.Context, q store.Querier, accountID string) (map[string][]memberRef, error) {
	out := map[string][]memberRef{}
	rows, err := q.Query(ctx, `SELECT m.group_id, u.id, CASE WHEN u.display_name <> '' THEN u.display_name ELSE u.user_name END
		FROM scim_group_members m JOIN scim_users u ON u.account_id = m.account_id AND u.id = m.user_id
		WHERE m.account_id = ? ORDER BY u.id`, accountID)
	if err != nil {
		return nil, err
	}
	return out, collectRefs(rows, out)
}

type rowsLike interface {
	Next() bool
	Scan(dest ...any) error
	Close() error
	Err() error
}

func collectRefs(rows rowsLike, out map[string][]memberRef) error {
	defer rows.Close()
	for rows.Next() {
		var key string
		var ref memberRef
		if err := rows.Scan(&key, &ref.id, &ref.display); err != nil {
			return err
		}
		out[key] = append(out[key], ref)
	}
	return rows.Err()
}

// memberIDsOf returns the user ids in a group.
func memberIDsOf(ctx context.Context, q store.Querier, accountID, groupID string) ([]string, error) {
	return store.QueryAll(ctx, q, store.ScanValue[string], `SELECT user_id FROM scim_group_members WHERE account_id = ? AND group_id = ?`, accountID, groupID)
}

// existingUsers returns which of ids are users of the account.
func existingUsers(ctx context.Context, q store.Querier, accountID string, ids []string) (map[string]bool, error) {
	found := make(map[string]bool, len(ids))
	for _, chunk := range chunks(ids, 500) {
		args := append([]any{accountID}, anySlice(chunk)...)
		rows, err := q.Query(ctx, `SELECT id FROM scim_users WHERE account_id = ? AND id IN (`+store.Placeholders(len(chunk))+`)`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			found[id] = true
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return found, nil
}

// addMembers inserts memberships and returns the user ids actually added.
func addMembers(ctx context.Context, tx *store.Tx, accountID, groupID string, ids []string) ([]string, error) {
	var added []string
	for _, chunk := range chunks(ids, 300) {
		var sb strings.Builder
		args := make([]any, 0, 3*len(chunk))
		for i, id := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(?, ?, ?)")
			args = append(args, accountID, groupID, id)
		}
		rows, err := tx.Query(ctx, `INSERT INTO scim_group_members (account_id, group_id, user_id) VALUES `+sb.String()+`
			ON CONFLICT DO NOTHING RETURNING user_id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			added = append(added, id)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return added, nil
}

// removeMembers deletes memberships and returns the user ids actually removed.
func removeMembers(ctx context.Context, tx *store.Tx, accountID, groupID string, ids []string) ([]string, error) {
	var removed []string
	for _, chunk := range chunks(ids, 500) {
		args := append([]any{accountID, groupID}, anySlice(chunk)...)
		rows, err := tx.Query(ctx, `DELETE FROM scim_group_members WHERE account_id = ? AND group_id = ? AND user_id IN (`+
			store.Placeholders(len(chunk))+`) RETURNING user_id`, args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			removed = append(removed, id)
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return removed, nil
}
