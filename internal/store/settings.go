package store

import (
	"context"
	"fmt"
)

// Setting reads a value from the settings table ("" and ErrNotFound when absent).
func Setting(ctx context.Context, q Querier, key string) (string, error) {
	var v string
	if err := q.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&v); err != nil {
		return "", NotFound(err)
	}
	return v, nil
}

// SetSetting writes a value, replacing any previous one.
func SetSetting(ctx context.Context, q Querier, key, value string) error {
	if _, err := q.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set %s: %w", key, err)
	}
	return nil
}

// TakeSetting deletes key when it holds value and reports whether it did:
// the conditional delete lets exactly one of several concurrent requests
// consume a one-time value (the setup token).
func TakeSetting(ctx context.Context, q Querier, key, value string) (bool, error) {
	res, err := q.Exec(ctx, `DELETE FROM settings WHERE key = ? AND value = ?`, key, value)
	if err != nil {
		return false, fmt.Errorf("take %s: %w", key, err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// EnsureSetting returns the stored value of key, storing make() first when
// there is none. Several nodes starting at once all end up with the value of
// whichever stored first, so secrets shared by nodes (cookie keys, signing
// keys) are made exactly once.
func EnsureSetting(ctx context.Context, db *DB, key string, make func() (string, error)) (string, error) {
	if v, err := Setting(ctx, db, key); err == nil {
		return v, nil
	} else if err != ErrNotFound {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	v, err := make()
	if err != nil {
		return "", err
	}
	if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, v); err != nil {
		return "", fmt.Errorf("store %s: %w", key, err)
	}
	v, err = Setting(ctx, db.writer(), key)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", key, err)
	}
	return v, nil
}
