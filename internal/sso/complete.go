package sso

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
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
	// Email is the address the person signs in with (their person's, or
	// the IdP's for a person not created yet).
	Email string
	// Link is set for a Desktop activation (saml.PurposeDesktop), which
	// may still be refused after the IdP vouched for the person (not in
	// Desktop Users, no free seat…): nothing is created or changed until
	// the activation calls Link inside the transaction that grants the
	// seat, so a refusal leaves no person, membership or sign-in behind.
	// Person is nil then when the sign-in would create one. Link carries
	// the linking decision out again on the transaction's own reads and
	// returns the person's id.
	Link func(ctx context.Context, tx *store.Tx) (personID string, err error)
}

// InGroup reports whether the identity's groups contain uuid (the mapped
// value matches case-insensitively: Okta and Google map group names).
func (id *Identity) InGroup(uuid string) bool {
	if uuid == "" {
		return false
	}
	return slices.ContainsFunc(id.Groups, func(g string) bool { return strings.EqualFold(g, uuid) })
}

// Outcome is what an IdP's answer at the ACS leads to: a real sign-in of
// Identity, or the stored result of an admin's test sign-in (TestID), which
// signs nobody in.
type Outcome struct {
	Identity *Identity
	TestID   string
}

// Complete validates a SAML response posted to accountID's ACS and resolves
// the person. Every refusal is recorded with a reference for the admins. An
// answer to a test sign-in (saml.PurposeTest) goes through the same
// validator and the same linking decision, but only its result is stored.
func (s *Service) Complete(ctx context.Context, accountID, samlResponse, binding, ip string) (*Outcome, error) {
	in, err := s.Directory.Integration(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.refuse(ctx, "", "", ip, "", &Error{Code: saml.CodeWrongAccount,
			Message: "This sign-in link does not belong to any organization. Start again from the sign-in page.",
			Detail:  "response posted to the ACS of unknown account " + accountID})
	}
	if errors.Is(err, ErrIdPIncomplete) {
		return s.refused(ctx, accountID, samlResponse, binding, ip, in, idpIncomplete(err))
	}
	if err != nil {
		return nil, err
	}
	a, err := s.SAML.ConsumeResponse(ctx, accountID, in.SP, in.IdP, samlResponse, binding)
	var ref *saml.Refusal
	if errors.As(err, &ref) {
		return s.refused(ctx, accountID, samlResponse, binding, ip, in, &Error{Code: ref.Code, Message: refusalMessage(ref.Code), Detail: ref.Detail})
	}
	if err != nil {
		return nil, err
	}
	if a.Purpose == saml.PurposeTest {
		return s.finishTest(ctx, accountID, a, in, ip)
	}
	if !in.Active {
		return nil, s.refuse(ctx, accountID, a.Purpose, ip, a.NameID, &Error{Code: ReasonIntegrationInactive,
			Message: "Single sign-on was switched off for your organization while you were signing in. Ask your IT admin.",
			Detail:  "the integration was deactivated after the sign-in started"})
	}
	var id *Identity
	if a.Purpose == saml.PurposeDesktop {
		id, err = s.deferred(ctx, accountID, a, in)
	} else {
		id, err = s.resolve(ctx, accountID, a, in)
	}
	var se *Error
	if errors.As(err, &se) {
		return nil, s.refuse(ctx, accountID, a.Purpose, ip, subject(a), se)
	}
	if err != nil {
		return nil, err
	}
	return &Outcome{Identity: id}, nil
}

// refused reports a refusal made before the answer's purpose is known (the
// validator's, or an unfinished setup): when the sign-in this browser
// started last is an admin's test sign-in that this answer belongs to, the
// refusal is that test's result; otherwise it is recorded and shown as
// usual.
func (s *Service) refused(ctx context.Context, accountID, samlResponse, binding, ip string, in Integration, e *Error) (*Outcome, error) {
	t, err := s.pendingTestFor(ctx, accountID, binding, saml.UnverifiedRequestID(samlResponse))
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, s.refuse(ctx, accountID, "", ip, "", e)
	}
	return s.refuseTest(ctx, t, nil, nil, in, e, ip)
}

