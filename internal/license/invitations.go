package license

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/csvexport"
	"gatehouse/internal/ids"
	"gatehouse/internal/mail"
	"gatehouse/internal/store"
)

// Invitation expiry bounds (days).
const (
	MinInvitationDays = 3
	MaxInvitationDays = 31
)

// InvitationExpiryChoices are the expiries the Invite Users form offers.
var InvitationExpiryChoices = []struct {
	Days  int
	Label string
}{{3, "3 days"}, {7, "1 week"}, {14, "2 weeks"}, {31, "1 month"}}

// Invitation statuses.
const (
	InvitationPending = "pending"
	InvitationUsed    = "used"
	InvitationExpired = "expired"
	InvitationRevoked = "revoked"
)

// Invitation is one invited address with its activation code.
type Invitation struct {
	ID         string
	KeyID      string
	KeyName    string
	KeyLast    string
	Email      string
	Language   string
	Code       string // the temporary activation code (admins and assigned license admins see it)
	Link       string // personal download link that pre-fills the code
	CreatedAt  store.Time
	ExpiresAt  store.Time
	UsedAt     store.Time
	RevokedAt  store.Time
	Status     string // pending, used, expired, revoked
	SentCount  int
	LastSentAt store.Time
	// Delivery is the state of the latest email: pending, sent, failed ("" if none).
	Delivery          string
	DeliveryError     string
	DeliveryAttempts  int
	ActivationID      string
	ActivatedComputer string
}

// InviteInput is the Invite Users form after the Parse step.
type InviteInput struct {
	KeyID         string
	Language      string // en, de
	ExpiresInDays int    // 3 … 31
	Emails        []string
	// IdempotencyKey identifies one submission of the form (a nonce the form
	// carries): submitting it twice sends once.
	IdempotencyKey string
	// Confirm must be true: the admin saw the parsed list and pressed Send.
	Confirm bool
}

// InviteResult is what SendInvitations did.
type InviteResult struct {
	BatchID     string
	Invitations []Invitation
	// Repeated is true when this submission was already processed; the
	// invitations are the ones made then, nothing new was sent.
	Repeated bool
}

func (s *Service) downloadLink(code string) string {
	return s.Config.PublicURL + "/download?code=" + url.QueryEscape(code)
}

func invitationStatus(used, revoked, expires store.Time, now time.Time) string {
	switch {
	case !used.IsZero():
		return InvitationUsed
	case !revoked.IsZero():
		return InvitationRevoked
	case !now.Before(expires.Time):
		return InvitationExpired
	}
	return InvitationPending
}

