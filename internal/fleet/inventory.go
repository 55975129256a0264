package fleet

import (
	"context"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// The Virtual Machines inventory (spec 05): every VM of every Desktop
// installation of an account, one row per fleet_vms row. The host's
// columns are copied onto each VM row by the check-in, so every sort and
// filter runs on that one table and its (account_id, column, id) indexes.

// Column is one column of the inventory.
type Column struct {
	Key   string // in URLs, preferences and the CSV header
	Label string
	// expr is the SQL of the column on fleet_vms v; sorting orders by it
	// and then by v.id, which the column's index ends with.
	expr string
	Kind string // text, enum or time
	// Options are the stored values of an enum column and their labels.
	Options []Option
	// Default columns are shown until a person picks their own; together
	// they fit a laptop's width without scrolling.
	Default bool
}

// lastReported is when a VM was last reported: for a present VM its
// installation's last check-in (fleet_seen, written in batches off the
// main rows), for a gone VM the time kept on its row.
const lastReported = `(CASE WHEN v.gone_at IS NULL THEN COALESCE((SELECT s.last_seen_at FROM fleet_seen s
	WHERE s.installation_id = v.installation_id), v.last_seen_at) ELSE v.last_seen_at END)`

// Option is one value of an enum column.
type Option struct{ Value, Label string }

// Column kinds.
const (
	KindText = "text"
	KindEnum = "enum"
	KindTime = "time"
)

// Columns lists every inventory column in display order.
var Columns = []Column{
	{Key: "name", Label: "VM name", expr: "v.name", Kind: KindText, Default: true},
	{Key: "user", Label: "User name", expr: "v.macos_user", Kind: KindText, Default: true},
	{Key: "computer", Label: "Computer name", expr: "v.computer_name", Kind: KindText, Default: true},
	{Key: "vm_id", Label: "VM ID", expr: "v.vm_uuid", Kind: KindText},
	{Key: "state", Label: "VM state", expr: "v.state", Kind: KindEnum, Default: true, Options: []Option{
		{StateRunning, StateLabel(StateRunning)}, {StateStopped, StateLabel(StateStopped)}, {StateSuspended, StateLabel(StateSuspended)},
		{StateUnknown, StateLabel(StateUnknown)}}},
	{Key: "status", Label: "VM status", expr: "v.status", Kind: KindEnum, Options: []Option{
		{StatusActive, StatusLabel(StatusActive, "")}, {"deactivated", StatusLabel(StatusActive, "deactivated")},
		{StatusDeleteFailed, StatusLabel(StatusDeleteFailed, "")}}},
	{Key: "os", Label: "Guest OS", expr: "v.guest_os", Kind: KindText, Default: true},
	{Key: "edition", Label: "OS edition", expr: "v.os_edition", Kind: KindText},
	{Key: "build", Label: "OS build", expr: "v.os_build", Kind: KindText},
	{Key: "serial", Label: "VM serial number", expr: "v.vm_serial", Kind: KindText},
	{Key: "source", Label: "VM source", expr: "v.source", Kind: KindEnum, Options: []Option{
		{"golden_image", "Golden image"}, {"other", "Other"}}},
	{Key: "encryption", Label: "VM encryption", expr: "v.encryption", Kind: KindEnum, Options: []Option{
		{EncryptionNone, EncryptionLabel(EncryptionNone)}, {EncryptionCustomPassword, EncryptionLabel(EncryptionCustomPassword)},
		{EncryptionLicenseBound, EncryptionLabel(EncryptionLicenseBound)}}},
	{Key: "command", Label: "Last command", expr: "v.last_command_state", Kind: KindEnum, Default: true, Options: []Option{
		{"none", "None"}, {"pending", "Pending"}, {"failed", "Failed"}, {"done", "Done"}, {"cancelled", "Cancelled"}}},
	{Key: "last_used", Label: "Last used (UTC)", expr: "v.last_used_at", Kind: KindTime},
	{Key: "last_reported", Label: "Last reported (UTC)", expr: lastReported, Kind: KindTime, Default: true},
	{Key: "desktop_version", Label: "Desktop version", expr: "v.desktop_version", Kind: KindText},
	{Key: "desktop_state", Label: "Desktop state", expr: "v.desktop_state", Kind: KindEnum, Options: []Option{
		{DesktopActivatedSSO, DesktopStateLabel(DesktopActivatedSSO)}, {DesktopActivatedKey, DesktopStateLabel(DesktopActivatedKey)},
		{DesktopDeactivated, DesktopStateLabel(DesktopDeactivated)}}},
	{Key: "tools", Label: "Guest tools version", expr: "v.tools_version", Kind: KindText},
	{Key: "mac_serial", Label: "Mac serial number", expr: "v.mac_serial", Kind: KindText},
	{Key: "cpu", Label: "CPU", expr: "v.cpu", Kind: KindEnum, Options: []Option{
		{CPUAppleSilicon, CPULabel(CPUAppleSilicon)}, {CPUIntel, CPULabel(CPUIntel)}}},
}

// ColumnByKey finds a column.
func ColumnByKey(key string) (Column, bool) {
	for _, c := range Columns {
		if c.Key == key {
			return c, true
		}
	}
	return Column{}, false
}

// DefaultColumns are the keys shown until a person picks their own.
func DefaultColumns() []string {
	var out []string
	for _, c := range Columns {
		if c.Default {
			out = append(out, c.Key)
		}
	}
	return out
}

// OptionLabel names a stored enum value for people ("" stays "").
func (c Column) OptionLabel(v string) string {
	for _, o := range c.Options {
		if o.Value == v {
			return o.Label
		}
	}
	return v
}

// PageSizes are the page lengths people may pick.
var PageSizes = []int{10, 20, 30, 40}

// CountCap bounds how far the inventory counts matching rows: beyond it the
// page says "more than 1000" instead of reading a million rows for an
// exact figure on every page view.
const CountCap = 1_000

// InventoryFilter narrows, orders and pages the inventory. The zero value
// lists the present VMs by name, 40 to a page.
type InventoryFilter struct {
	Query string            // matches any text column (case-insensitive, contains)
	By    map[string]string // column key → filter value (see Column.Kind)
	Sort  string            // column key
	Desc  bool
	// IncludeGone also lists VMs that a full report no longer listed.
	IncludeGone bool
	Size        int
	Page        int // from 1
	// osExact replaces the guest OS filter by equality with osValue: one
	// branch of a merged page (List).
	osExact bool
	osValue string
}

// FilterError says which filter value is unusable, in words for people.
type FilterError struct{ Field, Message string }

func (e *FilterError) Error() string { return e.Field + ": " + e.Message }

// ParseFilter reads a filter from a query string: q, f_<column>, sort, dir,
// size, page, gone. Unusable values are reported, never silently dropped.
func ParseFilter(q url.Values, defaultSize int) (InventoryFilter, error) {
	f := InventoryFilter{Query: strings.TrimSpace(q.Get("q")), By: map[string]string{}, Sort: "name",
		IncludeGone: q.Get("gone") == "1", Size: defaultSize, Page: 1}
	if len(f.Query) > 200 {
		return f, &FilterError{"q", "Search for at most 200 characters."}
	}
	for _, c := range Columns {
		v := strings.TrimSpace(q.Get("f_" + c.Key))
		if v == "" {
			continue
		}
		switch c.Kind {
		case KindEnum:
			if !slices.ContainsFunc(c.Options, func(o Option) bool { return o.Value == v }) {
				return f, &FilterError{"f_" + c.Key, fmt.Sprintf("%s has no value %q.", c.Label, v)}
			}
		case KindTime:
			if _, err := time.Parse("2006-01-02", v); err != nil {
				return f, &FilterError{"f_" + c.Key, fmt.Sprintf("%s: give a date as YYYY-MM-DD.", c.Label)}
			}
		default:
			if len(v) > 200 {
				return f, &FilterError{"f_" + c.Key, fmt.Sprintf("%s: filter on at most 200 characters.", c.Label)}
			}
		}
		f.By[c.Key] = v
	}
	if s := q.Get("sort"); s != "" {
		if _, ok := ColumnByKey(s); !ok {
			return f, &FilterError{"sort", fmt.Sprintf("There is no column %q to sort on.", s)}
		}
		f.Sort = s
		f.Desc = false
	}
	switch q.Get("dir") {
	case "":
	case "asc":
		f.Desc = false
	case "desc":
		f.Desc = true
	default:
		return f, &FilterError{"dir", "Sort ascending (asc) or descending (desc)."}
	}
	if s := q.Get("size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || !slices.Contains(PageSizes, n) {
			return f, &FilterError{"size", "Show 10, 20, 30 or 40 VMs on a page."}
		}
		f.Size = n
	}
	if s := q.Get("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1_000_000 {
			return f, &FilterError{"page", "Give a page number from 1."}
		}
		f.Page = n
	}
	return f, nil
}

