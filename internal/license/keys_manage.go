package license

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license/invitations"
	"gatehouse/internal/store"
)

// Key is a license key as lists show it. The key itself is never in it;
// admins read it with RevealKey.
type Key struct {
	ID             string
	SubscriptionID string
	AccountID      string
	Kind           string // primary, reserved, dynamic
	Name           string
	Last           string // last group of the key
	Masked         string // ••••••-…-LAST
	Seats          int    // reserved allotment or dynamic cap; 0 for the primary key
	Used           int    // seats its activations hold
	Free           int    // seats it could still take now (filled by Subscription)
	CreatedAt      store.Time
}

// KindLabel names a key kind for people.
func KindLabel(kind string) string {
	switch kind {
	case KindPrimary:
		return "Primary"
	case KindReserved:
		return "Reserved"
	case KindDynamic:
		return "Dynamic"
	}
	return kind
}

const keyColumns = `id, subscription_id, COALESCE(account_id, ''), kind, name, key_last, seats, used, created_at`

func scanKey(row scanner) (*Key, error) {
	var k Key
	if err := row.Scan(&k.ID, &k.SubscriptionID, &k.AccountID, &k.Kind, &k.Name, &k.Last, &k.Seats, &k.Used, &k.CreatedAt); err != nil {
		return nil, err
	}
	k.Masked = MaskKey(k.Last)
	return &k, nil
}

