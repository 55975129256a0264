package license

// Per-user (SSO) seats (spec 04).
//
// # Seat arithmetic
//
// A per-user seat is an active row of license_user_seats on a key k. It
// counts once in used(k), and once in subscriptions.shared_used when k is the
// primary key or a dynamic key — exactly like one per-device activation —
// however many devices the person activates. The person's devices are
// license_activations rows with method 'sso' and person_id set; they hold no
// seat of their own. So invariant (I5) of doc.go reads, with per-user seats:
//
//	(I5') used(k) = active non-SSO activations of k + active user seats on k
//	(I6)  every active SSO activation of k belongs to a person whose active
//	      seat is on k, and that seat's devices = their number
//	(I7)  at most one active seat per person and account (unique index)
//	(I8)  devices ≤ the account's device cap when the device was added
//
// Taking a per-user seat is the same conditional UPDATE as a per-device one
// (used + 1 WHERE used < seats, then shared_used + 1 WHERE reserved +
// shared_used < seats), inside the transaction that records the seat row and
// the device; a person who already holds a seat on k only adds a device:
// UPDATE … SET devices = devices + 1 WHERE devices < cap. Releasing flips the
// seat from active to released with a conditional UPDATE and only the
// transaction that flipped it decrements the counters, so a seat is returned
// exactly once whoever releases it (the IdP over SCIM, an admin, the
// inactivity job, the person's last device, a deleted key).
//
// Lock order, the same as the rest of the package: key rows (sorted by id),
// then seat rows, then activation rows, then the subscription row. Every
// writer of a seat row first locks its key row (UPDATE license_keys SET used
// = used … RETURNING), so a seat read after that lock is stable.
//
// # Pool choice
//
// A person whose groups include groups mapped to sublicense keys takes the
// seat from such a key; in no mapped group, from the primary key. In groups
// mapped to several keys the key created first wins (created_at, then id),
// and admins see the person in the conflict warning. Only live
// subscriptions with the per-user or mixed model count; with several, the
// primary key of the one registered first is the default pool.
//
// A person whose pool changed (their groups or the mapping changed) moves on
// their next SSO activation: in one transaction the new seat is taken and the
// old one released, and their devices on the old key are revoked
// ("revoked:moved": they activate again with SSO). When the new pool is full
// nothing changes and the activation is refused.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Refusal reasons of SSO activation and of per-user seats (client API error
// codes, also shown to the person and logged for the admin). Reasons that
// sso sign-in shares (unknown_domain, integration_inactive, …) keep their
// sso names.
const (
	CodeRevoked               = "revoked"                // the person's per-user seat was revoked
	CodeNotInDesktopUsers     = "not_in_desktop_users"   // not in the IdP's Desktop Users group
	CodeNoSSOLicense          = "no_sso_license"         // the account has no per-user or mixed subscription
	CodeSubscriptionExpired   = "subscription_expired"   // the per-user subscription has ended
	CodeSubscriptionSuspended = "subscription_suspended" // the per-user subscription is suspended
	CodeDeviceLimit           = "device_limit"           // the person has activated as many devices as allowed
	CodeAttemptExpired        = "attempt_expired"        // the activation attempt ran out of time
	CodeAttemptNotFound       = "attempt_not_found"      // no such activation attempt
	CodeAttemptUsed           = "attempt_used"           // the attempt was completed or redeemed already
	CodeInvalidVerifier       = "invalid_verifier"       // the code verifier does not match the challenge
	CodeEmailMismatch         = "email_mismatch"         // signed in as someone else than the email Desktop sent
	CodeUnknownDomain         = "unknown_domain"         // no account verified the email's domain
	CodeIntegrationInactive   = "integration_inactive"   // the account's IdP integration is not active
)

// Revocation reasons (deactivated_by = "revoked:" + reason on the devices,
// released_reason on the seat).
const (
	RevokeDeactivatedInIdP = "deactivated_in_idp"
	RevokeRemovedFromUsers = "removed_from_desktop_users"
	RevokeAdmin            = "admin"
	RevokeInactive         = "inactive"
	RevokeMoved            = "moved"
)

const revokedPrefix = "revoked:"

// DefaultDeviceCap is how many devices a person may activate with one
// per-user seat unless the account sets another number.
const DefaultDeviceCap = 5