func subject(a *saml.Assertion) string {
	if a.Name != "" {
		return a.Name
	}
	return a.NameID
}

// How a sign-in found its person (Decision.Link).
const (
	// LinkObjectID: by the IdP's stable identifier, recorded at an earlier
	// sign-in.
	LinkObjectID = "object_id"
	// LinkName: by the login name recorded at an earlier sign-in.
	LinkName = "name"
	// LinkAddress: by the verified address of an existing person.
	LinkAddress = "address"
	// LinkNew: nobody has the address; a person is created.
	LinkNew = "new"
)

// Decision is the identity-linking decision for one verified assertion:
// which person it is (or that one is created) and what signing in changes.
// evaluate makes it; a real sign-in carries it out in the same transaction,
// a test sign-in only shows it.
type Decision struct {
	Identity // Person is nil while Link is LinkNew and nothing is applied
	// Key is the login (name attribute, else NameID) as account.IdentityKey.
	Key string
	// Stable is the IdP's stable identifier of the person, "" when none.
	Stable string
	// RawEmail and Email are the address as sent and its canonical form
	// (Email is "" when the login is no address).
	RawEmail, Email string
	Link            string // Link… constant
	// FirstLink: an existing person meets the IdP for the first time;
	// EndsSessions: they have a password, so their other sessions end.
	FirstLink, EndsSessions bool
	// Role and Status are the current membership ("" when none); NewRole
	// the role after signing in.
	Role, Status, NewRole string
	// BackupLogin: the person is the backup login, who keeps the admin
	// role whatever the IdP says.
	BackupLogin bool
}

// resolve links the assertion to a person of the account and signs them in
// to it (evaluate, applied).
func (s *Service) resolve(ctx context.Context, accountID string, a *saml.Assertion, in Integration) (*Identity, error) {
	d, err := s.evaluate(ctx, accountID, a, in, true)
	if err != nil {
		return nil, err
	}
	d.Identity.Email = d.Person.Email
	return &d.Identity, nil
}

// deferred makes the linking decision without carrying it out and returns
// the identity with Link, which carries it out in the caller's
// transaction (a Desktop activation's).
func (s *Service) deferred(ctx context.Context, accountID string, a *saml.Assertion, in Integration) (*Identity, error) {
	d, rawName, emailErr, err := s.assess(ctx, accountID, a, in)
	if err != nil {
		return nil, err
	}
	base := *d
	if err := s.DB.InTx(ctx, func(tx *store.Tx) error { return s.decide(ctx, tx, d, rawName, emailErr, in) }); err != nil {
		return nil, err
	}
	id := d.Identity
	id.Email = d.Email
	if d.Person != nil {
		id.Email = d.Person.Email
	}
	id.Link = func(ctx context.Context, tx *store.Tx) (string, error) {
		again := base
		if err := s.decide(ctx, tx, &again, rawName, emailErr, in); err != nil {
			return "", err
		}
		if err := s.apply(ctx, tx, &again); err != nil {
			return "", err
		}
		return again.Person.ID, nil
	}
	return &id, nil
}

