package license

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

// Editions, licensing models, key kinds, activation methods.
const (
	EditionBusiness   = "business"
	EditionEnterprise = "enterprise"

	ModelPerDevice = "per_device"
	ModelPerUser   = "per_user"
	ModelMixed     = "mixed"

	KindPrimary  = "primary"
	KindReserved = "reserved"
	KindDynamic  = "dynamic"

	MethodKey        = "key"
	MethodInvitation = "invitation"
	MethodSSO        = "sso"
)

// Roles as stored in memberships (mirrors the account package; license does
// not import it so that account may depend on license later).
const (
	RoleAdmin        = "admin"
	RoleLicenseAdmin = "license_admin"
	RoleUser         = "user"
)

// Config holds the tunables of the service.
type Config struct {
	// PublicURL is where people reach Gatehouse; invitation links point at
	// PublicURL + "/download?code=…".
	PublicURL string
	// CheckInterval is how long an activation certificate is valid; Desktop
	// re-checks before it runs out. Default 7 days.
	CheckInterval time.Duration
	// Retention is how long Enterprise settings are kept after a
	// subscription ends. Default 90 days.
	Retention time.Duration
	// LastCheckResolution: a license check only writes last_check_at when
	// the stored value is older than this, so frequent checks stay reads.
	// Default 5 minutes.
	LastCheckResolution time.Duration
	// Now returns the current time (tests move it). Default time.Now.
	Now func() time.Time

	// Dependencies, given at construction (see internal/app/wire.go).

	// Accounts creates the business account when a person who belongs to
	// none registers a key, so the account rules (validation, first admin,
	// audit) live in one place. Nil: an account.Service on the same
	// database and clock (tools and tests).
	Accounts *account.Service
	// RecordSSOFailure adds refused SSO activations to the admins' list of
	// SSO failures (sso.RecordFailure). Nil: they are only logged.
	RecordSSOFailure SSOFailureRecorder
	// Hooks let features built on licensing follow its events (the
	// management portal).
	Hooks Hooks
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{CheckInterval: 7 * 24 * time.Hour, Retention: 90 * 24 * time.Hour,
		LastCheckResolution: 5 * time.Minute}
}

// NewAccount holds the organization details asked for when a person who
// belongs to no business account registers a key.
type NewAccount struct {
	Name         string
	Country      string // ISO 3166-1 alpha-2
	ContactName  string
	ContactEmail string
	ContactPhone string
}

// Hook is called inside the transaction of a licensing event so that other
// features (the management portal) can follow it.
type Hook func(ctx context.Context, tx *store.Tx, accountID, subscriptionID string) error

// Hooks are extension points for features built later.
type Hooks struct {
	// TrialSuspended runs when an Enterprise trial is suspended (policies
	// become unassigned; golden images and policies are kept).
	TrialSuspended []Hook
	// PurgeEnterprise runs when an ended Enterprise subscription's retention
	// period is over: delete its policies, golden images and other settings.
	PurgeEnterprise []Hook
}

// Service enforces the licensing rules. It is safe for concurrent use.
type Service struct {
	DB     *store.DB
	Config Config
	Hooks  Hooks
	// RecordSSOFailure is Config.RecordSSOFailure (tests replace it).
	RecordSSOFailure SSOFailureRecorder
	accounts         *account.Service

	sec     secrets
	batcher seatBatcher
}

// New returns a Service with defaults filled in.
func New(db *store.DB, cfg Config) *Service {
	def := DefaultConfig()
	if cfg.CheckInterval <= 0 {
		cfg.CheckInterval = def.CheckInterval
	}
	if cfg.Retention <= 0 {
		cfg.Retention = def.Retention
	}
	if cfg.LastCheckResolution <= 0 {
		cfg.LastCheckResolution = def.LastCheckResolution
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	accounts := cfg.Accounts
	if accounts == nil {
		accounts = &account.Service{DB: db, Config: account.DefaultConfig(), PublicURL: cfg.PublicURL, Now: cfg.Now}
	}
	return &Service{DB: db, Config: cfg, Hooks: cfg.Hooks, RecordSSOFailure: cfg.RecordSSOFailure, accounts: accounts}
}

func (s *Service) now() time.Time {
	if s.Config.Now != nil {
		return s.Config.Now().UTC()
	}
	return time.Now().UTC()
}

// Caller is who asks: a member of a business account with a role. The web
// layer resolves it from the session; the service checks it.
type Caller struct {
	PersonID  string
	AccountID string
	Role      string
}

// FieldError is a validation problem a person must read, tied to a form field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// ConfirmationError says an action needs explicit confirmation: the UI shows
// Message and repeats the call with the confirmation flag set.
type ConfirmationError struct {
	Action  string // "delete_key", "suspend_trial", "deactivate_computers", "send_invitations"
	Message string
}

func (e *ConfirmationError) Error() string { return e.Message }

// ErrForbidden is returned when the caller's role does not allow the action
// (a license admin acting on a key they are not assigned to, a user…).
var ErrForbidden = errors.New("you are not allowed to manage this license")

// IsFieldError reports whether err is a *FieldError and returns it.
func IsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// HoldsKey reports whether accountID holds a live license key (the IdP
// configurator is offered only then).
func HoldsKey(ctx context.Context, q store.Querier, accountID string) (bool, error) {
	var n int
	err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_keys WHERE account_id = ? AND deleted_at IS NULL`, accountID).Scan(&n)
	return n > 0, err
}
