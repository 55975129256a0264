package license

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// RegisterInput is the Register Key form.
type RegisterInput struct {
	Key         string // as typed
	DisplayName string // optional name of the license in this account
	// NewAccount holds the organization details when the caller belongs to
	// no business account (Caller.AccountID == ""): the account is created
	// with the key in it, in the same transaction.
	NewAccount *NewAccount
	// SuspendTrial confirms suspending the account's active Enterprise trial
	// when registering a purchased Enterprise key.
	SuspendTrial bool
}

// RegisterResult tells what registration did.
type RegisterResult struct {
	AccountID      string
	AccountCreated bool
	Subscription   *Subscription
	SuspendedTrial *Subscription
}

// needAccountMessage is the *FieldError (field "account") a person without
// a business account gets when registering a key without NewAccount.
const needAccountMessage = "Tell us about your organization: a business account is created for it with this key in it."

// KeyPreview describes a key before it is registered.
type KeyPreview struct {
	Edition    string
	Model      string
	Seats      int
	Trial      bool
	EndsAt     store.Time
	Registered bool // already registered to some business account
	Mine       bool // … to the caller's account
}

// PreviewKey validates a typed key and tells what it is, for the Register
// Key form. It reveals nothing about whose account holds it.
func (s *Service) PreviewKey(ctx context.Context, caller Caller, key string) (*KeyPreview, error) {
	norm, err := NormalizeKey(key)
	if err != nil {
		return nil, &FieldError{Field: "key", Message: err.Error()}
	}
	sub, kind, err := subscriptionByKey(ctx, s.DB, norm)
	if err != nil {
		return nil, err
	}
	if kind != KindPrimary && sub.AccountID != caller.AccountID {
		return nil, fieldErr("key", "No license has this key. Check it and try again.")
	}
	return &KeyPreview{Edition: sub.Edition, Model: sub.Model, Seats: sub.Seats, Trial: sub.Trial, EndsAt: sub.EndsAt,
		Registered: sub.AccountID != "", Mine: sub.AccountID != "" && sub.AccountID == caller.AccountID}, nil
}

func subscriptionByKey(ctx context.Context, q store.Querier, norm string) (*Subscription, string, error) {
	var subID, kind string
	err := q.QueryRow(ctx, `SELECT subscription_id, kind FROM license_keys WHERE key_hash = ?`, keyHash(norm)).Scan(&subID, &kind)
	if isNoRows(err) {
		return nil, "", fieldErr("key", "No license has this key. Check it and try again.")
	} else if err != nil {
		return nil, "", fmt.Errorf("look up key: %w", err)
	}
	sub, err := getSubscription(ctx, q, subID)
	if err != nil {
		return nil, "", err
	}
	return sub, kind, nil
}

