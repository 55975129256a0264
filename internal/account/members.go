package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/mail"
	"gatehouse/internal/store"
)

// Member is one row of the Users page: an active or deactivated membership,
// or a pending invitation (Status "invited", PersonID empty, InviteID set).
type Member struct {
	PersonID    string
	InviteID    string
	Email       string
	DisplayName string
	Role        string
	Status      string
	JoinedAt    store.Time
	LastSignIn  store.Time
	InvitedAt   store.Time
	ExpiresAt   store.Time
	// HasProductLicense is true for people holding a per-user (SSO) seat.
	HasProductLicense bool
}

// MemberFilter narrows the Users page.
type MemberFilter struct {
	Role   string // "" = all
	Status string // "" = all, or active / invited / deactivated
	// WithProductLicense keeps only people holding a per-user (SSO) seat.
	WithProductLicense bool
	Query              string // substring of email or name
}

// ProductLicenseHolders, when set, returns the person ids of accountID that
// hold a per-user (SSO) seat; the licensing packages provide it.
type ProductLicenseHolders func(ctx context.Context, accountID string) (map[string]bool, error)

// Members lists the account's members and pending invitations.
func (s *Service) Members(ctx context.Context, accountID string, f MemberFilter, holders ProductLicenseHolders) ([]Member, error) {
	var licensed map[string]bool
	if holders != nil {
		var err error
		if licensed, err = holders(ctx, accountID); err != nil {
			return nil, err
		}
	}
	var out []Member
	if f.Status != StatusInvited {
		rows, err := s.DB.Query(ctx, `SELECT p.id, p.email, p.display_name, m.role, m.status, m.joined_at, m.last_sign_in_at
			FROM memberships m JOIN people p ON p.id = m.person_id WHERE m.account_id = ? ORDER BY p.email_norm`, accountID)
		if err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var m Member
			if err := rows.Scan(&m.PersonID, &m.Email, &m.DisplayName, &m.Role, &m.Status, &m.JoinedAt, &m.LastSignIn); err != nil {
				return nil, fmt.Errorf("list members: %w", err)
			}
			m.HasProductLicense = licensed[m.PersonID]
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list members: %w", err)
		}
	}
	if (f.Status == "" || f.Status == StatusInvited) && !f.WithProductLicense {
		rows, err := s.DB.Query(ctx, `SELECT id, email, role, created_at, expires_at FROM member_invites
			WHERE account_id = ? AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > ? ORDER BY email_norm`,
			accountID, store.At(s.now()))
		if err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			m := Member{Status: StatusInvited}
			if err := rows.Scan(&m.InviteID, &m.Email, &m.Role, &m.InvitedAt, &m.ExpiresAt); err != nil {
				return nil, fmt.Errorf("list invitations: %w", err)
			}
			out = append(out, m)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("list invitations: %w", err)
		}
	}
	q := strings.ToLower(strings.TrimSpace(f.Query))
	kept := out[:0]
	for _, m := range out {
		switch {
		case f.Role != "" && m.Role != f.Role,
			f.Status != "" && m.Status != f.Status,
			f.WithProductLicense && !m.HasProductLicense,
			q != "" && !strings.Contains(strings.ToLower(m.Email+" "+m.DisplayName), q):
			continue
		}
		kept = append(kept, m)
	}
	return kept, nil
}

