package mail

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// Queued is a message in the outbox with its delivery state.
type Queued struct {
	ID            string
	AccountID     string
	Kind          string
	To            string
	Subject       string
	Text          string
	Status        string
	Attempts      int
	NextAttemptAt store.Time
	LastError     string
	CreatedAt     store.Time
	SentAt        store.Time
}

// List returns the newest outbox messages (the operator's outbox page).
func List(ctx context.Context, q store.Querier, limit int) ([]Queued, error) {
	out, err := store.QueryAll(ctx, q, func(row store.Scanner) (Queued, error) {
		var m Queued
		if err := row.Scan(&m.ID, &m.AccountID, &m.Kind, &m.To, &m.Subject, &m.Text, &m.Status, &m.Attempts,
			&m.NextAttemptAt, &m.LastError, &m.CreatedAt, &m.SentAt); err != nil {
			return m, err
		}
		return m, nil
	}, `SELECT id, COALESCE(account_id, ''), kind, to_addr, subject, body_text, status, attempts,
		next_attempt_at, last_error, created_at, sent_at FROM outbox ORDER BY created_at DESC, id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("list outbox: %w", err)
	}
	return out, nil
}