// pool is where a person's seat comes from.
type pool struct {
	keyID, keyName, keyKind, keyLast string
	subscriptionID                   string
	// candidates are the keys the person's groups map to (sorted: the
	// chosen one first); more than one is a conflict admins must fix.
	candidates []string
}

// userGrant is one person asking for a seat for one device.
type userGrant struct {
	accountID, personID string
	pool                *pool
	dev                 Device
	cap                 int
	groups              []string
	now                 time.Time
	// link, when set, runs first in the granting transaction and returns
	// personID (SSOCompleteInput.Link).
	link func(ctx context.Context, tx *store.Tx) (string, error)
}

type userGrantResult struct {
	activationID string
	seatID       string
	newSeat      bool
	reactivated  bool
	movedFrom    string // key id the seat moved away from
}

// lockKey locks a key row of the account and returns its kind, subscription
// and whether it is deleted.
func lockKey(ctx context.Context, tx *store.Tx, accountID, keyID string) (kind, subID string, deleted bool, err error) {
	err = tx.QueryRow(ctx, `UPDATE license_keys SET used = used WHERE id = ? AND account_id = ?
		RETURNING kind, subscription_id, deleted_at IS NOT NULL`, keyID, accountID).Scan(&kind, &subID, &deleted)
	if err != nil {
		return "", "", false, fmt.Errorf("lock key: %w", store.NotFound(err))
	}
	return kind, subID, deleted, nil
}

type seatRow struct {
	id, keyID string
	devices   int
}

func activeSeat(ctx context.Context, q store.Querier, accountID, personID string) (*seatRow, error) {
	var r seatRow
	err := q.QueryRow(ctx, `SELECT id, key_id, devices FROM license_user_seats WHERE account_id = ? AND person_id = ? AND status = 'active'`,
		accountID, personID).Scan(&r.id, &r.keyID, &r.devices)
	if isNoRows(err) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("user seat: %w", err)
	}
	return &r, nil
}

