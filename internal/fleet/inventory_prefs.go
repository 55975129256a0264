package fleet

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// Prefs are the columns and page length one person picked for the
// inventory of one account.
type Prefs struct {
	Columns  []string
	PageSize int
}

// DefaultPrefs are used until a person saves their own.
func DefaultPrefs() Prefs { return Prefs{Columns: DefaultColumns(), PageSize: 40} }

// Prefs returns viewer's saved choice, or the defaults.
func (inv *Inventory) Prefs(ctx context.Context, caller license.Caller) (Prefs, error) {
	var cols string
	var size int
	err := inv.DB.QueryRow(ctx, `SELECT columns, page_size FROM fleet_inventory_prefs WHERE account_id = ? AND person_id = ?`,
		caller.AccountID, caller.PersonID).Scan(&cols, &size)
	if errors.Is(err, sql.ErrNoRows) {
		return DefaultPrefs(), nil
	} else if err != nil {
		return Prefs{}, fmt.Errorf("inventory prefs: %w", err)
	}
	p := Prefs{PageSize: size}
	for _, k := range strings.Split(cols, ",") {
		// Columns removed since the choice was saved are dropped quietly.
		if _, ok := ColumnByKey(k); ok {
			p.Columns = append(p.Columns, k)
		}
	}
	if len(p.Columns) == 0 {
		p.Columns = DefaultColumns()
	}
	if !slices.Contains(PageSizes, p.PageSize) {
		p.PageSize = 40
	}
	return p, nil
}

// SavePrefs stores viewer's choice: at least one known column (kept in
// display order), and a page length of 10, 20, 30 or 40.
func (inv *Inventory) SavePrefs(ctx context.Context, caller license.Caller, columns []string, pageSize int) (Prefs, error) {
	var keep []string
	for _, c := range Columns {
		if slices.Contains(columns, c.Key) {
			keep = append(keep, c.Key)
		}
	}
	for _, k := range columns {
		if _, ok := ColumnByKey(k); !ok {
			return Prefs{}, &FilterError{"columns", fmt.Sprintf("There is no column %q.", k)}
		}
	}
	if len(keep) == 0 {
		return Prefs{}, &FilterError{"columns", "Pick at least one column to show."}
	}
	if !slices.Contains(PageSizes, pageSize) {
		return Prefs{}, &FilterError{"size", "Show 10, 20, 30 or 40 VMs on a page."}
	}
	_, err := inv.DB.Exec(ctx, `INSERT INTO fleet_inventory_prefs (account_id, person_id, columns, page_size, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account_id, person_id) DO UPDATE SET columns = excluded.columns, page_size = excluded.page_size, updated_at = excluded.updated_at`,
		caller.AccountID, caller.PersonID, strings.Join(keep, ","), pageSize, store.At(inv.now()))
	if err != nil {
		return Prefs{}, fmt.Errorf("save inventory prefs: %w", err)
	}
	return Prefs{Columns: keep, PageSize: pageSize}, nil
}
