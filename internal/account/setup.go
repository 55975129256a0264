package account

import (
	"context"
	"errors"
	"fmt"

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
	email, err := NormalizeEmail(in.Email)
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
	p := &Person{ID: ids.New(), Email: in.Email, DisplayName: in.DisplayName, IsOperator: true, CreatedAt: store.At(s.now()), HasPassword: true}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		// Consuming the token is the conditional delete: only one request wins.
		res, err := tx.Exec(ctx, `DELETE FROM settings WHERE key = ? AND value = ?`, setupTokenKey, ids.Hash(token))
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrSetupDone
		}
		return s.insertPerson(ctx, tx, p, email, hash, audit.Actor{Type: audit.ActorOperator, ID: p.ID, Label: email, IP: ip})
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
	p := &Person{ID: ids.New(), Email: DemoEmail, DisplayName: "Demo Admin", CreatedAt: store.At(s.now()), HasPassword: true}
	actor := audit.System("demo-seed")
	var acct *Account
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.insertPerson(ctx, tx, p, DemoEmail, hash, actor); err != nil {
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
