// Package portal is the Management Portal of spec 05 (Enterprise): golden
// images, policies (security controls and VM settings) and the groups they
// apply to, the User Groups view, and configuration profiles (also on
// Business). A group is a live license key: the primary key or a
// sublicense key with the IdP groups mapped to it. Effective computes what
// an installation applies; the fleet check-in answer delivers it.
//
// Like every domain package it does not import net/http; the Verify link
// check lives in the sub-package linkcheck.
package portal

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// Caller is who asks: admins see everything of their account; license
// admins only what the keys they manage cover.
type Caller = license.Caller

// ErrForbidden: the caller's role may not do this.
var ErrForbidden = errors.New("portal: forbidden")

// ErrNotFound is returned for a missing object or one of another account.
var ErrNotFound = store.ErrNotFound

// FieldError is a validation problem a person must read, tied to a field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// IsFieldError unwraps a FieldError.
func IsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// VMCounter counts an account's inventory VMs provisioned from each of the
// given golden images (the fleet inventory owns the VMs).
type VMCounter func(ctx context.Context, q store.Querier, accountID string, imageIDs []string) (map[string]int, error)

// Service enforces the portal's rules.
type Service struct {
	DB  *store.DB
	Now func() time.Time
	// CountVMs is wired by the app to the fleet inventory; without it there
	// is no inventory and so no provisioned VM.
	CountVMs VMCounter
	// Hosts loads the inventory for the policy form's effect preview
	// (wired to the fleet inventory; nil: no preview).
	Hosts HostLoader
	// Changed is called inside every transaction that changes what an
	// installation of the account receives (the app wires the fleet's
	// settings bump, so that check-ins stop answering "unchanged").
	Changed func(ctx context.Context, tx *store.Tx, accountID string) error
}

func (s *Service) changed(ctx context.Context, tx *store.Tx, accountID string) error {
	if s.Changed == nil {
		return nil
	}
	if err := s.Changed(ctx, tx, accountID); err != nil {
		return fmt.Errorf("portal: settings changed: %w", err)
	}
	return nil
}

// New returns a Service.
func New(db *store.DB) *Service { return &Service{DB: db} }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) vmCounts(ctx context.Context, q store.Querier, accountID string, imageIDs []string) (map[string]int, error) {
	if s.CountVMs == nil || len(imageIDs) == 0 {
		return map[string]int{}, nil
	}
	return s.CountVMs(ctx, q, accountID, imageIDs)
}

// scope is the set of keys a caller manages; all is true for admins.
type scope struct {
	all  bool
	keys map[string]bool
}

func (sc scope) has(keyID string) bool { return sc.all || sc.keys[keyID] }

// scopeOf returns the keys the caller manages: admins every key; license
// admins the keys assigned to them and every key of a subscription whose
// primary key is assigned to them (as in licensing).
func (s *Service) scopeOf(ctx context.Context, q store.Querier, c Caller) (scope, error) {
	switch c.Role {
	case license.RoleAdmin:
		return scope{all: true}, nil
	case license.RoleLicenseAdmin:
	default:
		return scope{}, ErrForbidden
	}
	rows, err := q.Query(ctx, `SELECT k.id FROM license_keys k WHERE k.account_id = ? AND k.deleted_at IS NULL AND EXISTS (
			SELECT 1 FROM license_key_admins ka JOIN license_keys a ON a.id = ka.key_id
			WHERE ka.account_id = k.account_id AND ka.person_id = ? AND (ka.key_id = k.id OR (a.kind = 'primary' AND a.subscription_id = k.subscription_id)))`,
		c.AccountID, c.PersonID)
	if err != nil {
		return scope{}, fmt.Errorf("managed keys: %w", err)
	}
	defer rows.Close()
	sc := scope{keys: map[string]bool{}}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return scope{}, err
		}
		sc.keys[id] = true
	}
	return sc, rows.Err()
}

// EnterpriseState says whether the account may use the Enterprise portal.
type EnterpriseState struct {
	Active bool // an Enterprise subscription (trial included) is running
	// KeptUntil: no running Enterprise subscription, but one ended and
	// its settings are kept until then (zero when none).
	KeptUntil time.Time
}

// Enterprise reports the account's Enterprise state.
func (s *Service) Enterprise(ctx context.Context, accountID string, retention time.Duration) (EnterpriseState, error) {
	now := s.now()
	var st EnterpriseState
	rows, err := s.DB.Query(ctx, `SELECT status, ends_at FROM subscriptions WHERE account_id = ? AND edition = 'enterprise' AND purged_at IS NULL`, accountID)
	if err != nil {
		return st, fmt.Errorf("enterprise state: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var status string
		var ends store.Time
		if err := rows.Scan(&status, &ends); err != nil {
			return st, err
		}
		if status == "active" && ends.Time.After(now) {
			st.Active = true
		} else if k := ends.Time.Add(retention); k.After(st.KeptUntil) {
			st.KeptUntil = k
		}
	}
	return st, rows.Err()
}
