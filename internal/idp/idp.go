// Package idp owns the IdP integration configurator of a business account:
// the chosen identity provider, the email domains and their DNS
// verification, the mapped admins and Desktop Users groups, the SAML
// settings of the IdP, the backup login, the state of the seven steps, and
// activation — which narrows admin rights to SSO admins and the backup login
// (see AdminAccess).
//
// The SAML protocol (internal/saml) and the SCIM server (internal/scim) are
// separate packages: this one stores what the admin configures and answers
// their questions (SPSettings, IdPSettings, AccountForDomain, Groups,
// BackupLogin). SCIM's token and on/off switch belong to the SCIM server and
// are reached through the SCIM interface.
//
// Everything lives in the database, so an admin can stop at any step and
// continue days later from any node.
package idp

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
)

// Identity providers the configurator has instructions for.
const (
	ProviderEntra     = "entra"
	ProviderOkta      = "okta"
	ProviderPing      = "ping"
	ProviderJumpCloud = "jumpcloud"
	ProviderGoogle    = "google"
	ProviderOther     = "other"
)

// SCIM is what the configurator needs from the SCIM server (scim.Service
// implements it).
type SCIM interface {
	GenerateToken(ctx context.Context, accountID string, actor audit.Actor, overlap time.Duration) (string, error)
	TokenStatus(ctx context.Context, accountID string) (scim.TokenInfo, error)
	SetEnabled(ctx context.Context, accountID string, enabled bool, actor audit.Actor) error
	Enabled(ctx context.Context, accountID string) (bool, error)
	Activity(ctx context.Context, accountID string) (scim.Activity, error)
	MappedGroupStats(ctx context.Context, accountID, uuid string) (found bool, users, active int, err error)
}

// LicenseCheck reports whether a business account holds a license key; the
// configurator is available only then.
type LicenseCheck func(ctx context.Context, accountID string) (bool, error)

// Config holds the tunables.
type Config struct {
	// PublicURL is where people and IdPs reach Gatehouse (no trailing
	// slash); SP entity IDs, ACS and SCIM URLs derive from it.
	PublicURL string
	// VerifyWindow is how long unverified domains keep being re-checked in
	// the background (DNS propagation). Default 72 hours.
	VerifyWindow time.Duration
	// FirstRecheck and MaxRecheck bound the back-off between background
	// checks: 1 minute doubling up to 1 hour by default.
	FirstRecheck time.Duration
	MaxRecheck   time.Duration
	// DNSTimeout bounds one TXT lookup. Default 5 seconds.
	DNSTimeout time.Duration
	// MaxDomains per business account. Default 50.
	MaxDomains int
	// CertWarning flags certificates expiring within this period. Default 30 days.
	CertWarning time.Duration
	// DefaultOverlap is how long the previous SCIM token keeps working after
	// Regenerate when the admin does not choose. Default 1 hour.
	DefaultOverlap time.Duration

	// Dependencies, given at construction (see internal/app/wire.go).

	// LicenseCheck answers "does this account hold a license key?" (the
	// licensing feature's license.HoldsKey). Nil: no account does.
	LicenseCheck LicenseCheck
	// Resolver answers TXT lookups; nil: the system resolver. See NewResolver.
	Resolver *net.Resolver
	// SPSigningCert is the certificate of the deployment's AuthnRequest
	// signing key (saml.EnsureSigningCredential).
	SPSigningCert *x509.Certificate
}

// DefaultConfig returns production defaults.
func DefaultConfig() Config {
	return Config{VerifyWindow: 72 * time.Hour, FirstRecheck: time.Minute, MaxRecheck: time.Hour,
		DNSTimeout: 5 * time.Second, MaxDomains: 50, CertWarning: 30 * 24 * time.Hour, DefaultOverlap: time.Hour}
}

// Service enforces the configurator's rules. Safe for concurrent use.
type Service struct {
	DB     *store.DB
	Config Config
	// Resolver answers TXT lookups; nil: the system resolver. See NewResolver.
	Resolver *net.Resolver
	SCIM     SCIM
	Log      *slog.Logger
	Now      func() time.Time
	// SPSigningCert is the certificate of the key that signs AuthnRequests
	// (saml.EnsureSigningCredential), published in every account's SP
	// metadata; nil publishes none.
	SPSigningCert *x509.Certificate

	hasLicense atomic.Pointer[LicenseCheck]
}