// SendInvitations creates one invitation per address for a key, each with a
// single-use activation code limited to that key and one computer, and
// queues the emails in the same transaction (a failed delivery never loses
// an invitation; it is retried and its state is shown). More invitations
// than free seats is allowed: activation is first come, first served.
func (s *Service) SendInvitations(ctx context.Context, caller Caller, in InviteInput, actor audit.Actor) (*InviteResult, error) {
	in.Language = strings.ToLower(strings.TrimSpace(in.Language))
	if in.Language == "" {
		in.Language = "en"
	}
	switch {
	case !validLanguage(in.Language):
		return nil, fieldErr("language", "Choose the language of the email.")
	case in.ExpiresInDays < MinInvitationDays || in.ExpiresInDays > MaxInvitationDays:
		return nil, fieldErr("expires", "Choose an expiry between %d days and 1 month.", MinInvitationDays)
	case len(in.Emails) == 0:
		return nil, fieldErr("emails", "Add at least one email address.")
	case len(in.Emails) > MaxInvitationsPerSend:
		return nil, fieldErr("emails", "Send at most %d invitations at a time.", MaxInvitationsPerSend)
	case len(in.IdempotencyKey) > 100:
		return nil, fieldErr("idempotency_key", "Too long.")
	}
	// The Send step re-checks the list; any problem stops everything.
	parsed := ParsedAddresses{}
	seen := map[string]int{}
	for i, e := range in.Emails {
		parsed.add(i+1, e, seen)
	}
	if len(parsed.Errors) > 0 {
		var b strings.Builder
		for i, e := range parsed.Errors {
			if i == 5 {
				fmt.Fprintf(&b, " … and %d more", len(parsed.Errors)-5)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			fmt.Fprintf(&b, "%s (%s)", e.Value, e.Message)
		}
		return nil, fieldErr("emails", "Fix these addresses first: %s.", b.String())
	}
	k, err := getKey(ctx, s.DB, caller.AccountID, in.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.mayManageKey(ctx, s.DB, caller, k); err != nil {
		return nil, err
	}
	if !in.Confirm {
		sub, err := getSubscription(ctx, s.DB, k.SubscriptionID)
		if err != nil {
			return nil, err
		}
		msg := fmt.Sprintf("Send %d invitations for %s? They expire in %d days.", len(parsed.Valid), keyLabel(k), in.ExpiresInDays)
		if free := keyFree(k, sub); free < len(parsed.Valid) {
			msg += fmt.Sprintf(" The key has %d free seats: computers are activated first come, first served.", free)
		}
		return nil, &ConfirmationError{Action: "send_invitations", Message: msg}
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, err
	}
	idem := in.IdempotencyKey
	if idem == "" {
		idem = ids.New()
	}
	var accountName string
	if err := s.DB.QueryRow(ctx, `SELECT name FROM accounts WHERE id = ?`, caller.AccountID).Scan(&accountName); err != nil {
		return nil, store.NotFound(err)
	}
	res := &InviteResult{BatchID: ids.New()}
	now := s.now()
	expires := now.Add(time.Duration(in.ExpiresInDays) * 24 * time.Hour)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := getKey(ctx, tx, caller.AccountID, k.ID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO license_invitation_batches (id, account_id, key_id, idempotency_key, invitations, created_by, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, res.BatchID, caller.AccountID, k.ID, idem, len(parsed.Valid), caller.PersonID, store.At(now)); err != nil {
			if store.IsUniqueViolation(err) {
				return errRepeated
			}
			return fmt.Errorf("send invitations: %w", err)
		}
		for _, email := range parsed.Valid {
			code := GenerateCode()
			hash := codeHash(code)
			inv := Invitation{ID: ids.New(), KeyID: k.ID, KeyName: k.Name, KeyLast: k.Last, Email: email, Language: in.Language,
				Code: code, Link: s.downloadLink(code), CreatedAt: store.At(now), ExpiresAt: store.At(expires),
				Status: InvitationPending, SentCount: 1, LastSentAt: store.At(now), Delivery: "pending"}
			if _, err := tx.Exec(ctx, `INSERT INTO license_invitations (id, account_id, key_id, batch_id, email, language, code_hash, code_sealed,
				valid_days, created_by, created_at, expires_at, sent_count, last_sent_at)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`, inv.ID, caller.AccountID, k.ID, res.BatchID, email, in.Language,
				hash, sec.seal("invitation_code:"+hash, code), in.ExpiresInDays, caller.PersonID, inv.CreatedAt, inv.ExpiresAt, inv.CreatedAt); err != nil {
				return fmt.Errorf("send invitations: %w", err)
			}
			if err := s.enqueueInvitation(ctx, tx, caller.AccountID, accountName, &inv); err != nil {
				return err
			}
			res.Invitations = append(res.Invitations, inv)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.invitations_sent",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k),
			After: map[string]any{"count": len(parsed.Valid), "language": in.Language, "expires_in_days": in.ExpiresInDays, "emails": parsed.Valid}})
	})
	if err == errRepeated {
		var batchID string
		if err := s.DB.Writer().QueryRow(ctx, `SELECT id FROM license_invitation_batches WHERE account_id = ? AND idempotency_key = ?`,
			caller.AccountID, idem).Scan(&batchID); err != nil {
			return nil, fmt.Errorf("send invitations: find earlier submission: %w", err)
		}
		invs, err := s.listInvitations(ctx, s.DB.Writer(), caller, InvitationFilter{BatchID: batchID}, sec)
		if err != nil {
			return nil, err
		}
		return &InviteResult{BatchID: batchID, Invitations: invs, Repeated: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

var errRepeated = fmt.Errorf("repeated submission")

func (s *Service) enqueueInvitation(ctx context.Context, tx *store.Tx, accountID, accountName string, inv *Invitation) error {
	subject, text, html, err := renderInvitation(inv.Language, invitationEmailData{AccountName: accountName, Link: inv.Link,
		Code: inv.Code, Expires: formatExpiry(inv.Language, inv.ExpiresAt.Time)})
	if err != nil {
		return fmt.Errorf("render invitation: %w", err)
	}
	if _, err := mail.Enqueue(ctx, tx, mail.Message{AccountID: accountID, Kind: "license_invitation", To: inv.Email,
		Subject: subject, Text: text, HTML: html, RefType: "license_invitation", RefID: inv.ID}); err != nil {
		return err
	}
	return nil
}

// InvitationFilter narrows Invitations.
type InvitationFilter struct {
	KeyID   string
	BatchID string
	Status  string // pending, used, expired, revoked; "" for all
	Query   string // matches the email address
	Limit   int    // default 1000, at most 50,000
}

// Invitations lists invitations of keys the caller may manage, newest first,
// with their codes, links, status and delivery state.
func (s *Service) Invitations(ctx context.Context, caller Caller, f InvitationFilter) ([]Invitation, error) {
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, err
	}
	return s.listInvitations(ctx, s.DB, caller, f, sec)
}

func (s *Service) listInvitations(ctx context.Context, q store.Querier, caller Caller, f InvitationFilter, sec *secrets) ([]Invitation, error) {
	where := "WHERE i.account_id = ?"
	args := []any{caller.AccountID}
	switch caller.Role {
	case RoleAdmin:
	case RoleLicenseAdmin:
		where += ` AND (i.key_id IN (SELECT key_id FROM license_key_admins WHERE account_id = ? AND person_id = ?)
			OR k.subscription_id IN (SELECT pk.subscription_id FROM license_key_admins ka JOIN license_keys pk ON pk.id = ka.key_id
				WHERE ka.account_id = ? AND ka.person_id = ? AND pk.kind = 'primary'))`
		args = append(args, caller.AccountID, caller.PersonID, caller.AccountID, caller.PersonID)
	default:
		return nil, ErrForbidden
	}
	if f.KeyID != "" {
		where += " AND i.key_id = ?"
		args = append(args, f.KeyID)
	}
	if f.BatchID != "" {
		where += " AND i.batch_id = ?"
		args = append(args, f.BatchID)
	}
	if qs := strings.TrimSpace(f.Query); qs != "" {
		where += ` AND LOWER(i.email) LIKE ? ESCAPE '\'`
		args = append(args, "%"+escapeLike(strings.ToLower(qs))+"%")
	}
	nowT := store.At(s.now())
	switch f.Status {
	case "":
	case InvitationUsed:
		where += " AND i.used_at IS NOT NULL"
	case InvitationRevoked:
		where += " AND i.used_at IS NULL AND i.revoked_at IS NOT NULL"
	case InvitationExpired:
		where += " AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at <= ?"
		args = append(args, nowT)
	case InvitationPending:
		where += " AND i.used_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?"
		args = append(args, nowT)
	default:
		return nil, fieldErr("status", "Unknown status.")
	}
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	f.Limit = min(f.Limit, 50_000)
	rows, err := q.Query(ctx, `SELECT i.id, i.key_id, k.name, k.key_last, i.email, i.language, i.code_hash, i.code_sealed,
		i.created_at, i.expires_at, i.used_at, i.revoked_at, i.sent_count, i.last_sent_at,
		COALESCE(i.activation_id, ''), COALESCE(a.computer_name, ''),
		COALESCE(o.status, ''), COALESCE(o.last_error, ''), COALESCE(o.attempts, 0)
		FROM license_invitations i JOIN license_keys k ON k.id = i.key_id
		LEFT JOIN license_activations a ON a.id = i.activation_id
		LEFT JOIN outbox o ON o.id = (SELECT o2.id FROM outbox o2 WHERE o2.ref_type = 'license_invitation' AND o2.ref_id = i.id
			ORDER BY o2.created_at DESC, o2.id DESC LIMIT 1)
		`+where+` ORDER BY i.created_at DESC, i.email LIMIT ?`, append(args, f.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list invitations: %w", err)
	}
	defer rows.Close()
	now := s.now()
	var out []Invitation
	for rows.Next() {
		var inv Invitation
		var hash, sealed string
		if err := rows.Scan(&inv.ID, &inv.KeyID, &inv.KeyName, &inv.KeyLast, &inv.Email, &inv.Language, &hash, &sealed,
			&inv.CreatedAt, &inv.ExpiresAt, &inv.UsedAt, &inv.RevokedAt, &inv.SentCount, &inv.LastSentAt,
			&inv.ActivationID, &inv.ActivatedComputer, &inv.Delivery, &inv.DeliveryError, &inv.DeliveryAttempts); err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		code, err := sec.open("invitation_code:"+hash, sealed)
		if err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		inv.Code, inv.Link = code, s.downloadLink(code)
		inv.Status = invitationStatus(inv.UsedAt, inv.RevokedAt, inv.ExpiresAt, now)
		out = append(out, inv)
	}
	return out, rows.Err()
}

// InvitationsCSVHeader is the header row of Download Invitations.
var InvitationsCSVHeader = []string{"email", "code", "download_url", "expires_at", "status", "license_key", "key_name", "delivery"}

// WriteInvitationsCSV writes the Download Invitations file.
func WriteInvitationsCSV(w io.Writer, invs []Invitation) error {
	cw, err := csvexport.New(w, InvitationsCSVHeader...)
	if err != nil {
		return err
	}
	for _, inv := range invs {
		if err := cw.Row(inv.Email, inv.Code, inv.Link, csvexport.Time(inv.ExpiresAt.Time), inv.Status,
			MaskKey(inv.KeyLast), inv.KeyName, inv.Delivery); err != nil {
			return err
		}
	}
	return cw.Close()
}

// RevokeInvitations revokes pending invitations: their codes stop working.
// Used, already revoked and unknown ones are skipped; returns how many were
// revoked.
func (s *Service) RevokeInvitations(ctx context.Context, caller Caller, invitationIDs []string, actor audit.Actor) (int, error) {
	if len(invitationIDs) == 0 {
		return 0, fieldErr("invitations", "Select at least one invitation.")
	}
	total := 0
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var revoked []string
		now := store.At(s.now())
		for _, id := range invitationIDs {
			inv, err := s.invitationForUpdate(ctx, tx, caller, id)
			if err == store.ErrNotFound {
				continue
			} else if err != nil {
				return err
			}
			res, err := tx.Exec(ctx, `UPDATE license_invitations SET revoked_at = ? WHERE id = ? AND account_id = ? AND used_at IS NULL AND revoked_at IS NULL`,
				now, inv.id, caller.AccountID)
			if err != nil {
				return fmt.Errorf("revoke invitation: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				revoked = append(revoked, inv.email)
			}
		}
		total = len(revoked)
		if total == 0 {
			return nil
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.invitations_revoked",
			TargetType: "invitation", TargetLabel: fmt.Sprintf("%d invitations", total), After: map[string]any{"emails": revoked}})
	})
	return total, err
}

type invRow struct {
	id, keyID, email, language, hash, sealed string
	validDays                                int
	used, revoked                            store.Time
}

func (s *Service) invitationForUpdate(ctx context.Context, q store.Querier, caller Caller, id string) (*invRow, error) {
	if !ids.Valid(id) {
		return nil, store.ErrNotFound
	}
	var r invRow
	err := q.QueryRow(ctx, `SELECT id, key_id, email, language, code_hash, code_sealed, valid_days, used_at, revoked_at
		FROM license_invitations WHERE id = ? AND account_id = ?`, id, caller.AccountID).Scan(
		&r.id, &r.keyID, &r.email, &r.language, &r.hash, &r.sealed, &r.validDays, &r.used, &r.revoked)
	if err != nil {
		return nil, store.NotFound(err)
	}
	k, err := getKey(ctx, q, caller.AccountID, r.keyID)
	if err != nil {
		return nil, err
	}
	if err := s.mayManageKey(ctx, q, caller, k); err != nil {
		return nil, err
	}
	return &r, nil
}

// ResendInvitation emails a pending or expired invitation again with the
// same code (it may already be in a helpdesk note) and renews its expiry
// for as many days as it was first given.
func (s *Service) ResendInvitation(ctx context.Context, caller Caller, invitationID string, actor audit.Actor) (*Invitation, error) {
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, err
	}
	var out *Invitation
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.invitationForUpdate(ctx, tx, caller, invitationID)
		if err != nil {
			return err
		}
		switch {
		case !r.used.IsZero():
			return fieldErr("invitation", "This invitation was used already; send a new one to activate another computer.")
		case !r.revoked.IsZero():
			return fieldErr("invitation", "This invitation was revoked; send a new one.")
		}
		code, err := sec.open("invitation_code:"+r.hash, r.sealed)
		if err != nil {
			return err
		}
		now := s.now()
		expires := store.At(now.Add(time.Duration(r.validDays) * 24 * time.Hour))
		res, err := tx.Exec(ctx, `UPDATE license_invitations SET expires_at = ?, sent_count = sent_count + 1, last_sent_at = ?
			WHERE id = ? AND used_at IS NULL AND revoked_at IS NULL`, expires, store.At(now), r.id)
		if err != nil {
			return fmt.Errorf("resend invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fieldErr("invitation", "This invitation changed meanwhile; reload and try again.")
		}
		var accountName string
		if err := tx.QueryRow(ctx, `SELECT name FROM accounts WHERE id = ?`, caller.AccountID).Scan(&accountName); err != nil {
			return err
		}
		inv := &Invitation{ID: r.id, KeyID: r.keyID, Email: r.email, Language: r.language, Code: code, Link: s.downloadLink(code),
			ExpiresAt: expires, Status: InvitationPending, Delivery: "pending"}
		if err := s.enqueueInvitation(ctx, tx, caller.AccountID, accountName, inv); err != nil {
			return err
		}
		out = inv
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.invitation_resent",
			TargetType: "invitation", TargetID: r.id, TargetLabel: r.email})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