// grantUserSeatTx gives g.personID a seat on g.pool's key (or finds the one
// they hold) and registers g.dev as one of their devices, inside tx.
// Refusals are *DeviceError; errRetry means a concurrent change was seen and
// the whole transaction must be retried.
func (s *Service) grantUserSeatTx(ctx context.Context, tx *store.Tx, g *userGrant) (*userGrantResult, error) {
	nowT := store.At(g.now)
	target := g.pool.keyID
	before, err := activeSeat(ctx, tx, g.accountID, g.personID)
	if err != nil {
		return nil, err
	}
	lockIDs := []string{target}
	if before != nil && before.keyID != target {
		lockIDs = append(lockIDs, before.keyID)
	}
	slices.Sort(lockIDs)
	kinds := map[string]string{}
	subs := map[string]string{}
	for _, id := range lockIDs {
		kind, subID, deleted, err := lockKey(ctx, tx, g.accountID, id)
		if err != nil {
			return nil, err
		}
		if id == target && deleted {
			return nil, deviceErr(CodeKeyDeleted, "The license key your user group draws from was deleted by its administrator.")
		}
		kinds[id], subs[id] = kind, subID
	}
	seat, err := activeSeat(ctx, tx, g.accountID, g.personID)
	if err != nil {
		return nil, err
	}
	if seat != nil && !slices.Contains(lockIDs, seat.keyID) {
		return nil, errRetry // the seat moved between the read and the locks
	}
	res := &userGrantResult{}
	groupsJSON, _ := json.Marshal(nonNil(g.groups))
	if seat != nil && seat.keyID != target {
		if _, err := releaseSeatLockedTx(ctx, tx, seat.id, seat.keyID, g.personID, kinds[seat.keyID], subs[seat.keyID],
			RevokeMoved, "system", nowT); err != nil {
			return nil, err
		}
		res.movedFrom = seat.keyID
		seat = nil
	}

	var exID, exStatus, exMethod, exPerson string
	err = tx.QueryRow(ctx, `SELECT id, status, method, COALESCE(person_id, '') FROM license_activations WHERE key_id = ? AND hardware_uuid = ?`,
		target, g.dev.HardwareUUID).Scan(&exID, &exStatus, &exMethod, &exPerson)
	if err != nil && !isNoRows(err) {
		return nil, fmt.Errorf("sso seat: device: %w", err)
	}
	active := exStatus == "active"
	mine := active && exMethod == MethodSSO && exPerson == g.personID
	if mine && seat == nil {
		return nil, fmt.Errorf("sso seat: person %s has an active device on key %s without a seat there (I6)", g.personID, target)
	}
	if active && !mine {
		// The Mac holds an activation on this key already: per-device, or
		// another person's SSO device (a shared Mac). It gives its seat
		// back first, exactly once, through the common deactivation path.
		if _, err := deactivateTx(ctx, tx, []actRef{{id: exID, keyID: target}}, "replaced_by_sso", nowT); err != nil {
			return nil, err
		}
	}

	switch {
	case seat != nil && mine:
		// The same Mac again: a new credential, no new seat or device.
		if _, err := tx.Exec(ctx, `UPDATE license_activations SET credential_hash = ?, serial = ?, computer_name = ?, macos_user = ?,
			app_version = ?, last_check_at = ? WHERE id = ? AND status = 'active'`,
			ids.Hash(ids.Secret(32)), g.dev.Serial, g.dev.ComputerName, g.dev.MacOSUser, g.dev.AppVersion, nowT, exID); err != nil {
			return nil, fmt.Errorf("sso seat: reactivate: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE license_user_seats SET last_used_at = ?, groups_json = ? WHERE id = ?`, nowT, string(groupsJSON), seat.id); err != nil {
			return nil, fmt.Errorf("sso seat: %w", err)
		}
		res.activationID, res.seatID, res.reactivated = exID, seat.id, true
		return res, nil
	case seat != nil:
		r, err := tx.Exec(ctx, `UPDATE license_user_seats SET devices = devices + 1, last_used_at = ?, groups_json = ?
			WHERE id = ? AND status = 'active' AND devices < ?`, nowT, string(groupsJSON), seat.id, g.cap)
		if err != nil {
			return nil, fmt.Errorf("sso seat: add device: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return nil, deviceErr(CodeDeviceLimit, "You have activated Desktop on %d computers, the most your organization allows. Deactivate Desktop on one of them first, or ask your IT admin.", g.cap)
		}
		res.seatID = seat.id
	default:
		kind := kinds[target]
		r, err := tx.Exec(ctx, `UPDATE license_keys SET used = used + 1 WHERE id = ? AND (kind = 'primary' OR used < seats)`, target)
		if err != nil {
			return nil, fmt.Errorf("sso seat: take: %w", err)
		}
		if n, _ := r.RowsAffected(); n != 1 {
			return nil, noFreeUserSeat()
		}
		if kind != KindReserved {
			r, err := tx.Exec(ctx, `UPDATE subscriptions SET shared_used = shared_used + 1 WHERE id = ? AND reserved + shared_used < seats`, subs[target])
			if err != nil {
				return nil, fmt.Errorf("sso seat: take shared: %w", err)
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return nil, noFreeUserSeat()
			}
		}
		res.seatID, res.newSeat = ids.New(), true
		if _, err := tx.Exec(ctx, `INSERT INTO license_user_seats (id, account_id, subscription_id, key_id, person_id, status, devices,
			groups_json, granted_at, last_used_at) VALUES (?, ?, ?, ?, ?, 'active', 1, ?, ?, ?)`,
			res.seatID, g.accountID, subs[target], target, g.personID, string(groupsJSON), nowT, nowT); err != nil {
			if store.IsUniqueViolation(err) {
				return nil, errRetry // a concurrent grant gave the person a seat elsewhere
			}
			return nil, fmt.Errorf("sso seat: record: %w", err)
		}
	}

	err = tx.QueryRow(ctx, `INSERT INTO license_activations (id, account_id, subscription_id, key_id, hardware_uuid, serial,
		computer_name, macos_user, app_version, method, person_id, status, credential_hash, activated_at, last_check_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'sso', ?, 'active', ?, ?, ?)
		ON CONFLICT (key_id, hardware_uuid) DO UPDATE SET serial = excluded.serial, computer_name = excluded.computer_name,
			macos_user = excluded.macos_user, app_version = excluded.app_version, method = 'sso', invitation_id = NULL,
			person_id = excluded.person_id, status = 'active', credential_hash = excluded.credential_hash,
			activated_at = excluded.activated_at, last_check_at = excluded.last_check_at, deactivated_at = NULL, deactivated_by = ''
		WHERE license_activations.status <> 'active'
		RETURNING id`, ids.New(), g.accountID, subs[target], target, g.dev.HardwareUUID, g.dev.Serial, g.dev.ComputerName,
		g.dev.MacOSUser, g.dev.AppVersion, g.personID, ids.Hash(ids.Secret(32)), nowT, nowT).Scan(&res.activationID)
	if isNoRows(err) {
		return nil, errRetry
	} else if err != nil {
		return nil, fmt.Errorf("sso seat: record device: %w", err)
	}
	return res, nil
}

// grantUserSeat runs grantUserSeatTx in its own transaction, retrying when
// it saw a concurrent change; also runs in the same transaction after a
// grant (completing the attempt that asked for it).
func (s *Service) grantUserSeat(ctx context.Context, g *userGrant, also func(*store.Tx, *userGrantResult) error) (*userGrantResult, error) {
	// Refuse at once, without a write, when the pool is visibly full and
	// neither the person nor the Mac holds a seat on it: a stale read only
	// refuses what a moment earlier would have been refused (as Activate
	// does).
	var kind string
	var keySeats, keyUsed, subSeats, reserved, shared, holds int
	err := s.DB.QueryRow(ctx, `SELECT k.kind, k.seats, k.used, s.seats, s.reserved, s.shared_used,
		(SELECT COUNT(*) FROM license_user_seats u WHERE u.account_id = ? AND u.person_id = ? AND u.key_id = k.id AND u.status = 'active')
		+ (SELECT COUNT(*) FROM license_activations a WHERE a.key_id = k.id AND a.hardware_uuid = ? AND a.status = 'active')
		FROM license_keys k JOIN subscriptions s ON s.id = k.subscription_id WHERE k.id = ?`, g.accountID, g.personID, g.dev.HardwareUUID, g.pool.keyID).
		Scan(&kind, &keySeats, &keyUsed, &subSeats, &reserved, &shared, &holds)
	if err != nil && !isNoRows(err) {
		return nil, fmt.Errorf("sso seat: %w", err)
	}
	if err == nil && holds == 0 && ((kind != KindPrimary && keyUsed >= keySeats) || (kind != KindReserved && reserved+shared >= subSeats)) {
		return nil, noFreeUserSeat()
	}
	for attempt := 0; attempt < 8; attempt++ {
		var res *userGrantResult
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			var err error
			if g.link != nil {
				if g.personID, err = g.link(ctx, tx); err != nil {
					return err
				}
			}
			if res, err = s.grantUserSeatTx(ctx, tx, g); err != nil {
				return err
			}
			if also != nil {
				return also(tx, res)
			}
			return nil
		})
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return res, nil
	}
	return nil, errors.New("sso seat: too much contention on one person, giving up")
}

