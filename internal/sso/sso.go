// Package sso signs people in with their company's identity provider: it
// finds the business account by the verified domain of a work email, starts
// a SAML sign-in, and after the strict validator accepted the response it
// resolves the person (linking SAML, SCIM and Gatehouse identities), their
// groups and their rights. Portal sign-in and Desktop SSO activation share
// this code and its refusal reasons.
package sso

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
)

// Refusal reasons beyond the SAML validator's own codes. They are stable
// machine codes shown to people as part of the message and to admins.
const (
	ReasonUnknownDomain       = "unknown_domain"
	ReasonIntegrationInactive = "integration_inactive"
	ReasonNoEmail             = "no_email"
	ReasonUserDeactivated     = "user_deactivated"
	ReasonNotInDesktopUsers   = "not_in_desktop_users"
	ReasonMemberDeactivated   = "member_deactivated"
	ReasonIdPIncomplete       = "idp_setup_incomplete"
)

// ErrIdPIncomplete is what Directory.Integration returns (wrapped) for an
// account whose IdP setup is started but whose SAML settings are not
// complete: nothing can be validated against it, and that is the
// sender's problem (a 4xx), not ours.
var ErrIdPIncomplete = errors.New("the IdP's SAML settings are not complete")

// Error is a refusal a person must read. Reference is recorded with the
// precise detail for the admins.
type Error struct {
	Code      string
	Message   string // for the person
	Detail    string // for the admin log
	Reference string
	AccountID string
}

func (e *Error) Error() string { return e.Code + ": " + e.Detail }

// Groups are the account's two mapped IdP groups (configurator step 3).
type Groups struct {
	AdminsUUID       string
	AdminsName       string
	DesktopUsersUUID string
	DesktopUsersName string
}

// Integration is an account's IdP integration as SSO needs it.
type Integration struct {
	SP     saml.SPSettings
	IdP    saml.IdPSettings
	Groups Groups
	Active bool
	// BackupPersonID is the backup login (configurator step 7): it keeps its
	// admin role whatever the IdP says.
	BackupPersonID string
}

// Directory is what SSO needs from the IdP integration's configuration.
type Directory interface {
	// AccountForDomain returns the account that verified domain
	// (store.ErrNotFound when none). active is false when its integration
	// is not activated.
	AccountForDomain(ctx context.Context, domain string) (accountID string, active bool, err error)
	// Integration returns an account's integration (store.ErrNotFound when
	// it has none). With an error wrapping ErrIdPIncomplete it still
	// returns the integration without its IdP settings: the groups, the
	// backup login and Active hold before SAML is filled in, and SCIM,
	// often set up first, acts on them.
	Integration(ctx context.Context, accountID string) (Integration, error)
	// SP returns our SAML identity for an account (entity ID, ACS URL); it is
	// derived from the public URL and the account id alone.
	SP(accountID string) saml.SPSettings
	// SPMetadata renders an account's SP metadata, which states whether
	// its AuthnRequests are signed (as its IdP wants).
	SPMetadata(ctx context.Context, accountID string) ([]byte, error)
}

// SCIMUser is the SCIM side of a person, when SCIM is in use.
type SCIMUser struct {
	ID         string
	UserName   string
	ExternalID string
	Active     bool
	// GroupKeys are the externalId and displayName of every group the user
	// is a member of (a mapped UUID matches either).
	GroupKeys []string
}

// SCIMDirectory finds SCIM-provisioned users. ErrNotFound when none.
type SCIMDirectory interface {
	FindUserForSAML(ctx context.Context, accountID, objectID, name string) (*SCIMUser, error)
}

// Service runs SSO sign-ins.
type Service struct {
	DB        *store.DB
	SAML      *saml.Service
	Accounts  *account.Service
	Directory Directory
	SCIM      SCIMDirectory // nil when no SCIM server is wired
	// SeatPools previews Desktop seat pools for test sign-ins; nil when
	// SSO activation of Desktop is not wired.
	SeatPools SeatPoolFunc
	Log       *slog.Logger
	Now       func() time.Time
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// Start is where to send the browser to sign in.
type Start struct {
	AccountID   string
	RedirectURL string         // HTTP-Redirect binding
	POST        *saml.POSTForm // HTTP-POST binding, when the IdP needs it
	RequestID   string
}

// Begin starts an SSO sign-in for the owner of email. binding is the random
// value the caller also sets as a cookie in the browser.
func (s *Service) Begin(ctx context.Context, email, purpose, attemptRef, binding, ip string) (*Start, error) {
	domain := emailDomain(email)
	if domain == "" {
		return nil, &Error{Code: ReasonUnknownDomain, Message: "Enter your full work email address, for example name@company.com."}
	}
	accountID, active, err := s.Directory.AccountForDomain(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return nil, s.refuse(ctx, "", purpose, ip, email, &Error{Code: ReasonUnknownDomain,
			Message: fmt.Sprintf("Single sign-on is not set up for %s. Check the address, or sign in with your password.", domain),
			Detail:  "no business account has verified the domain " + domain})
	}
	if err != nil {
		return nil, err
	}
	if !active {
		return nil, s.refuse(ctx, accountID, purpose, ip, email, &Error{Code: ReasonIntegrationInactive,
			Message: fmt.Sprintf("Your organization has not switched on single sign-on for %s yet. Ask your IT admin, or sign in with your password.", domain),
			Detail:  "the IdP integration of the account that owns " + domain + " is not active"})
	}
	in, err := s.Directory.Integration(ctx, accountID)
	if errors.Is(err, ErrIdPIncomplete) {
		return nil, s.refuse(ctx, accountID, purpose, ip, email, idpIncomplete(err))
	}
	if err != nil {
		return nil, err
	}
	return s.startAt(ctx, accountID, in, purpose, attemptRef, binding)
}

// startAt stores an AuthnRequest for the account's IdP in the binding it
// wants (HTTP-Redirect, or HTTP-POST).
func (s *Service) startAt(ctx context.Context, accountID string, in Integration, purpose, attemptRef, binding string) (*Start, error) {
	sp, idp := in.SP, in.IdP
	st := &Start{AccountID: accountID}
	if idp.SSOBinding == saml.SSOBindingPOST {
		form, reqID, err := s.SAML.StartLoginPOST(ctx, accountID, sp, idp, purpose, attemptRef, binding)
		if err != nil {
			return nil, err
		}
		st.POST, st.RequestID = &form, reqID
		return st, nil
	}
	redirectURL, reqID, err := s.SAML.StartLogin(ctx, accountID, sp, idp, purpose, attemptRef, binding)
	if err != nil {
		return nil, err
	}
	st.RedirectURL, st.RequestID = redirectURL, reqID
	return st, nil
}

// idpIncomplete is the refusal for an account whose IdP setup is unfinished.
func idpIncomplete(err error) *Error {
	return &Error{Code: ReasonIdPIncomplete,
		Message: "Single sign-on is not set up completely for this organization yet. Sign in with your password, or ask your IT admin.",
		Detail:  "a sign-in reached an integration whose IdP settings are unfinished (configurator step 4): " + err.Error()}
}

func emailDomain(email string) string {
	norm, err := account.FormEmail(email)
	if err != nil {
		return ""
	}
	_, d, _ := strings.Cut(norm, "@")
	return d
}