// Values writes f back as a query string (without page), the inverse of
// ParseFilter, for links that keep the current filter.
func (f InventoryFilter) Values() url.Values {
	v := url.Values{}
	if f.Query != "" {
		v.Set("q", f.Query)
	}
	for _, c := range Columns {
		if x := f.By[c.Key]; x != "" {
			v.Set("f_"+c.Key, x)
		}
	}
	v.Set("sort", f.Sort)
	if f.Desc {
		v.Set("dir", "desc")
	} else {
		v.Set("dir", "asc")
	}
	if f.IncludeGone {
		v.Set("gone", "1")
	}
	if f.Size != 0 {
		v.Set("size", strconv.Itoa(f.Size))
	}
	return v
}

// InventoryRow is one inventory row: the VM with its host's columns, and
// whether Desktop was deactivated on its computer (shown as the VM status
// "Desktop deactivated").
type InventoryRow struct {
	VM
	Deactivated bool
}

const vmColumns = `v.id, v.account_id, v.installation_id, v.key_id, v.vm_uuid, v.name, v.state, v.status, v.guest_os, v.os_edition, v.os_build,
	v.vm_serial, v.source, COALESCE(v.golden_image_id, ''), v.encryption, v.tools_version, v.last_used_at, v.macos_user, v.computer_name,
	v.mac_serial, v.cpu, v.desktop_version, v.desktop_state, COALESCE(v.last_command_id, ''), v.last_command_kind, v.last_command_state,
	v.first_seen_at, v.last_report_at, ` + lastReported + `, v.gone_at,
	CASE WHEN EXISTS (SELECT 1 FROM license_activations a WHERE a.id = v.installation_id AND a.status = 'deactivated') THEN 1 ELSE 0 END`

