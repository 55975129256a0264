package account

import (
	"context"
	"fmt"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Session methods.
const (
	MethodPassword = "password"
	MethodSSO      = "sso"
)

// Session is a signed-in browser. Its id is a random secret held in a cookie;
// the database stores only its hash, so any node can serve any request and a
// database leak does not leak sessions.
type Session struct {
	IDHash     string
	Person     Person
	AccountID  string // current workspace ("" = personal)
	Method     string // MethodPassword or MethodSSO
	SSOAccount string // the business account whose IdP signed this session in
	SSOAdmin   bool   // the IdP said the person is in the admins group at sign-in
	CreatedAt  store.Time
	LastSeenAt store.Time
	ExpiresAt  store.Time
}

// NewSession describes a session to create.
type NewSession struct {
	PersonID   string
	Method     string
	SSOAccount string
	SSOAdmin   bool
	AccountID  string
	IP         string
	UserAgent  string
}

// CreateSession stores a session and returns the secret for the cookie.
func (s *Service) CreateSession(ctx context.Context, q store.Querier, n NewSession) (string, error) {
	secret := ids.Secret(32)
	now := s.now()
	var account, ssoAccount any
	if n.AccountID != "" {
		account = n.AccountID
	}
	if n.SSOAccount != "" {
		ssoAccount = n.SSOAccount
	}
	ua := n.UserAgent
	if len(ua) > 300 {
		ua = ua[:300]
	}
	_, err := q.Exec(ctx, `INSERT INTO sessions (id_hash, person_id, account_id, auth_method, sso_account_id, sso_admin,
		ip, user_agent, created_at, last_seen_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ids.Hash(secret), n.PersonID, account, n.Method, ssoAccount, n.SSOAdmin, n.IP, ua,
		store.At(now), store.At(now), store.At(now.Add(s.Config.SessionMax)))
	if err != nil {
		return "", fmt.Errorf("create session: %w", err)
	}
	return secret, nil
}

const sessionQuery = `SELECT s.id_hash, s.account_id, s.auth_method, s.sso_account_id, s.sso_admin,
		s.created_at, s.last_seen_at, s.expires_at,
		p.id, p.email, p.email_norm, p.display_name, p.is_operator, p.disabled, p.created_at, p.last_sign_in_at, p.email_verified_at, p.password_hash <> ''
	FROM sessions s JOIN people p ON p.id = s.person_id WHERE s.id_hash = ?`

// SessionByToken returns the live session for a cookie value, or
// store.ErrNotFound when it does not exist, expired, idled out or its person
// is disabled or has not proved their address.
func (s *Service) SessionByToken(ctx context.Context, token string) (*Session, error) {
	if token == "" || len(token) > 100 {
		return nil, store.ErrNotFound
	}
	var ss Session
	var account, ssoAccount *string
	// Every signed-in request runs this lookup: a prepared statement.
	err := s.DB.QueryRowPrepared(ctx, sessionQuery, ids.Hash(token)).Scan(
		&ss.IDHash, &account, &ss.Method, &ssoAccount, &ss.SSOAdmin, &ss.CreatedAt, &ss.LastSeenAt, &ss.ExpiresAt,
		&ss.Person.ID, &ss.Person.Email, &ss.Person.EmailNorm, &ss.Person.DisplayName, &ss.Person.IsOperator, &ss.Person.Disabled,
		&ss.Person.CreatedAt, &ss.Person.LastSignIn, &ss.Person.EmailVerifiedAt, &ss.Person.HasPassword)
	if err != nil {
		return nil, store.NotFound(err)
	}
	if account != nil {
		ss.AccountID = *account
	}
	if ssoAccount != nil {
		ss.SSOAccount = *ssoAccount
	}
	now := s.now()
	if ss.Person.Disabled || ss.Person.EmailVerifiedAt.IsZero() || now.After(ss.ExpiresAt.Time) || now.Sub(ss.LastSeenAt.Time) > s.Config.SessionIdle {
		_ = s.DeleteSession(ctx, token)
		return nil, store.ErrNotFound
	}
	// Refresh last_seen at most once a minute to keep reads cheap.
	if now.Sub(ss.LastSeenAt.Time) > time.Minute {
		if _, err := s.DB.Exec(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, store.At(now), ss.IDHash); err != nil {
			return nil, fmt.Errorf("touch session: %w", err)
		}
	}
	return &ss, nil
}

// SetWorkspace records the session's current workspace ("" = personal).
func (s *Service) SetWorkspace(ctx context.Context, sess *Session, accountID string) error {
	var account any
	if accountID != "" {
		account = accountID
	}
	if _, err := s.DB.Exec(ctx, `UPDATE sessions SET account_id = ? WHERE id_hash = ?`, account, sess.IDHash); err != nil {
		return fmt.Errorf("switch workspace: %w", err)
	}
	sess.AccountID = accountID
	return nil
}

// DeleteSession signs a browser out.
func (s *Service) DeleteSession(ctx context.Context, token string) error {
	if _, err := s.DB.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, ids.Hash(token)); err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// EndSessions signs a person out everywhere (password reset, IdP deactivation).
func (s *Service) EndSessions(ctx context.Context, q store.Querier, personID string) error {
	if _, err := q.Exec(ctx, `DELETE FROM sessions WHERE person_id = ?`, personID); err != nil {
		return fmt.Errorf("end sessions: %w", err)
	}
	return nil
}

// EndOtherSessions signs a person out everywhere except the session whose
// id hash is keepHash ("" ends all), and returns how many ended.
func (s *Service) EndOtherSessions(ctx context.Context, q store.Querier, personID, keepHash string) (int64, error) {
	res, err := q.Exec(ctx, `DELETE FROM sessions WHERE person_id = ? AND id_hash <> ?`, personID, keepHash)
	if err != nil {
		return 0, fmt.Errorf("end sessions: %w", err)
	}
	n, _ := res.RowsAffected()
	return n, nil
}

// PurgeExpiredSessions deletes sessions past their absolute expiry (a job).
func (s *Service) PurgeExpiredSessions(ctx context.Context) error {
	if _, err := s.DB.Exec(ctx, `DELETE FROM sessions WHERE expires_at < ?`, store.At(s.now())); err != nil {
		return fmt.Errorf("purge sessions: %w", err)
	}
	return nil
}
