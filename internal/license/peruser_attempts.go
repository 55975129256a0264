package license

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/freetext"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// SSO activation attempts (spec 04): the installation starts one with its
// email, device and an S256 code challenge; the person signs in at the IdP
// in a browser; the ACS completes the attempt (seat granted, device
// registered); the installation redeems it once with the code verifier and
// receives its credential and certificate. Attempts live in the database so
// any node may serve any step.

// Attempt states.
const (
	AttemptPending   = "pending"
	AttemptCompleted = "completed"
	AttemptRefused   = "refused"
	AttemptRedeemed  = "redeemed"
)

// AttemptTTL is how long a person has to sign in after the installation
// started an attempt; RedeemGrace is how long the installation has to redeem
// a completed attempt at least.
const (
	AttemptTTL  = 10 * time.Minute
	RedeemGrace = 5 * time.Minute
)

// SSORefusal is why an SSO activation was refused: a machine code, the
// person's message, the admin's detail and the reference both can quote.
type SSORefusal struct {
	Code      string
	Message   string
	Detail    string
	Reference string
}

func (e *SSORefusal) Error() string { return e.Code + ": " + e.Message }

// SSOFailureRecorder writes a refusal into the admins' log of SSO failures
// (the sso package's list) and returns its reference. The app wires it.
type SSOFailureRecorder func(ctx context.Context, accountID, code, detail, subject, ip string) string

// SSOAttempt is an activation attempt.
type SSOAttempt struct {
	ID           string
	AccountID    string
	Email        string
	Device       Device
	State        string
	CreatedAt    store.Time
	ExpiresAt    store.Time
	CompletedAt  store.Time
	PersonID     string
	KeyID        string
	ActivationID string
	Refusal      *SSORefusal // when State is refused
}

// Expired reports whether the attempt can no longer be completed or
// redeemed at now.
func (a *SSOAttempt) Expired(now time.Time) bool { return !now.Before(a.ExpiresAt.Time) }

// SSOStartInput is what an installation sends to start an SSO activation.
type SSOStartInput struct {
	AccountID       string // found by the caller from the email's verified domain
	Email           string
	Device          Device
	CodeChallenge   string
	ChallengeMethod string // "S256"
	IP              string
}