func scanVM(sc store.Scanner) (InventoryRow, error) {
	var m InventoryRow
	var deactivated int
	err := sc.Scan(&m.ID, &m.AccountID, &m.InstallationID, &m.KeyID, &m.VMReport.ID, &m.Name, &m.State, &m.Status, &m.GuestOS, &m.OSEdition, &m.OSBuild,
		&m.Serial, &m.Source, &m.GoldenImageID, &m.Encryption, &m.ToolsVersion, &m.LastUsedAt, &m.MacOSUser, &m.ComputerName,
		&m.MacSerial, &m.CPU, &m.DesktopVersion, &m.DesktopState, &m.LastCommandID, &m.LastCommandKind, &m.LastCommandState,
		&m.FirstSeenAt, &m.LastReportAt, &m.LastSeenAt, &m.GoneAt, &deactivated)
	m.Deactivated = deactivated == 1
	return m, err
}

// Inventory answers the Virtual Machines pages; it only reads.
type Inventory struct {
	DB  *store.DB
	Now func() time.Time
}

func (inv *Inventory) now() time.Time {
	if inv.Now != nil {
		return inv.Now().UTC()
	}
	return time.Now().UTC()
}

// where builds the WHERE clause of f for caller. "v.gone_at IS NULL" is
// written literally so the planners match the partial indexes. For the
// page query (paged), filters on other columns than the sort column are
// kept from SQLite's index choice (store.NoIndex), so it walks the sort
// column's index and stops after a page; the count lets it use them.
//
// The clause comes with its FROM: when f sorts or filters on "Last
// reported" over present VMs only, the VMs are read through fleet_seen
// (seenDriven), so the time is a plain column with an index
// (fleet_seen_account_seen) instead of a per-row subquery no planner can
// order or range on.
func (inv *Inventory) where(ctx context.Context, caller license.Caller, f InventoryFilter, paged bool) (string, []any, error) {
	scope, args, err := ScopeWhere(caller, "v")
	if err != nil {
		return "", nil, err
	}
	d := inv.DB.Dialect()
	seen := seenDriven(f)
	var b strings.Builder
	switch {
	case seen && f.Sort == "last_reported":
		// fleet_seen first: its (account_id, last_seen_at) index gives the
		// order, each installation's VMs are joined on (installation_id,
		// vm_uuid). CROSS JOIN fixes that order in SQLite; PostgreSQL
		// still weighs both.
		b.WriteString("FROM fleet_seen s CROSS JOIN fleet_vms v ")
	case seen:
		// The sort column's index first, each VM's installation looked up
		// by fleet_seen's primary key.
		b.WriteString("FROM fleet_vms v CROSS JOIN fleet_seen s ")
	default:
		b.WriteString("FROM fleet_vms v ")
	}
	b.WriteString("WHERE " + scope)
	if !f.IncludeGone {
		b.WriteString(" AND v.gone_at IS NULL")
	}
	if seen {
		// A present VM's installation always has its fleet_seen row (added
		// with the host in the same transaction), so the inner join keeps
		// every present VM.
		b.WriteString(" AND s.account_id = ? AND s.installation_id = v.installation_id")
		args = append(args, caller.AccountID)
	}
	if f.Query != "" {
		like := "%" + escapeLike(f.Query) + "%"
		b.WriteString(" AND (")
		n := 0
		for _, c := range Columns {
			if c.Kind != KindText {
				continue
			}
			if n > 0 {
				b.WriteString(" OR ")
			}
			b.WriteString(d.ContainsFold(c.expr))
			args = append(args, like)
			n++
		}
		b.WriteString(")")
	}
	for _, c := range Columns {
		v := f.By[c.Key]
		if v == "" {
			continue
		}
		expr := c.expr
		if seen && c.Key == "last_reported" {
			expr = "s.last_seen_at"
		}
		if paged && c.Key != f.Sort {
			expr = d.NoIndex(expr)
		}
		if c.Key == "os" && f.osExact {
			b.WriteString(" AND v.guest_os = ?")
			args = append(args, f.osValue)
			continue
		}
		if (c.Key == "os" || c.Key == "desktop_version") && !f.IncludeGone {
			cond, condArgs, err := inv.valuesFilter(ctx, caller, c.expr, v, paged, f.Sort == c.Key)
			if err != nil {
				return "", nil, err
			}
			if cond != "" { // else too many values: the contains match below
				b.WriteString(" AND " + cond)
				args = append(args, condArgs...)
				continue
			}
		}
		switch {
		case c.Key == "status" && v == "deactivated":
			b.WriteString(" AND EXISTS (SELECT 1 FROM license_activations a WHERE a.id = v.installation_id AND a.status = 'deactivated')")
		case c.Key == "status":
			b.WriteString(" AND " + expr + " = ? AND NOT EXISTS (SELECT 1 FROM license_activations a WHERE a.id = v.installation_id AND a.status = 'deactivated')")
			args = append(args, v)
		case c.Key == "command" && v == "none":
			b.WriteString(" AND " + expr + " = ''")
		case c.Key == "command" && v == "pending":
			b.WriteString(" AND " + expr + " IN ('pending', 'delivered')")
		case c.Kind == KindEnum:
			b.WriteString(" AND " + expr + " = ?")
			args = append(args, v)
		case c.Kind == KindTime:
			// "Not reported since" / "not used since": before the start of
			// that day (UTC); a VM never used counts as not used since.
			day, _ := time.Parse("2006-01-02", v)
			if c.Key == "last_used" {
				b.WriteString(" AND (" + expr + " IS NULL OR " + expr + " < ?)")
			} else {
				b.WriteString(" AND " + expr + " < ?")
			}
			args = append(args, store.Millis(day))
		default:
			b.WriteString(" AND " + d.ContainsFold(c.expr))
			args = append(args, "%"+escapeLike(v)+"%")
		}
	}
	return b.String(), args, nil
}

