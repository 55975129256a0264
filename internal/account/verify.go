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

// Verification purposes (email_verifications.purpose).
const (
	VerifySignUp  = "signup"  // a sign-up waiting for its address
	VerifyChange  = "change"  // a new address of a signed-in person
	VerifyConfirm = "confirm" // the current address of a person from before verification existed
)

// SignUpInput is what the sign-up form collects.
type SignUpInput struct {
	Email       string
	Password    string
	DisplayName string
	// Next is where to go once the address is verified (a same-site path
	// the web layer checked).
	Next string
	// Binding is the browser's verification cookie value: in that browser
	// the link completes with one click; elsewhere it asks for the password.
	Binding string
}

// SignUp starts a sign-up. Nothing is created until the owner of the address
// opens the link mailed to it, and the answer is the same whether or not the
// address has an account already (the mail says which): sign-up does not
// reveal who has an account, and a stranger who types someone else's address
// gets nothing that address could later be linked to.
//
// Field errors (a malformed address, a weak password) and rate limiting are
// the only other answers.
func (s *Service) SignUp(ctx context.Context, in SignUpInput, ip string) error {
	now := s.now()
	raw := strings.Trim(in.Email, " \t\r\n")
	norm, err := CanonicalEmail(raw)
	if err != nil {
		return &FieldError{Field: "email", Message: err.Error()}
	}
	name := strings.TrimSpace(in.DisplayName)
	if len(name) > 120 {
		return fieldErr("display_name", "Use at most 120 characters.")
	}
	if problem := PasswordProblem(in.Password, norm); problem != "" {
		return &FieldError{Field: "password", Message: problem}
	}
	if err := s.signUpLimit(ctx, norm, ip, now); err != nil {
		return err
	}
	// The hash is computed for known addresses too, so both answers cost
	// the same time.
	hash, err := HashPassword(in.Password)
	if err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		existing, err := personByEmail(ctx, tx, norm)
		switch {
		case err == nil:
			return s.mailAlreadyRegistered(ctx, tx, existing, raw)
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		token, err := s.insertVerification(ctx, tx, VerifySignUp, "", raw, norm, name, hash, in.Next, in.Binding, now)
		if err != nil {
			return err
		}
		_, err = mail.Enqueue(ctx, tx, mail.Message{Kind: "email_verification", To: raw,
			Subject: "Confirm your email address for Gatehouse",
			Text: "Someone (hopefully you) started creating a Gatehouse account with this email address.\n\n" +
				"Open this link to confirm the address and finish creating the account (it works once, for " +
				humanDuration(s.Config.VerifyTTL) + "):\n" + s.PublicURL + "/verify/" + token + "\n\n" +
				"If you did not ask for this, ignore this message: without the link no account is created, " +
				"and do not open the link for someone else.\n",
			RefType: "email_verification"})
		return err
	})
}

// signUpLimit counts a sign-up (or resend) per canonical address and per
// source address, like sign-in does.
func (s *Service) signUpLimit(ctx context.Context, norm, ip string, now time.Time) error {
	for _, c := range []struct {
		key string
		lim ratelimit.Limit
	}{{"signup:ip:" + ip, s.Config.SignUpPerIP}, {"signup:email:" + norm, s.Config.SignUpPerEmail}} {
		d, err := ratelimit.Hit(ctx, s.DB, c.key, c.lim, now)
		if err != nil {
			return err
		}
		if !d.Allowed {
			return &RateLimitedError{RetryAfter: d.RetryAfter}
		}
	}
	return nil
}

// mailAlreadyRegistered tells the owner of an address that someone tried to
// sign up with it.
func (s *Service) mailAlreadyRegistered(ctx context.Context, tx *store.Tx, p *Person, typed string) error {
	text := "Someone (hopefully you) tried to create a Gatehouse account with this email address, " +
		"but an account with it exists already, so nothing was changed.\n\n"
	if p.HasPassword {
		text += "Sign in here: " + s.PublicURL + "/signin\n" +
			"Forgot the password? Choose a new one here: " + s.PublicURL + "/password/forgot\n"
	} else {
		text += "Your account signs in with your organization's single sign-on: " + s.PublicURL + "/sso\n"
	}
	text += "\nIf it was not you, ignore this message; nobody can use your address without this mailbox.\n"
	_, err := mail.Enqueue(ctx, tx, mail.Message{Kind: "email_verification", To: p.Email,
		Subject: "Someone tried to create a Gatehouse account with your address", Text: text,
		RefType: "person", RefID: p.ID})
	return err
}