// evaluate makes the linking decision for an assertion (spec 03,
// DESIGN.md "Identity and trust rules"):
//
//  1. by a stable identifier first: the IdP's object id (the
//     objectidentifier claim, or a persistent NameID), recorded at an
//     earlier sign-in;
//  2. else by the login name recorded at an earlier sign-in, compared as
//     account.IdentityKey (never a Unicode-folded string), unless that
//     earlier sign-in carried another stable identifier;
//  3. else by address: the canonical address must be at a domain this
//     account verified, and an existing person with it is linked only when
//     their address is spelled the same (ASCII case aside) and they proved
//     it; a first link of a person with a password ends their other
//     sessions. Nobody has it: a person is created.
//
// Every other case is refused (*Error) with a reason the admins see in
// Recent SSO failures; nothing is ever linked through a transformed string.
//
// The decision only reads. With apply it is carried out in the same
// transaction (a real sign-in); without, it is a dry run (the admin's test
// sign-in), and the Decision says what a real sign-in would do. On a
// refusal the Decision holds what was decided before it.
func (s *Service) evaluate(ctx context.Context, accountID string, a *saml.Assertion, in Integration, apply bool) (*Decision, error) {
	d, rawName, emailErr, err := s.assess(ctx, accountID, a, in)
	if err != nil {
		return d, err
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := s.decide(ctx, tx, d, rawName, emailErr, in); err != nil {
			return err
		}
		if !apply {
			return nil
		}
		return s.apply(ctx, tx, d)
	})
	return d, err
}

// assess is evaluate's first part, before the account's people are read:
// the login, the address and what SCIM knows of the person.
func (s *Service) assess(ctx context.Context, accountID string, a *saml.Assertion, in Integration) (d *Decision, rawName string, emailErr error, err error) {
	d = &Decision{Identity: Identity{AccountID: accountID, Assertion: a, Groups: a.Groups}}
	rawName, source := a.Name, "the name attribute"
	if rawName == "" {
		rawName, source = a.NameID, "the NameID"
	}
	key, keyErr := account.IdentityKey(rawName)
	if keyErr != nil {
		return d, rawName, nil, &Error{Code: ReasonAddressInvalid,
			Message: "Your identity provider sent a user name or address that Gatehouse does not accept, so it cannot tell who you are. Your IT admin can see why under the reference below.",
			Detail:  fmt.Sprintf("%s %q is refused: %s (%s)", source, rawName, keyErr.Error(), addressReason(keyErr))}
	}
	d.Key = key
	d.Stable = a.ObjectID
	if d.Stable == "" && a.NameIDFormat == saml.NameIDFormatPersistent && a.Name != "" {
		// A persistent NameID is the IdP's stable id for this SP; only
		// when the name attribute carries the login does it serve as one.
		d.Stable = "nameid:" + a.NameID
	}
	d.RawEmail = rawName
	email, emailErr := account.CanonicalEmail(rawName)

	if s.SCIM != nil {
		u, err := s.SCIM.FindUserForSAML(ctx, accountID, a.ObjectID, rawName)
		switch {
		case err == nil:
			if u.ExternalID != "" && a.ObjectID != "" && u.ExternalID != a.ObjectID {
				// Found by name, but provisioned for another IdP object:
				// its groups (admins!) are not this sign-in's.
				return d, rawName, nil, &Error{Code: ReasonIdentityConflict,
					Message: "Your sign-in matches a user provisioned for another identity in your organization's identity provider. Your IT admin can see why under the reference below.",
					Detail:  fmt.Sprintf("the login %q matches SCIM user %s (externalId %q); this sign-in carries object %q; not linked", rawName, u.ID, u.ExternalID, a.ObjectID)}
			}
			if !u.Active {
				return d, rawName, nil, &Error{Code: ReasonUserDeactivated,
					Message: "Your user is deactivated in your organization's identity provider. Ask your IT admin.",
					Detail:  fmt.Sprintf("SCIM user %s (%s) is inactive", u.UserName, u.ID)}
			}
			d.SCIMUserID = u.ID
			if len(a.Groups) == 0 || a.GroupsOverage {
				d.Groups = u.GroupKeys
			}
			if emailErr != nil {
				d.RawEmail = u.UserName
				email, emailErr = account.CanonicalEmail(u.UserName)
			}
		case errors.Is(err, store.ErrNotFound):
		default:
			return d, rawName, nil, err
		}
	}
	if emailErr == nil {
		d.Email = email
	}
	d.IsAdmin = d.InGroup(in.Groups.AdminsUUID)
	d.InDesktopUsers = d.InGroup(in.Groups.DesktopUsersUUID)
	return d, rawName, emailErr, nil
}