// validChallenge: base64url without padding of a SHA-256 digest.
func validChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// validVerifier follows RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~].
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// ChallengeOf returns the S256 challenge of a verifier.
func ChallengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// StartSSOActivation records an attempt for an installation. Refusals are
// *DeviceError (invalid_request, no_sso_license, subscription_expired, …).
func (s *Service) StartSSOActivation(ctx context.Context, in SSOStartInput) (*SSOAttempt, error) {
	dev, err := in.Device.normalize()
	if err != nil {
		return nil, err
	}
	email, err := account.FormEmail(in.Email)
	if err != nil {
		return nil, deviceErr(CodeInvalidRequest, "email: %s", err.Error())
	}
	if in.ChallengeMethod != "S256" {
		return nil, deviceErr(CodeInvalidRequest, "code_challenge_method must be S256.")
	}
	if !validChallenge(in.CodeChallenge) {
		return nil, deviceErr(CodeInvalidRequest, "code_challenge must be the base64url (no padding) SHA-256 of the code verifier: 43 characters.")
	}
	now := s.now()
	if _, _, _, err := poolCandidatesRefusal(ctx, s.DB, in.AccountID, now); err != nil {
		return nil, err
	}
	a := &SSOAttempt{ID: ids.New(), AccountID: in.AccountID, Email: email, Device: dev, State: AttemptPending,
		CreatedAt: store.At(now), ExpiresAt: store.At(now.Add(AttemptTTL))}
	if _, err := s.DB.Exec(ctx, `INSERT INTO sso_activation_attempts (id, account_id, email, hardware_uuid, serial, computer_name, macos_user,
		app_version, challenge, state, created_at, expires_at, source_ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
		a.ID, a.AccountID, email, dev.HardwareUUID, dev.Serial, dev.ComputerName, dev.MacOSUser, dev.AppVersion, in.CodeChallenge,
		a.CreatedAt, a.ExpiresAt, freetext.Shorten(in.IP, 64)); err != nil {
		return nil, fmt.Errorf("start sso activation: %w", err)
	}
	return a, nil
}

// poolCandidatesRefusal is poolCandidates reporting a refusal as the error.
func poolCandidatesRefusal(ctx context.Context, q store.Querier, accountID string, now time.Time) ([]liveSub, []mappedKey, bool, error) {
	live, refusal, keys, err := poolCandidates(ctx, q, accountID, now)
	if err != nil {
		return nil, nil, false, err
	}
	if refusal != nil {
		return nil, nil, false, refusal
	}
	return live, keys, true, nil
}

const attemptColumns = `id, account_id, email, hardware_uuid, serial, computer_name, macos_user, app_version, state, created_at, expires_at,
	completed_at, COALESCE(person_id, ''), COALESCE(key_id, ''), COALESCE(activation_id, ''), refusal_code, refusal_message, refusal_reference, challenge`

func scanAttempt(row scanner) (*SSOAttempt, string, error) {
	var a SSOAttempt
	var code, msg, ref, challenge string
	err := row.Scan(&a.ID, &a.AccountID, &a.Email, &a.Device.HardwareUUID, &a.Device.Serial, &a.Device.ComputerName, &a.Device.MacOSUser,
		&a.Device.AppVersion, &a.State, &a.CreatedAt, &a.ExpiresAt, &a.CompletedAt, &a.PersonID, &a.KeyID, &a.ActivationID,
		&code, &msg, &ref, &challenge)
	if err != nil {
		return nil, "", store.NotFound(err)
	}
	if a.State == AttemptRefused {
		a.Refusal = &SSORefusal{Code: code, Message: msg, Reference: ref}
	}
	return &a, challenge, nil
}

// SSOAttempt returns an attempt by id (the browser page of the flow; the id
// is in the URL the installation opened).
func (s *Service) SSOAttempt(ctx context.Context, id string) (*SSOAttempt, error) {
	if !ids.Valid(id) {
		return nil, store.ErrNotFound
	}
	a, _, err := scanAttempt(s.DB.Writer().QueryRow(ctx, `SELECT `+attemptColumns+` FROM sso_activation_attempts WHERE id = ?`, id))
	return a, err
}

// RefuseSSOAttempt marks a pending attempt refused (a refusal found outside
// this package: the IdP integration, the SAML validator) so that the
// installation learns the reason when it redeems. It records the refusal
// for the admins when r has no reference yet.
func (s *Service) RefuseSSOAttempt(ctx context.Context, a *SSOAttempt, r *SSORefusal, ip string) (*SSORefusal, error) {
	if r.Reference == "" {
		r.Reference = s.recordFailure(ctx, a.AccountID, r.Code, r.Detail, a.Email, ip)
	}
	res, err := s.DB.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'refused', refusal_code = ?, refusal_message = ?, refusal_reference = ?
		WHERE id = ? AND state = 'pending'`, r.Code, r.Message, r.Reference, a.ID)
	if err != nil {
		return nil, fmt.Errorf("refuse sso attempt: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 1 {
		return r, nil
	}
	// Someone else decided first: report what the attempt says now.
	now, err := s.SSOAttempt(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	if now.Refusal != nil {
		return now.Refusal, nil
	}
	return r, nil
}

func (s *Service) recordFailure(ctx context.Context, accountID, code, detail, subject, ip string) string {
	if s.RecordSSOFailure != nil {
		return s.RecordSSOFailure(ctx, accountID, code, detail, subject, ip)
	}
	return strings.ToUpper(ids.Secret(6))
}

// refusal turns a *DeviceError into a recorded *SSORefusal.
func (s *Service) refuseAttempt(ctx context.Context, a *SSOAttempt, de *DeviceError, detail, ip string) (*SSORefusal, error) {
	if detail == "" {
		detail = de.Message
	}
	return s.RefuseSSOAttempt(ctx, a, &SSORefusal{Code: de.Code, Message: de.Message, Detail: detail}, ip)
}

// SSOCompleteInput is the person the IdP vouched for, for an attempt.
type SSOCompleteInput struct {
	AttemptID      string
	AccountID      string // of the ACS the response was posted to
	PersonID       string
	Email          string
	Groups         []string
	InDesktopUsers bool
	IP             string
	// Link, when set, makes the person and membership the SSO sign-in
	// implies and returns the person's id (PersonID is then unused). It
	// runs inside the transaction that grants the seat, after every check
	// that can refuse without it, so a refused activation leaves no person
	// or membership behind (issue 12 item 4).
	Link func(ctx context.Context, tx *store.Tx) (personID string, err error)
}

// SSOCompletion is what the person reads after a successful sign-in.
type SSOCompletion struct {
	Attempt *SSOAttempt
	KeyID   string
	KeyName string
	// Product names what the person now uses, e.g. "Desktop Enterprise
	// Edition"; AccountName the organization whose license it is. The
	// person's page shows these, not the internal key name.
	Product     string
	AccountName string
	NewSeat     bool
	Reactivated bool
	MovedFrom   string   // key id the seat moved from
	Conflict    []string // key ids the person's groups map to, when more than one
}

// CompleteSSOActivation checks the person's eligibility, picks the seat
// pool, grants the seat, registers the device and completes the attempt,
// all in one transaction. A refusal is an *SSORefusal (recorded on the
// attempt and in the admins' log).
func (s *Service) CompleteSSOActivation(ctx context.Context, in SSOCompleteInput) (*SSOCompletion, error) {
	a, _, err := s.attemptForUpdate(ctx, in.AttemptID, in.AccountID)
	if errors.Is(err, store.ErrNotFound) {
		ref := s.recordFailure(ctx, in.AccountID, CodeAttemptNotFound, "SAML response for unknown activation attempt "+in.AttemptID, in.Email, in.IP)
		return nil, &SSORefusal{Code: CodeAttemptNotFound, Reference: ref,
			Message: "This activation link is not valid. Start the activation again in Desktop."}
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	switch a.State {
	case AttemptRefused:
		return nil, a.Refusal
	case AttemptCompleted, AttemptRedeemed:
		return nil, &SSORefusal{Code: CodeAttemptUsed,
			Reference: s.recordFailure(ctx, in.AccountID, CodeAttemptUsed, "second sign-in for completed attempt "+a.ID, in.Email, in.IP),
			Message:   "This activation was completed already. Return to Desktop, or start again there."}
	}
	if a.Expired(now) {
		return nil, s.refusal(s.refuseAttempt(ctx, a, deviceErr(CodeAttemptExpired,
			"This activation took too long and expired. Start again in Desktop."), "signed in after the attempt expired", in.IP))
	}
	if !sameEmail(in.Email, a.Email) {
		return nil, s.refusal(s.refuseAttempt(ctx, a, deviceErr(CodeEmailMismatch,
			"You signed in as %s, but Desktop asked to activate for %s. Start again in Desktop with the address you sign in with.", in.Email, a.Email),
			fmt.Sprintf("attempt for %s completed by %s", a.Email, in.Email), in.IP))
	}
	if !in.InDesktopUsers {
		return nil, s.refusal(s.refuseAttempt(ctx, a, deviceErr(CodeNotInDesktopUsers,
			"You are not in your organization's Desktop Users group, so you cannot activate Desktop with your company account. Ask your IT admin to add you."),
			in.Email+" is not a member of the mapped Desktop Users group", in.IP))
	}
	settings, err := s.SSOSettings(ctx, in.AccountID)
	if err != nil {
		return nil, err
	}
	p, err := pickPool(ctx, s.DB, in.AccountID, in.Groups, now)
	var res *userGrantResult
	if err == nil {
		g := &userGrant{accountID: in.AccountID, personID: in.PersonID, pool: p, dev: a.Device, cap: settings.DeviceCap, groups: in.Groups, now: now,
			link: in.Link}
		res, err = s.grantUserSeat(ctx, g, func(tx *store.Tx, res *userGrantResult) error {
			in.PersonID = g.personID
			nowT := store.At(now)
			expires := a.ExpiresAt
			if least := store.At(now.Add(RedeemGrace)); expires.Before(least.Time) {
				expires = least
			}
			r, err := tx.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'completed', completed_at = ?, expires_at = ?, person_id = ?,
				key_id = ?, activation_id = ? WHERE id = ? AND state = 'pending'`, nowT, expires, in.PersonID, p.keyID, res.activationID, a.ID)
			if err != nil {
				return fmt.Errorf("complete sso attempt: %w", err)
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return deviceErr(CodeAttemptUsed, "This activation was completed already. Return to Desktop, or start again there.")
			}
			a.ExpiresAt = expires
			if !res.newSeat && res.movedFrom == "" {
				return nil
			}
			after := map[string]any{"key_id": p.keyID, "computer": a.Device.ComputerName, "activation_id": res.activationID}
			if res.movedFrom != "" {
				after["moved_from_key_id"] = res.movedFrom
			}
			if len(p.candidates) > 1 {
				after["group_conflict_keys"] = p.candidates
			}
			return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: in.PersonID, Label: in.Email, IP: in.IP},
				audit.Entry{AccountID: in.AccountID, Action: "license.user_seat_granted", TargetType: "person", TargetID: in.PersonID,
					TargetLabel: in.Email, After: after})
		})
	}
	var de *DeviceError
	if errors.As(err, &de) {
		detail := ""
		if p != nil {
			detail = fmt.Sprintf("%s (%s, key %s)", de.Message, in.Email, keyDisplay(p.keyName, p.keyLast))
		}
		return nil, s.refusal(s.refuseAttempt(ctx, a, de, detail, in.IP))
	}
	if err != nil {
		return nil, fmt.Errorf("complete sso activation: %w", err)
	}
	a.State, a.PersonID, a.KeyID, a.ActivationID = AttemptCompleted, in.PersonID, p.keyID, res.activationID
	c := &SSOCompletion{Attempt: a, KeyID: p.keyID, KeyName: keyDisplay(p.keyName, p.keyLast), NewSeat: res.newSeat,
		Reactivated: res.reactivated, MovedFrom: res.movedFrom}
	var edition string
	var trial bool
	if err := s.DB.QueryRow(ctx, `SELECT a.name, s.edition, s.trial FROM license_keys k JOIN subscriptions s ON s.id = k.subscription_id
		JOIN accounts a ON a.id = k.account_id WHERE k.id = ? AND k.account_id = ?`, p.keyID, in.AccountID).Scan(&c.AccountName, &edition, &trial); err != nil {
		return nil, fmt.Errorf("complete sso activation: read product: %w", err)
	}
	c.Product = "Desktop " + EditionLabel(edition)
	if trial {
		c.Product += " (trial)"
	}
	if len(p.candidates) > 1 {
		c.Conflict = p.candidates
	}
	return c, nil
}

// refusal passes a recorded refusal on (or the error recording it).
func (s *Service) refusal(r *SSORefusal, err error) error {
	if err != nil {
		return err
	}
	return r
}

func (s *Service) attemptForUpdate(ctx context.Context, id, accountID string) (*SSOAttempt, string, error) {
	if !ids.Valid(id) {
		return nil, "", store.ErrNotFound
	}
	a, challenge, err := scanAttempt(s.DB.Writer().QueryRow(ctx, `SELECT `+attemptColumns+` FROM sso_activation_attempts WHERE id = ?`, id))
	if err != nil {
		return nil, "", err
	}
	if accountID != "" && a.AccountID != accountID {
		return nil, "", store.ErrNotFound
	}
	return a, challenge, nil
}

// ErrSSOPending says the person has not finished signing in yet: poll again.
var ErrSSOPending = errors.New("the sign-in is not finished yet")

// RedeemSSOActivation gives the installation that started attempt (proved
// by the code verifier) its device credential and certificate, once. It
// returns ErrSSOPending while the person has not signed in, an *SSORefusal
// when the attempt was refused or the verifier is wrong, and a *DeviceError
// for an unknown, expired or used attempt.
func (s *Service) RedeemSSOActivation(ctx context.Context, attemptID, verifier, ip string) (*Activation, *SSOAttempt, error) {
	if !validVerifier(verifier) {
		return nil, nil, deviceErr(CodeInvalidRequest, "code_verifier must be 43 to 128 characters of A–Z, a–z, 0–9, -, ., _ and ~.")
	}
	a, challenge, err := s.attemptForUpdate(ctx, attemptID, "")
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, deviceErr(CodeAttemptNotFound, "No SSO activation attempt has this id.")
	} else if err != nil {
		return nil, nil, err
	}
	if subtle.ConstantTimeCompare([]byte(ChallengeOf(verifier)), []byte(challenge)) != 1 {
		// Logged for the admins: either a broken client or someone who
		// learned the attempt's address trying to take its credential.
		return nil, nil, &SSORefusal{Code: CodeInvalidVerifier,
			Message:   "The code verifier does not match this attempt's challenge: only the installation that started the activation can finish it.",
			Reference: s.recordFailure(ctx, a.AccountID, CodeInvalidVerifier, "redeem with a wrong code verifier for the attempt of "+a.Device.ComputerName, a.Email, ip)}
	}
	now := s.now()
	switch a.State {
	case AttemptRefused:
		return nil, a, a.Refusal
	case AttemptRedeemed:
		return nil, a, deviceErr(CodeAttemptUsed, "This activation was redeemed already.")
	case AttemptPending:
		if a.Expired(now) {
			r, err := s.refuseAttempt(ctx, a, deviceErr(CodeAttemptExpired, "The sign-in was not finished in time. Start the activation again."),
				"nobody signed in before the attempt expired", ip)
			return nil, a, s.refusal(r, err)
		}
		return nil, a, ErrSSOPending
	}
	if a.Expired(now) {
		return nil, a, deviceErr(CodeAttemptExpired, "The activation was not picked up in time. Start the activation again.")
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, nil, err
	}
	credential := ids.Secret(32)
	act := &Activation{ActivationID: a.ActivationID, Credential: credential}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		nowT := store.At(now)
		r, err := tx.Exec(ctx, `UPDATE sso_activation_attempts SET state = 'redeemed', redeemed_at = ? WHERE id = ? AND state = 'completed' AND expires_at > ?`,
			nowT, a.ID, nowT)
		if err != nil {
			return fmt.Errorf("redeem: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return deviceErr(CodeAttemptUsed, "This activation was redeemed already.")
		}
		r, err = tx.Exec(ctx, `UPDATE license_activations SET credential_hash = ?, last_check_at = ? WHERE id = ? AND status = 'active'`,
			ids.Hash(credential), nowT, a.ActivationID)
		if err != nil {
			return fmt.Errorf("redeem: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			var by string
			_ = tx.QueryRow(ctx, `SELECT deactivated_by FROM license_activations WHERE id = ?`, a.ActivationID).Scan(&by)
			return ssoRefusalOf(by)
		}
		d, err := s.deviceByCredential(ctx, tx, credential)
		if err != nil {
			return err
		}
		if r := subscriptionRefusal(d.t.subStatus, d.t.endsAt, d.t.purgedAt, now); r != nil {
			return r
		}
		act.Claims = s.claims(&d.t, d.id, d.dev, now)
		if r := s.ssoCheck(ctx, tx, d.id, &act.Claims); r != nil {
			return r
		}
		return nil
	})
	if err != nil {
		return nil, a, err
	}
	act.Certificate = sec.sign(act.Claims)
	a.State = AttemptRedeemed
	return act, a, nil
}

// PurgeSSOAttempts deletes attempts that ended more than a day ago.
func (s *Service) PurgeSSOAttempts(ctx context.Context) (int, error) {
	res, err := s.DB.Exec(ctx, `DELETE FROM sso_activation_attempts WHERE expires_at < ?`, store.At(s.now().Add(-24*time.Hour)))
	if err != nil {
		return 0, fmt.Errorf("purge sso attempts: %w", err)
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// sameEmail compares addresses as identifiers, by the account package's
// canonical address (ASCII case of the local part and the IDNA spellings of
// the domain do not matter: "Ann@Bücher.example" is
// "ann@xn--bcher-kva.example"). An address the function refuses matches
// nothing: no fallback comparison that would fold it into someone else's.
func sameEmail(a, b string) bool {
	na, errA := account.CanonicalEmail(a)
	nb, errB := account.CanonicalEmail(b)
	return errA == nil && errB == nil && na == nb
}

// RecordedOnAttempt reports whether a refusal with code is one this
// service records on the attempt itself; the others come from the shared
// SSO sign-in (sso.DesktopRefusalSince skips these).
func RecordedOnAttempt(code string) bool { return attemptCodes[code] }

var attemptCodes = map[string]bool{
	CodeNotInDesktopUsers: true, CodeEmailMismatch: true, CodeNoFreeSeat: true, CodeDeviceLimit: true,
	CodeAttemptExpired: true, CodeAttemptUsed: true, CodeAttemptNotFound: true, CodeNoSSOLicense: true,
	CodeSubscriptionExpired: true, CodeSubscriptionSuspended: true, CodeKeyDeleted: true,
	CodeUnknownDomain: true, CodeInvalidVerifier: true,
}