func (s *Service) keysOf(ctx context.Context, q store.Querier, accountID, subscriptionID string) ([]Key, error) {
	out, err := store.QueryAll(ctx, q, func(row store.Scanner) (Key, error) {
		k, err := scanKey(row)
		if err != nil {
			return Key{}, err
		}
		return *k, nil
	}, `SELECT `+keyColumns+` FROM license_keys WHERE account_id = ? AND subscription_id = ? AND deleted_at IS NULL
		ORDER BY CASE kind WHEN 'primary' THEN 0 ELSE 1 END, created_at, id`, accountID, subscriptionID)
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// getKey loads a live key of accountID.
func getKey(ctx context.Context, q store.Querier, accountID, keyID string) (*Key, error) {
	if !ids.Valid(keyID) {
		return nil, store.ErrNotFound
	}
	k, err := scanKey(q.QueryRow(ctx, `SELECT `+keyColumns+` FROM license_keys WHERE id = ? AND account_id = ? AND deleted_at IS NULL`, keyID, accountID))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return k, nil
}

// assignedKeys returns the ids of keys a license admin is assigned to.
func (s *Service) assignedKeys(ctx context.Context, q store.Querier, caller Caller) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT key_id FROM license_key_admins WHERE account_id = ? AND person_id = ?`, caller.AccountID, caller.PersonID)
	if err != nil {
		return nil, fmt.Errorf("assigned keys: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}

// mayManageKey: admins manage every key; a license admin manages the keys
// assigned to them, and every key of a subscription whose primary key is
// assigned to them (sublicenses derive from it).
func (s *Service) mayManageKey(ctx context.Context, q store.Querier, caller Caller, k *Key) error {
	switch caller.Role {
	case RoleAdmin:
		return nil
	case RoleLicenseAdmin:
		var n int
		err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_key_admins ka JOIN license_keys k ON k.id = ka.key_id
			WHERE ka.account_id = ? AND ka.person_id = ? AND (ka.key_id = ? OR (k.kind = 'primary' AND k.subscription_id = ?))`,
			caller.AccountID, caller.PersonID, k.ID, k.SubscriptionID).Scan(&n)
		if err != nil {
			return fmt.Errorf("check key admin: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return ErrForbidden
}

// mayManageSubscription: admins, and license admins assigned to the
// subscription's primary key, may create sublicenses and change allotments.
func (s *Service) mayManageSubscription(ctx context.Context, q store.Querier, caller Caller, subscriptionID string) error {
	switch caller.Role {
	case RoleAdmin:
		return nil
	case RoleLicenseAdmin:
		var n int
		err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_key_admins ka JOIN license_keys k ON k.id = ka.key_id
			WHERE ka.account_id = ? AND ka.person_id = ? AND k.kind = 'primary' AND k.subscription_id = ?`,
			caller.AccountID, caller.PersonID, subscriptionID).Scan(&n)
		if err != nil {
			return fmt.Errorf("check key admin: %w", err)
		}
		if n > 0 {
			return nil
		}
	}
	return ErrForbidden
}

// Key returns one key of the caller's account that the caller may manage.
func (s *Service) Key(ctx context.Context, caller Caller, keyID string) (*Key, error) {
	k, err := getKey(ctx, s.DB, caller.AccountID, keyID)
	if err != nil {
		return nil, err
	}
	if err := s.mayManageKey(ctx, s.DB, caller, k); err != nil {
		return nil, err
	}
	sub, err := getSubscription(ctx, s.DB, k.SubscriptionID)
	if err != nil {
		return nil, err
	}
	k.Free = keyFree(k, sub)
	return k, nil
}

// RevealKey returns the full key. Only admins may see keys unmasked; each
// reveal is audited.
func (s *Service) RevealKey(ctx context.Context, caller Caller, keyID string, actor audit.Actor) (string, error) {
	if caller.Role != RoleAdmin {
		return "", ErrForbidden
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return "", err
	}
	var sealed, hash string
	var key string
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `SELECT key_sealed, key_hash FROM license_keys WHERE id = ?`, k.ID).Scan(&sealed, &hash); err != nil {
			return err
		}
		key, err = sec.open("license_key:"+hash, sealed)
		if err != nil {
			return fmt.Errorf("reveal key: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.key_revealed",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k)})
	})
	if err != nil {
		return "", err
	}
	return key, nil
}

func keyLabel(k *Key) string {
	name := k.Name
	if name == "" {
		name = KindLabel(k.Kind) + " key"
	}
	return name + " (…" + k.Last + ")"
}

// KeyInput describes a sublicense key to create or its new settings.
type KeyInput struct {
	Name  string
	Kind  string // reserved or dynamic
	Seats int    // reserved allotment or dynamic cap
}

func (in *KeyInput) validate() error {
	in.Name = strings.TrimSpace(in.Name)
	in.Kind = strings.ToLower(strings.TrimSpace(in.Kind))
	switch {
	case in.Name == "":
		return fieldErr("name", "Enter a name for the key, e.g. the group that will use it.")
	case utf8.RuneCountInString(in.Name) > 80:
		return fieldErr("name", "Use at most 80 characters.")
	case !utf8.ValidString(in.Name) || strings.ContainsAny(in.Name, "\x00\r\n\t"):
		return fieldErr("name", "Use letters, digits and punctuation only.")
	case in.Kind != KindReserved && in.Kind != KindDynamic:
		return fieldErr("kind", "Choose Reserved or Dynamic.")
	case in.Seats < 1:
		return fieldErr("seats", "Allot at least 1 seat.")
	case in.Seats > 1_000_000:
		return fieldErr("seats", "That is more seats than any subscription has.")
	}
	return nil
}

// CreateSublicense derives a sublicense key from a subscription and returns
// it with the full key (shown to the admin).
func (s *Service) CreateSublicense(ctx context.Context, caller Caller, subscriptionID string, in KeyInput, actor audit.Actor) (*Key, string, error) {
	if err := in.validate(); err != nil {
		return nil, "", err
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, "", err
	}
	plain := GenerateKey()
	hash := keyHash(plain)
	k := &Key{ID: ids.New(), SubscriptionID: subscriptionID, AccountID: caller.AccountID, Kind: in.Kind, Name: in.Name,
		Last: keyLast(plain), Masked: MaskKey(keyLast(plain)), Seats: in.Seats, CreatedAt: store.At(s.now())}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		sub, err := getSubscription(ctx, tx, subscriptionID)
		if err != nil || sub.AccountID != caller.AccountID {
			return store.ErrNotFound
		}
		if err := s.mayManageSubscription(ctx, tx, caller, sub.ID); err != nil {
			return err
		}
		if sub.State(s.now()) == StatePurged {
			return fieldErr("subscription", "This subscription has ended and its settings were purged.")
		}
		if in.Kind == KindReserved {
			if err := moveSeats(ctx, tx, sub.ID, in.Seats, 0); err != nil {
				if errors.Is(err, errNoRoom) {
					return s.reserveRoomError(ctx, tx, sub.ID, in.Seats)
				}
				return err
			}
		} else if pool := sub.Seats - sub.Reserved; in.Seats > pool {
			return fieldErr("seats", "A dynamic key draws from the shared pool, which has %s; allot at most %d.", seatCount(pool), pool)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO license_keys (id, subscription_id, account_id, kind, name, key_hash, key_last, key_sealed, seats, used, created_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)`, k.ID, sub.ID, caller.AccountID, k.Kind, k.Name, hash, k.Last,
			sec.seal("license_key:"+hash, plain), k.Seats, k.CreatedAt); err != nil {
			if store.IsUniqueViolation(err) {
				return nameTaken(in.Name)
			}
			return fmt.Errorf("create sublicense key: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.sublicense_created",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k),
			After: map[string]any{"name": k.Name, "kind": k.Kind, "seats": k.Seats, "subscription_id": sub.ID}})
	})
	if err != nil {
		return nil, "", err
	}
	return k, plain, nil
}

