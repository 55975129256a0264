package scim

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// tokenPrefix makes a leaked token recognisable (secret scanners, logs).
const tokenPrefix = "ghscim_"

// TokenInfo describes an account's SCIM bearer token without revealing it.
type TokenInfo struct {
	Exists    bool
	Last4     string    // the last four characters, for "…abcd"
	CreatedAt time.Time // of the current token
	// PreviousValidUntil is when the token replaced by the last regeneration
	// stops working; zero when no previous token is still valid.
	PreviousValidUntil time.Time
}

// Activity is what the configurator shows about SCIM traffic.
type Activity struct {
	LastRequestAt time.Time // to within 10 seconds
	LastError     string    // the last request that failed (4xx except 404 and 429, or 5xx)
	LastErrorAt   time.Time
	Users         int
	ActiveUsers   int
	Groups        int
}

// GenerateToken issues a new bearer token for the account and returns it in
// clear, once; only its hash is stored. A token issued before keeps working
// for overlap (so the admin can paste the new one into the IdP first); a
// token still in an earlier overlap stops now.
func (s *Service) GenerateToken(ctx context.Context, accountID string, actor audit.Actor, overlap time.Duration) (string, error) {
	if overlap < 0 {
		overlap = 0
	}
	token := tokenPrefix + ids.Secret(32)
	last4 := token[len(token)-4:]
	now := s.now()
	id := ids.New()
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE scim_tokens SET retired_at = ? WHERE account_id = ? AND retired_at > ?`,
			store.At(now), accountID, store.At(now)); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE scim_tokens SET retired_at = ? WHERE account_id = ? AND retired_at IS NULL`,
			store.At(now.Add(overlap)), accountID)
		if err != nil {
			return err
		}
		replaced, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_tokens (id, account_id, token_hash, last4, created_at) VALUES (?, ?, ?, ?, ?)`,
			id, accountID, ids.Hash(token), last4, store.At(now)); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_settings (account_id, enabled) VALUES (?, ?) ON CONFLICT (account_id) DO NOTHING`,
			accountID, true); err != nil {
			return err
		}
		action, after := "scim.token_generated", map[string]any{"last4": last4}
		if replaced > 0 {
			action = "scim.token_regenerated"
			after["previous_valid_until"] = now.Add(overlap).Format(time.RFC3339)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: action,
			TargetType: "scim_token", TargetID: id, TargetLabel: "SCIM token …" + last4,
			After: after,
		})
	})
	if err != nil {
		return "", fmt.Errorf("generate SCIM token: %w", err)
	}
	return token, nil
}

func accountExists(ctx context.Context, q store.Querier, accountID string) error {
	var one int
	if err := q.QueryRow(ctx, `SELECT 1 FROM accounts WHERE id = ?`, accountID).Scan(&one); err != nil {
		return store.NotFound(err)
	}
	return nil
}

// TokenStatus reports whether the account has a token and its masked form.
func (s *Service) TokenStatus(ctx context.Context, accountID string) (TokenInfo, error) {
	var info TokenInfo
	var created store.Time
	err := s.DB.QueryRow(ctx, `SELECT last4, created_at FROM scim_tokens
		WHERE account_id = ? AND retired_at IS NULL ORDER BY created_at DESC LIMIT 1`, accountID).Scan(&info.Last4, &created)
	switch err := store.NotFound(err); {
	case err == nil:
		info.Exists = true
		info.CreatedAt = created.Time
	case !errors.Is(err, store.ErrNotFound):
		return TokenInfo{}, fmt.Errorf("SCIM token status: %w", err)
	}
	var until store.Time
	if err := s.DB.QueryRow(ctx, `SELECT MAX(retired_at) FROM scim_tokens WHERE account_id = ? AND retired_at > ?`,
		accountID, store.At(s.now())).Scan(&until); err != nil {
		return TokenInfo{}, fmt.Errorf("SCIM token status: %w", err)
	}
	info.PreviousValidUntil = until.Time
	return info, nil
}