func noFreeUserSeat() *DeviceError {
	return deviceErr(CodeNoFreeSeat, "Every seat of your organization's license for your user group is taken. Ask your IT admin to free a seat or add seats.")
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// releaseSeatLockedTx releases a person's seat on keyID (whose row tx has
// locked) and revokes their SSO devices on it. It returns how many devices
// were deactivated. A seat that is no longer active changes nothing.
func releaseSeatLockedTx(ctx context.Context, tx *store.Tx, seatID, keyID, personID, kind, subID, reason, by string, now store.Time) (int, error) {
	r, err := tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', devices = 0, released_at = ?, released_reason = ?, released_by = ?
		WHERE id = ? AND key_id = ? AND status = 'active'`, now, reason, by, seatID, keyID)
	if err != nil {
		return 0, fmt.Errorf("release seat: %w", err)
	}
	if n, _ := r.RowsAffected(); n != 1 {
		return 0, nil
	}
	r, err = tx.Exec(ctx, `UPDATE license_activations SET status = 'deactivated', deactivated_at = ?, deactivated_by = ?
		WHERE key_id = ? AND person_id = ? AND method = 'sso' AND status = 'active'`, now, revokedPrefix+reason, keyID, personID)
	if err != nil {
		return 0, fmt.Errorf("release seat: devices: %w", err)
	}
	devices, _ := r.RowsAffected()
	if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used - 1 WHERE id = ?`, keyID); err != nil {
		return 0, fmt.Errorf("release seat: count: %w", err)
	}
	if kind != KindReserved {
		if err := moveSeats(ctx, tx, subID, 0, -1); err != nil {
			return 0, fmt.Errorf("release seat: shared: %w", err)
		}
	}
	return int(devices), nil
}