// New returns a service with defaults filled in.
func New(db *store.DB, cfg Config, scimSvc SCIM, log *slog.Logger) *Service {
	def := DefaultConfig()
	if cfg.VerifyWindow <= 0 {
		cfg.VerifyWindow = def.VerifyWindow
	}
	if cfg.FirstRecheck <= 0 {
		cfg.FirstRecheck = def.FirstRecheck
	}
	if cfg.MaxRecheck <= 0 {
		cfg.MaxRecheck = def.MaxRecheck
	}
	if cfg.DNSTimeout <= 0 {
		cfg.DNSTimeout = def.DNSTimeout
	}
	if cfg.MaxDomains <= 0 {
		cfg.MaxDomains = def.MaxDomains
	}
	if cfg.CertWarning <= 0 {
		cfg.CertWarning = def.CertWarning
	}
	if cfg.DefaultOverlap <= 0 {
		cfg.DefaultOverlap = def.DefaultOverlap
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if log == nil {
		log = slog.Default()
	}
	s := &Service{DB: db, Config: cfg, SCIM: scimSvc, Log: log, Resolver: cfg.Resolver, SPSigningCert: cfg.SPSigningCert}
	if cfg.LicenseCheck != nil {
		s.hasLicense.Store(&cfg.LicenseCheck)
	}
	return s
}

// HasLicense reports whether the configurator is available to accountID.
// Without a check installed every account qualifies.
func (s *Service) HasLicense(ctx context.Context, accountID string) (bool, error) {
	f := s.hasLicense.Load()
	if f == nil || *f == nil {
		return true, nil
	}
	return (*f)(ctx, accountID)
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// FieldError is a validation problem a person must read, tied to a form
// field (the web layer shows it next to that field).
type FieldError struct {
	Field   string
	Message string
	// Detail is the technical reason behind Message, for people who want
	// it (shown folded away).
	Detail string
}

func (e *FieldError) Error() string        { return e.Field + ": " + e.Message }
func (e *FieldError) FieldName() string    { return e.Field }
func (e *FieldError) FieldMessage() string { return e.Message }
func (e *FieldError) FieldDetail() string  { return e.Detail }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// Errors callers branch on.
var (
	// ErrNotStarted: the account has not started configuring.
	ErrNotStarted = errors.New("the IdP integration has not been started for this business account")
	// ErrNoLicense: the account holds no license key yet.
	ErrNoLicense = errors.New("the IdP integration becomes available once the business account holds a license key")
	// ErrAlreadyActive / ErrNotActive: a concurrent (or repeated) activation
	// or deactivation found the integration already in the wanted state.
	ErrAlreadyActive = errors.New("the integration is already active")
	ErrNotActive     = errors.New("the integration is not active")
	// ErrSAMLIncomplete: the IdP's SAML settings (entity ID, SSO URL,
	// certificate) are not all there yet (configurator step 4 unfinished).
	ErrSAMLIncomplete = errors.New("the IdP's SAML settings (entity ID, SSO URL, certificate) are not complete")
)

// IncompleteError refuses an activation while steps are not complete.
type IncompleteError struct{ Steps []int }

func (e *IncompleteError) Error() string {
	parts := make([]string, len(e.Steps))
	for i, n := range e.Steps {
		parts[i] = fmt.Sprint(n)
	}
	return "complete every step before activating; still open: step " + strings.Join(parts, ", ")
}

// Integration is an account's configuration as stored.
type Integration struct {
	AccountID      string
	Provider       string
	StepDone       map[int]bool // the admin's "configuration in the IdP directory is done" ticks (2, 4, 5, 6)
	Groups         Groups
	IdPEntityID    string
	IdPSSOURL      string
	IdPSSOBinding  string
	IdPCertsPEM    string
	BackupPersonID string
	Active         bool
	ActivatedAt    store.Time
	DeactivatedAt  store.Time
	StartedAt      store.Time
	UpdatedAt      store.Time

	// IdPWantsSignedRequests: the IdP requires signed AuthnRequests
	// (metadata WantAuthnRequestsSigned, or step 4's checkbox).
	IdPWantsSignedRequests bool
}

// Groups are the two IdP groups mapped in step 3. The UUID is what the IdP
// sends in the SAML groups claim and as the SCIM group's externalId (or, for
// Okta and Google Workspace, the group name itself). The field set matches
// sso.Groups so the wiring can convert one into the other.
type Groups struct {
	AdminsUUID       string
	AdminsName       string
	DesktopUsersUUID string
	DesktopUsersName string
}

const integrationColumns = `account_id, provider, step2_done, step4_done, step5_done, step6_done,
	admins_group_name, admins_group_uuid, users_group_name, users_group_uuid,
	idp_entity_id, idp_sso_url, idp_sso_binding, idp_certificates, idp_want_signed_requests, backup_person_id,
	active, activated_at, deactivated_at, started_at, updated_at`

func scanIntegration(row interface{ Scan(...any) error }) (*Integration, error) {
	in := &Integration{StepDone: map[int]bool{}}
	var s2, s4, s5, s6 bool
	var backup *string
	err := row.Scan(&in.AccountID, &in.Provider, &s2, &s4, &s5, &s6,
		&in.Groups.AdminsName, &in.Groups.AdminsUUID, &in.Groups.DesktopUsersName, &in.Groups.DesktopUsersUUID,
		&in.IdPEntityID, &in.IdPSSOURL, &in.IdPSSOBinding, &in.IdPCertsPEM, &in.IdPWantsSignedRequests, &backup,
		&in.Active, &in.ActivatedAt, &in.DeactivatedAt, &in.StartedAt, &in.UpdatedAt)
	if err != nil {
		return nil, store.NotFound(err)
	}
	in.StepDone[2], in.StepDone[4], in.StepDone[5], in.StepDone[6] = s2, s4, s5, s6
	if backup != nil {
		in.BackupPersonID = *backup
	}
	return in, nil
}

func getIntegration(ctx context.Context, q store.Querier, accountID string) (*Integration, error) {
	in, err := scanIntegration(q.QueryRow(ctx, `SELECT `+integrationColumns+` FROM idp_integrations WHERE account_id = ?`, accountID))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotStarted
	}
	if err != nil {
		return nil, fmt.Errorf("load IdP integration: %w", err)
	}
	return in, nil
}

// Integration returns the stored configuration, or ErrNotStarted.
func (s *Service) Integration(ctx context.Context, accountID string) (*Integration, error) {
	return getIntegration(ctx, s.DB, accountID)
}

// certificates parses the stored PEM blocks (expired ones included: the
// SAML validator reports those itself, and the configurator flags them).
func (in *Integration) certificates() []*x509.Certificate {
	certs, _ := parsePEMCertificates(in.IdPCertsPEM)
	return certs
}

// Start begins configuring: it records the chosen IdP and makes the admin
// who starts the default backup login. Starting again only changes the IdP.
func (s *Service) Start(ctx context.Context, accountID, provider, personID string, actor audit.Actor) error {
	if ProviderByID(provider) == nil {
		return fieldErr("provider", "Choose your identity provider from the list.")
	}
	if ok, err := s.HasLicense(ctx, accountID); err != nil {
		return err
	} else if !ok {
		return ErrNoLicense
	}
	now := store.At(s.now())
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `INSERT INTO idp_integrations (account_id, provider, backup_person_id, started_at, updated_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id) DO NOTHING`, accountID, provider, personID, now, now)
		if err != nil {
			return fmt.Errorf("start IdP integration: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return s.setProviderTx(ctx, tx, accountID, provider, actor)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.configuration_started",
			TargetType: "idp_integration", TargetID: accountID, TargetLabel: ProviderByID(provider).Name,
			After: map[string]string{"provider": provider, "backup_login": actor.Label}})
	})
}

