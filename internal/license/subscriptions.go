package license

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/store"
)

// Subscription states as people read them (State).
const (
	StateActive    = "active"
	StateSuspended = "suspended"
	StateExpired   = "expired"
	StatePurged    = "purged"
)

// Subscription is a product license issued by the vendor.
type Subscription struct {
	ID          string
	AccountID   string // "" while unregistered
	AccountName string
	Name        string // display name chosen at registration
	Edition     string
	Model       string
	Trial       bool
	Seats       int
	Reserved    int // seats set aside by reserved sublicense keys
	SharedUsed  int // seats held through the primary key and dynamic keys
	Used        int // all seats in use (reserved keys' used + SharedUsed)
	Status      string
	StartsAt    store.Time
	EndsAt      store.Time
	SuspendedAt store.Time
	PurgedAt    store.Time
	IssuedAt    store.Time
	Registered  store.Time
	Note        string
	PrimaryLast string // last group of the primary key
}

// State returns active, suspended, expired or purged at now.
func (s *Subscription) State(now time.Time) string {
	switch {
	case !s.PurgedAt.IsZero():
		return StatePurged
	case s.Status == "suspended":
		return StateSuspended
	case s.Status == "ended" || !now.Before(s.EndsAt.Time):
		return StateExpired
	}
	return StateActive
}

// SharedFree is how many seats the shared pool still has.
func (s *Subscription) SharedFree() int { return s.Seats - s.Reserved - s.SharedUsed }

// EditionLabel names the edition for people.
func EditionLabel(edition string) string {
	switch edition {
	case EditionEnterprise:
		return "Enterprise Edition"
	case EditionBusiness:
		return "Business Edition"
	}
	return edition
}

// ModelLabel names the licensing model for people.
func ModelLabel(model string) string {
	switch model {
	case ModelPerDevice:
		return "Per device"
	case ModelPerUser:
		return "Per user (SSO)"
	case ModelMixed:
		return "Mixed (per device and per user)"
	}
	return model
}

// Label is how audit entries and lists name a subscription.
func (s *Subscription) Label() string {
	l := EditionLabel(s.Edition)
	if s.Trial {
		l += " trial"
	}
	l += fmt.Sprintf(", %d seats", s.Seats)
	if s.PrimaryLast != "" {
		l += ", key …" + s.PrimaryLast
	}
	return l
}

const subscriptionColumns = `s.id, COALESCE(s.account_id, ''), COALESCE(a.name, ''), s.name, s.edition, s.model, s.trial,
	s.seats, s.reserved, s.shared_used,
	s.shared_used + COALESCE((SELECT SUM(k.used) FROM license_keys k WHERE k.subscription_id = s.id AND k.kind = 'reserved' AND k.deleted_at IS NULL), 0),
	s.status, s.starts_at, s.ends_at, s.suspended_at, s.purged_at, s.issued_at, s.registered_at, s.note,
	COALESCE((SELECT p.key_last FROM license_keys p WHERE p.subscription_id = s.id AND p.kind = 'primary'), '')`

const subscriptionFrom = ` FROM subscriptions s LEFT JOIN accounts a ON a.id = s.account_id `

type scanner interface{ Scan(dest ...any) error }

func scanSubscription(row scanner) (*Subscription, error) {
	var s Subscription
	err := row.Scan(&s.ID, &s.AccountID, &s.AccountName, &s.Name, &s.Edition, &s.Model, &s.Trial,
		&s.Seats, &s.Reserved, &s.SharedUsed, &s.Used, &s.Status, &s.StartsAt, &s.EndsAt, &s.SuspendedAt,
		&s.PurgedAt, &s.IssuedAt, &s.Registered, &s.Note, &s.PrimaryLast)
	if err != nil {
		return nil, err
	}
	return &s, nil
}

func getSubscription(ctx context.Context, q store.Querier, id string) (*Subscription, error) {
	s, err := scanSubscription(q.QueryRow(ctx, `SELECT `+subscriptionColumns+subscriptionFrom+`WHERE s.id = ?`, id))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return s, nil
}

func querySubscriptions(ctx context.Context, q store.Querier, where string, args ...any) ([]Subscription, error) {
	return store.QueryAll(ctx, q, func(row store.Scanner) (Subscription, error) {
		s, err := scanSubscription(row)
		if err != nil {
			return Subscription{}, err
		}
		return *s, nil
	}, `SELECT `+subscriptionColumns+subscriptionFrom+where, args...)
}

// Term is a subscription length: "1y", "6m", "30d", "2w" (years, months,
// weeks, days; combinations like "1y6m" are allowed).
type Term struct{ Years, Months, Days int }

// ParseTerm reads a term.
func ParseTerm(s string) (Term, error) {
	var t Term
	rest := strings.ToLower(strings.TrimSpace(s))
	if rest == "" {
		return t, errors.New("empty term (use e.g. 1y, 6m, 30d)")
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i == len(rest) {
			return Term{}, fmt.Errorf("invalid term %q (use e.g. 1y, 6m, 30d)", s)
		}
		n, err := strconv.Atoi(rest[:i])
		if err != nil || n > 1000 {
			return Term{}, fmt.Errorf("invalid term %q", s)
		}
		switch rest[i] {
		case 'y':
			t.Years += n
		case 'm':
			t.Months += n
		case 'w':
			t.Days += 7 * n
		case 'd':
			t.Days += n
		default:
			return Term{}, fmt.Errorf("invalid term %q: unit %q (use y, m, w or d)", s, rest[i])
		}
		rest = rest[i+1:]
	}
	if t.Years > 100 || t.Months > 1200 || t.Days > 36500 || (t == Term{}) {
		return Term{}, fmt.Errorf("invalid term %q", s)
	}
	return t, nil
}

