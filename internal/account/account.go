// Package account owns people, business accounts (tenants), memberships and
// roles, sign-in with rate limiting, sessions stored in the database, member
// invitations, password resets and reading the audit log.
package account

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"

	"golang.org/x/net/idna"

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
	ID          string
	Email       string
	DisplayName string
	IsOperator  bool
	Disabled    bool
	CreatedAt   store.Time
	LastSignIn  store.Time
	HasPassword bool
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
	// Sign-in failures allowed per email and per source address in Window.
	SignInPerEmail ratelimit.Limit
	SignInPerIP    ratelimit.Limit
	// InviteTTL is how long a member invitation link is valid.
	InviteTTL time.Duration
	// ResetTTL is how long a password reset link is valid.
	ResetTTL time.Duration
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{
		SessionIdle:    12 * time.Hour,
		SessionMax:     7 * 24 * time.Hour,
		SignInPerEmail: ratelimit.Limit{Max: 5, Window: 15 * time.Minute},
		SignInPerIP:    ratelimit.Limit{Max: 30, Window: 15 * time.Minute},
		InviteTTL:      7 * 24 * time.Hour,
		ResetTTL:       time.Hour,
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

// NormalizeEmail validates an address and returns it in the canonical form
// used as identifier: trimmed, lower case, domain in IDNA ASCII form.
func NormalizeEmail(raw string) (string, error) {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return "", Problem("Enter an email address.")
	}
	if len(raw) > 254 {
		return "", Problem("This email address is too long.")
	}
	addr, err := mail.ParseAddress(raw)
	if err != nil || addr.Address != raw && addr.Name == "" && !strings.EqualFold(addr.Address, raw) {
		return "", problemf("%q is not a valid email address.", raw)
	}
	local, domain, ok := strings.Cut(addr.Address, "@")
	if !ok || local == "" || domain == "" || !strings.Contains(domain, ".") {
		return "", problemf("%q is not a valid email address.", raw)
	}
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", problemf("The domain of %q is not valid.", raw)
	}
	return strings.ToLower(local) + "@" + strings.ToLower(ascii), nil
}

// Problem is an error whose text is a sentence for people (capitalised,
// with a full stop), unlike wrapped internal errors.
type Problem string

func (p Problem) Error() string { return string(p) }

func problemf(format string, args ...any) error { return Problem(fmt.Sprintf(format, args...)) }