// decide is the part of evaluate that reads the account's people, links
// and memberships.
func (s *Service) decide(ctx context.Context, tx *store.Tx, d *Decision, rawName string, emailErr error, in Integration) error {
	a := d.Assertion
	personID, byAddress, err := s.findIdentity(ctx, tx, d.AccountID, d.Stable, d.Key, rawName)
	if err != nil {
		return err
	}
	switch {
	case personID == "":
	case byAddress:
		d.Link = LinkName
	default:
		d.Link = LinkObjectID
	}
	if personID == "" {
		if emailErr != nil {
			return &Error{Code: ReasonNoEmail,
				Message: "Your identity provider did not send an email address for you, so Gatehouse cannot tell who you are. Ask your IT admin to send the user's email as the name attribute or NameID.",
				Detail:  fmt.Sprintf("neither the name attribute nor the NameID is an email address (name %q, NameID %q): %s", a.Name, a.NameID, emailErr.Error())}
		}
		if personID, err = s.matchAddress(ctx, tx, d); err != nil {
			return err
		}
		if personID == "" {
			d.Link = LinkNew
			d.NewRole = account.RoleUser
			if d.IsAdmin {
				d.NewRole = account.RoleAdmin
			}
			return nil
		}
		d.Link = LinkAddress
		byAddress = true
	}
	p, err := s.Accounts.PersonByIDTx(ctx, tx, personID)
	if err != nil {
		return err
	}
	if !p.Verified() {
		// An old link (made before addresses had to be proved) to a
		// person who never proved theirs is not used either.
		return unverifiedRefusal(p, byAddress)
	}
	d.Person = p
	d.BackupLogin = p.ID == in.BackupPersonID
	return s.decideMembership(ctx, tx, d)
}

// Refusal reasons of identity linking (see evaluate).
const (
	ReasonAddressInvalid    = "address_invalid"
	ReasonDomainNotVerified = "domain_not_verified"
	ReasonSpellingMismatch  = "address_spelling_mismatch"
	ReasonPersonUnverified  = "person_unverified"
	ReasonIdentityConflict  = "identity_conflict"
)

func addressReason(err error) string {
	var ae *account.AddressError
	if errors.As(err, &ae) {
		return ae.Reason
	}
	return "invalid"
}

func unverifiedRefusal(p *account.Person, byAddress bool) *Error {
	how := "an earlier link"
	if byAddress {
		how = "the address"
	}
	return &Error{Code: ReasonPersonUnverified,
		Message: "Gatehouse has an account with your address whose owner never confirmed the address, so single sign-on cannot use it. " +
			"Choose a password with “Forgot your password?” on the Gatehouse sign-in page (that proves the address is yours), then sign in with SSO again. Your IT admin sees this under the reference below.",
		Detail: fmt.Sprintf("the person %s matched through %s has a password and never verified the address; not linked (a stranger may have signed up with it; the owner resets the password to prove it)", p.EmailNorm, how)}
}

// findIdentity returns the person an earlier sign-in linked (steps 1 and 2
// of evaluate), or "" when there is none.
func (s *Service) findIdentity(ctx context.Context, tx *store.Tx, accountID, stable, key, rawName string) (personID string, byName bool, err error) {
	if stable != "" {
		err := tx.QueryRow(ctx, `SELECT person_id FROM sso_identities WHERE account_id = ? AND object_id = ?`, accountID, stable).Scan(&personID)
		if err == nil {
			return personID, false, nil
		} else if !errors.Is(store.NotFound(err), store.ErrNotFound) {
			return "", false, fmt.Errorf("find sso identity: %w", err)
		}
	}
	var objectID string
	err = tx.QueryRow(ctx, `SELECT person_id, object_id FROM sso_identities WHERE account_id = ? AND name_norm = ?`, accountID, key).Scan(&personID, &objectID)
	if errors.Is(store.NotFound(err), store.ErrNotFound) {
		return "", false, nil
	} else if err != nil {
		return "", false, fmt.Errorf("find sso identity: %w", err)
	}
	if objectID != "" && stable != "" && objectID != stable {
		return "", false, &Error{Code: ReasonIdentityConflict,
			Message: "Your sign-in matches a Gatehouse user who belongs to another identity in your organization's identity provider. Your IT admin can see why under the reference below.",
			Detail:  fmt.Sprintf("the login %q was linked to IdP object %q; this sign-in carries object %q (a reused or edited address?); not linked", rawName, objectID, stable)}
	}
	if strings.Contains(key, "@") {
		p, err := s.Accounts.PersonByIDTx(ctx, tx, personID)
		if err != nil {
			return "", false, err
		}
		if !account.SameAddressSpelling(rawName, p.Email) {
			return "", false, spellingRefusal(rawName, p)
		}
	}
	return personID, true, nil
}