// From returns the end of a term starting at start.
func (t Term) From(start time.Time) time.Time { return start.AddDate(t.Years, t.Months, t.Days) }

func (t Term) String() string {
	var b strings.Builder
	if t.Years > 0 {
		fmt.Fprintf(&b, "%dy", t.Years)
	}
	if t.Months > 0 {
		fmt.Fprintf(&b, "%dm", t.Months)
	}
	if t.Days > 0 {
		fmt.Fprintf(&b, "%dd", t.Days)
	}
	return b.String()
}

// normalizeModel accepts per-device / per_device / per-user / sso / mixed.
func normalizeModel(m string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(strings.ReplaceAll(m, "-", "_"))) {
	case ModelPerDevice, "device":
		return ModelPerDevice, true
	case ModelPerUser, "user", "sso":
		return ModelPerUser, true
	case ModelMixed:
		return ModelMixed, true
	}
	return "", false
}

func normalizeEdition(e string) (string, bool) {
	switch strings.ToLower(strings.TrimSpace(e)) {
	case EditionBusiness:
		return EditionBusiness, true
	case EditionEnterprise:
		return EditionEnterprise, true
	}
	return "", false
}

// markEnded moves the account's active subscriptions whose term is over to
// status "ended", so that the one-Enterprise-per-account index only counts
// live ones.
func markEnded(ctx context.Context, q store.Querier, accountID string, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE subscriptions SET status = 'ended' WHERE account_id = ? AND status = 'active' AND ends_at <= ?`,
		accountID, store.At(now)); err != nil {
		return fmt.Errorf("mark ended subscriptions: %w", err)
	}
	return nil
}

// activeEnterprise returns the account's live Enterprise subscription, or nil.
func activeEnterprise(ctx context.Context, q store.Querier, accountID, exceptID string) (*Subscription, error) {
	subs, err := querySubscriptions(ctx, q, `WHERE s.account_id = ? AND s.edition = 'enterprise' AND s.status = 'active' AND s.id <> ?`, accountID, exceptID)
	if err != nil {
		return nil, err
	}
	if len(subs) == 0 {
		return nil, nil
	}
	return &subs[0], nil
}

func isNoRows(err error) bool {
	return errors.Is(err, sql.ErrNoRows) || errors.Is(err, store.ErrNotFound)
}

// Subscriptions returns the product cards of the caller's business account.
// License admins see the subscriptions holding keys they are assigned to.
func (s *Service) Subscriptions(ctx context.Context, caller Caller) ([]Subscription, error) {
	switch caller.Role {
	case RoleAdmin:
		return querySubscriptions(ctx, s.DB, `WHERE s.account_id = ? ORDER BY s.registered_at, s.id`, caller.AccountID)
	case RoleLicenseAdmin:
		return querySubscriptions(ctx, s.DB, `WHERE s.account_id = ? AND s.id IN (SELECT k.subscription_id FROM license_keys k
			JOIN license_key_admins ka ON ka.key_id = k.id WHERE ka.account_id = ? AND ka.person_id = ?)
			ORDER BY s.registered_at, s.id`, caller.AccountID, caller.AccountID, caller.PersonID)
	}
	return nil, ErrForbidden
}

// SubscriptionDetails is the Subscription Details page: the subscription
// and the keys the caller may see.
type SubscriptionDetails struct {
	Subscription
	State     string
	Keys      []Key
	CanManage bool // may create sublicense keys and change allotments
}

// Subscription returns the details of one subscription of the caller's
// account.
func (s *Service) Subscription(ctx context.Context, caller Caller, subscriptionID string) (*SubscriptionDetails, error) {
	sub, err := getSubscription(ctx, s.DB, subscriptionID)
	if err != nil {
		return nil, err
	}
	if sub.AccountID == "" || sub.AccountID != caller.AccountID {
		return nil, store.ErrNotFound
	}
	keys, err := s.keysOf(ctx, s.DB, caller.AccountID, sub.ID)
	if err != nil {
		return nil, err
	}
	d := &SubscriptionDetails{Subscription: *sub, State: sub.State(s.now())}
	switch caller.Role {
	case RoleAdmin:
		d.Keys, d.CanManage = keys, true
	case RoleLicenseAdmin:
		assigned, err := s.assignedKeys(ctx, s.DB, caller)
		if err != nil {
			return nil, err
		}
		var primaryAssigned bool
		for _, k := range keys {
			if k.Kind == KindPrimary && assigned[k.ID] {
				primaryAssigned = true
			}
		}
		for _, k := range keys {
			if primaryAssigned || assigned[k.ID] {
				d.Keys = append(d.Keys, k)
			}
		}
		if len(d.Keys) == 0 {
			return nil, store.ErrNotFound
		}
		d.CanManage = primaryAssigned
	default:
		return nil, ErrForbidden
	}
	for i := range d.Keys {
		d.Keys[i].Free = keyFree(&d.Keys[i], sub)
	}
	return d, nil
}

func keyFree(k *Key, sub *Subscription) int {
	pool := sub.SharedFree()
	switch k.Kind {
	case KindReserved:
		return k.Seats - k.Used
	case KindDynamic:
		return max(0, min(k.Seats-k.Used, pool))
	}
	return max(0, pool)
}