// deactivateSSODevicesTx deactivates the SSO devices among actIDs of keyID
// (whose row tx has locked): each person's seat loses those devices, and a
// seat left with none is released. It returns the devices deactivated and
// the seats released; the caller returns the seats to the counters. This is
// the SSO half of deactivateTx.
func deactivateSSODevicesTx(ctx context.Context, tx *store.Tx, keyID string, actIDs []string, by string, now store.Time) (devices, seats int, err error) {
	if len(actIDs) == 0 {
		return 0, 0, nil
	}
	args := []any{now, by, keyID}
	for _, id := range actIDs {
		args = append(args, id)
	}
	rows, err := tx.Query(ctx, `UPDATE license_activations SET status = 'deactivated', deactivated_at = ?, deactivated_by = ?
		WHERE key_id = ? AND id IN (`+store.Placeholders(len(actIDs))+`) AND status = 'active' AND method = 'sso'
		RETURNING COALESCE(person_id, '')`, args...)
	if err != nil {
		return 0, 0, fmt.Errorf("deactivate sso devices: %w", err)
	}
	perPerson := map[string]int{}
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			rows.Close()
			return 0, 0, fmt.Errorf("deactivate sso devices: %w", err)
		}
		perPerson[p]++
		devices++
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, 0, fmt.Errorf("deactivate sso devices: %w", err)
	}
	people := make([]string, 0, len(perPerson))
	for p := range perPerson {
		people = append(people, p)
	}
	slices.Sort(people)
	for _, p := range people {
		var seatID string
		var left int
		err := tx.QueryRow(ctx, `UPDATE license_user_seats SET devices = devices - ? WHERE key_id = ? AND person_id = ? AND status = 'active'
			RETURNING id, devices`, perPerson[p], keyID, p).Scan(&seatID, &left)
		if isNoRows(err) {
			return 0, 0, fmt.Errorf("deactivate sso devices: person %s has devices on key %s but no seat there", p, keyID)
		} else if err != nil {
			return 0, 0, fmt.Errorf("deactivate sso devices: %w", err)
		}
		if left > 0 {
			continue
		}
		r, err := tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', released_at = ?, released_reason = 'no_device', released_by = ?
			WHERE id = ? AND status = 'active' AND devices = 0`, now, by, seatID)
		if err != nil {
			return 0, 0, fmt.Errorf("deactivate sso devices: release seat: %w", err)
		}
		n, _ := r.RowsAffected()
		seats += int(n)
	}
	return devices, seats, nil
}

// releaseKeyUserSeatsTx releases every per-user seat of a key being deleted
// (tx has locked its row) and deactivates their devices. It returns the
// devices deactivated and the seats released; the caller returns the seats
// to the counters.
func releaseKeyUserSeatsTx(ctx context.Context, tx *store.Tx, keyID, by string, now store.Time) (devices, seats int, err error) {
	r, err := tx.Exec(ctx, `UPDATE license_activations SET status = 'deactivated', deactivated_at = ?, deactivated_by = ?
		WHERE key_id = ? AND method = 'sso' AND status = 'active'`, now, by, keyID)
	if err != nil {
		return 0, 0, fmt.Errorf("release key seats: devices: %w", err)
	}
	d, _ := r.RowsAffected()
	r, err = tx.Exec(ctx, `UPDATE license_user_seats SET status = 'released', devices = 0, released_at = ?, released_reason = ?, released_by = ?
		WHERE key_id = ? AND status = 'active'`, now, by, by, keyID)
	if err != nil {
		return 0, 0, fmt.Errorf("release key seats: %w", err)
	}
	n, _ := r.RowsAffected()
	return int(d), int(n), nil
}

// RevokePersonTx revokes a person's per-user seat inside tx (the SCIM
// transaction of sso.Effects.OnRevoke, an admin's revocation, the inactivity
// job): their SSO devices fail their next license check with "revoked" and
// the seat returns to its pool at once. A person without a seat is not an
// error. It returns how many devices were deactivated and whether a seat was
// released.
func (s *Service) RevokePersonTx(ctx context.Context, tx *store.Tx, accountID, personID, reason string, actor audit.Actor) (devices int, released bool, err error) {
	return s.revokePersonTx(ctx, tx, accountID, personID, reason, actor, nil)
}

// revokePersonTx is RevokePersonTx; when due is set, the seat is only
// revoked if due says so once its key is locked.
func (s *Service) revokePersonTx(ctx context.Context, tx *store.Tx, accountID, personID, reason string, actor audit.Actor,
	due func(*store.Tx, *seatRow) (bool, error)) (devices int, released bool, err error) {
	now := store.At(s.now())
	for attempt := 0; attempt < 8; attempt++ {
		seat, err := activeSeat(ctx, tx, accountID, personID)
		if err != nil || seat == nil {
			return 0, false, err
		}
		kind, subID, _, err := lockKey(ctx, tx, accountID, seat.keyID)
		if err != nil {
			return 0, false, err
		}
		again, err := activeSeat(ctx, tx, accountID, personID)
		if err != nil {
			return 0, false, err
		}
		if again == nil || again.id != seat.id {
			continue // moved or released meanwhile
		}
		if due != nil {
			if ok, err := due(tx, again); err != nil || !ok {
				return 0, false, err
			}
		}
		devices, err = releaseSeatLockedTx(ctx, tx, seat.id, seat.keyID, personID, kind, subID, reason, actor.Label, now)
		if err != nil {
			return 0, false, err
		}
		// The address labels the audit entry; a person deleted meanwhile
		// leaves it empty, any other failure is the revocation's.
		var email string
		if err := tx.QueryRow(ctx, `SELECT email FROM people WHERE id = ?`, personID).Scan(&email); err != nil && !isNoRows(err) {
			return 0, false, fmt.Errorf("revoke seat: read person: %w", err)
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "license.user_seat_revoked",
			TargetType: "person", TargetID: personID, TargetLabel: email,
			After: map[string]any{"reason": reason, "key_id": seat.keyID, "devices_deactivated": devices}}); err != nil {
			return 0, false, err
		}
		return devices, true, nil
	}
	return 0, false, errors.New("revoke seat: too much contention")
}

// ssoRefusalOf explains why an SSO device's activation is no longer active:
// "revoked" for a revoked seat (with the reason in words), else
// "deactivated".
func ssoRefusalOf(deactivatedBy string) *DeviceError {
	reason, ok := strings.CutPrefix(deactivatedBy, revokedPrefix)
	if !ok {
		return deviceErr(CodeDeactivated, "This computer's license was deactivated.")
	}
	switch reason {
	case RevokeDeactivatedInIdP:
		return deviceErr(CodeRevoked, "Your license was revoked: your user is deactivated in your organization's identity provider.")
	case RevokeRemovedFromUsers:
		return deviceErr(CodeRevoked, "Your license was revoked: you are no longer in your organization's Desktop Users group.")
	case RevokeAdmin:
		return deviceErr(CodeRevoked, "Your license was revoked by your organization's administrator.")
	case RevokeInactive:
		return deviceErr(CodeRevoked, "Your license was revoked because Desktop was not used for a long time. Activate again with your company account.")
	case RevokeMoved:
		return deviceErr(CodeRevoked, "Your license moved to another license key of your organization. Activate again with your company account.")
	}
	return deviceErr(CodeRevoked, "Your license was revoked.")
}

// ssoCheck completes a license check of an SSO device: the refusal of an
// inactive one, or the per-user claims of an active one.
func (s *Service) ssoCheck(ctx context.Context, q store.Querier, activationID string, claims *CertificateClaims) *DeviceError {
	var status, by, keyName, email string
	err := q.QueryRow(ctx, `SELECT a.status, a.deactivated_by, k.name, COALESCE(p.email, '') FROM license_activations a
		JOIN license_keys k ON k.id = a.key_id LEFT JOIN people p ON p.id = a.person_id WHERE a.id = ?`, activationID).
		Scan(&status, &by, &keyName, &email)
	if err != nil {
		return deviceErr(CodeDeactivated, "This computer's license was deactivated.")
	}
	if status != "active" {
		return ssoRefusalOf(by)
	}
	if claims != nil {
		claims.Method, claims.KeyName, claims.User = MethodSSO, keyName, email
	}
	return nil
}
