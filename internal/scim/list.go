package scim

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
)

// listQuery is a parsed GET /Users|/Groups (or POST /.search) request.
type listQuery struct {
	filter     *compiledFilter
	startIndex int // 1-based
	count      int
	sortSteps  []*attr
	sortPath   string // canonical, e.g. "userName", "meta.created"
	desc       bool
}

type listParams struct {
	filter, startIndex, count, sortBy, sortOrder string
}

func parseListQuery(rt *resourceType, maxResults int, p listParams) (*listQuery, error) {
	q := &listQuery{startIndex: 1, count: maxResults}
	if strings.TrimSpace(p.filter) != "" {
		f, err := parseFilter(rt, p.filter)
		if err != nil {
			return nil, err
		}
		q.filter = f
	}
	if s := strings.TrimSpace(p.startIndex); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest(ErrInvalidValue, "startIndex must be an integer, not %q", s)
		}
		if n > 1 {
			q.startIndex = n // values below 1 mean 1 (RFC 7644 §3.4.2.4)
		}
	}
	if s := strings.TrimSpace(p.count); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, badRequest(ErrInvalidValue, "count must be an integer, not %q", s)
		}
		switch {
		case n < 0:
			q.count = 0
		case n < maxResults:
			q.count = n
		}
	}
	if s := strings.TrimSpace(p.sortBy); s != "" {
		steps, ok := resolveAttrList(rt, s)
		if !ok {
			return nil, badRequest(ErrInvalidValue, "sortBy: unknown attribute %q", s)
		}
		leaf := steps[len(steps)-1]
		if leaf.Type == tComplex {
			v := leaf.sub("value")
			if v == nil {
				return nil, badRequest(ErrInvalidValue, "sortBy: %s is complex; name a sub-attribute", pathName(steps))
			}
			steps = append(steps, v)
		}
		q.sortSteps, q.sortPath = steps, pathName(steps)
	}
	switch strings.ToLower(strings.TrimSpace(p.sortOrder)) {
	case "", "ascending":
	case "descending":
		q.desc = true
	default:
		return nil, badRequest(ErrInvalidValue, "sortOrder must be \"ascending\" or \"descending\", not %q", p.sortOrder)
	}
	return q, nil
}

// list returns the total number of matches and the requested page.
func (s *Service) list(ctx context.Context, accountID string, t *table, q *listQuery) (int, []*record, error) {
	if q.filter == nil {
		col, ok := "id", true
		if q.sortPath != "" {
			col, ok = t.sqlSort[q.sortPath]
		}
		if ok {
			return s.listSQL(ctx, accountID, t, q, col)
		}
	}
	extraName := "groups"
	if t == groupsTable {
		extraName = "members"
	}
	needExtra := (q.filter != nil && q.filter.uses[extraName]) ||
		(len(q.sortSteps) > 0 && q.sortSteps[0].Name == extraName)

	where := "account_id = ?"
	args := []any{accountID}
	if q.filter != nil {
		for _, c := range q.filter.narrow {
			if t.narrowCols[c.column] {
				where += " AND " + c.column + " = ?"
				args = append(args, c.value)
			}
		}
	}
	narrowed := len(args) > 1
	match := func(map[string]any) bool { return true }
	if q.filter != nil {
		match = q.filter.match
	}

	type hit struct {
		id  string
		rec *record // kept when narrowed (few rows)
		key sortKey
	}
	var hits []hit
	consider := func(rec *record, extra map[string][]memberRef, keep bool) {
		d := evalDoc(t, rec, extra)
		if !match(d) {
			return
		}
		h := hit{id: rec.id}
		if keep {
			h.rec = rec
		}
		if q.sortSteps != nil {
			h.key = makeSortKey(d, q.sortSteps)
		}
		hits = append(hits, h)
	}

	if narrowed {
		rows, err := s.DB.Query(ctx, `SELECT `+recordCols+` FROM `+t.name+` WHERE `+where, args...)
		if err != nil {
			return 0, nil, err
		}
		var cands []*record
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return 0, nil, err
			}
			cands = append(cands, r)
		}
		if err := rows.Close(); err != nil {
			return 0, nil, err
		}
		if err := rows.Err(); err != nil {
			return 0, nil, err
		}
		var extra map[string][]memberRef
		if needExtra && len(cands) > 0 {
			idList := make([]string, len(cands))
			for i, c := range cands {
				idList[i] = c.id
			}
			if t == usersTable {
				extra, err = groupsOfUsers(ctx, s.DB, accountID, idList)
			} else {
				extra, err = membersOfGroups(ctx, s.DB, accountID, idList)
			}
			if err != nil {
				return 0, nil, err
			}
		}
		for _, c := range cands {
			consider(c, extra, true)
		}
	} else {
		var extra map[string][]memberRef
		var err error
		if needExtra {
			if t == usersTable {
				extra, err = allGroupsOfUsers(ctx, s.DB, accountID)
			} else {
				extra, err = allMembersOfGroups(ctx, s.DB, accountID)
			}
			if err != nil {
				return 0, nil, err
			}
		}
		rows, err := s.DB.Query(ctx, `SELECT `+recordCols+` FROM `+t.name+` WHERE `+where, args...)
		if err != nil {
			return 0, nil, err
		}
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				rows.Close()
				return 0, nil, err
			}
			consider(r, extra, false)
		}
		if err := rows.Close(); err != nil {
			return 0, nil, err
		}
		if err := rows.Err(); err != nil {
			return 0, nil, err
		}
	}

	sort.SliceStable(hits, func(i, j int) bool {
		if q.sortSteps != nil {
			if c := compareSortKeys(hits[i].key, hits[j].key, q.desc); c != 0 {
				return c < 0
			}
		}
		if q.desc && q.sortSteps != nil {
			return hits[i].id > hits[j].id
		}
		return hits[i].id < hits[j].id
	})
	total := len(hits)
	start := q.startIndex - 1
	if start >= total || q.count == 0 {
		return total, nil, nil
	}
	end := min(start+q.count, total)
	page := hits[start:end]
	out := make([]*record, 0, len(page))
	var missing []string
	for _, h := range page {
		if h.rec == nil {
			missing = append(missing, h.id)
		}
	}
	var fetched map[string]*record
	if len(missing) > 0 {
		recs, err := loadRecords(ctx, s.DB, t, accountID, missing)
		if err != nil {
			return 0, nil, err
		}
		fetched = make(map[string]*record, len(recs))
		for _, r := range recs {
			fetched[r.id] = r
		}
	}
	for _, h := range page {
		r := h.rec
		if r == nil {
			r = fetched[h.id]
		}
		if r != nil { // deleted between the scan and the fetch
			out = append(out, r)
		}
	}
	return total, out, nil
}