// SetProvider changes the identity provider; the instructions follow it.
func (s *Service) SetProvider(ctx context.Context, accountID, provider string, actor audit.Actor) error {
	if ProviderByID(provider) == nil {
		return fieldErr("provider", "Choose your identity provider from the list.")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error { return s.setProviderTx(ctx, tx, accountID, provider, actor) })
}

func (s *Service) setProviderTx(ctx context.Context, tx *store.Tx, accountID, provider string, actor audit.Actor) error {
	in, err := getIntegration(ctx, tx, accountID)
	if err != nil {
		return err
	}
	if in.Provider == provider {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE idp_integrations SET provider = ?, updated_at = ? WHERE account_id = ?`,
		provider, store.At(s.now()), accountID); err != nil {
		return fmt.Errorf("change IdP: %w", err)
	}
	return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.provider_changed",
		TargetType: "idp_integration", TargetID: accountID, TargetLabel: ProviderByID(provider).Name,
		Before: map[string]string{"provider": in.Provider}, After: map[string]string{"provider": provider}})
}

// SetStepDone records the admin's "configuration in the IdP directory is
// done" tick for step 2, 4, 5 or 6.
func (s *Service) SetStepDone(ctx context.Context, accountID string, step int, done bool, actor audit.Actor) error {
	col := map[int]string{2: "step2_done", 4: "step4_done", 5: "step5_done", 6: "step6_done"}[step]
	if col == "" {
		return fmt.Errorf("step %d has no checkbox: %w", step, store.ErrNotFound)
	}
	if done && step == 5 && s.SCIM != nil {
		on, err := s.SCIM.Enabled(ctx, accountID)
		if err != nil {
			return err
		}
		if on {
			tok, err := s.SCIM.TokenStatus(ctx, accountID)
			if err != nil {
				return err
			}
			if !tok.Exists {
				return fieldErr("step5", "Generate a bearer token first: your IdP needs it to connect. Or switch SCIM support off if your IdP has no SCIM.")
			}
		}
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		in, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if in.StepDone[step] == done {
			return nil
		}
		if _, err := tx.Exec(ctx, `UPDATE idp_integrations SET `+col+` = ?, updated_at = ? WHERE account_id = ?`,
			done, store.At(s.now()), accountID); err != nil {
			return fmt.Errorf("save step %d: %w", step, err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "idp.step_confirmed",
			TargetType: "idp_integration", TargetID: accountID, TargetLabel: fmt.Sprintf("Step %d: %s", step, StepTitles[step]),
			Before: map[string]bool{"done": in.StepDone[step]}, After: map[string]bool{"done": done}})
	})
}
