package store

// Case-insensitive substring matching and planner hints differ between the
// engines; feature packages ask here instead of testing the dialect.

// ContainsFold returns a condition matching expr against one LIKE pattern
// parameter (with \ as the escape character), ignoring ASCII case: SQLite's
// LIKE already folds ASCII case; PostgreSQL needs ILIKE. Neither wraps the
// column in LOWER(), so PostgreSQL estimates the match from the column's
// statistics (a LOWER() expression has none, and its default guess makes
// the planner scan the whole table).
func (d Dialect) ContainsFold(expr string) string {
	if d == Postgres {
		return expr + ` ILIKE ? ESCAPE '\'`
	}
	return expr + ` LIKE ? ESCAPE '\'`
}

// NoIndex wraps expr so that SQLite's planner does not pick an index for a
// condition on it. SQLite has no statistics for ranges and enum columns of
// a few values, and picks a filter's index and sorts every match over the
// index that gives the wanted order and stops after a page; PostgreSQL
// weighs both with LIMIT in mind, so the expression stays as it is there.
func (d Dialect) NoIndex(expr string) string {
	if d == Postgres {
		return expr
	}
	return "+" + expr
}