// SetEnabled switches SCIM on or off for the account (on by default). While
// off, every request with the account's token gets 403.
func (s *Service) SetEnabled(ctx context.Context, accountID string, enabled bool, actor audit.Actor) error {
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := accountExists(ctx, tx, accountID); err != nil {
			return err
		}
		before, err := enabledQ(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_settings (account_id, enabled) VALUES (?, ?)
			ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled`, accountID, enabled); err != nil {
			return err
		}
		action := "scim.disabled"
		if enabled {
			action = "scim.enabled"
		}
		return audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: action, TargetType: "scim_settings", TargetID: accountID,
			Before: map[string]bool{"enabled": before}, After: map[string]bool{"enabled": enabled},
		})
	})
	if err != nil {
		return fmt.Errorf("set SCIM enabled: %w", err)
	}
	return nil
}

// Enabled reports whether SCIM is on for the account.
func (s *Service) Enabled(ctx context.Context, accountID string) (bool, error) {
	on, err := enabledQ(ctx, s.DB, accountID)
	if err != nil {
		return false, fmt.Errorf("SCIM enabled: %w", err)
	}
	return on, nil
}

func enabledQ(ctx context.Context, q store.Querier, accountID string) (bool, error) {
	var on bool
	err := q.QueryRow(ctx, `SELECT enabled FROM scim_settings WHERE account_id = ?`, accountID).Scan(&on)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return true, nil
	}
	return on, err
}

// Activity returns the last request, the last error and the counts.
func (s *Service) Activity(ctx context.Context, accountID string) (Activity, error) {
	var a Activity
	var lastReq, lastErrAt store.Time
	err := s.DB.QueryRow(ctx, `SELECT last_request_at, last_error, last_error_at FROM scim_settings WHERE account_id = ?`,
		accountID).Scan(&lastReq, &a.LastError, &lastErrAt)
	if err := store.NotFound(err); err != nil && !errors.Is(err, store.ErrNotFound) {
		return Activity{}, fmt.Errorf("SCIM activity: %w", err)
	}
	a.LastRequestAt, a.LastErrorAt = lastReq.Time, lastErrAt.Time
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN active THEN 1 ELSE 0 END), 0)
		FROM scim_users WHERE account_id = ?`, accountID).Scan(&a.Users, &a.ActiveUsers); err != nil {
		return Activity{}, fmt.Errorf("SCIM activity: %w", err)
	}
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM scim_groups WHERE account_id = ?`, accountID).Scan(&a.Groups); err != nil {
		return Activity{}, fmt.Errorf("SCIM activity: %w", err)
	}
	return a, nil
}

// caller is the authenticated token behind a request.
type caller struct {
	tokenID   string
	accountID string
	last4     string
	enabled   bool
}

var errBadToken = errors.New("invalid token")

// authenticate finds the token's account. The lookup is by hash (an index);
// the stored hash is compared again in constant time.
func (s *Service) authenticate(ctx context.Context, token string) (caller, error) {
	if token == "" || len(token) > 512 {
		return caller{}, errBadToken
	}
	h := ids.Hash(token)
	var c caller
	var stored string
	var retired store.Time
	err := s.DB.QueryRow(ctx, `SELECT t.id, t.account_id, t.token_hash, t.last4, t.retired_at, COALESCE(st.enabled, ?)
		FROM scim_tokens t LEFT JOIN scim_settings st ON st.account_id = t.account_id
		WHERE t.token_hash = ?`, true, h).Scan(&c.tokenID, &c.accountID, &stored, &c.last4, &retired, &c.enabled)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return caller{}, errBadToken
	}
	if err != nil {
		return caller{}, fmt.Errorf("authenticate SCIM token: %w", err)
	}
	if !ids.Equal(stored, h) {
		return caller{}, errBadToken
	}
	if !retired.IsZero() && !retired.After(s.now()) {
		return caller{}, errBadToken
	}
	return c, nil
}

// touch records the account's last request, at most once per activityEvery
// per node (a write per request would double the load of a sync cycle).
func (s *Service) touch(ctx context.Context, accountID string) {
	now := s.now()
	if v, ok := s.lastTouch.Load(accountID); ok && now.Sub(v.(time.Time)) < activityEvery {
		return
	}
	s.lastTouch.Store(accountID, now)
	if _, err := s.DB.Exec(ctx, `INSERT INTO scim_settings (account_id, enabled, last_request_at) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET last_request_at = excluded.last_request_at`,
		accountID, true, store.At(now)); err != nil {
		s.logger().Warn("scim: record last request", "account", accountID, "err", err)
	}
}

// recordError keeps the last failed request for the activity panel.
func (s *Service) recordError(ctx context.Context, accountID, msg string) {
	if len(msg) > 500 {
		msg = strings.ToValidUTF8(msg[:500], "")
	}
	now := s.now()
	if _, err := s.DB.Exec(ctx, `INSERT INTO scim_settings (account_id, enabled, last_error, last_error_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET last_error = excluded.last_error, last_error_at = excluded.last_error_at`,
		accountID, true, msg, store.At(now)); err != nil {
		s.logger().Warn("scim: record last error", "account", accountID, "err", err)
	}
}