func spellingRefusal(raw string, p *account.Person) *Error {
	return &Error{Code: ReasonSpellingMismatch,
		Message: "The address your identity provider sent is written differently from the Gatehouse account with the same address, so Gatehouse does not link them. Your IT admin can see why under the reference below.",
		Detail: fmt.Sprintf("the IdP sent %q; the existing person is %q (the same canonical address %s, spelled differently beyond ASCII case, e.g. another form of the domain); not linked — make the IdP send the address as the person has it",
			raw, p.Email, p.EmailNorm)}
}

// matchAddress is step 3 of evaluate: the person with the canonical
// address, or "" when a person is to be created. It notes in d whether this
// is the person's first link and whether it ends their other sessions.
func (s *Service) matchAddress(ctx context.Context, tx *store.Tx, d *Decision) (string, error) {
	accountID, rawEmail, email := d.AccountID, d.RawEmail, d.Email
	_, domain, _ := strings.Cut(email, "@")
	owner, _, err := s.Directory.AccountForDomain(ctx, domain)
	if errors.Is(err, store.ErrNotFound) || err == nil && owner != accountID {
		return "", &Error{Code: ReasonDomainNotVerified,
			Message: "Your identity provider sent an address at a domain your organization has not verified in Gatehouse, so Gatehouse cannot accept it. Ask your IT admin.",
			Detail:  fmt.Sprintf("the address %q is at %s, which is not a verified domain of this account; an IdP speaks only for its own verified domains", rawEmail, domain)}
	} else if err != nil {
		return "", err
	}
	row := tx.QueryRow(ctx, `SELECT id FROM people WHERE email_norm = ?`, email)
	var personID string
	switch err := row.Scan(&personID); {
	case errors.Is(store.NotFound(err), store.ErrNotFound):
		return "", nil
	case err != nil:
		return "", fmt.Errorf("find person: %w", err)
	}
	p, err := s.Accounts.PersonByIDTx(ctx, tx, personID)
	if err != nil {
		return "", err
	}
	if !account.SameAddressSpelling(rawEmail, p.Email) {
		return "", spellingRefusal(rawEmail, p)
	}
	if !p.Verified() {
		return "", unverifiedRefusal(p, true)
	}
	var objectID string
	err = tx.QueryRow(ctx, `SELECT object_id FROM sso_identities WHERE account_id = ? AND person_id = ?`, accountID, p.ID).Scan(&objectID)
	first := errors.Is(store.NotFound(err), store.ErrNotFound)
	if err != nil && !first {
		return "", fmt.Errorf("find sso identity: %w", err)
	}
	if !first && objectID != "" && d.Stable != "" && objectID != d.Stable {
		return "", &Error{Code: ReasonIdentityConflict,
			Message: "Your sign-in matches a Gatehouse user who belongs to another identity in your organization's identity provider. Your IT admin can see why under the reference below.",
			Detail:  fmt.Sprintf("the person %s is linked to IdP object %q; this sign-in carries object %q; not linked", p.EmailNorm, objectID, d.Stable)}
	}
	// A person who signed up with a password (and proved the address)
	// meets their organization's IdP for the first time: from then on the
	// IdP vouches for them, so every session that came from elsewhere ends.
	d.FirstLink, d.EndsSessions = first, first && p.HasPassword
	return p.ID, nil
}