// RegisterKey registers a primary license key into the caller's business
// account, or — when the caller has none — creates one from NewAccount with
// the key in it. A key belongs to exactly one account: a second attempt from
// another account fails with a clear message and is audited in both
// accounts. Registering the same key again into the same account is a clear
// message too (double submits). An account holds one Enterprise
// subscription: a purchased Enterprise key over an active Enterprise trial
// needs SuspendTrial (else a *ConfirmationError), anything else is refused.
func (s *Service) RegisterKey(ctx context.Context, caller Caller, in RegisterInput, actor audit.Actor) (*RegisterResult, error) {
	norm, err := NormalizeKey(in.Key)
	if err != nil {
		return nil, &FieldError{Field: "key", Message: err.Error()}
	}
	in.DisplayName = strings.TrimSpace(in.DisplayName)
	if utf8.RuneCountInString(in.DisplayName) > 80 || strings.ContainsAny(in.DisplayName, "\x00\r\n") {
		return nil, fieldErr("display_name", "Use at most 80 characters on one line.")
	}
	if caller.AccountID != "" && caller.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if caller.AccountID == "" && in.NewAccount == nil {
		return nil, fieldErr("account", needAccountMessage)
	}
	res := &RegisterResult{}
	var refused error
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, kind, err := subscriptionByKey(ctx, tx, norm)
		if err != nil {
			return err
		}
		switch {
		case sub.AccountID != "" && sub.AccountID == caller.AccountID:
			return fieldErr("key", "This key is already registered to this business account.")
		case sub.AccountID != "":
			// Refused, but the attempt is recorded in both accounts; the
			// transaction commits the audit entries only.
			label := "key …" + keyLast(norm)
			for _, acc := range uniq(sub.AccountID, caller.AccountID) {
				if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: acc, Action: "license.key_register_refused",
					TargetType: "subscription", TargetID: sub.ID, TargetLabel: label,
					After: map[string]any{"reason": "registered to another business account", "attempted_by_account": caller.AccountID}}); err != nil {
					return err
				}
			}
			refused = fieldErr("key", "This key is already registered to another business account. If your organization owns it, ask that account's admin or contact support.")
			return nil
		case kind != KindPrimary:
			return fieldErr("key", "No license has this key. Check it and try again.")
		case !sub.PurgedAt.IsZero() || sub.State(s.now()) == StateExpired:
			return fieldErr("key", "This license has ended; it can no longer be registered.")
		}
		accountID := caller.AccountID
		if accountID == "" {
			acc, err := s.accounts.CreateBusinessAccountTx(ctx, tx, caller.PersonID, account.AccountInput{Name: in.NewAccount.Name,
				Country: in.NewAccount.Country, ContactName: in.NewAccount.ContactName, ContactEmail: in.NewAccount.ContactEmail,
				ContactPhone: in.NewAccount.ContactPhone}, actor)
			var fe *account.FieldError
			if errors.As(err, &fe) {
				// The account's own rules refused the details; the caller
				// sees licensing's field error, like every other refusal.
				return fieldErr(fe.Field, "%s", fe.Message)
			}
			if err != nil {
				return err
			}
			accountID = acc.ID
			res.AccountCreated = true
		}
		res.AccountID = accountID
		if sub.Edition == EditionEnterprise {
			if err := markEnded(ctx, tx, accountID, s.now()); err != nil {
				return err
			}
			other, err := activeEnterprise(ctx, tx, accountID, sub.ID)
			if err != nil {
				return err
			}
			if other != nil {
				if other.Trial && !sub.Trial {
					if !in.SuspendTrial {
						return &ConfirmationError{Action: "suspend_trial", Message: fmt.Sprintf(
							"This business account has an active Enterprise trial (%s). Registering this purchased Enterprise key suspends the trial: its golden images and policies are kept, but policies become unassigned. Continue?", other.Label())}
					}
					if err := s.suspendTx(ctx, tx, other, actor, "purchased Enterprise key registered"); err != nil {
						return err
					}
					res.SuspendedTrial = other
				} else {
					return fieldErr("key", "This business account already holds an Enterprise subscription (%s); an account can hold only one.", other.Label())
				}
			}
		}
		now := store.At(s.now())
		r, err := tx.Exec(ctx, `UPDATE subscriptions SET account_id = ?, name = ?, registered_at = ? WHERE id = ? AND account_id IS NULL`,
			accountID, in.DisplayName, now, sub.ID)
		if store.IsUniqueViolation(err) {
			return fieldErr("key", "This business account already holds an Enterprise subscription; an account can hold only one.")
		} else if err != nil {
			return fmt.Errorf("register key: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return fieldErr("key", "This key was registered by someone else a moment ago.")
		}
		if _, err := tx.Exec(ctx, `UPDATE license_keys SET account_id = ? WHERE subscription_id = ?`, accountID, sub.ID); err != nil {
			return fmt.Errorf("register key: %w", err)
		}
		sub.AccountID, sub.Name = accountID, in.DisplayName
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "license.key_registered",
			TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(),
			After: map[string]any{"edition": sub.Edition, "model": sub.Model, "seats": sub.Seats, "trial": sub.Trial, "name": in.DisplayName}})
	})
	if err != nil {
		return nil, err
	}
	if refused != nil {
		return nil, refused
	}
	sub, err := s.findSubscription(ctx, s.DB.Writer(), norm)
	if err != nil {
		return nil, err
	}
	res.Subscription = sub
	return res, nil
}

func uniq(a, b string) []string {
	if b == "" || a == b {
		return []string{a}
	}
	return []string{a, b}
}

// RenameSubscription changes the display name of a license (admins).
func (s *Service) RenameSubscription(ctx context.Context, caller Caller, subscriptionID, name string, actor audit.Actor) error {
	if caller.Role != RoleAdmin {
		return ErrForbidden
	}
	name = strings.TrimSpace(name)
	if utf8.RuneCountInString(name) > 80 || strings.ContainsAny(name, "\x00\r\n") {
		return fieldErr("name", "Use at most 80 characters on one line.")
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := getSubscription(ctx, tx, subscriptionID)
		if err != nil || sub.AccountID != caller.AccountID {
			return store.ErrNotFound
		}
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET name = ? WHERE id = ? AND account_id = ?`, name, sub.ID, caller.AccountID); err != nil {
			return fmt.Errorf("rename subscription: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.subscription_renamed",
			TargetType: "subscription", TargetID: sub.ID, TargetLabel: sub.Label(),
			Before: map[string]any{"name": sub.Name}, After: map[string]any{"name": name}})
	})
}
