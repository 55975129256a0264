package store

import (
	"database/sql/driver"
	"fmt"
	"time"
)

// Time is a UTC instant stored as BIGINT milliseconds since the Unix epoch on
// both engines (see docs/decisions.md): it compares and sorts the same way
// everywhere and needs no per-driver parsing. The zero Time is stored as NULL.
type Time struct{ time.Time }

// Now returns the current time truncated to storage precision.
func Now() Time { return Time{time.Now().UTC().Truncate(time.Millisecond)} }

// At wraps t for storage.
func At(t time.Time) Time {
	if t.IsZero() {
		return Time{}
	}
	return Time{t.UTC().Truncate(time.Millisecond)}
}

// Millis returns t as epoch milliseconds (for use as a query argument).
func Millis(t time.Time) int64 { return t.UTC().UnixMilli() }

// Value implements driver.Valuer.
func (t Time) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.UTC().UnixMilli(), nil
}

// Scan implements sql.Scanner.
func (t *Time) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case int64:
		t.Time = time.UnixMilli(v).UTC()
	case int32:
		t.Time = time.UnixMilli(int64(v)).UTC()
	case float64:
		t.Time = time.UnixMilli(int64(v)).UTC()
	default:
		return fmt.Errorf("store.Time: cannot scan %T", src)
	}
	return nil
}