// InviteMember invites email to join accountID with role. The invitation
// email carries a single-use link.
func (s *Service) InviteMember(ctx context.Context, accountID, email, role string, actor audit.Actor) error {
	email = strings.Trim(email, " \t\r\n")
	norm, err := CanonicalEmail(email)
	if err != nil {
		return &FieldError{Field: "email", Message: err.Error()}
	}
	if !ValidRole(role) {
		return fieldErr("role", "Choose a role.")
	}
	acct, err := s.AccountByID(ctx, accountID)
	if err != nil {
		return err
	}
	token := ids.Secret(32)
	now := s.now()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var status string
		err := tx.QueryRow(ctx, `SELECT m.status FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.account_id = ? AND p.email_norm = ?`, accountID, norm).Scan(&status)
		if err == nil {
			if status == StatusDeactivated {
				return fieldErr("email", "%s is a deactivated member. Reactivate them from the list instead.", norm)
			}
			return fieldErr("email", "%s is already a member of %s.", norm, acct.Name)
		} else if !errors.Is(store.NotFound(err), store.ErrNotFound) {
			return fmt.Errorf("invite member: %w", err)
		}
		// A new invitation replaces a pending one for the same address, so a
		// double submit or a re-invite never leaves two live links.
		if _, err := tx.Exec(ctx, `UPDATE member_invites SET revoked_at = ? WHERE account_id = ? AND email_norm = ?
			AND accepted_at IS NULL AND revoked_at IS NULL`, store.At(now), accountID, norm); err != nil {
			return fmt.Errorf("invite member: %w", err)
		}
		id := ids.New()
		if _, err := tx.Exec(ctx, `INSERT INTO member_invites (id, account_id, email, email_norm, role, token_hash, invited_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, id, accountID, email, norm, role, ids.Hash(token),
			nullIfEmpty(actor.ID), store.At(now), store.At(now.Add(s.Config.InviteTTL))); err != nil {
			return fmt.Errorf("invite member: %w", err)
		}
		link := s.PublicURL + "/invites/" + token
		if _, err := mail.Enqueue(ctx, tx, mail.Message{AccountID: accountID, Kind: "member_invite", To: email,
			Subject: fmt.Sprintf("You are invited to join %s on Gatehouse", acct.Name),
			Text: fmt.Sprintf("%s invited you to join the business account %q on Gatehouse as %s.\n\n"+
				"Accept the invitation here (sign in or create an account with this email address):\n%s\n\n"+
				"The link expires on %s.\n", actor.Label, acct.Name, RoleLabel(role), link,
				now.Add(s.Config.InviteTTL).Format("2 January 2006 15:04 MST")),
			RefType: "member_invite", RefID: id}); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "member.invited",
			TargetType: "invitation", TargetID: id, TargetLabel: norm, After: map[string]string{"role": role}})
	})
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Invite is a pending member invitation as shown to the invitee.
type Invite struct {
	ID          string
	AccountID   string
	AccountName string
	Email       string
	Role        string
	ExpiresAt   store.Time
}

// ErrInviteInvalid means the invitation link is unknown, used, revoked or expired.
var ErrInviteInvalid = errors.New("this invitation is invalid, was already used or revoked, or has expired; ask an admin to invite you again")

// InviteByToken returns the pending invitation behind a link.
func (s *Service) InviteByToken(ctx context.Context, token string) (*Invite, error) {
	var inv Invite
	err := s.DB.QueryRow(ctx, `SELECT i.id, i.account_id, a.name, i.email_norm, i.role, i.expires_at FROM member_invites i
		JOIN accounts a ON a.id = i.account_id
		WHERE i.token_hash = ? AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > ?`,
		ids.Hash(token), store.At(s.now())).Scan(&inv.ID, &inv.AccountID, &inv.AccountName, &inv.Email, &inv.Role, &inv.ExpiresAt)
	if err != nil {
		if errors.Is(store.NotFound(err), store.ErrNotFound) {
			return nil, ErrInviteInvalid
		}
		return nil, fmt.Errorf("invitation: %w", err)
	}
	return &inv, nil
}

// ErrInviteOtherEmail means a person signed in with another address tried to
// accept an invitation.
var ErrInviteOtherEmail = errors.New("this invitation was sent to another email address; sign in with that address to accept it")

// AcceptInvite makes person a member as the invitation says. The person must
// be signed in with the invited address, in its canonical form, and have
// proved that address: an invitation trusts the address it was sent to.
func (s *Service) AcceptInvite(ctx context.Context, token string, person *Person, ip string) (*Invite, error) {
	inv, err := s.InviteByToken(ctx, token)
	if err != nil {
		return nil, err
	}
	if !InviteAddressMatches(person, inv) {
		return nil, ErrInviteOtherEmail
	}
	norm := person.EmailNorm
	now := store.At(s.now())
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE member_invites SET accepted_at = ? WHERE id = ? AND accepted_at IS NULL AND revoked_at IS NULL`, now, inv.ID)
		if err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return ErrInviteInvalid
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at)
			VALUES (?, ?, ?, 'active', ?, ?) ON CONFLICT (account_id, person_id) DO NOTHING`, inv.AccountID, person.ID, inv.Role, now, now); err != nil {
			return fmt.Errorf("accept invitation: %w", err)
		}
		return audit.Record(ctx, tx, audit.Actor{Type: audit.ActorPerson, ID: person.ID, Label: norm, IP: ip},
			audit.Entry{AccountID: inv.AccountID, Action: "member.joined", TargetType: "person", TargetID: person.ID,
				TargetLabel: norm, After: map[string]string{"role": inv.Role}})
	})
	if err != nil {
		return nil, err
	}
	return inv, nil
}

// InviteAddressMatches reports whether person may accept inv: the same
// canonical address, proved by its owner.
func InviteAddressMatches(person *Person, inv *Invite) bool {
	return person != nil && inv != nil && person.Verified() && person.EmailNorm != "" && person.EmailNorm == inv.Email
}

// RevokeInvite cancels a pending invitation.
func (s *Service) RevokeInvite(ctx context.Context, accountID, inviteID string, actor audit.Actor) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		var email string
		err := tx.QueryRow(ctx, `UPDATE member_invites SET revoked_at = ? WHERE id = ? AND account_id = ?
			AND accepted_at IS NULL AND revoked_at IS NULL RETURNING email_norm`, store.At(s.now()), inviteID, accountID).Scan(&email)
		if err != nil {
			return store.NotFound(err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "member.invitation_revoked",
			TargetType: "invitation", TargetID: inviteID, TargetLabel: email})
	})
}

// ChangeRole gives a member another role. The last active admin keeps theirs.
func (s *Service) ChangeRole(ctx context.Context, accountID, personID, role string, actor audit.Actor) error {
	if !ValidRole(role) {
		return fieldErr("role", "Choose a role.")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		m, email, err := memberForUpdate(ctx, tx, accountID, personID)
		if err != nil {
			return err
		}
		if m.Role == role {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET role = ? WHERE account_id = ? AND person_id = ?`, role, accountID, personID); err != nil {
			return fmt.Errorf("change role: %w", err)
		}
		if m.Role == RoleAdmin && m.Status == StatusActive {
			if err := ensureAnAdmin(ctx, tx, accountID); err != nil {
				return err
			}
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "member.role_changed",
			TargetType: "person", TargetID: personID, TargetLabel: email,
			Before: map[string]string{"role": m.Role}, After: map[string]string{"role": role}})
	})
}

