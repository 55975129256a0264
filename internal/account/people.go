package account

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/mail"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
)

// SignUpInput is what the sign-up form collects.
type SignUpInput struct {
	Email       string
	Password    string
	DisplayName string
}

// SignUp creates a person with a password. A duplicate email gets the same
// generic field error as any other refusal of the address would reveal
// nothing more than the sign-in form does; we say it plainly because the
// person must know to sign in instead.
func (s *Service) SignUp(ctx context.Context, in SignUpInput, ip string) (*Person, error) {
	email, err := NormalizeEmail(in.Email)
	if err != nil {
		return nil, &FieldError{Field: "email", Message: err.Error()}
	}
	name := strings.TrimSpace(in.DisplayName)
	if len(name) > 120 {
		return nil, fieldErr("display_name", "Use at most 120 characters.")
	}
	if problem := PasswordProblem(in.Password, email); problem != "" {
		return nil, &FieldError{Field: "password", Message: problem}
	}
	hash, err := HashPassword(in.Password)
	if err != nil {
		return nil, err
	}
	p := &Person{ID: ids.New(), Email: strings.TrimSpace(in.Email), DisplayName: name, CreatedAt: store.At(s.now()), HasPassword: true}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		return s.insertPerson(ctx, tx, p, email, hash, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: email, IP: ip})
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func (s *Service) insertPerson(ctx context.Context, tx *store.Tx, p *Person, emailNorm, hash string, actor audit.Actor) error {
	_, err := tx.Exec(ctx, `INSERT INTO people (id, email, email_norm, display_name, password_hash, is_operator, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Email, emailNorm, p.DisplayName, hash, p.IsOperator, p.CreatedAt)
	if store.IsUniqueViolation(err) {
		return fieldErr("email", "An account with this email address already exists. Sign in instead, or reset your password.")
	}
	if err != nil {
		return fmt.Errorf("sign up: %w", err)
	}
	return audit.Record(ctx, tx, actor, audit.Entry{Action: "person.signed_up", TargetType: "person", TargetID: p.ID, TargetLabel: emailNorm})
}

// CreatePersonTx creates a person without a password (e.g. first SSO sign-in)
// inside tx, or returns the existing person with that email.
func (s *Service) CreatePersonTx(ctx context.Context, tx *store.Tx, email, displayName string, actor audit.Actor) (*Person, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, &FieldError{Field: "email", Message: err.Error()}
	}
	if p, err := personByEmail(ctx, tx, norm); err == nil {
		return p, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	p := &Person{ID: ids.New(), Email: strings.TrimSpace(email), DisplayName: strings.TrimSpace(displayName), CreatedAt: store.At(s.now())}
	if err := s.insertPerson(ctx, tx, p, norm, "", actor); err != nil {
		return nil, err
	}
	return p, nil
}

const personColumns = `id, email, display_name, is_operator, disabled, created_at, last_sign_in_at, password_hash`

func scanPerson(row interface{ Scan(...any) error }) (*Person, string, error) {
	var p Person
	var hash string
	if err := row.Scan(&p.ID, &p.Email, &p.DisplayName, &p.IsOperator, &p.Disabled, &p.CreatedAt, &p.LastSignIn, &hash); err != nil {
		return nil, "", store.NotFound(err)
	}
	p.HasPassword = hash != ""
	return &p, hash, nil
}

func personByEmail(ctx context.Context, q store.Querier, emailNorm string) (*Person, error) {
	p, _, err := scanPerson(q.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE email_norm = ?`, emailNorm))
	return p, err
}

// PersonByEmail finds a person by email (any case).
func (s *Service) PersonByEmail(ctx context.Context, email string) (*Person, error) {
	norm, err := NormalizeEmail(email)
	if err != nil {
		return nil, store.ErrNotFound
	}
	return personByEmail(ctx, s.DB, norm)
}

// PersonByID finds a person.
func (s *Service) PersonByID(ctx context.Context, id string) (*Person, error) {
	return s.PersonByIDTx(ctx, s.DB, id)
}

// PersonByIDTx is PersonByID through q (inside a caller's transaction).
func (s *Service) PersonByIDTx(ctx context.Context, q store.Querier, id string) (*Person, error) {
	p, _, err := scanPerson(q.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE id = ?`, id))
	return p, err
}

// Authenticate checks an email and password. Failures slow down the pair
// of this address and this source address, and the source address across
// all addresses (ratelimit.Backoff); nothing locks an address, so someone
// else's failures never stop the owner signing in from elsewhere. Unknown
// emails, wrong passwords and disabled people all get ErrInvalidCredentials
// after the same amount of work.
func (s *Service) Authenticate(ctx context.Context, email, password, ip string) (*Person, error) {
	now := s.now()
	norm, normErr := NormalizeEmail(email)
	if normErr != nil {
		norm = strings.ToLower(strings.TrimSpace(email))
	}
	ipKey, pairKey := "signin:ip:"+ip, signInPairPrefix(norm)+ip
	if d, err := ratelimit.Wait(ctx, s.DB, ipKey, s.Config.SignInPerIP, now); err != nil {
		return nil, err
	} else if !d.Allowed {
		return nil, &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	// The attempt is claimed (and counted) before the password is checked,
	// so parallel guesses from one place wait their turn.
	if d, err := ratelimit.Reserve(ctx, s.DB, pairKey, s.Config.SignInPerEmailIP, now); err != nil {
		return nil, err
	} else if !d.Allowed {
		return nil, &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	if len(password) > MaxPasswordLength {
		password = password[:MaxPasswordLength]
	}
	var p *Person
	hash := dummyHash
	if normErr == nil {
		var err error
		var h string
		p, h, err = scanPerson(s.DB.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE email_norm = ?`, norm))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		if h != "" {
			hash = h
		}
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return nil, err
	}
	if !ok || p == nil || !p.HasPassword || p.Disabled {
		if err := ratelimit.Fail(ctx, s.DB, ipKey, s.Config.SignInPerIP, now); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCredentials
	}
	if err := ratelimit.Reset(ctx, s.DB, pairKey); err != nil {
		return nil, err
	}
	if err := s.TouchSignIn(ctx, p.ID, ""); err != nil {
		return nil, err
	}
	return p, nil
}

