package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
)

// Identity is the outcome of a successful SSO sign-in.
type Identity struct {
	AccountID string
	Person    *account.Person
	Assertion *saml.Assertion
	// Groups are the person's group ids: the SAML groups claim, or the SCIM
	// memberships when the claim is absent or truncated (Entra overage).
	Groups         []string
	IsAdmin        bool // member of the mapped admins group
	InDesktopUsers bool // member of the mapped Desktop Users group
	SCIMUserID     string
}

// InGroup reports whether the identity's groups contain uuid (the mapped
// value matches case-insensitively: Okta and Google map group names).
func (id *Identity) InGroup(uuid string) bool {
	if uuid == "" {
		return false
	}
	return slices.ContainsFunc(id.Groups, func(g string) bool { return strings.EqualFold(g, uuid) })
}

// Complete validates a SAML response posted to accountID's ACS and resolves
// the person. Every refusal is recorded with a reference for the admins.
func (s *Service) Complete(ctx context.Context, accountID, samlResponse, binding, ip string) (*Identity, error) {
	in, err := s.Directory.Integration(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.refuse(ctx, "", "", ip, "", &Error{Code: saml.CodeWrongAccount,
			Message: "This sign-in link does not belong to any organization. Start again from the sign-in page.",
			Detail:  "response posted to the ACS of unknown account " + accountID})
	}
	if errors.Is(err, ErrIdPIncomplete) {
		return nil, s.refuse(ctx, accountID, "", ip, "", idpIncomplete(err))
	}
	if err != nil {
		return nil, err
	}
	a, err := s.SAML.ConsumeResponse(ctx, accountID, in.SP, in.IdP, samlResponse, binding)
	var ref *saml.Refusal
	if errors.As(err, &ref) {
		return nil, s.refuse(ctx, accountID, "", ip, "", &Error{Code: ref.Code, Message: refusalMessage(ref.Code), Detail: ref.Detail})
	}
	if err != nil {
		return nil, err
	}
	if !in.Active {
		return nil, s.refuse(ctx, accountID, a.Purpose, ip, a.NameID, &Error{Code: ReasonIntegrationInactive,
			Message: "Single sign-on was switched off for your organization while you were signing in. Ask your IT admin.",
			Detail:  "the integration was deactivated after the sign-in started"})
	}
	id, err := s.resolve(ctx, accountID, a, in)
	var se *Error
	if errors.As(err, &se) {
		return nil, s.refuse(ctx, accountID, a.Purpose, ip, subject(a), se)
	}
	return id, err
}

func subject(a *saml.Assertion) string {
	if a.Name != "" {
		return a.Name
	}
	return a.NameID
}