// SetMemberStatus deactivates or reactivates a member. A deactivated member
// loses access at once (their sessions in this account stop resolving).
func (s *Service) SetMemberStatus(ctx context.Context, accountID, personID, status string, actor audit.Actor) error {
	if status != StatusActive && status != StatusDeactivated {
		return fmt.Errorf("set member status: invalid status %q", status)
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		m, email, err := memberForUpdate(ctx, tx, accountID, personID)
		if err != nil {
			return err
		}
		if m.Status == status {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE memberships SET status = ? WHERE account_id = ? AND person_id = ?`, status, accountID, personID); err != nil {
			return fmt.Errorf("set member status: %w", err)
		}
		if m.Role == RoleAdmin && status == StatusDeactivated {
			if err := ensureAnAdmin(ctx, tx, accountID); err != nil {
				return err
			}
		}
		action := "member.deactivated"
		if status == StatusActive {
			action = "member.reactivated"
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: action,
			TargetType: "person", TargetID: personID, TargetLabel: email})
	})
}

func memberForUpdate(ctx context.Context, tx *store.Tx, accountID, personID string) (*Membership, string, error) {
	if err := lockAccount(ctx, tx, accountID); err != nil {
		return nil, "", err
	}
	var m Membership
	var email string
	err := tx.QueryRow(ctx, `SELECT m.role, m.status, p.email_norm FROM memberships m JOIN people p ON p.id = m.person_id
		WHERE m.account_id = ? AND m.person_id = ?`, accountID, personID).Scan(&m.Role, &m.Status, &email)
	if err != nil {
		return nil, "", store.NotFound(err)
	}
	return &m, email, nil
}

// ensureAnAdmin fails when a change left the account without an active admin.
// It runs after the change inside the same transaction; callers take
// lockAccount first so that two concurrent demotions of different admins are
// serialised and the second one sees the first.
func ensureAnAdmin(ctx context.Context, tx *store.Tx, accountID string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM memberships WHERE account_id = ? AND role = 'admin' AND status = 'active'`,
		accountID).Scan(&n); err != nil {
		return fmt.Errorf("count admins: %w", err)
	}
	if n == 0 {
		return ErrLastAdmin
	}
	return nil
}

// lockAccount takes the account row's write lock for the rest of the
// transaction (a no-op update: portable, and enough on both engines).
func lockAccount(ctx context.Context, tx *store.Tx, accountID string) error {
	res, err := tx.Exec(ctx, `UPDATE accounts SET id = id WHERE id = ?`, accountID)
	if err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return store.ErrNotFound
	}
	return nil
}