var errNoRoom = errors.New("no room for the seats in the subscription")

func nameTaken(name string) error {
	return fieldErr("name", "This subscription already has a key named %s; choose another name.", name)
}

// moveSeats changes a subscription's reserved and shared_used counters by
// dReserved and dShared in one conditional UPDATE that keeps invariant (I1).
func moveSeats(ctx context.Context, q store.Querier, subscriptionID string, dReserved, dShared int) error {
	res, err := q.Exec(ctx, `UPDATE subscriptions SET reserved = reserved + ?, shared_used = shared_used + ?
		WHERE id = ? AND reserved + ? >= 0 AND shared_used + ? >= 0 AND reserved + ? + shared_used + ? <= seats`,
		dReserved, dShared, subscriptionID, dReserved, dShared, dReserved, dShared)
	if err != nil {
		return fmt.Errorf("move seats: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("move seats: %w", err)
	} else if n != 1 {
		return errNoRoom
	}
	return nil
}

// reserveRoomError explains how many seats could still be reserved.
func (s *Service) reserveRoomError(ctx context.Context, q store.Querier, subscriptionID string, asked int) error {
	sub, err := getSubscription(ctx, q, subscriptionID)
	if err != nil {
		return err
	}
	room := sub.SharedFree()
	return fieldErr("seats", "Only %d of the subscription's %d seats can still be reserved (%d %s reserved by other keys, %d %s in use from the shared pool); you asked for %d.",
		room, sub.Seats, sub.Reserved, isAre(sub.Reserved), sub.SharedUsed, isAre(sub.SharedUsed), asked)
}

// UpdateKey renames a key and, for sublicense keys, changes its type and
// seat allotment. The primary key can only be renamed.
func (s *Service) UpdateKey(ctx context.Context, caller Caller, keyID string, in KeyInput, actor audit.Actor) (*Key, error) {
	var out *Key
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		if err := s.mayManageKey(ctx, tx, caller, k); err != nil {
			return err
		}
		before := map[string]any{"name": k.Name, "kind": k.Kind, "seats": k.Seats}
		if k.Kind == KindPrimary {
			in.Kind, in.Seats = KindDynamic, 1 // only the name is validated and used
			if err := in.validate(); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE license_keys SET name = ? WHERE id = ?`, in.Name, k.ID); err != nil {
				if store.IsUniqueViolation(err) {
					return nameTaken(in.Name)
				}
				return fmt.Errorf("rename key: %w", err)
			}
			k.Name = in.Name
			out = k
			return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.key_updated",
				TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), Before: before, After: map[string]any{"name": k.Name}})
		}
		if err := in.validate(); err != nil {
			return err
		}
		if (in.Kind != k.Kind || in.Seats != k.Seats) && s.mayManageSubscription(ctx, tx, caller, k.SubscriptionID) != nil {
			return ErrForbidden
		}
		// Lock the key row and change it only if it still is what we read and
		// its new cap holds what it uses; RETURNING gives used under the lock.
		var used int
		err = tx.QueryRow(ctx, `UPDATE license_keys SET name = ?, kind = ?, seats = ?
			WHERE id = ? AND kind = ? AND seats = ? AND deleted_at IS NULL AND used <= ? RETURNING used`,
			in.Name, in.Kind, in.Seats, k.ID, k.Kind, k.Seats, in.Seats).Scan(&used)
		if store.IsUniqueViolation(err) {
			return nameTaken(in.Name)
		} else if isNoRows(err) {
			cur, gerr := getKey(ctx, tx, caller.AccountID, keyID)
			if gerr != nil {
				return gerr
			}
			if cur.Used > in.Seats {
				return fieldErr("seats", "%s of this key %s in use; free some before lowering its seats to %d.", seatCount(cur.Used), isAre(cur.Used), in.Seats)
			}
			return fieldErr("seats", "The key was changed by someone else meanwhile; reload and try again.")
		} else if err != nil {
			return fmt.Errorf("update key: %w", err)
		}
		var dRes, dShared int
		if k.Kind == KindReserved {
			dRes -= k.Seats
		} else {
			dShared -= used
		}
		if in.Kind == KindReserved {
			dRes += in.Seats
		} else {
			dShared += used
		}
		if dRes != 0 || dShared != 0 {
			if err := moveSeats(ctx, tx, k.SubscriptionID, dRes, dShared); err != nil {
				if errors.Is(err, errNoRoom) {
					if in.Kind == KindReserved {
						return s.reserveRoomError(ctx, tx, k.SubscriptionID, in.Seats)
					}
					return fieldErr("kind", "The shared pool has no room for the %s this key holds; free seats first.", seatCount(used))
				}
				return err
			}
		}
		if in.Kind == KindDynamic {
			sub, err := getSubscription(ctx, tx, k.SubscriptionID)
			if err != nil {
				return err
			}
			if pool := sub.Seats - sub.Reserved; in.Seats > pool {
				return fieldErr("seats", "A dynamic key draws from the shared pool, which has %s; allot at most %d.", seatCount(pool), pool)
			}
		}
		k.Name, k.Kind, k.Seats, k.Used = in.Name, in.Kind, in.Seats, used
		out = k
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.key_updated",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), Before: before,
			After: map[string]any{"name": k.Name, "kind": k.Kind, "seats": k.Seats}})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteKey deletes a sublicense key: its computers are deactivated, its
// pending invitations revoked and its seats returned. Without confirm it
// returns a *ConfirmationError saying what would happen.
func (s *Service) DeleteKey(ctx context.Context, caller Caller, keyID string, confirm bool, actor audit.Actor) (deactivated int, err error) {
	if !confirm {
		k, err := getKey(ctx, s.DB, caller.AccountID, keyID)
		if err != nil {
			return 0, err
		}
		if k.Kind == KindPrimary {
			return 0, fieldErr("key", "The primary key cannot be deleted.")
		}
		if err := s.mayManageSubscription(ctx, s.DB, caller, k.SubscriptionID); err != nil {
			return 0, err
		}
		return 0, &ConfirmationError{Action: "delete_key", Message: fmt.Sprintf(
			"Deleting %s gives back its %s in use (its computers are deactivated, SSO seats drawn from it are revoked) and revokes its pending invitations. Delete it?", keyLabel(k), seatCount(k.Used))}
	}
	now := store.At(s.now())
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		if k.Kind == KindPrimary {
			return fieldErr("key", "The primary key cannot be deleted.")
		}
		if err := s.mayManageSubscription(ctx, tx, caller, k.SubscriptionID); err != nil {
			return err
		}
		// Key row first (lock order: key → activations → subscription).
		var kind string
		var seats int
		err = tx.QueryRow(ctx, `UPDATE license_keys SET deleted_at = ? WHERE id = ? AND account_id = ? AND deleted_at IS NULL RETURNING kind, seats`,
			now, k.ID, caller.AccountID).Scan(&kind, &seats)
		if isNoRows(err) {
			return store.ErrNotFound
		} else if err != nil {
			return fmt.Errorf("delete key: %w", err)
		}
		res, err := tx.Exec(ctx, `UPDATE license_activations SET status = 'deactivated', deactivated_at = ?, deactivated_by = 'key_deleted'
			WHERE key_id = ? AND status = 'active' AND method <> 'sso'`, now, k.ID)
		if err != nil {
			return fmt.Errorf("delete key: deactivate computers: %w", err)
		}
		n, _ := res.RowsAffected()
		// Per-user (SSO) seats count once per person, not per device (peruser.go).
		ssoDevices, userSeats, err := releaseKeyUserSeatsTx(ctx, tx, k.ID, "key_deleted", now)
		if err != nil {
			return err
		}
		deactivated = int(n) + ssoDevices
		n += int64(userSeats)
		if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used - ? WHERE id = ?`, n, k.ID); err != nil {
			return fmt.Errorf("delete key: %w", err)
		}
		if kind == KindReserved {
			err = moveSeats(ctx, tx, k.SubscriptionID, -seats, 0)
		} else {
			err = moveSeats(ctx, tx, k.SubscriptionID, 0, -int(n))
		}
		if err != nil {
			return fmt.Errorf("delete key: return seats: %w", err)
		}
		if err := invitations.RevokeForKeyTx(ctx, tx, k.ID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.sublicense_deleted",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k),
			Before: map[string]any{"name": k.Name, "kind": kind, "seats": seats}, After: map[string]any{"computers_deactivated": deactivated}})
	})
	return deactivated, err
}

