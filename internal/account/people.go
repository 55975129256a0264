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

// ErrAddressTaken means another person has the canonical address already.
var ErrAddressTaken = errors.New("an account with this email address already exists")

// insertPerson stores p (p.EmailNorm must be CanonicalEmail's result) and
// audits how the person came to be. A person's address is unique in its
// canonical form (the unique index on people.email_norm).
func (s *Service) insertPerson(ctx context.Context, tx *store.Tx, p *Person, hash string, actor audit.Actor, how string) error {
	_, err := tx.Exec(ctx, `INSERT INTO people (id, email, email_norm, display_name, password_hash, is_operator, created_at, email_verified_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, p.ID, p.Email, p.EmailNorm, p.DisplayName, hash, p.IsOperator, p.CreatedAt, p.EmailVerifiedAt)
	if store.IsUniqueViolation(err) {
		return ErrAddressTaken
	}
	if err != nil {
		return fmt.Errorf("create person: %w", err)
	}
	return audit.Record(ctx, tx, actor, audit.Entry{Action: "person.signed_up", TargetType: "person", TargetID: p.ID,
		TargetLabel: p.EmailNorm, After: map[string]string{"email_verified_by": how}})
}

// CreateSSOPersonTx creates a person without a password for a first SSO
// sign-in, inside tx. email must be the canonical address of a domain the
// signing-in account verified: the IdP of that domain vouches for it, so the
// address counts as verified. ErrAddressTaken when someone has it already
// (SSO decides what that means; it never becomes this person).
func (s *Service) CreateSSOPersonTx(ctx context.Context, tx *store.Tx, rawEmail, displayName string, actor audit.Actor) (*Person, error) {
	norm, err := CanonicalEmail(rawEmail)
	if err != nil {
		return nil, err
	}
	if len(displayName) > 200 {
		displayName = displayName[:200]
	}
	now := store.At(s.now())
	p := &Person{ID: ids.New(), Email: rawEmail, EmailNorm: norm, DisplayName: strings.TrimSpace(displayName), CreatedAt: now, EmailVerifiedAt: now}
	if err := s.insertPerson(ctx, tx, p, "", actor, "sso"); err != nil {
		return nil, err
	}
	return p, nil
}

const personColumns = `id, email, email_norm, display_name, is_operator, disabled, created_at, last_sign_in_at, email_verified_at, password_hash`

func scanPerson(row interface{ Scan(...any) error }) (*Person, string, error) {
	var p Person
	var hash string
	if err := row.Scan(&p.ID, &p.Email, &p.EmailNorm, &p.DisplayName, &p.IsOperator, &p.Disabled, &p.CreatedAt, &p.LastSignIn, &p.EmailVerifiedAt, &hash); err != nil {
		return nil, "", store.NotFound(err)
	}
	p.HasPassword = hash != ""
	return &p, hash, nil
}

func personByEmail(ctx context.Context, q store.Querier, emailNorm string) (*Person, error) {
	p, _, err := scanPerson(q.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE email_norm = ?`, emailNorm))
	return p, err
}

// PersonByEmail finds a person by the canonical form of a typed address.
func (s *Service) PersonByEmail(ctx context.Context, email string) (*Person, error) {
	norm, err := FormEmail(email)
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
	norm, normErr := FormEmail(email)
	if normErr != nil {
		// Still counted (per typed value) so that garbage is limited too.
		norm = strings.TrimSpace(email)
		if len(norm) > 300 {
			norm = norm[:300]
		}
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
	if !p.Verified() {
		// The right password of a person who never proved the address
		// (created before verification existed): no session until they do.
		return nil, &UnverifiedError{Person: p}
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
		// Using a link mailed to the address proves it, as a verification
		// link would (a person from before verification existed is
		// verified from now on; the old password is gone).
		if _, err := tx.Exec(ctx, `UPDATE people SET email_verified_at = COALESCE(email_verified_at, ?) WHERE id = ?`,
			store.At(now), personID); err != nil {
			return fmt.Errorf("reset password: %w", err)
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
