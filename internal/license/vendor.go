package license

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// IssueInput is what the vendor sells: a subscription and its primary key.
type IssueInput struct {
	Edition string // business or enterprise
	Model   string // per_device, per_user or mixed (Enterprise only)
	Seats   int
	Term    Term
	Trial   bool
	Note    string // the vendor's reference, e.g. an order number
}

// Issue creates a subscription with its primary key and returns both; the
// key is shown here once (admins of the account it is registered to can
// reveal it later).
func (s *Service) Issue(ctx context.Context, in IssueInput, actor audit.Actor) (*Subscription, string, error) {
	edition, ok := normalizeEdition(in.Edition)
	if !ok {
		return nil, "", fieldErr("edition", "Choose business or enterprise.")
	}
	model, ok := normalizeModel(in.Model)
	if !ok {
		return nil, "", fieldErr("model", "Choose per-device, per-user or mixed.")
	}
	if model == ModelMixed && edition != EditionEnterprise {
		return nil, "", fieldErr("model", "Only Enterprise Edition mixes per-device and per-user seats.")
	}
	if in.Seats < 1 || in.Seats > 1_000_000 {
		return nil, "", fieldErr("seats", "Seats must be between 1 and 1,000,000.")
	}
	if (in.Term == Term{}) {
		return nil, "", fieldErr("term", "Give the term, e.g. 1y or 30d.")
	}
	if len(in.Note) > 200 {
		return nil, "", fieldErr("note", "Use at most 200 characters.")
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, "", err
	}
	now := s.now()
	plain := GenerateKey()
	hash := keyHash(plain)
	subID := ids.New()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO subscriptions (id, edition, model, seats, trial, status, starts_at, ends_at, note, issued_at)
			VALUES (?, ?, ?, ?, ?, 'active', ?, ?, ?, ?)`, subID, edition, model, in.Seats, in.Trial,
			store.At(now), store.At(in.Term.From(now)), strings.TrimSpace(in.Note), store.At(now)); err != nil {
			return fmt.Errorf("issue subscription: %w", err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO license_keys (id, subscription_id, kind, name, key_hash, key_last, key_sealed, created_at)
			VALUES (?, ?, 'primary', 'Primary key', ?, ?, ?, ?)`, ids.New(), subID, hash, keyLast(plain),
			sec.seal("license_key:"+hash, plain), store.At(now)); err != nil {
			return fmt.Errorf("issue primary key: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "license.subscription_issued", TargetType: "subscription",
			TargetID: subID, TargetLabel: EditionLabel(edition) + " …" + keyLast(plain),
			After: map[string]any{"edition": edition, "model": model, "seats": in.Seats, "trial": in.Trial, "term": in.Term.String()}})
	})
	if err != nil {
		return nil, "", err
	}
	sub, err := getSubscription(ctx, s.DB.Writer(), subID)
	if err != nil {
		return nil, "", err
	}
	return sub, plain, nil
}

// FindSubscription finds a subscription by its id or by any of its keys
// (primary or sublicense), for the vendor.
func (s *Service) FindSubscription(ctx context.Context, ref string) (*Subscription, error) {
	return s.findSubscription(ctx, s.DB, ref)
}

func (s *Service) findSubscription(ctx context.Context, q store.Querier, ref string) (*Subscription, error) {
	ref = strings.TrimSpace(ref)
	if ids.Valid(ref) {
		return getSubscription(ctx, q, ref)
	}
	norm, err := NormalizeKey(ref)
	if err != nil {
		return nil, fieldErr("key", "%s", err.Error())
	}
	var subID string
	if err := q.QueryRow(ctx, `SELECT subscription_id FROM license_keys WHERE key_hash = ?`, keyHash(norm)).Scan(&subID); err != nil {
		return nil, store.NotFound(err)
	}
	return getSubscription(ctx, q, subID)
}

// VendorFilter narrows ListSubscriptions.
type VendorFilter struct {
	AccountID string
	Query     string // matches account name, note, or the last group of the primary key
	Limit     int
}

