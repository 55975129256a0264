package account

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"gatehouse/internal/csvexport"
	"gatehouse/internal/store"
)

// AuditEntry is one row of the audit log as admins read it.
type AuditEntry struct {
	ID          string
	At          store.Time
	ActorType   string
	ActorID     string
	ActorLabel  string
	Action      string
	TargetType  string
	TargetID    string
	TargetLabel string
	Before      string
	After       string
	SourceIP    string
	RequestID   string
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	Actor  string    // substring of the actor label
	Action string    // prefix of the action, e.g. "member." or "member.role_changed"
	From   time.Time // inclusive
	To     time.Time // exclusive
	Limit  int       // 0 = no limit
	Before string    // page: entries older than this entry id
}

// AuditLog returns an account's audit entries, newest first.
func (s *Service) AuditLog(ctx context.Context, accountID string, f AuditFilter) ([]AuditEntry, error) {
	q := `SELECT id, at, actor_type, actor_id, actor_label, action, target_type, target_id, target_label,
		before_json, after_json, source_ip, request_id FROM audit_log WHERE account_id = ?`
	args := []any{accountID}
	if a := strings.TrimSpace(f.Actor); a != "" {
		q += ` AND LOWER(actor_label) LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscape(strings.ToLower(a))+"%")
	}
	if a := strings.TrimSpace(f.Action); a != "" {
		q += ` AND action LIKE ? ESCAPE '\'`
		args = append(args, likeEscape(a)+"%")
	}
	if !f.From.IsZero() {
		q += ` AND at >= ?`
		args = append(args, store.At(f.From))
	}
	if !f.To.IsZero() {
		q += ` AND at < ?`
		args = append(args, store.At(f.To))
	}
	if f.Before != "" {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit)
	}
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (AuditEntry, error) {
		var e AuditEntry
		if err := row.Scan(&e.ID, &e.At, &e.ActorType, &e.ActorID, &e.ActorLabel, &e.Action, &e.TargetType, &e.TargetID,
			&e.TargetLabel, &e.Before, &e.After, &e.SourceIP, &e.RequestID); err != nil {
			return e, err
		}
		return e, nil
	}, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	return out, nil
}

// AuditActions lists the distinct actions recorded for an account (for the
// filter's choices).
func (s *Service) AuditActions(ctx context.Context, accountID string) ([]string, error) {
	out, err := store.QueryAll(ctx, s.DB, store.ScanValue[string], `SELECT DISTINCT action FROM audit_log WHERE account_id = ? ORDER BY action`, accountID)
	if err != nil {
		return nil, fmt.Errorf("audit actions: %w", err)
	}
	return out, nil
}

// WriteAuditCSV writes entries as CSV with a header row. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func WriteAuditCSV(w io.Writer, entries []AuditEntry) error {
	cw, err := csvexport.New(w, "time_utc", "actor_type", "actor", "actor_id", "action", "target_type", "target",
		"target_id", "before", "after", "source_ip", "request_id")
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := cw.Row(e.At.UTC().Format(time.RFC3339), e.ActorType, e.ActorLabel, e.ActorID, e.Action,
			e.TargetType, e.TargetLabel, e.TargetID, e.Before, e.After, e.SourceIP, e.RequestID); err != nil {
			return err
		}
	}
	return cw.Close()
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
