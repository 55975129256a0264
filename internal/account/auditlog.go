package account

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strings"
	"time"

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
	rows, err := s.DB.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	defer rows.Close()
	var out []AuditEntry
	for rows.Next() {
		var e AuditEntry
		if err := rows.Scan(&e.ID, &e.At, &e.ActorType, &e.ActorID, &e.ActorLabel, &e.Action, &e.TargetType, &e.TargetID,
			&e.TargetLabel, &e.Before, &e.After, &e.SourceIP, &e.RequestID); err != nil {
			return nil, fmt.Errorf("audit log: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// AuditActions lists the distinct actions recorded for an account (for the
// filter's choices).
func (s *Service) AuditActions(ctx context.Context, accountID string) ([]string, error) {
	rows, err := s.DB.Query(ctx, `SELECT DISTINCT action FROM audit_log WHERE account_id = ? ORDER BY action`, accountID)
	if err != nil {
		return nil, fmt.Errorf("audit actions: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("audit actions: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// WriteAuditCSV writes entries as CSV with a header row. Cells that a
// spreadsheet would run as a formula are prefixed with a quote.
func WriteAuditCSV(w io.Writer, entries []AuditEntry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write([]string{"time_utc", "actor_type", "actor", "actor_id", "action", "target_type", "target",
		"target_id", "before", "after", "source_ip", "request_id"}); err != nil {
		return err
	}
	for _, e := range entries {
		if err := cw.Write(SafeCSV(e.At.UTC().Format(time.RFC3339), e.ActorType, e.ActorLabel, e.ActorID, e.Action,
			e.TargetType, e.TargetLabel, e.TargetID, e.Before, e.After, e.SourceIP, e.RequestID)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// SafeCSV neutralises spreadsheet formula injection in exported cells.
func SafeCSV(cells ...string) []string {
	for i, c := range cells {
		if c != "" && strings.ContainsRune("=+-@\t\r", rune(c[0])) {
			cells[i] = "'" + c
		}
	}
	return cells
}

func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
