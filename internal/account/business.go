package account

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/freetext"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// AccountInput is the organization details form.
type AccountInput struct {
	Name         string
	Country      string
	ContactName  string
	ContactEmail string
	ContactPhone string
}

// Validate trims the input and returns the first problem as a *FieldError.
func (in *AccountInput) Validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Country = strings.ToUpper(strings.TrimSpace(in.Country))
	in.ContactName = strings.TrimSpace(in.ContactName)
	in.ContactEmail = strings.TrimSpace(in.ContactEmail)
	in.ContactPhone = strings.TrimSpace(in.ContactPhone)
	for _, f := range [][2]string{{"name", in.Name}, {"contact_name", in.ContactName}, {"contact_email", in.ContactEmail}, {"contact_phone", in.ContactPhone}} {
		if p := freetext.Problem(f[1]); p != "" {
			return fieldErr(f[0], "This text %s.", p)
		}
	}
	switch {
	case in.Name == "":
		return fieldErr("name", "Enter the organization's name.")
	case len(in.Name) > 120:
		return fieldErr("name", "Use at most 120 characters.")
	case in.Country == "":
		return fieldErr("country", "Choose the country.")
	case CountryName(in.Country) == "":
		return fieldErr("country", "Choose a country from the list.")
	case len(in.ContactName) > 120:
		return fieldErr("contact_name", "Use at most 120 characters.")
	case len(in.ContactPhone) > 40:
		return fieldErr("contact_phone", "Use at most 40 characters.")
	}
	if in.ContactEmail != "" {
		norm, err := FormEmail(in.ContactEmail)
		if err != nil {
			return &FieldError{Field: "contact_email", Message: err.Error()}
		}
		in.ContactEmail = norm
	}
	return nil
}

// CreateBusinessAccount creates a business account with personID as its first
// admin.
func (s *Service) CreateBusinessAccount(ctx context.Context, personID string, in AccountInput, actor audit.Actor) (*Account, error) {
	var a *Account
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		var err error
		a, err = s.CreateBusinessAccountTx(ctx, tx, personID, in, actor)
		return err
	})
	return a, err
}

// CreateBusinessAccountTx is CreateBusinessAccount inside the caller's
// transaction (registering a license key creates the account on the way).
func (s *Service) CreateBusinessAccountTx(ctx context.Context, tx *store.Tx, personID string, in AccountInput, actor audit.Actor) (*Account, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := store.At(s.now())
	a := &Account{ID: ids.New(), Name: in.Name, Country: in.Country, ContactName: in.ContactName,
		ContactEmail: in.ContactEmail, ContactPhone: in.ContactPhone, CreatedAt: now}
	if _, err := tx.Exec(ctx, `INSERT INTO accounts (id, name, country, contact_name, contact_email, contact_phone, created_by, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, a.Name, a.Country, a.ContactName, a.ContactEmail, a.ContactPhone, personID, now); err != nil {
		return nil, fmt.Errorf("create business account: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at)
		VALUES (?, ?, 'admin', 'active', ?, ?)`, a.ID, personID, now, now); err != nil {
		return nil, fmt.Errorf("create business account: %w", err)
	}
	if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: a.ID, Action: "account.created", TargetType: "account",
		TargetID: a.ID, TargetLabel: a.Name, After: in}); err != nil {
		return nil, err
	}
	return a, nil
}

// AccountByID returns a business account.
func (s *Service) AccountByID(ctx context.Context, id string) (*Account, error) {
	var a Account
	err := s.DB.QueryRow(ctx, `SELECT id, name, country, contact_name, contact_email, contact_phone, created_at
		FROM accounts WHERE id = ?`, id).Scan(&a.ID, &a.Name, &a.Country, &a.ContactName, &a.ContactEmail, &a.ContactPhone, &a.CreatedAt)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &a, nil
}