// ListSubscriptions lists subscriptions for the vendor, newest first.
func (s *Service) ListSubscriptions(ctx context.Context, f VendorFilter) ([]Subscription, error) {
	where := "WHERE 1 = 1"
	var args []any
	if f.AccountID != "" {
		where += " AND s.account_id = ?"
		args = append(args, f.AccountID)
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		like := "%" + escapeLike(strings.ToLower(q)) + "%"
		where += ` AND (LOWER(COALESCE(a.name, '')) LIKE ? ESCAPE '\' OR LOWER(s.note) LIKE ? ESCAPE '\'
			OR s.id IN (SELECT subscription_id FROM license_keys WHERE LOWER(key_last) LIKE ? ESCAPE '\'))`
		args = append(args, like, like, like)
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 200
	}
	args = append(args, f.Limit)
	return querySubscriptions(ctx, s.DB, where+" ORDER BY s.issued_at DESC, s.id DESC LIMIT ?", args...)
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

// ConvertResult tells what a conversion did.
type ConvertResult struct {
	Subscription   *Subscription
	SuspendedTrial *Subscription // the Enterprise trial suspended on the way, if any
}

// Convert turns a Business subscription into an Enterprise one: same keys,
// same activations, nothing to reactivate. model "" keeps the model. An
// active Enterprise trial in the same account is suspended (the account may
// hold one Enterprise subscription); a purchased one makes it fail.
func (s *Service) Convert(ctx context.Context, ref, model string, actor audit.Actor) (*ConvertResult, error) {
	if model != "" {
		m, ok := normalizeModel(model)
		if !ok {
			return nil, fieldErr("model", "Choose per-device, per-user or mixed.")
		}
		model = m
	}
	res := &ConvertResult{}
	var id string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := s.findSubscription(ctx, tx, ref)
		if err != nil {
			return err
		}
		id = sub.ID
		if sub.Edition != EditionBusiness {
			return fieldErr("subscription", "This subscription is already Enterprise Edition.")
		}
		if !sub.PurgedAt.IsZero() {
			return fieldErr("subscription", "This subscription was purged; issue a new one.")
		}
		if sub.AccountID != "" {
			if err := markEnded(ctx, tx, sub.AccountID, s.now()); err != nil {
				return err
			}
			other, err := activeEnterprise(ctx, tx, sub.AccountID, sub.ID)
			if err != nil {
				return err
			}
			if other != nil && !other.Trial {
				return fieldErr("subscription", "The account already holds a purchased Enterprise subscription (%s).", other.Label())
			}
			if other != nil {
				if err := s.suspendTx(ctx, tx, other, actor, "converted "+sub.ID); err != nil {
					return err
				}
				res.SuspendedTrial = other
			}
		}
		if model == "" {
			model = sub.Model
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET edition = 'enterprise', model = ? WHERE id = ? AND edition = 'business'`, model, sub.ID); err != nil {
			if store.IsUniqueViolation(err) {
				return fieldErr("subscription", "The account already holds an Enterprise subscription.")
			}
			return fmt.Errorf("convert: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: sub.AccountID, Action: "license.subscription_converted",
			TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(),
			Before: map[string]any{"edition": sub.Edition, "model": sub.Model}, After: map[string]any{"edition": EditionEnterprise, "model": model}})
	})
	if err != nil {
		return nil, err
	}
	sub, err := getSubscription(ctx, s.DB.Writer(), id)
	if err != nil {
		return nil, err
	}
	res.Subscription = sub
	return res, nil
}

func (s *Service) suspendTx(ctx context.Context, tx *store.Tx, sub *Subscription, actor audit.Actor, why string) error {
	res, err := tx.Exec(ctx, `UPDATE subscriptions SET status = 'suspended', suspended_at = ? WHERE id = ? AND status = 'active'`,
		store.At(s.now()), sub.ID)
	if err != nil {
		return fmt.Errorf("suspend: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return fieldErr("subscription", "The subscription is not active.")
	}
	if sub.Trial && sub.Edition == EditionEnterprise && sub.AccountID != "" {
		for _, h := range s.Hooks.TrialSuspended {
			if err := h(ctx, tx, sub.AccountID, sub.ID); err != nil {
				return fmt.Errorf("suspend trial hook: %w", err)
			}
		}
	}
	return audit.Record(ctx, tx, actor, audit.Entry{AccountID: sub.AccountID, Action: "license.subscription_suspended",
		TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(), After: map[string]any{"reason": why}})
}

// Suspend stops a subscription: its activations stop validating
// ("suspended") until it is resumed.
func (s *Service) Suspend(ctx context.Context, ref, reason string, actor audit.Actor) (*Subscription, error) {
	var id string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := s.findSubscription(ctx, tx, ref)
		if err != nil {
			return err
		}
		id = sub.ID
		if sub.Status == "suspended" {
			return fieldErr("subscription", "The subscription is already suspended.")
		}
		if sub.Status != "active" {
			return fieldErr("subscription", "The subscription has ended.")
		}
		return s.suspendTx(ctx, tx, sub, actor, reason)
	})
	if err != nil {
		return nil, err
	}
	return getSubscription(ctx, s.DB.Writer(), id)
}

// Resume lifts a suspension.
func (s *Service) Resume(ctx context.Context, ref string, actor audit.Actor) (*Subscription, error) {
	var id string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := s.findSubscription(ctx, tx, ref)
		if err != nil {
			return err
		}
		id = sub.ID
		if sub.Status != "suspended" {
			return fieldErr("subscription", "The subscription is not suspended.")
		}
		if sub.AccountID != "" {
			if err := markEnded(ctx, tx, sub.AccountID, s.now()); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE subscriptions SET status = 'active', suspended_at = NULL WHERE id = ? AND status = 'suspended'`, sub.ID)
		if store.IsUniqueViolation(err) {
			return fieldErr("subscription", "The account holds another active Enterprise subscription; suspend it first.")
		} else if err != nil {
			return fmt.Errorf("resume: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: sub.AccountID, Action: "license.subscription_resumed",
			TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label()})
	})
	if err != nil {
		return nil, err
	}
	return getSubscription(ctx, s.DB.Writer(), id)
}