func (inv *Inventory) orderBy(f InventoryFilter) string {
	c, ok := ColumnByKey(f.Sort)
	if !ok {
		c, _ = ColumnByKey("name")
	}
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	expr := c.expr
	if c.Key == "last_reported" && seenDriven(f) {
		expr = "s.last_seen_at"
	}
	return " ORDER BY " + expr + dir + ", v.id" + dir
}

// osPaired are the sort columns with an index (account_id, guest_os,
// column, id) (migration 00951): VM names, editions and builds follow the
// guest OS, so walking their own index to the rows of one OS can pass most
// of the account first.
var osPaired = map[string]bool{"name": true, "edition": true, "build": true}

// mergedPageMax bounds the guest OS values a merged page reads one branch
// each for.
const mergedPageMax = 8

// mergedPage builds the page query of f when it filters on guest OS and
// sorts on an osPaired column: one branch per matching guest OS value,
// each reading at most a page (plus the offset) off the paired index in
// order, merged and cut to the page. It returns "" for other filters.
func (inv *Inventory) mergedPage(ctx context.Context, caller license.Caller, f InventoryFilter) (string, []any, error) {
	if f.IncludeGone || f.By["os"] == "" || !osPaired[f.Sort] {
		return "", nil, nil
	}
	match, ok, err := inv.values(ctx, caller, "v.guest_os", f.By["os"])
	if err != nil || !ok || len(match) == 0 || len(match) > mergedPageMax {
		return "", nil, err
	}
	c, _ := ColumnByKey(f.Sort)
	order := inv.orderBy(f)
	dir := " ASC"
	if f.Desc {
		dir = " DESC"
	}
	var b strings.Builder
	var args []any
	for i, m := range match {
		g := f
		g.osExact, g.osValue = true, m.(string)
		where, wargs, err := inv.where(ctx, caller, g, true)
		if err != nil {
			return "", nil, err
		}
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		fmt.Fprintf(&b, "SELECT id, k FROM (SELECT v.id AS id, %s AS k %s%s LIMIT ?) b%d", c.expr, where, order, i)
		args = append(append(args, wargs...), f.Page*f.Size+1)
	}
	q := `SELECT ` + vmColumns + ` FROM fleet_vms v WHERE v.id IN (SELECT id FROM (` + b.String() + `) u ORDER BY k` + dir + `, id` + dir +
		` LIMIT ? OFFSET ?)` + order
	return q, append(args, f.Size+1, (f.Page-1)*f.Size), nil
}