// resolve links the assertion to a person of the account (spec 03): by the
// IdP's object id, else by login name, else by email; a first sign-in
// creates the person (without a password).
func (s *Service) resolve(ctx context.Context, accountID string, a *saml.Assertion, in Integration) (*Identity, error) {
	name := strings.TrimSpace(a.Name)
	if name == "" {
		name = strings.TrimSpace(a.NameID)
	}
	email, emailErr := account.NormalizeEmail(name)
	id := &Identity{AccountID: accountID, Assertion: a, Groups: a.Groups}

	if s.SCIM != nil {
		u, err := s.SCIM.FindUserForSAML(ctx, accountID, a.ObjectID, name)
		switch {
		case err == nil:
			if !u.Active {
				return nil, &Error{Code: ReasonUserDeactivated,
					Message: "Your user is deactivated in your organization's identity provider. Ask your IT admin.",
					Detail:  fmt.Sprintf("SCIM user %s (%s) is inactive", u.UserName, u.ID)}
			}
			id.SCIMUserID = u.ID
			if len(a.Groups) == 0 || a.GroupsOverage {
				id.Groups = u.GroupKeys
			}
			if emailErr != nil {
				email, emailErr = account.NormalizeEmail(u.UserName)
			}
		case errors.Is(err, store.ErrNotFound):
		default:
			return nil, err
		}
	}
	id.IsAdmin = id.InGroup(in.Groups.AdminsUUID)
	id.InDesktopUsers = id.InGroup(in.Groups.DesktopUsersUUID)

	groupsJSON, _ := json.Marshal(id.Groups)
	now := store.At(s.now())
	actor := audit.Actor{Type: audit.ActorPerson, Label: firstNonEmpty(email, name)}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		personID, err := findIdentity(ctx, tx, accountID, a.ObjectID, strings.ToLower(name))
		if errors.Is(err, store.ErrNotFound) {
			if emailErr != nil {
				return &Error{Code: ReasonNoEmail,
					Message: "Your identity provider did not send an email address for you, so Gatehouse cannot tell who you are. Ask your IT admin to send the user's email as the name attribute or NameID.",
					Detail:  fmt.Sprintf("neither the name attribute nor the NameID is an email address (name %q, NameID %q)", a.Name, a.NameID)}
			}
			p, err := s.Accounts.CreatePersonTx(ctx, tx, email, a.DisplayName, actor)
			if err != nil {
				return err
			}
			personID = p.ID
		} else if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO sso_identities (account_id, person_id, object_id, name_norm, scim_user_id, groups_json, created_at, last_sign_in_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, person_id) DO UPDATE SET
			object_id = excluded.object_id, name_norm = excluded.name_norm, scim_user_id = excluded.scim_user_id,
			groups_json = excluded.groups_json, last_sign_in_at = excluded.last_sign_in_at`,
			accountID, personID, a.ObjectID, strings.ToLower(name), id.SCIMUserID, string(groupsJSON), now, now); err != nil {
			return fmt.Errorf("record sso identity: %w", err)
		}
		p, err := s.Accounts.PersonByIDTx(ctx, tx, personID)
		if err != nil {
			return err
		}
		id.Person = p
		actor.ID, actor.Label = p.ID, p.Email
		return s.syncMembership(ctx, tx, accountID, p, id.IsAdmin, in.BackupPersonID, actor)
	})
	if err != nil {
		return nil, err
	}
	return id, nil
}

func findIdentity(ctx context.Context, tx *store.Tx, accountID, objectID, nameNorm string) (string, error) {
	var personID string
	if objectID != "" {
		err := tx.QueryRow(ctx, `SELECT person_id FROM sso_identities WHERE account_id = ? AND object_id = ?`, accountID, objectID).Scan(&personID)
		if err == nil {
			return personID, nil
		} else if !errors.Is(store.NotFound(err), store.ErrNotFound) {
			return "", err
		}
	}
	if nameNorm != "" {
		err := tx.QueryRow(ctx, `SELECT person_id FROM sso_identities WHERE account_id = ? AND name_norm = ?`, accountID, nameNorm).Scan(&personID)
		if err == nil {
			return personID, nil
		} else if !errors.Is(store.NotFound(err), store.ErrNotFound) {
			return "", err
		}
		if norm, err := account.NormalizeEmail(nameNorm); err == nil {
			err := tx.QueryRow(ctx, `SELECT id FROM people WHERE email_norm = ?`, norm).Scan(&personID)
			if err == nil {
				return personID, nil
			}
			return "", store.NotFound(err)
		}
	}
	return "", store.ErrNotFound
}

// syncMembership makes the person an active member and keeps the admin role
// in step with the IdP's admins group: granted when in it, removed when not
// (the backup login keeps its role, it does not depend on the IdP).
func (s *Service) syncMembership(ctx context.Context, tx *store.Tx, accountID string, p *account.Person, isAdmin bool, backupPersonID string, actor audit.Actor) error {
	var role, status string
	err := tx.QueryRow(ctx, `SELECT role, status FROM memberships WHERE account_id = ? AND person_id = ?`, accountID, p.ID).Scan(&role, &status)
	now := store.At(s.now())
	switch {
	case errors.Is(store.NotFound(err), store.ErrNotFound):
		role = account.RoleUser
		if isAdmin {
			role = account.RoleAdmin
		}
		if _, err := tx.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at)
			VALUES (?, ?, ?, 'active', ?, ?)`, accountID, p.ID, role, now, now); err != nil {
			return fmt.Errorf("sso membership: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "member.joined_via_sso",
			TargetType: "person", TargetID: p.ID, TargetLabel: p.Email, After: map[string]string{"role": role}})
	case err != nil:
		return fmt.Errorf("sso membership: %w", err)
	}
	if status == account.StatusDeactivated {
		return &Error{Code: ReasonMemberDeactivated,
			Message: "An admin of your organization deactivated your access to Gatehouse. Ask your IT admin.",
			Detail:  "the member " + p.Email + " is deactivated in Gatehouse"}
	}
	newRole := role
	if isAdmin && role != account.RoleAdmin {
		newRole = account.RoleAdmin
	}
	if !isAdmin && role == account.RoleAdmin && p.ID != backupPersonID {
		newRole = account.RoleUser
	}
	if _, err := tx.Exec(ctx, `UPDATE memberships SET role = ?, last_sign_in_at = ? WHERE account_id = ? AND person_id = ?`,
		newRole, now, accountID, p.ID); err != nil {
		return fmt.Errorf("sso membership: %w", err)
	}
	if newRole != role {
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "member.role_synced_from_idp",
			TargetType: "person", TargetID: p.ID, TargetLabel: p.Email,
			Before: map[string]string{"role": role}, After: map[string]string{"role": newRole}})
	}
	return nil
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// refuse records e with a fresh reference and returns it.
func (s *Service) refuse(ctx context.Context, accountID, purpose, ip, subject string, e *Error) *Error {
	e.Reference = strings.ToUpper(ids.Secret(6))
	e.AccountID = accountID
	if e.Message == "" {
		e.Message = refusalMessage(e.Code)
	}
	var acct any
	if accountID != "" {
		acct = accountID
	}
	if _, err := s.DB.Exec(ctx, `INSERT INTO sso_failures (id, account_id, reference, at, purpose, code, detail, subject, source_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ids.New(), acct, e.Reference, store.At(s.now()), purpose, e.Code, e.Detail, subject, ip); err != nil {
		s.Log.Error("record sso failure", "err", err)
	}
	s.Log.Warn("sso refused", "account_id", accountID, "purpose", purpose, "code", e.Code, "detail", e.Detail,
		"reference", e.Reference, "subject", subject, "ip", ip)
	return e
}

// refusalMessage is what a person reads for a validator refusal: what went
// wrong in their words and what to do; the precise check is for the admin.
func refusalMessage(code string) string {
	switch code {
	case saml.CodeInResponseToMissing:
		return "Gatehouse only accepts sign-ins that start at Gatehouse. Open the Gatehouse sign-in page, choose “Continue with SSO” and enter your work email."
	case saml.CodeRequestExpired, saml.CodeRequestUsed, saml.CodeInResponseToUnknown, saml.CodeBrowserMismatch:
		return "This sign-in has expired or was already used. Start again from the Gatehouse sign-in page."
	case saml.CodeExpired, saml.CodeNotYetValid:
		return "The answer from your identity provider is outside its validity period (check the clocks). Try again; if it keeps happening, tell your IT admin."
	case saml.CodeStatusNotSuccess:
		return "Your identity provider did not confirm the sign-in. You may not be assigned to the Gatehouse application there; ask your IT admin."
	case saml.CodeReplay:
		return "This sign-in answer was already used. Start again from the Gatehouse sign-in page."
	default:
		return "Your organization's single sign-on answer could not be accepted. Your IT admin can see the exact reason under the reference below."
	}
}

// Failure is one refused sign-in as admins read it.
type Failure struct {
	Reference string
	At        store.Time
	Purpose   string
	Code      string
	Detail    string
	Subject   string
	SourceIP  string
}

// RecentFailures returns the newest refusals of an account.
func (s *Service) RecentFailures(ctx context.Context, accountID string, limit int) ([]Failure, error) {
	rows, err := s.DB.Query(ctx, `SELECT reference, at, purpose, code, detail, subject, source_ip FROM sso_failures
		WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("sso failures: %w", err)
	}
	defer rows.Close()
	var out []Failure
	for rows.Next() {
		var f Failure
		if err := rows.Scan(&f.Reference, &f.At, &f.Purpose, &f.Code, &f.Detail, &f.Subject, &f.SourceIP); err != nil {
			return nil, fmt.Errorf("sso failures: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}