// listSQL pages without a filter, ordered by an indexed column.
func (s *Service) listSQL(ctx context.Context, accountID string, t *table, q *listQuery, col string) (int, []*record, error) {
	var total int
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM `+t.name+` WHERE account_id = ?`, accountID).Scan(&total); err != nil {
		return 0, nil, err
	}
	if q.count == 0 || q.startIndex > total {
		return total, nil, nil
	}
	dir := "ASC"
	if q.desc {
		dir = "DESC"
	}
	order := col + " " + dir
	if col != "id" {
		order += ", id " + dir
	}
	// The offset is walked in the index on ids only (an index-only scan on
	// PostgreSQL); the wide rows are read for the page alone. Okta's import
	// pages through every user, so deep offsets are common.
	rows, err := s.DB.Query(ctx, `SELECT `+recordCols+` FROM `+t.name+` WHERE account_id = ? AND id IN (
		SELECT id FROM `+t.name+` WHERE account_id = ? ORDER BY `+order+` LIMIT ? OFFSET ?) ORDER BY `+order,
		accountID, accountID, q.count, q.startIndex-1)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var out []*record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return 0, nil, err
		}
		out = append(out, r)
	}
	return total, out, rows.Err()
}

// evalDoc is the document filters see: the stored resource plus id, meta
// and, when given, the computed groups (users) or members (groups).
func evalDoc(t *table, rec *record, extra map[string][]memberRef) map[string]any {
	d := make(map[string]any, len(rec.data)+4)
	for k, v := range rec.data {
		d[k] = v
	}
	d["id"] = rec.id
	d["meta"] = map[string]any{
		"resourceType": t.rt.Name,
		"created":      dateTime(rec.created),
		"lastModified": dateTime(rec.modified),
		"version":      etag(rec.version),
	}
	if extra != nil {
		refs := extra[rec.id]
		if len(refs) > 0 {
			list := make([]any, len(refs))
			for i, r := range refs {
				if t == usersTable {
					list[i] = map[string]any{"value": r.id, "display": r.display, "type": "direct"}
				} else {
					list[i] = map[string]any{"value": r.id, "display": r.display, "type": "User"}
				}
			}
			if t == usersTable {
				d["groups"] = list
			} else {
				d["members"] = list
			}
		}
	}
	return d
}

// sortKey is one resource's value of the sortBy attribute.
type sortKey struct {
	present bool
	s       string
	t       time.Time
	f       float64
	kind    attrType
}

// makeSortKey takes the primary (else first) value of the attribute.
func makeSortKey(d map[string]any, steps []*attr) sortKey {
	var v any
	if steps[0].Multi && len(steps) > 1 {
		list, _ := d[steps[0].Name].([]any)
		for i, e := range list {
			m, ok := e.(map[string]any)
			if !ok {
				continue
			}
			if m["primary"] == true || i == 0 {
				if vals := collect(m, steps[1:]); len(vals) > 0 {
					v = vals[0]
				}
				if m["primary"] == true {
					break
				}
			}
		}
	} else if vals := collect(d, steps); len(vals) > 0 {
		v = vals[0]
	}
	leaf := steps[len(steps)-1]
	k := sortKey{kind: leaf.Type}
	switch x := v.(type) {
	case string:
		k.present = true
		switch {
		case leaf.Type == tDateTime:
			if t, err := parseDateTime(x); err == nil {
				k.t = t
			}
		case leaf.CaseExact:
			k.s = x
		default:
			k.s = fold(x)
		}
	case bool:
		k.present = true
		if x {
			k.f = 1
		}
	case json.Number:
		k.present = true
		k.f, _ = x.Float64()
	}
	return k
}

// compareSortKeys orders present values by type and puts unassigned values
// last in ascending order (first in descending: the order is reversed).
func compareSortKeys(a, b sortKey, desc bool) int {
	var c int
	switch {
	case !a.present && !b.present:
		return 0
	case !a.present:
		c = 1
	case !b.present:
		c = -1
	case a.kind == tDateTime:
		c = a.t.Compare(b.t)
	case a.kind == tBoolean || a.kind == tInteger || a.kind == tDecimal:
		switch {
		case a.f < b.f:
			c = -1
		case a.f > b.f:
			c = 1
		}
	default:
		c = strings.Compare(a.s, b.s)
	}
	if desc {
		return -c
	}
	return c
}
