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
	"gatehouse/internal/license/invitations"
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
	case !invitations.ValidLanguage(in.Language):
		return nil, fieldErr("language", "Choose the language of the email.")
	case in.ExpiresInDays < MinInvitationDays || in.ExpiresInDays > MaxInvitationDays:
		return nil, fieldErr("expires", "Choose an expiry between %d days and 1 month.", MinInvitationDays)
	case len(in.Emails) == 0:
		return nil, fieldErr("emails", "Add at least one email address.")
	case len(in.Emails) > invitations.MaxInvitationsPerSend:
		return nil, fieldErr("emails", "Send at most %d invitations at a time.", invitations.MaxInvitationsPerSend)
	case len(in.IdempotencyKey) > 100:
		return nil, fieldErr("idempotency_key", "Too long.")
	}
	// The Send step re-checks the list; any problem stops everything.
	parsed := invitations.Recheck(in.Emails)
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
		if err := invitations.InsertBatchTx(ctx, tx, invitations.Batch{ID: res.BatchID, AccountID: caller.AccountID, KeyID: k.ID,
			IdempotencyKey: idem, Count: len(parsed.Valid), CreatedBy: caller.PersonID, CreatedAt: store.At(now)}); err != nil {
			return err
		}
		for _, email := range parsed.Valid {
			code := invitations.GenerateCode()
			hash := invitations.Hash(code)
			inv := Invitation{ID: ids.New(), KeyID: k.ID, KeyName: k.Name, KeyLast: k.Last, Email: email, Language: in.Language,
				Code: code, Link: s.downloadLink(code), CreatedAt: store.At(now), ExpiresAt: store.At(expires),
				Status: InvitationPending, SentCount: 1, LastSentAt: store.At(now), Delivery: "pending"}
			if err := invitations.InsertTx(ctx, tx, invitations.New{ID: inv.ID, AccountID: caller.AccountID, KeyID: k.ID, BatchID: res.BatchID,
				Email: email, Language: in.Language, CodeHash: hash, CodeSealed: sec.seal("invitation_code:"+hash, code),
				ValidDays: in.ExpiresInDays, CreatedBy: caller.PersonID, CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}); err != nil {
				return err
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
	if err == invitations.ErrRepeated {
		batchID, err := invitations.BatchID(ctx, s.DB.Writer(), caller.AccountID, idem)
		if err != nil {
			return nil, err
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

func (s *Service) enqueueInvitation(ctx context.Context, tx *store.Tx, accountID, accountName string, inv *Invitation) error {
	subject, text, html, err := invitations.Render(inv.Language, invitations.EmailData{AccountName: accountName, Link: inv.Link,
		Code: inv.Code, Expires: invitations.FormatExpiry(inv.Language, inv.ExpiresAt.Time)})
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
			ok, err := invitations.RevokeTx(ctx, tx, caller.AccountID, inv.ID, now)
			if err != nil {
				return err
			}
			if ok {
				revoked = append(revoked, inv.Email)
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

func (s *Service) invitationForUpdate(ctx context.Context, q store.Querier, caller Caller, id string) (*invitations.Record, error) {
	if !ids.Valid(id) {
		return nil, store.ErrNotFound
	}
	r, err := invitations.Get(ctx, q, caller.AccountID, id)
	if err != nil {
		return nil, err
	}
	k, err := getKey(ctx, q, caller.AccountID, r.KeyID)
	if err != nil {
		return nil, err
	}
	if err := s.mayManageKey(ctx, q, caller, k); err != nil {
		return nil, err
	}
	return r, nil
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
		case !r.Used.IsZero():
			return fieldErr("invitation", "This invitation was used already; send a new one to activate another computer.")
		case !r.Revoked.IsZero():
			return fieldErr("invitation", "This invitation was revoked; send a new one.")
		}
		code, err := sec.open("invitation_code:"+r.CodeHash, r.CodeSealed)
		if err != nil {
			return err
		}
		now := s.now()
		expires := store.At(now.Add(time.Duration(r.ValidDays) * 24 * time.Hour))
		renewed, err := invitations.RenewTx(ctx, tx, r.ID, expires, store.At(now))
		if err != nil {
			return err
		}
		if !renewed {
			return fieldErr("invitation", "This invitation changed meanwhile; reload and try again.")
		}
		var accountName string
		if err := tx.QueryRow(ctx, `SELECT name FROM accounts WHERE id = ?`, caller.AccountID).Scan(&accountName); err != nil {
			return err
		}
		inv := &Invitation{ID: r.ID, KeyID: r.KeyID, Email: r.Email, Language: r.Language, Code: code, Link: s.downloadLink(code),
			ExpiresAt: expires, Status: InvitationPending, Delivery: "pending"}
		if err := s.enqueueInvitation(ctx, tx, caller.AccountID, accountName, inv); err != nil {
			return err
		}
		out = inv
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.invitation_resent",
			TargetType: "invitation", TargetID: r.ID, TargetLabel: r.Email})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
