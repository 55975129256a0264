// Package mail queues email in the database outbox (inside the caller's
// transaction, so a message exists exactly when the change that caused it
// commits) and delivers it over SMTP with retries.
package mail

import (
	"context"
	"fmt"
	"net/mail"
	"strings"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Message is one email to queue.
type Message struct {
	AccountID string // "" when the message belongs to no business account
	Kind      string // e.g. "password_reset", "member_invite", "license_invitation"
	To        string
	Subject   string
	Text      string
	HTML      string
	// RefType/RefID point at the row the message is about (an invitation…),
	// so its delivery state can be shown next to it.
	RefType string
	RefID   string
}

// Enqueue stores m as pending; the sender delivers it. Returns the outbox id.
func Enqueue(ctx context.Context, q store.Querier, m Message) (string, error) {
	addr, err := mail.ParseAddress(m.To)
	if err != nil || strings.ContainsAny(m.To, "\r\n") {
		return "", fmt.Errorf("queue email: invalid recipient %q", m.To)
	}
	var account any
	if m.AccountID != "" {
		account = m.AccountID
	}
	id := ids.New()
	now := store.Now()
	_, err = q.Exec(ctx, `INSERT INTO outbox (id, account_id, kind, to_addr, subject, body_text, body_html,
		status, attempts, next_attempt_at, ref_type, ref_id, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)`,
		id, account, m.Kind, addr.Address, m.Subject, m.Text, m.HTML, now, m.RefType, m.RefID, now)
	if err != nil {
		return "", fmt.Errorf("queue email: %w", err)
	}
	return id, nil
}
