// Package account owns people, business accounts (tenants), memberships and
// roles, sign-in with rate limiting, sessions stored in the database, member
// invitations, password resets and reading the audit log.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
)

// Roles within a business account.
const (
	RoleAdmin        = "admin"
	RoleLicenseAdmin = "license_admin"
	RoleUser         = "user"
)

// RoleLabel returns the name admins read for a role.
func RoleLabel(role string) string {
	switch role {
	case RoleAdmin:
		return "Admin"
	case RoleLicenseAdmin:
		return "License admin"
	case RoleUser:
		return "User"
	}
	return role
}

// ValidRole reports whether role is one of the three roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleLicenseAdmin || role == RoleUser
}

// Membership statuses.
const (
	StatusActive      = "active"
	StatusInvited     = "invited" // a pending member invitation (not a membership row)
	StatusDeactivated = "deactivated"
)

// Person is someone who can sign in.
type Person struct {
	ID    string
	Email string // as the person (or their IdP) wrote it
	// EmailNorm is CanonicalEmail(Email): what identifies the person.
	EmailNorm   string
	DisplayName string
	IsOperator  bool
	Disabled    bool
	CreatedAt   store.Time
	LastSignIn  store.Time
	HasPassword bool
	// EmailVerifiedAt is when the person proved the address (a link sent
	// to it, a password reset, an accepted invitation, the IdP of a
	// verified domain); zero for people from before verification existed
	// who have not proved it yet.
	EmailVerifiedAt store.Time
}

// Verified reports whether the person proved their address.
func (p *Person) Verified() bool { return !p.EmailVerifiedAt.IsZero() }

// UnverifiedError is Authenticate's answer for the right password of a
// person who has not proved their address: no session until they do.
type UnverifiedError struct{ Person *Person }

func (e *UnverifiedError) Error() string {
	return "the address " + e.Person.EmailNorm + " is not verified"
}

// Name returns the display name, or the email when there is none.
func (p *Person) Name() string {
	if p.DisplayName != "" {
		return p.DisplayName
	}
	return p.Email
}

// Account is a business account (tenant).
type Account struct {
	ID           string
	Name         string
	Country      string
	ContactName  string
	ContactEmail string
	ContactPhone string
	CreatedAt    store.Time
}

// Membership ties a person to a business account with a role.
type Membership struct {
	AccountID   string
	AccountName string
	PersonID    string
	Role        string
	Status      string
	JoinedAt    store.Time
	LastSignIn  store.Time
}

// Config holds the tunables of the service.
type Config struct {
	// SessionIdle ends a session not used for this long; SessionMax ends any session.
	SessionIdle time.Duration
	SessionMax  time.Duration
	// Sign-in throttles: per address and source address together (a
	// guesser at one account from one place), and per source address (a
	// guesser trying many accounts). Both slow down; neither locks, and
	// neither touches the owner signing in from somewhere else.
	SignInPerEmailIP ratelimit.Backoff
	SignInPerIP      ratelimit.Backoff
	// InviteTTL is how long a member invitation link is valid.
	InviteTTL time.Duration
	// ResetTTL is how long a password reset link is valid.
	ResetTTL time.Duration
	// VerifyTTL is how long an address verification link is valid.
	VerifyTTL time.Duration
	// Sign-up attempts (each costs a password hash and may send a mail)
	// per address and per source address in Window.
	SignUpPerEmail ratelimit.Limit
	SignUpPerIP    ratelimit.Limit
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		SessionIdle:      12 * time.Hour,
		SessionMax:       7 * 24 * time.Hour,
		SignInPerEmailIP: ratelimit.Backoff{Free: 5, Base: 2 * time.Second, Max: 15 * time.Minute, Forget: time.Hour},
		SignInPerIP:      ratelimit.Backoff{Free: 20, Base: time.Second, Max: time.Minute, Forget: 15 * time.Minute},
		InviteTTL:        7 * 24 * time.Hour,
		ResetTTL:         time.Hour,
		VerifyTTL:        24 * time.Hour,
		SignUpPerEmail:   ratelimit.Limit{Max: 5, Window: time.Hour},
		SignUpPerIP:      ratelimit.Limit{Max: 30, Window: 15 * time.Minute},
	}
}

// Service enforces the rules of people, accounts and memberships.
type Service struct {
	DB        *store.DB
	Config    Config
	PublicURL string // for links in emails
	Log       *slog.Logger
	Now       func() time.Time
	// AdminAccess, when set, decides whether an admin membership holds admin
	// rights in this session (the IdP integration narrows admin rights to SSO
	// admins and the backup login while SSO is active).
	AdminAccess func(ctx context.Context, accountID string, s *Session) (bool, error)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// FieldError is a validation problem a person must read, tied to a form field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// fieldErr builds a *FieldError.
func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errors callers branch on.
var (
	ErrInvalidCredentials = errors.New("the email or password is not correct")
	ErrLastAdmin          = errors.New("a business account must keep at least one active admin")
	ErrForbidden          = errors.New("you do not have permission to do this")
)

// RateLimitedError says sign-in is blocked for a while.
type RateLimitedError struct{ RetryAfter time.Duration }

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("too many failed attempts; try again in %s", humanDuration(e.RetryAfter))
}

func humanDuration(d time.Duration) string {
	switch {
	case d >= 90*time.Minute:
		return fmt.Sprintf("%d hours", int(d.Hours()+0.5))
	case d >= time.Hour:
		return "1 hour"
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()+0.5))
	case d < 1500*time.Millisecond:
		return "1 second"
	default:
		return fmt.Sprintf("%d seconds", int(d.Seconds()+0.5))
	}
}