// KeyAdmin is a person assigned to manage a key.
type KeyAdmin struct {
	PersonID string
	Email    string
	Name     string
}

// KeyAdmins lists the license admins assigned to a key (admins only).
func (s *Service) KeyAdmins(ctx context.Context, caller Caller, keyID string) ([]KeyAdmin, error) {
	if caller.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	if _, err := getKey(ctx, s.DB, caller.AccountID, keyID); err != nil {
		return nil, err
	}
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (KeyAdmin, error) {
		var a KeyAdmin
		return a, row.Scan(&a.PersonID, &a.Email, &a.Name)
	}, `SELECT p.id, p.email, p.display_name FROM license_key_admins ka JOIN people p ON p.id = ka.person_id
		WHERE ka.account_id = ? AND ka.key_id = ? ORDER BY p.email`, caller.AccountID, keyID)
	if err != nil {
		return nil, fmt.Errorf("key admins: %w", err)
	}
	return out, nil
}

// AssignKeyAdmin lets a license admin of the account manage a key (admins
// only). Assigning someone to the primary key lets them manage the whole
// subscription.
func (s *Service) AssignKeyAdmin(ctx context.Context, caller Caller, keyID, personID string, actor audit.Actor) error {
	if caller.Role != RoleAdmin {
		return ErrForbidden
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		var role, email string
		err = tx.QueryRow(ctx, `SELECT m.role, p.email FROM memberships m JOIN people p ON p.id = m.person_id
			WHERE m.account_id = ? AND m.person_id = ? AND m.status = 'active'`, caller.AccountID, personID).Scan(&role, &email)
		if isNoRows(err) {
			return fieldErr("person", "Choose a member of this business account.")
		} else if err != nil {
			return err
		}
		if role != RoleLicenseAdmin {
			return fieldErr("person", "Only license admins are assigned to keys; admins manage every key already.")
		}
		_, err = tx.Exec(ctx, `INSERT INTO license_key_admins (account_id, key_id, person_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (key_id, person_id) DO NOTHING`, caller.AccountID, k.ID, personID, store.At(s.now()))
		if err != nil {
			return fmt.Errorf("assign key admin: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.key_admin_assigned",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), After: map[string]any{"person": email}})
	})
}

// UnassignKeyAdmin removes a license admin from a key (admins only).
func (s *Service) UnassignKeyAdmin(ctx context.Context, caller Caller, keyID, personID string, actor audit.Actor) error {
	if caller.Role != RoleAdmin {
		return ErrForbidden
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		k, err := getKey(ctx, tx, caller.AccountID, keyID)
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM license_key_admins WHERE account_id = ? AND key_id = ? AND person_id = ?`, caller.AccountID, k.ID, personID)
		if err != nil {
			return fmt.Errorf("unassign key admin: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: caller.AccountID, Action: "license.key_admin_removed",
			TargetType: "license_key", TargetID: k.ID, TargetLabel: keyLabel(k), Before: map[string]any{"person_id": personID}})
	})
}

// seatCount says "1 seat" or "N seats".
func seatCount(n int) string {
	if n == 1 {
		return "1 seat"
	}
	return fmt.Sprintf("%d seats", n)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