// ExtendInput changes a subscription's term or seats. Zero fields are kept.
type ExtendInput struct {
	Term  Term      // added to the later of the current end and now
	Until time.Time // or: the new end
	Seats int       // new seat count
}

// Extend renews a subscription (a new end date and/or seat count). An ended
// subscription becomes active again. Seats can be lowered only down to what
// is reserved and in use.
func (s *Service) Extend(ctx context.Context, ref string, in ExtendInput, actor audit.Actor) (*Subscription, error) {
	if (in.Term == Term{}) && in.Until.IsZero() && in.Seats == 0 {
		return nil, fieldErr("term", "Give a term, an end date or a seat count.")
	}
	if in.Seats < 0 || in.Seats > 1_000_000 {
		return nil, fieldErr("seats", "Seats must be between 1 and 1,000,000.")
	}
	var id string
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := s.findSubscription(ctx, tx, ref)
		if err != nil {
			return err
		}
		id = sub.ID
		if !sub.PurgedAt.IsZero() {
			return fieldErr("subscription", "This subscription's Enterprise settings were purged after it ended; issue a new subscription.")
		}
		now := s.now()
		end := sub.EndsAt.Time
		switch {
		case !in.Until.IsZero():
			end = in.Until.UTC()
		case in.Term != Term{}:
			from := end
			if from.Before(now) {
				from = now
			}
			end = in.Term.From(from)
		}
		if !end.After(now) {
			return fieldErr("term", "The new end must be in the future.")
		}
		seats := sub.Seats
		if in.Seats > 0 {
			seats = in.Seats
		}
		status := sub.Status
		if status == "ended" {
			status = "active"
		}
		res, err := tx.Exec(ctx, `UPDATE subscriptions SET ends_at = ?, seats = ?, status = ? WHERE id = ? AND reserved + shared_used <= ?`,
			store.At(end), seats, status, sub.ID, seats)
		if store.IsUniqueViolation(err) {
			return fieldErr("subscription", "The account holds another active Enterprise subscription.")
		} else if err != nil {
			return fmt.Errorf("extend: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return seatsBelow(sub.Reserved + sub.SharedUsed)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: sub.AccountID, Action: "license.subscription_extended",
			TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(),
			Before: map[string]any{"ends_at": sub.EndsAt.Time, "seats": sub.Seats},
			After:  map[string]any{"ends_at": end, "seats": seats}})
	})
	if err != nil {
		return nil, err
	}
	return getSubscription(ctx, s.DB.Writer(), id)
}

// OperatorActor is the audit actor of vendor commands and the vendor API.
func OperatorActor(label string) audit.Actor {
	if label == "" {
		label = "operator"
	}
	return audit.Actor{Type: audit.ActorOperator, ID: "operator", Label: label}
}

// ErrNotFound is store.ErrNotFound, re-exported for transports.
var ErrNotFound = store.ErrNotFound

// IsNotFound reports whether err means "no such thing (in your account)".
func IsNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }

func seatsBelow(n int) error {
	if n == 1 {
		return fieldErr("seats", "1 seat is reserved or in use; the subscription cannot go below that.")
	}
	return fieldErr("seats", "%d seats are reserved or in use; the subscription cannot go below that.", n)
}