// seenDriven says f reads present VMs through fleet_seen (see where). With
// gone VMs included, the time of a gone VM is on its own row and the
// per-row expression stays.
func seenDriven(f InventoryFilter) bool {
	return !f.IncludeGone && (f.Sort == "last_reported" || f.By["last_reported"] != "")
}

// valuesCap bounds how many distinct values a text filter resolves (see
// valuesFilter); a fleet with more falls back to matching every row.
const valuesCap = 500

// valuesFilter turns the filter on a text column of few distinct values
// (guest OS, Desktop version: "contains", case-insensitive) into an exact
// match on the values present that contain it. An account has a few dozen
// distinct values, read one index seek each (a skip scan of the column's
// (account_id, column, id) index written as a recursive query, which
// neither planner does by itself), and matched with the same operator as
// the text filter, so the result is the same rows. An exact IN list has
// statistics PostgreSQL can weigh against the sort (a pattern has none and
// made it sort the whole account), and a value that matches nothing costs
// no scan at all. sorted says the page is ordered by this column: then a
// range from the first to the last match lets the index walk start at the
// first match. col is the column's expression on v; it returns "" when the
// account has more than valuesCap values.
func (inv *Inventory) valuesFilter(ctx context.Context, caller license.Caller, col, v string, paged, sorted bool) (string, []any, error) {
	d := inv.DB.Dialect()
	match, ok, err := inv.values(ctx, caller, col, v)
	if err != nil || !ok {
		return "", nil, err
	}
	if len(match) == 0 {
		return "1 = 0", nil, nil
	}
	in := col + " IN (" + store.Placeholders(len(match)) + ")"
	switch {
	case !paged:
		return in, match, nil
	case sorted:
		// Values come in index order: the range starts the walk at the
		// first match and ends it after the last; the list only filters.
		return col + " >= ? AND " + col + " <= ? AND " + d.NoIndex(col) + " IN (" + store.Placeholders(len(match)) + ")",
			append([]any{match[0], match[len(match)-1]}, match...), nil
	default:
		return d.NoIndex(col) + " IN (" + store.Placeholders(len(match)) + ")", match, nil
	}
}