// insertVerification stores a link and returns its secret.
func (s *Service) insertVerification(ctx context.Context, tx *store.Tx, purpose, personID, raw, norm, name, hash, next, binding string, now time.Time) (string, error) {
	token := ids.Secret(32)
	bindingHash := ""
	if binding != "" {
		bindingHash = ids.Hash(binding)
	}
	if len(next) > 500 {
		next = ""
	}
	if _, err := tx.Exec(ctx, `INSERT INTO email_verifications (token_hash, purpose, person_id, email, email_norm, display_name,
		password_hash, next_path, binding_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ids.Hash(token), purpose, nullIfEmpty(personID), raw, norm, name, hash, next, bindingHash,
		store.At(now), store.At(now.Add(s.Config.VerifyTTL))); err != nil {
		return "", fmt.Errorf("email verification: %w", err)
	}
	return token, nil
}

// ResendSignUp mails a fresh link for the newest pending sign-up of an
// address (the older link keeps working until it expires). It answers the
// same whether or not there is one.
func (s *Service) ResendSignUp(ctx context.Context, typed, binding, ip string) error {
	now := s.now()
	norm, err := FormEmail(typed)
	if err != nil {
		return &FieldError{Field: "email", Message: err.Error()}
	}
	if err := s.signUpLimit(ctx, norm, ip, now); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var v pendingVerification
		err := tx.QueryRow(ctx, `SELECT `+verificationColumns+` FROM email_verifications
			WHERE purpose = ? AND email_norm = ? AND used_at IS NULL AND expires_at > ? ORDER BY created_at DESC LIMIT 1`,
			VerifySignUp, norm, store.At(now)).Scan(v.dest()...)
		if errors.Is(store.NotFound(err), store.ErrNotFound) {
			return nil
		} else if err != nil {
			return fmt.Errorf("resend verification: %w", err)
		}
		if _, err := personByEmail(ctx, tx, norm); err == nil {
			return nil
		}
		token, err := s.insertVerification(ctx, tx, VerifySignUp, "", v.Email, norm, v.DisplayName, v.passwordHash, v.Next, binding, now)
		if err != nil {
			return err
		}
		_, err = mail.Enqueue(ctx, tx, mail.Message{Kind: "email_verification", To: v.Email,
			Subject: "Confirm your email address for Gatehouse",
			Text: "Here is a new link to confirm this address and finish creating your Gatehouse account (it works once, for " +
				humanDuration(s.Config.VerifyTTL) + "):\n" + s.PublicURL + "/verify/" + token + "\n\n" +
				"If you did not ask for this, ignore this message: without the link no account is created.\n",
			RefType: "email_verification"})
		return err
	})
}

// SendConfirmation mails a person from before verification existed a link
// that proves their current address (after they gave the right password).
// At most three such mails an hour per person.
func (s *Service) SendConfirmation(ctx context.Context, p *Person, binding, ip string) error {
	now := s.now()
	d, err := ratelimit.Hit(ctx, s.DB, "confirm:person:"+p.ID, ratelimit.Limit{Max: 3, Window: time.Hour}, now)
	if err != nil {
		return err
	}
	if !d.Allowed {
		return nil // a link is on its way already
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		token, err := s.insertVerification(ctx, tx, VerifyConfirm, p.ID, p.Email, p.EmailNorm, "", "", "", binding, now)
		if err != nil {
			return err
		}
		_, err = mail.Enqueue(ctx, tx, mail.Message{Kind: "email_verification", To: p.Email,
			Subject: "Confirm your email address for Gatehouse",
			Text: "Someone signed in to the Gatehouse account of this address with its password. Gatehouse now asks every " +
				"account to confirm its address once.\n\nIf it was you, confirm here (the link works once, for " +
				humanDuration(s.Config.VerifyTTL) + "):\n" + s.PublicURL + "/verify/" + token + "\n\n" +
				"If you never created a Gatehouse account, do not open the link: someone else typed your address. " +
				"To take the account over, choose a password at " + s.PublicURL + "/password/forgot instead.\n",
			RefType: "person", RefID: p.ID})
		if err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm, IP: ip},
			audit.Entry{Action: "person.email_confirmation_sent", TargetType: "person", TargetID: p.ID, TargetLabel: p.EmailNorm})
	})
}

// ErrVerifyLinkInvalid means the link is unknown, used, superseded or expired.
var ErrVerifyLinkInvalid = errors.New("this confirmation link is invalid, was already used, or has expired")

// Verification is a pending link as its page shows it.
type Verification struct {
	Purpose  string
	PersonID string
	Email    string // the address it proves, as written
	// EmailNorm is the canonical address the link is bound to.
	EmailNorm   string
	DisplayName string
	Next        string
	// Bound reports whether the browser is the one that asked (its
	// verification cookie matches), so one click completes the link.
	Bound bool
	// NeedsPassword: outside that browser, a sign-up or confirmation link
	// asks for the account's password.
	NeedsPassword bool
	ExpiresAt     store.Time
}

type pendingVerification struct {
	Verification
	personID     *string
	passwordHash string
	bindingHash  string
	usedAt       store.Time
}

const verificationColumns = `purpose, person_id, email, email_norm, display_name, password_hash, next_path, binding_hash, expires_at, used_at`

func (v *pendingVerification) dest() []any {
	return []any{&v.Purpose, &v.personID, &v.Email, &v.EmailNorm, &v.DisplayName, &v.passwordHash, &v.Next, &v.bindingHash, &v.ExpiresAt, &v.usedAt}
}

func (v *pendingVerification) finish(binding string) *Verification {
	if v.personID != nil {
		v.PersonID = *v.personID
	}
	v.Bound = binding != "" && v.bindingHash != "" && ids.Equal(v.bindingHash, ids.Hash(binding))
	v.NeedsPassword = !v.Bound && v.Purpose != VerifyChange
	return &v.Verification
}

// VerificationByToken returns a live link without using it (mail scanners
// open links; only the POST of its page uses it).
func (s *Service) VerificationByToken(ctx context.Context, token, binding string) (*Verification, error) {
	if token == "" || len(token) > 100 {
		return nil, ErrVerifyLinkInvalid
	}
	var v pendingVerification
	err := s.DB.QueryRow(ctx, `SELECT `+verificationColumns+` FROM email_verifications WHERE token_hash = ?`, ids.Hash(token)).Scan(v.dest()...)
	if err != nil || !v.usedAt.IsZero() || !s.now().Before(v.ExpiresAt.Time) {
		return nil, ErrVerifyLinkInvalid
	}
	return v.finish(binding), nil
}

// VerifyResult is what using a link did.
type VerifyResult struct {
	Purpose string
	Person  *Person
	Next    string
	// SignIn: the web layer starts a session for Person (sign-up and
	// confirmation; an address change keeps the session it has).
	SignIn bool
}

// ErrVerifyWrongPerson means an address-change link was opened by someone
// other than the person who asked for the change.
var ErrVerifyWrongPerson = errors.New("this link changes the address of another account; sign in as that account to use it")

// UseVerification uses a link once. binding is the browser's verification
// cookie, password what the page asked for when the browser is another
// one, current the browser's session (nil when none). The link is bound to
// its address: a sign-up creates the person with exactly that address, a
// change sets exactly that address, and a confirmation holds only while
// the person still has that address.
func (s *Service) UseVerification(ctx context.Context, token, binding, password string, current *Session, ip string) (*VerifyResult, error) {
	now := s.now()
	v, err := s.VerificationByToken(ctx, token, binding)
	if err != nil {
		return nil, err
	}
	if v.NeedsPassword {
		if password == "" {
			return nil, fieldErr("password", "Enter the password of the account to confirm the address in this browser.")
		}
		// Claimed before the password is checked, like a sign-in, so
		// parallel guesses at one link wait their turn.
		key := "verify:token:" + ids.Hash(token)
		if d, err := ratelimit.Reserve(ctx, s.DB, key, s.Config.SignInPerEmailIP, now); err != nil {
			return nil, err
		} else if !d.Allowed {
			return nil, &RateLimitedError{RetryAfter: d.RetryAfter}
		}
		hash := dummyHash
		if v.Purpose == VerifySignUp {
			hash = s.pendingHash(ctx, token)
		} else if p, h, err := scanPerson(s.DB.QueryRow(ctx, `SELECT `+personColumns+` FROM people WHERE id = ?`, v.PersonID)); err == nil && p.HasPassword {
			hash = h
		}
		if len(password) > MaxPasswordLength {
			password = password[:MaxPasswordLength]
		}
		ok, err := CheckPassword(hash, password)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fieldErr("password", "That is not the password of this account.")
		}
		if err := ratelimit.Reset(ctx, s.DB, key); err != nil {
			return nil, err
		}
	}
	if v.Purpose == VerifyChange && (current == nil || current.Person.ID != v.PersonID) {
		return nil, ErrVerifyWrongPerson
	}
	out := &VerifyResult{Purpose: v.Purpose, Next: v.Next}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var hash string
		err := tx.QueryRow(ctx, `UPDATE email_verifications SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING password_hash`, store.At(now), ids.Hash(token), store.At(now)).Scan(&hash)
		if errors.Is(store.NotFound(err), store.ErrNotFound) {
			return ErrVerifyLinkInvalid
		} else if err != nil {
			return fmt.Errorf("use verification: %w", err)
		}
		at := store.At(now)
		switch v.Purpose {
		case VerifySignUp:
			p := &Person{ID: ids.New(), Email: v.Email, EmailNorm: v.EmailNorm, DisplayName: v.DisplayName, CreatedAt: at,
				HasPassword: true, EmailVerifiedAt: at}
			if err := s.insertPerson(ctx, tx, p, hash, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm, IP: ip}, "link"); err != nil {
				return err
			}
			// Other pending sign-ups of the address are moot now.
			if _, err := tx.Exec(ctx, `UPDATE email_verifications SET used_at = ? WHERE purpose = ? AND email_norm = ? AND used_at IS NULL`,
				at, VerifySignUp, v.EmailNorm); err != nil {
				return fmt.Errorf("use verification: %w", err)
			}
			out.Person, out.SignIn = p, true
			return nil
		case VerifyConfirm:
			res, err := tx.Exec(ctx, `UPDATE people SET email_verified_at = ? WHERE id = ? AND email_norm = ? AND email_verified_at IS NULL`,
				at, v.PersonID, v.EmailNorm)
			if err != nil {
				return fmt.Errorf("confirm address: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return ErrVerifyLinkInvalid // the address changed, or it is confirmed already
			}
			p, err := s.PersonByIDTx(ctx, tx, v.PersonID)
			if err != nil {
				return err
			}
			out.Person, out.SignIn = p, !p.Disabled
			return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm, IP: ip},
				audit.Entry{Action: "person.email_verified", TargetType: "person", TargetID: p.ID, TargetLabel: p.EmailNorm})
		case VerifyChange:
			before, err := s.PersonByIDTx(ctx, tx, v.PersonID)
			if err != nil {
				return err
			}
			_, err = tx.Exec(ctx, `UPDATE people SET email = ?, email_norm = ?, email_verified_at = ? WHERE id = ?`,
				v.Email, v.EmailNorm, at, v.PersonID)
			if store.IsUniqueViolation(err) {
				return ErrAddressTaken
			} else if err != nil {
				return fmt.Errorf("change address: %w", err)
			}
			// Other open changes of this person are superseded.
			if _, err := tx.Exec(ctx, `UPDATE email_verifications SET used_at = ? WHERE person_id = ? AND purpose = ? AND used_at IS NULL`,
				at, v.PersonID, VerifyChange); err != nil {
				return fmt.Errorf("change address: %w", err)
			}
			if _, err := s.EndOtherSessions(ctx, tx, v.PersonID, current.IDHash); err != nil {
				return err
			}
			p, err := s.PersonByIDTx(ctx, tx, v.PersonID)
			if err != nil {
				return err
			}
			out.Person = p
			if _, err := mail.Enqueue(ctx, tx, mail.Message{Kind: "email_changed", To: before.Email,
				Subject: "Your Gatehouse address was changed",
				Text: "The Gatehouse account of this address now uses " + p.Email + " instead, and was signed out everywhere else.\n\n" +
					"If you did not do this, reset the password from " + s.PublicURL + "/password/forgot using the new address, or ask your administrator.\n",
				RefType: "person", RefID: p.ID}); err != nil {
				return err
			}
			return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm, IP: ip},
				audit.Entry{Action: "person.email_changed", TargetType: "person", TargetID: p.ID, TargetLabel: p.EmailNorm,
					Before: map[string]string{"email": before.EmailNorm}, After: map[string]string{"email": p.EmailNorm}})
		}
		return fmt.Errorf("use verification: unknown purpose %q", v.Purpose)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// pendingHash is the password hash a sign-up link carries (dummyHash when
// it is gone, so the comparison costs the same).
func (s *Service) pendingHash(ctx context.Context, token string) string {
	var h string
	if err := s.DB.QueryRow(ctx, `SELECT password_hash FROM email_verifications WHERE token_hash = ?`, ids.Hash(token)).Scan(&h); err != nil || h == "" {
		return dummyHash
	}
	return h
}

// RequestAddressChange mails a link to newAddress; the person's address
// changes only when it is used, by the same person, signed in. A person with
// a password confirms it; one without (their address comes from their
// organization's IdP) cannot change it here.
func (s *Service) RequestAddressChange(ctx context.Context, p *Person, newAddress, password, ip string) error {
	now := s.now()
	if !p.HasPassword {
		return fieldErr("email", "Your address comes from your organization's single sign-on; your IT admin changes it there.")
	}
	raw := strings.Trim(newAddress, " \t\r\n")
	norm, err := CanonicalEmail(raw)
	if err != nil {
		return &FieldError{Field: "email", Message: err.Error()}
	}
	if norm == p.EmailNorm && raw == p.Email {
		return fieldErr("email", "This is your address already.")
	}
	if err := s.checkOwnPassword(ctx, p, password, ip, now); err != nil {
		return err
	}
	if err := s.signUpLimit(ctx, norm, ip, now); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		if other, err := personByEmail(ctx, tx, norm); err == nil && other.ID != p.ID {
			// Said plainly: the person proved who they are with their
			// password, and the change could never complete anyway.
			return fieldErr("email", "Another account uses this address.")
		}
		// A newer request replaces older ones: only the last link works.
		if _, err := tx.Exec(ctx, `UPDATE email_verifications SET used_at = ? WHERE person_id = ? AND purpose = ? AND used_at IS NULL`,
			store.At(now), p.ID, VerifyChange); err != nil {
			return fmt.Errorf("change address: %w", err)
		}
		token, err := s.insertVerification(ctx, tx, VerifyChange, p.ID, raw, norm, "", "", "", "", now)
		if err != nil {
			return err
		}
		if _, err := mail.Enqueue(ctx, tx, mail.Message{Kind: "email_verification", To: raw,
			Subject: "Confirm your new email address for Gatehouse",
			Text: p.EmailNorm + " asked to use this address for their Gatehouse account from now on.\n\n" +
				"Confirm it while signed in to that account (the link works once, for " + humanDuration(s.Config.VerifyTTL) + "):\n" +
				s.PublicURL + "/verify/" + token + "\n\nUntil then the account keeps its current address. If you did not ask for this, ignore this message.\n",
			RefType: "person", RefID: p.ID}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm, IP: ip},
			audit.Entry{Action: "person.email_change_requested", TargetType: "person", TargetID: p.ID, TargetLabel: p.EmailNorm,
				After: map[string]string{"email": norm}})
	})
}

// checkOwnPassword confirms a signed-in person's password (rate limited
// like sign-in).
func (s *Service) checkOwnPassword(ctx context.Context, p *Person, password, ip string, now time.Time) error {
	if password == "" {
		return fieldErr("current_password", "Enter your current password.")
	}
	key := signInPairPrefix(p.EmailNorm) + ip
	if d, err := ratelimit.Reserve(ctx, s.DB, key, s.Config.SignInPerEmailIP, now); err != nil {
		return err
	} else if !d.Allowed {
		return &RateLimitedError{RetryAfter: d.RetryAfter}
	}
	var hash string
	if err := s.DB.QueryRow(ctx, `SELECT password_hash FROM people WHERE id = ?`, p.ID).Scan(&hash); err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	if len(password) > MaxPasswordLength {
		password = password[:MaxPasswordLength]
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return err
	}
	if !ok {
		return fieldErr("current_password", "That is not your current password.")
	}
	return ratelimit.Reset(ctx, s.DB, key)
}

// PendingAddressChange returns the address a person asked to change to and
// has not confirmed yet ("" when none).
func (s *Service) PendingAddressChange(ctx context.Context, personID string) (string, error) {
	var email string
	err := s.DB.QueryRow(ctx, `SELECT email FROM email_verifications WHERE person_id = ? AND purpose = ? AND used_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC LIMIT 1`, personID, VerifyChange, store.At(s.now())).Scan(&email)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("pending address change: %w", err)
	}
	return email, nil
}