// decideMembership: the person becomes an active member, and the admin
// role follows the IdP's admins group: granted when in it, removed when
// not (the backup login keeps its role, it does not depend on the IdP). A
// member an admin deactivated is refused.
func (s *Service) decideMembership(ctx context.Context, tx *store.Tx, d *Decision) error {
	err := tx.QueryRow(ctx, `SELECT role, status FROM memberships WHERE account_id = ? AND person_id = ?`, d.AccountID, d.Person.ID).
		Scan(&d.Role, &d.Status)
	switch {
	case errors.Is(store.NotFound(err), store.ErrNotFound):
		d.Role, d.Status = "", ""
		d.NewRole = account.RoleUser
		if d.IsAdmin {
			d.NewRole = account.RoleAdmin
		}
		return nil
	case err != nil:
		return fmt.Errorf("sso membership: %w", err)
	}
	if d.Status == account.StatusDeactivated {
		return &Error{Code: ReasonMemberDeactivated,
			Message: "An admin of your organization deactivated your access to Gatehouse. Ask your IT admin.",
			Detail:  "the member " + d.Person.Email + " is deactivated in Gatehouse"}
	}
	d.NewRole = d.Role
	if d.IsAdmin && d.Role != account.RoleAdmin {
		d.NewRole = account.RoleAdmin
	}
	if !d.IsAdmin && d.Role == account.RoleAdmin && !d.BackupLogin {
		d.NewRole = account.RoleUser
	}
	return nil
}

// apply carries a decision out: the person created or their other sessions
// ended, the SSO identity recorded, the membership made or its role synced
// — with their audit entries.
func (s *Service) apply(ctx context.Context, tx *store.Tx, d *Decision) error {
	a := d.Assertion
	actor := audit.Actor{Type: audit.ActorPerson, Label: firstNonEmpty(d.Email, d.Key)}
	if d.Link == LinkNew {
		created, err := s.Accounts.CreateSSOPersonTx(ctx, tx, d.RawEmail, a.DisplayName, actor)
		if err != nil {
			return err
		}
		p, err := s.Accounts.PersonByIDTx(ctx, tx, created.ID)
		if err != nil {
			return err
		}
		if !p.Verified() {
			return unverifiedRefusal(p, true)
		}
		d.Person = p
	}
	p := d.Person
	if d.EndsSessions {
		n, err := s.Accounts.EndOtherSessions(ctx, tx, p.ID, "")
		if err != nil {
			return err
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: d.AccountID, Action: "person.linked_to_sso",
			TargetType: "person", TargetID: p.ID, TargetLabel: p.EmailNorm,
			After: map[string]any{"object_id": d.Stable, "other_sessions_ended": n}}); err != nil {
			return err
		}
	}
	groupsJSON, _ := json.Marshal(d.Groups)
	now := store.At(s.now())
	if _, err := tx.Exec(ctx, `INSERT INTO sso_identities (account_id, person_id, object_id, name_norm, scim_user_id, groups_json, created_at, last_sign_in_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, person_id) DO UPDATE SET
		object_id = CASE WHEN excluded.object_id <> '' THEN excluded.object_id ELSE sso_identities.object_id END,
		name_norm = excluded.name_norm, scim_user_id = excluded.scim_user_id,
		groups_json = excluded.groups_json, last_sign_in_at = excluded.last_sign_in_at`,
		d.AccountID, p.ID, d.Stable, d.Key, d.SCIMUserID, string(groupsJSON), now, now); err != nil {
		return fmt.Errorf("record sso identity: %w", err)
	}
	actor.ID, actor.Label = p.ID, p.EmailNorm
	if d.Role == "" {
		if err := account.JoinViaSSOTx(ctx, tx, d.AccountID, p.ID, d.NewRole, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: d.AccountID, Action: "member.joined_via_sso",
			TargetType: "person", TargetID: p.ID, TargetLabel: p.Email, After: map[string]string{"role": d.NewRole}})
	}
	if err := account.SyncRoleOnSignInTx(ctx, tx, d.AccountID, p.ID, d.NewRole, now); err != nil {
		return err
	}
	if d.NewRole != d.Role {
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: d.AccountID, Action: "member.role_synced_from_idp",
			TargetType: "person", TargetID: p.ID, TargetLabel: p.Email,
			Before: map[string]string{"role": d.Role}, After: map[string]string{"role": d.NewRole}})
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
	subject = printableSubject(subject)
	insertFailure(ctx, s.DB, s.Log, store.At(s.now()), accountID, e.Reference, purpose, e.Code, e.Detail, subject, ip)
	s.Log.Warn("sso refused", "account_id", accountID, "purpose", purpose, "code", e.Code, "detail", e.Detail,
		"reference", e.Reference, "subject", subject, "ip", ip)
	return e
}