// values returns the distinct values of col (on v) among the account's
// present VMs that contain v, in index order; ok is false when there are
// more than valuesCap distinct values.
func (inv *Inventory) values(ctx context.Context, caller license.Caller, col, v string) (match []any, ok bool, err error) {
	name := strings.TrimPrefix(col, "v.")
	d := inv.DB.Dialect()
	rows, err := inv.DB.Query(ctx, `WITH RECURSIVE t(x, n) AS (
			SELECT MIN(`+name+`), 1 FROM fleet_vms WHERE account_id = ? AND gone_at IS NULL
			UNION ALL
			SELECT (SELECT MIN(`+name+`) FROM fleet_vms WHERE account_id = ? AND gone_at IS NULL AND `+name+` > t.x), t.n + 1
			FROM t WHERE t.x IS NOT NULL AND t.n <= ?)
		SELECT x, CASE WHEN `+d.ContainsFold("x")+` THEN 1 ELSE 0 END FROM t WHERE x IS NOT NULL`,
		caller.AccountID, caller.AccountID, valuesCap, "%"+escapeLike(v)+"%")
	if err != nil {
		return nil, false, fmt.Errorf("%s values: %w", name, err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var x string
		var ok int
		if err := rows.Scan(&x, &ok); err != nil {
			return nil, false, fmt.Errorf("%s values: %w", name, err)
		}
		n++
		if ok == 1 {
			match = append(match, x)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("%s values: %w", name, err)
	}
	return match, n <= valuesCap, nil
}

// InventoryPage is one page of the inventory.
type InventoryPage struct {
	VMs []InventoryRow
	// Total is the number of matching VMs, exact when below CountCap;
	// Capped says there are more than CountCap.
	Total  int
	Capped bool
	// More says a next page exists.
	More bool
}

// List returns one page of the VMs viewer may see that match f.
func (inv *Inventory) List(ctx context.Context, caller license.Caller, f InventoryFilter) (*InventoryPage, error) {
	if f.Size <= 0 {
		f.Size = 40
	}
	f.Page = max(f.Page, 1)
	where, args, err := inv.where(ctx, caller, f, false)
	if err != nil {
		return nil, err
	}
	pageWhere, pageArgs, err := inv.where(ctx, caller, f, true)
	if err != nil {
		return nil, err
	}
	p := &InventoryPage{}
	// The count stops at CountCap+1 rows so a page of a million-row
	// inventory never counts the whole table.
	if err := inv.DB.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT 1 `+where+` LIMIT ?) t`,
		append(args, CountCap+1)...).Scan(&p.Total); err != nil {
		return nil, fmt.Errorf("count vms: %w", err)
	}
	if p.Total > CountCap {
		p.Total, p.Capped = CountCap, true
	}
	query, qargs, err := inv.mergedPage(ctx, caller, f)
	if err != nil {
		return nil, err
	}
	if query == "" {
		query, qargs = `SELECT `+vmColumns+` `+pageWhere+inv.orderBy(f)+` LIMIT ? OFFSET ?`, append(pageArgs, f.Size+1, (f.Page-1)*f.Size)
	}
	p.VMs, err = store.QueryAll(ctx, inv.DB, scanVM, query, qargs...)
	if err != nil {
		return nil, fmt.Errorf("list vms: %w", err)
	}
	if len(p.VMs) > f.Size {
		p.VMs, p.More = p.VMs[:f.Size], true
	}
	return p, nil
}

// Row returns one VM viewer may see (gone ones included).
func (inv *Inventory) Row(ctx context.Context, caller license.Caller, id string) (*InventoryRow, error) {
	where, args, err := inv.where(ctx, caller, InventoryFilter{IncludeGone: true}, false)
	if err != nil {
		return nil, err
	}
	m, err := scanVM(inv.DB.QueryRow(ctx, `SELECT `+vmColumns+` `+where+` AND v.id = ?`, append(args, id)...))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &m, nil
}

// Visible returns which of ids viewer may see, in the order given, with
// their rows (gone VMs included; unknown ids and other accounts' are left
// out).
func (inv *Inventory) Visible(ctx context.Context, caller license.Caller, ids []string) ([]InventoryRow, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	if len(ids) > 1000 {
		return nil, &FilterError{"vm", "Choose at most 1,000 VMs at a time."}
	}
	where, args, err := inv.where(ctx, caller, InventoryFilter{IncludeGone: true}, false)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		args = append(args, id)
	}
	found, err := store.QueryAll(ctx, inv.DB, scanVM, `SELECT `+vmColumns+` `+where+` AND v.id IN (`+store.Placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("visible vms: %w", err)
	}
	byID := map[string]InventoryRow{}
	for _, m := range found {
		byID[m.ID] = m
	}
	var out []InventoryRow
	seen := map[string]bool{}
	for _, id := range ids {
		if m, ok := byID[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, m)
		}
	}
	return out, nil
}

// Each calls fn for every VM viewer may see that matches f, in f's order,
// reading them as one streamed result: memory stays flat however many
// rows there are (the CSV export).
func (inv *Inventory) Each(ctx context.Context, caller license.Caller, f InventoryFilter, fn func(*InventoryRow) error) error {
	where, args, err := inv.where(ctx, caller, f, true)
	if err != nil {
		return err
	}
	rows, err := inv.DB.Query(ctx, `SELECT `+vmColumns+` `+where+inv.orderBy(f), args...)
	if err != nil {
		return fmt.Errorf("export vms: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		m, err := scanVM(rows)
		if err != nil {
			return fmt.Errorf("export vms: %w", err)
		}
		if err := fn(&m); err != nil {
			return err
		}
	}
	return rows.Err()
}

// escapeLike escapes LIKE wildcards with a backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}
