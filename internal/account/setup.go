package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

const setupTokenKey = "setup_token_hash"

// SetupLink returns a one-time path that creates the operator account, or
// "" when an operator exists already. Each call makes a fresh token (at
// each start, and on demand with `gatehouse setup-link`), so an earlier
// link stops working. People who are not operators (the demo admin, say)
// do not stop it: until the operator exists, nobody can read the outbox.
func (s *Service) SetupLink(ctx context.Context) (string, error) {
	var n int
	if err := s.DB.QueryRow(ctx, `SELECT COUNT(*) FROM people WHERE is_operator = ?`, true).Scan(&n); err != nil {
		return "", fmt.Errorf("setup: %w", err)
	}
	if n > 0 {
		return "", nil
	}
	token := ids.Secret(24)
	if err := store.SetSetting(ctx, s.DB, setupTokenKey, ids.Hash(token)); err != nil {
		return "", err
	}
	return "/setup/" + token, nil
}

// ErrSetupDone means the setup link was used already (or never existed).
var ErrSetupDone = errors.New("this setup link is no longer valid: the operator account exists already, or a newer link replaced this one; sign in, or run gatehouse setup-link for a fresh link")

// CheckSetupToken reports whether token is the live setup token.
func (s *Service) CheckSetupToken(ctx context.Context, token string) error {
	want, err := store.Setting(ctx, s.DB.Writer(), setupTokenKey)
	if err != nil || want == "" || !ids.Equal(want, ids.Hash(token)) {
		return ErrSetupDone
	}
	return nil
}

// CompleteSetup creates the first person as operator, using the setup token once.
func (s *Service) CompleteSetup(ctx context.Context, token string, in SignUpInput, ip string) (*Person, error) {
	if err := s.CheckSetupToken(ctx, token); err != nil {
		return nil, err
	}
	raw := strings.Trim(in.Email, " \t\r\n")
	email, err := CanonicalEmail(raw)
	if err != nil {
		return nil, &FieldError{Field: "email", Message: err.Error()}
	}
	if problem := PasswordProblem(in.Password, email); problem != "" {
		return nil, &FieldError{Field: "password", Message: problem}
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	// Whoever holds the one-time link printed on the server's console is
	// trusted with the address they type: they run the server.
	now := store.At(s.now())
	p := &Person{ID: ids.New(), Email: raw, EmailNorm: email, DisplayName: strings.TrimSpace(in.DisplayName), IsOperator: true,
		CreatedAt: now, HasPassword: true, EmailVerifiedAt: now}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		// Consuming the token is the conditional delete: only one request wins.
		taken, err := store.TakeSetting(ctx, tx, setupTokenKey, ids.Hash(token))
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if !taken {
			return ErrSetupDone
		}
		err = s.insertPerson(ctx, tx, p, hash, audit.Actor{Type: audit.ActorOperator, ID: p.ID, Label: email, IP: ip}, "setup_link")
		if errors.Is(err, ErrAddressTaken) {
			return fieldErr("email", "An account with this email address already exists.")
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Demo credentials printed by `serve --demo`.
const (
	DemoEmail    = "admin@demo.gatehouse.test"
	DemoPassword = "demo-gatehouse-2026"
)

// SeedDemo creates a demo admin and business account unless they exist, and
// returns the demo person and account ids.
func (s *Service) SeedDemo(ctx context.Context) (personID, accountID string, err error) {
	if p, err := s.PersonByEmail(ctx, DemoEmail); err == nil {
		// The demo admin's address is the demo's own: it counts as proved.
		if _, err := s.DB.Exec(ctx, `UPDATE people SET email_verified_at = ? WHERE id = ? AND email_verified_at IS NULL`,
			store.At(s.now()), p.ID); err != nil {
			return "", "", fmt.Errorf("seed demo: %w", err)
		}
		ws, err := s.Workspaces(ctx, p.ID)
		if err != nil || len(ws) == 0 {
			return p.ID, "", err
		}
		return p.ID, ws[0].AccountID, nil
	}
	hash, err := HashPassword(DemoPassword)
	if err != nil {
		return "", "", err
	}
	now := store.At(s.now())
	p := &Person{ID: ids.New(), Email: DemoEmail, EmailNorm: DemoEmail, DisplayName: "Demo Admin", CreatedAt: now, HasPassword: true, EmailVerifiedAt: now}
	actor := audit.System("demo-seed")
	var acct *Account
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.insertPerson(ctx, tx, p, hash, actor, "demo"); err != nil {
			return err
		}
		acct, err = s.CreateBusinessAccountTx(ctx, tx, p.ID, AccountInput{Name: "Demo Corporation", Country: "DE",
			ContactName: "Demo Admin", ContactEmail: DemoEmail}, actor)
		return err
	})
	if err != nil {
		return "", "", fmt.Errorf("seed demo: %w", err)
	}
	return p.ID, acct.ID, nil
}