// RecordFailure adds a refusal made by another feature (SSO activation of
// Desktop refuses a completed sign-in it cannot grant a seat for) to the
// list of SSO failures admins read, under a fresh reference, and logs it.
// It returns the reference the person is shown.
// It needs no Service, so the licensing service can be given it before the
// SSO service (which previews licensing's seat pools) exists.
func RecordFailure(ctx context.Context, db *store.DB, log *slog.Logger, accountID, purpose, code, detail, subject, ip string) string {
	ref := strings.ToUpper(ids.Secret(6))
	subject = printableSubject(subject)
	insertFailure(ctx, db, log, store.Now(), accountID, ref, purpose, code, detail, subject, ip)
	log.Warn("sso activation refused", "account_id", accountID, "purpose", purpose, "code", code, "detail", detail,
		"reference", ref, "subject", subject, "ip", ip)
	return ref
}

// insertFailure stores one refusal; a failure to store it is logged, not
// returned: the person is refused either way.
func insertFailure(ctx context.Context, db *store.DB, log *slog.Logger, at store.Time, accountID, ref, purpose, code, detail, subject, ip string) {
	var acct any
	if accountID != "" {
		acct = accountID
	}
	if _, err := db.Exec(ctx, `INSERT INTO sso_failures (id, account_id, reference, at, purpose, code, detail, subject, source_ip)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, ids.New(), acct, ref, at, purpose, code, detail, subject, ip); err != nil {
		log.Error("record sso failure", "err", err)
	}
}

// printableSubject keeps a refused subject readable and storable: invalid
// UTF-8 and control characters (PostgreSQL refuses NUL in text) are shown
// as escapes, and it is cut at 300 bytes.
func printableSubject(v string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(v, "\ufffd") {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			fmt.Fprintf(&b, "\\x%02x", r)
			continue
		}
		b.WriteRune(r)
	}
	out := b.String()
	if len(out) > 300 {
		out = strings.ToValidUTF8(out[:300], "") + "…"
	}
	return out
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
	case saml.CodeStatusContradictory:
		return "Your identity provider's answer contradicts itself (it says both success and failure), so Gatehouse does not accept it. Try again; if it keeps happening, tell your IT admin."
	case saml.CodeTooManyElements:
		return "Your identity provider sent more information about you (usually groups) than Gatehouse can verify. Your IT admin can filter the groups the IdP sends; the reference below shows them what to do."
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
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (Failure, error) {
		var f Failure
		if err := row.Scan(&f.Reference, &f.At, &f.Purpose, &f.Code, &f.Detail, &f.Subject, &f.SourceIP); err != nil {
			return f, err
		}
		return f, nil
	}, `SELECT reference, at, purpose, code, detail, subject, source_ip FROM sso_failures
		WHERE account_id = ? ORDER BY at DESC, id DESC LIMIT ?`, accountID, limit)
	if err != nil {
		return nil, fmt.Errorf("sso failures: %w", err)
	}
	return out, nil
}