// UpdateProfile changes the organization details.
func (s *Service) UpdateProfile(ctx context.Context, accountID string, in AccountInput, actor audit.Actor) error {
	if err := in.Validate(); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		before, err := s.AccountByID(ctx, accountID)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET name = ?, country = ?, contact_name = ?, contact_email = ?, contact_phone = ?
			WHERE id = ?`, in.Name, in.Country, in.ContactName, in.ContactEmail, in.ContactPhone, accountID); err != nil {
			return fmt.Errorf("update business profile: %w", err)
		}
		old := AccountInput{Name: before.Name, Country: before.Country, ContactName: before.ContactName,
			ContactEmail: before.ContactEmail, ContactPhone: before.ContactPhone}
		if old == in {
			return nil
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "account.profile_updated",
			TargetType: "account", TargetID: accountID, TargetLabel: in.Name, Before: old, After: in})
	})
}

// Workspaces lists the business accounts a person belongs to (active
// memberships), by name.
func (s *Service) Workspaces(ctx context.Context, personID string) ([]Membership, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (Membership, error) {
		var m Membership
		if err := row.Scan(&m.AccountID, &m.AccountName, &m.PersonID, &m.Role, &m.Status, &m.JoinedAt, &m.LastSignIn); err != nil {
			return m, err
		}
		return m, nil
	}, `SELECT m.account_id, a.name, m.person_id, m.role, m.status, m.joined_at, m.last_sign_in_at
		FROM memberships m JOIN accounts a ON a.id = m.account_id
		WHERE m.person_id = ? AND m.status = 'active' ORDER BY a.name, a.id`, personID)
	if err != nil {
		return nil, fmt.Errorf("list workspaces: %w", err)
	}
	return out, nil
}

// MembershipOf returns the membership of personID in accountID, whatever its
// status, or store.ErrNotFound.
func (s *Service) MembershipOf(ctx context.Context, accountID, personID string) (*Membership, error) {
	var m Membership
	err := s.DB.QueryRow(ctx, `SELECT m.account_id, a.name, m.person_id, m.role, m.status, m.joined_at, m.last_sign_in_at
		FROM memberships m JOIN accounts a ON a.id = m.account_id WHERE m.account_id = ? AND m.person_id = ?`,
		accountID, personID).Scan(&m.AccountID, &m.AccountName, &m.PersonID, &m.Role, &m.Status, &m.JoinedAt, &m.LastSignIn)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return &m, nil
}

// Access is what a session may do in a business account.
type Access struct {
	Membership
	// Role is the effective role: the membership's role, except that while SSO
	// is active an admin without SSO admin rights (and not the backup login)
	// acts as a plain user.
	Role string
	// AdminRestricted is true when Role was lowered from admin by SSO rules.
	AdminRestricted bool
}

// IsAdmin reports full admin rights.
func (a *Access) IsAdmin() bool { return a.Role == RoleAdmin }

// CanManageLicenses reports admin or license-admin rights.
func (a *Access) CanManageLicenses() bool { return a.Role == RoleAdmin || a.Role == RoleLicenseAdmin }

// AccessFor resolves what sess may do in accountID. A person who is not an
// active member gets store.ErrNotFound, exactly like a missing account.
func (s *Service) AccessFor(ctx context.Context, sess *Session, accountID string) (*Access, error) {
	if !ids.Valid(accountID) {
		return nil, store.ErrNotFound
	}
	m, err := s.MembershipOf(ctx, accountID, sess.Person.ID)
	if err != nil {
		return nil, err
	}
	if m.Status != StatusActive {
		return nil, store.ErrNotFound
	}
	acc := &Access{Membership: *m, Role: m.Role}
	if m.Role == RoleAdmin && s.AdminAccess != nil {
		ok, err := s.AdminAccess(ctx, accountID, sess)
		if err != nil {
			return nil, err
		}
		if !ok {
			acc.Role, acc.AdminRestricted = RoleUser, true
		}
	}
	return acc, nil
}

// ErrNotMember is returned when an operation names a person who is not a
// member of the account.
var ErrNotMember = errors.New("this person is not a member of the business account")
