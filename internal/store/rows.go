package store

import (
	"context"
	"database/sql"
)

// Scanner is one result row: *sql.Row and *sql.Rows both are.
type Scanner interface {
	Scan(dest ...any) error
}

// CollectRows reads every row of rows with scan, closes rows and returns
// the first error of the query, a scan or the iteration. It replaces the
// hand-written Next/Scan/append/Err loop, whose easy-to-forget parts
// (Close, the final Err) are the ones that matter.
func CollectRows[T any](rows *sql.Rows, err error, scan func(Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// QueryAll runs query on q and collects its rows with scan.
func QueryAll[T any](ctx context.Context, q Querier, scan func(Scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, query, args...)
	return CollectRows(rows, err, scan)
}

// ScanValue scans a one-column row (ids, names, counts).
func ScanValue[T any](r Scanner) (T, error) {
	var v T
	err := r.Scan(&v)
	return v, err
}