// signInPairPrefix starts the throttle keys of one address (one per source
// address), so that a password reset can forget them all.
func signInPairPrefix(emailNorm string) string { return "signin:pair:" + emailNorm + "|" }

// TouchSignIn records a sign-in of personID (and into accountID, if given).
func (s *Service) TouchSignIn(ctx context.Context, personID, accountID string) error {
	now := store.At(s.now())
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE people SET last_sign_in_at = ? WHERE id = ?`, now, personID); err != nil {
			return fmt.Errorf("record sign-in: %w", err)
		}
		q := `UPDATE memberships SET last_sign_in_at = ? WHERE person_id = ? AND status = 'active'`
		args := []any{now, personID}
		if accountID != "" {
			q += ` AND account_id = ?`
			args = append(args, accountID)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("record sign-in: %w", err)
		}
		return nil
	})
}

// RequestPasswordReset emails a reset link when the address belongs to a
// person with a password. It answers the same way either way.
func (s *Service) RequestPasswordReset(ctx context.Context, email, ip string) error {
	d, err := ratelimit.Hit(ctx, s.DB, "reset:ip:"+ip, ratelimit.Limit{Max: 10, Window: time.Hour}, s.now())
	if err != nil {
		return err
	}
	if !d.Allowed {
		return &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	p, err := s.PersonByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) || err == nil && (p.Disabled || !p.HasPassword) {
		return nil
	}
	if err != nil {
		return err
	}
	token := ids.Secret(32)
	now := s.now()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (token_hash, person_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			ids.Hash(token), p.ID, store.At(now), store.At(now.Add(s.Config.ResetTTL))); err != nil {
			return fmt.Errorf("password reset: %w", err)
		}
		link := s.PublicURL + "/password/reset/" + token
		_, err := mail.Enqueue(ctx, tx, mail.Message{Kind: "password_reset", To: p.Email,
			Subject: "Reset your Gatehouse password",
			Text: "Someone (hopefully you) asked to reset the password of your Gatehouse account.\n\n" +
				"Choose a new password here (the link works once, for one hour):\n" + link + "\n\n" +
				"If you did not ask for this, ignore this message; your password stays as it is.\n",
			RefType: "person", RefID: p.ID})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.Email, IP: ip},
			audit.Entry{Action: "person.password_reset_requested", TargetType: "person", TargetID: p.ID, TargetLabel: p.Email})
	})
}

// ErrResetLinkInvalid means the link is unknown, used or expired.
var ErrResetLinkInvalid = errors.New("this password reset link is invalid, was already used, or has expired; ask for a new one")

// CheckResetToken reports whether a reset link is still usable.
func (s *Service) CheckResetToken(ctx context.Context, token string) error {
	var exp store.Time
	var used store.Time
	err := s.DB.QueryRow(ctx, `SELECT expires_at, used_at FROM password_resets WHERE token_hash = ?`, ids.Hash(token)).Scan(&exp, &used)
	if err != nil || !used.IsZero() || s.now().After(exp.Time) {
		return ErrResetLinkInvalid
	}
	return nil
}

// ResetPassword sets a new password using a reset link, and signs the person
// out everywhere.
func (s *Service) ResetPassword(ctx context.Context, token, password, ip string) error {
	now := s.now()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var personID, email, emailNorm string
		err := tx.QueryRow(ctx, `UPDATE password_resets SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING person_id`, store.At(now), ids.Hash(token), store.At(now)).Scan(&personID)
		if err != nil {
			if errors.Is(store.NotFound(err), store.ErrNotFound) {
				return ErrResetLinkInvalid
			}
			return fmt.Errorf("reset password: %w", err)
		}
		if err := tx.QueryRow(ctx, `SELECT email, email_norm FROM people WHERE id = ?`, personID).Scan(&email, &emailNorm); err != nil {
			return fmt.Errorf("reset password: %w", err)
		}
		if problem := PasswordProblem(password, email); problem != "" {
			return &FieldError{Field: "password", Message: problem}
		}
		if err := s.setPassword(ctx, tx, personID, emailNorm, password, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: personID, Label: email, IP: ip},
			audit.Entry{Action: "person.password_reset", TargetType: "person", TargetID: personID, TargetLabel: email})
	})
}

// setPassword is the one way a person's password changes: it stores the new
// hash and, in the same transaction, invalidates every outstanding reset
// link of the person (an older link must not undo the change), ends their
// sessions and forgets their sign-in throttles.
func (s *Service) setPassword(ctx context.Context, tx *store.Tx, personID, emailNorm, password string, now time.Time) error {
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `UPDATE people SET password_hash = ? WHERE id = ?`, hash, personID); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = ? WHERE person_id = ? AND used_at IS NULL`, store.At(now), personID); err != nil {
		return fmt.Errorf("set password: invalidate reset links: %w", err)
	}
	if err := s.EndSessions(ctx, tx, personID); err != nil {
		return err
	}
	return ratelimit.ResetPrefix(ctx, tx, signInPairPrefix(emailNorm))
}
