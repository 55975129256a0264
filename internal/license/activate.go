package license

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license/invitations"
	"gatehouse/internal/store"
)

// Machine-readable reasons a Desktop installation receives (client API
// error codes).
const (
	CodeInvalidRequest   = "invalid_request"    // malformed device identity or parameters
	CodeInvalidKey       = "invalid_key"        // not a key (typo) or no such key
	CodeInvalidCode      = "invalid_code"       // not an invitation code or no such code
	CodeKeyDeleted       = "key_deleted"        // the sublicense key was deleted
	CodeKeyNotRegistered = "key_not_registered" // the key is not registered to a business account yet
	CodeExpired          = "expired"            // the subscription has ended
	CodeSuspended        = "suspended"          // the subscription is suspended
	CodeDeactivated      = "deactivated"        // this device's activation was deactivated
	CodeNoFreeSeat       = "no_free_seat"       // every seat this key may use is taken
	CodeCodeUsed         = "code_used"          // the invitation code activated another computer
	CodeCodeExpired      = "code_expired"       // the invitation expired
	CodeCodeRevoked      = "code_revoked"       // the invitation was revoked
	CodeSSORequired      = "sso_required"       // per-user license: activate by signing in
	CodeUnauthorized     = "unauthorized"       // missing or unknown device credential
)

// DeviceError is a refusal a Desktop installation can act on.
type DeviceError struct {
	Code    string
	Message string
}

func (e *DeviceError) Error() string { return e.Code + ": " + e.Message }

func deviceErr(code, format string, args ...any) *DeviceError {
	return &DeviceError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Device is the identity a Desktop installation reports.
type Device struct {
	HardwareUUID string
	Serial       string
	ComputerName string
	MacOSUser    string
	AppVersion   string
}

func cleanText(field, v string, min, max int) (string, error) {
	v = strings.TrimSpace(v)
	if !utf8.ValidString(v) {
		return "", deviceErr(CodeInvalidRequest, "%s is not valid UTF-8", field)
	}
	if n := utf8.RuneCountInString(v); n < min || n > max {
		if min > 0 && n == 0 {
			return "", deviceErr(CodeInvalidRequest, "%s is required", field)
		}
		return "", deviceErr(CodeInvalidRequest, "%s must be at most %d characters", field, max)
	}
	for _, r := range v {
		if unicode.IsControl(r) {
			return "", deviceErr(CodeInvalidRequest, "%s contains control characters", field)
		}
	}
	return v, nil
}

func (d Device) normalize() (Device, error) {
	var err error
	d.HardwareUUID = strings.ToUpper(strings.TrimSpace(d.HardwareUUID))
	if n := len(d.HardwareUUID); n < 1 || n > 64 {
		return d, deviceErr(CodeInvalidRequest, "device.hardware_uuid must be 1 to 64 characters")
	}
	for i := 0; i < len(d.HardwareUUID); i++ {
		c := d.HardwareUUID[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return d, deviceErr(CodeInvalidRequest, "device.hardware_uuid may hold only letters, digits and dashes")
		}
	}
	if d.Serial, err = cleanText("device.serial", d.Serial, 0, 64); err != nil {
		return d, err
	}
	if d.ComputerName, err = cleanText("device.computer_name", d.ComputerName, 1, 255); err != nil {
		return d, err
	}
	if d.MacOSUser, err = cleanText("device.macos_user", d.MacOSUser, 0, 255); err != nil {
		return d, err
	}
	if d.AppVersion, err = cleanText("device.app_version", d.AppVersion, 1, 64); err != nil {
		return d, err
	}
	return d, nil
}

// ActivateInput is an activation request: a key or an invitation code, and
// the device.
type ActivateInput struct {
	Key    string
	Code   string
	Device Device
	IP     string // source address, for the audit log
}

// Activation is what a device receives: a credential (only on activation;
// Gatehouse keeps its hash) and a fresh signed certificate.
type Activation struct {
	ActivationID string
	Credential   string // "" on checks
	Reactivated  bool   // the device already held a seat on this key
	Certificate  Certificate
	Claims       CertificateClaims
}

// target is what a key or code resolved to, read without locks. The seat
// counters in it only serve to refuse early when the key is visibly full;
// seats are granted by the conditional UPDATEs of takeSeat alone.
type target struct {
	keyID, keyKind, accountID, subscriptionID string
	keyDeleted                                bool
	edition, model, subStatus                 string
	trial                                     bool
	endsAt, purgedAt                          store.Time
	keySeats, keyUsed                         int
	subSeats, subReserved, subShared          int
	// invitation
	invitationID                   string
	invUsed, invRevoked, invExpiry store.Time
	// the device's existing activation on this key, if any
	exID, exStatus, exInvitation string
}

const targetColumns = `k.id, k.kind, COALESCE(k.account_id, ''), k.subscription_id, k.deleted_at IS NOT NULL,
	s.edition, s.model, s.status, s.trial, s.ends_at, s.purged_at, k.seats, k.used, s.seats, s.reserved, s.shared_used`

func (t *target) scanArgs() []any {
	return []any{&t.keyID, &t.keyKind, &t.accountID, &t.subscriptionID, &t.keyDeleted,
		&t.edition, &t.model, &t.subStatus, &t.trial, &t.endsAt, &t.purgedAt,
		&t.keySeats, &t.keyUsed, &t.subSeats, &t.subReserved, &t.subShared}
}

// visiblyFull reports whether the counters read show no seat for a new
// activation. A stale read can only refuse a request that a moment earlier
// would have been refused too; it never grants anything.
func (t *target) visiblyFull() bool {
	if t.keyKind != KindPrimary && t.keyUsed >= t.keySeats {
		return true
	}
	return t.keyKind != KindReserved && t.subReserved+t.subShared >= t.subSeats
}

const existingColumns = `COALESCE(a.id, ''), COALESCE(a.status, ''), COALESCE(a.invitation_id, '')`

// subscriptionRefusal returns the reason a subscription cannot activate or
// validate at now, or nil.
func subscriptionRefusal(status string, endsAt, purgedAt store.Time, now time.Time) *DeviceError {
	switch {
	case !purgedAt.IsZero(), status == "ended", !now.Before(endsAt.Time):
		return deviceErr(CodeExpired, "The license has expired.")
	case status == "suspended":
		return deviceErr(CodeSuspended, "The license is suspended.")
	}
	return nil
}

func (s *Service) resolve(ctx context.Context, in *ActivateInput, hardwareUUID string, now time.Time) (*target, error) {
	t := &target{}
	switch {
	case in.Key != "" && in.Code != "":
		return nil, deviceErr(CodeInvalidRequest, "Give a license key or an invitation code, not both.")
	case in.Key != "":
		norm, err := NormalizeKey(in.Key)
		if err != nil {
			return nil, deviceErr(CodeInvalidKey, "%s", err.Error())
		}
		args := append(t.scanArgs(), &t.exID, &t.exStatus, &t.exInvitation)
		err = s.DB.QueryRow(ctx, `SELECT `+targetColumns+`, `+existingColumns+`
			FROM license_keys k JOIN subscriptions s ON s.id = k.subscription_id
			LEFT JOIN license_activations a ON a.key_id = k.id AND a.hardware_uuid = ?
			WHERE k.key_hash = ?`, hardwareUUID, keyHash(norm)).Scan(args...)
		if isNoRows(err) {
			return nil, deviceErr(CodeInvalidKey, "No license has this key.")
		} else if err != nil {
			return nil, fmt.Errorf("activate: look up key: %w", err)
		}
	case in.Code != "":
		norm, err := invitations.NormalizeCode(in.Code)
		if err != nil {
			return nil, deviceErr(CodeInvalidCode, "%s", err.Error())
		}
		args := append(t.scanArgs(), &t.invitationID, &t.invUsed, &t.invRevoked, &t.invExpiry, &t.exID, &t.exStatus, &t.exInvitation)
		err = s.DB.QueryRow(ctx, `SELECT `+targetColumns+`, i.id, i.used_at, i.revoked_at, i.expires_at, `+existingColumns+`
			FROM license_invitations i JOIN license_keys k ON k.id = i.key_id JOIN subscriptions s ON s.id = k.subscription_id
			LEFT JOIN license_activations a ON a.key_id = k.id AND a.hardware_uuid = ?
			WHERE i.code_hash = ?`, hardwareUUID, invitations.Hash(norm)).Scan(args...)
		if isNoRows(err) {
			return nil, deviceErr(CodeInvalidCode, "No invitation has this activation code.")
		} else if err != nil {
			return nil, fmt.Errorf("activate: look up code: %w", err)
		}
	default:
		return nil, deviceErr(CodeInvalidRequest, "Give a license key or an invitation code.")
	}
	switch {
	case t.keyDeleted:
		return nil, deviceErr(CodeKeyDeleted, "This license key was deleted by its administrator.")
	case t.accountID == "":
		return nil, deviceErr(CodeKeyNotRegistered, "This license key is not registered to a business account yet.")
	}
	if r := subscriptionRefusal(t.subStatus, t.endsAt, t.purgedAt, now); r != nil {
		return nil, r
	}
	if t.model == ModelPerUser {
		return nil, deviceErr(CodeSSORequired, "This license is activated by signing in with your company account (SSO).")
	}
	if t.invitationID != "" && !t.invRevoked.IsZero() {
		return nil, deviceErr(CodeCodeRevoked, "This invitation was revoked.")
	}
	return t, nil
}

// invitationRefusal is checked after we know whether the device already
// holds the seat the invitation gave it (a reinstall may reuse the code).
func invitationRefusal(t *target, existingID, existingInvitation string, now time.Time) *DeviceError {
	if t.invitationID == "" {
		return nil
	}
	if !t.invUsed.IsZero() {
		if existingID != "" && existingInvitation == t.invitationID {
			return nil
		}
		return deviceErr(CodeCodeUsed, "This activation code was already used on another computer.")
	}
	if !now.Before(t.invExpiry.Time) {
		return deviceErr(CodeCodeExpired, "This invitation has expired.")
	}
	return nil
}

var errRetry = errors.New("activation raced with another; retry")

// Activate takes a seat for a device (or finds the one it holds) and returns
// its credential and certificate. Refusals are *DeviceError.
func (s *Service) Activate(ctx context.Context, in ActivateInput) (*Activation, error) {
	dev, err := in.Device.normalize()
	if err != nil {
		return nil, err
	}
	now := s.now()
	t, err := s.resolve(ctx, &in, dev.HardwareUUID, now)
	if err != nil {
		return nil, err
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, err
	}
	method := MethodKey
	if t.invitationID != "" {
		method = MethodInvitation
	}
	for attempt := 0; attempt < 8; attempt++ {
		if attempt > 0 { // the first attempt uses what resolve read
			t.exID, t.exStatus, t.exInvitation = "", "", ""
			err := s.DB.QueryRow(ctx, `SELECT `+existingColumns+` FROM license_activations a WHERE a.key_id = ? AND a.hardware_uuid = ?`,
				t.keyID, dev.HardwareUUID).Scan(&t.exID, &t.exStatus, &t.exInvitation)
			if err != nil && !isNoRows(err) {
				return nil, fmt.Errorf("activate: %w", err)
			}
		}
		active := t.exStatus == "active"
		existingID := ""
		if active {
			existingID = t.exID
		}
		if r := invitationRefusal(t, existingID, t.exInvitation, now); r != nil {
			return nil, r
		}
		if !active && attempt == 0 && t.visiblyFull() {
			return nil, deviceErr(CodeNoFreeSeat, "Every seat of this license key is taken.")
		}
		credential := ids.Secret(32)
		var act *Activation
		if active {
			act, err = s.reactivate(ctx, t, existingID, dev, credential, now)
		} else {
			act, err = s.takeSeat(ctx, t, dev, method, credential, in.IP, now)
		}
		if errors.Is(err, errRetry) {
			continue
		}
		if err != nil {
			return nil, err
		}
		act.Credential = credential
		act.Claims = s.claims(t, act.ActivationID, dev, now)
		act.Claims.Method = method
		act.Certificate = sec.sign(act.Claims)
		return act, nil
	}
	return nil, errors.New("activate: too much contention on one device, giving up")
}

func (s *Service) claims(t *target, activationID string, dev Device, now time.Time) CertificateClaims {
	until := now.Add(s.Config.CheckInterval)
	if t.endsAt.Before(until) {
		until = t.endsAt.Time
	}
	return CertificateClaims{Version: 1, Type: CertificateType, ActivationID: activationID,
		Device: CertDevice{HardwareUUID: dev.HardwareUUID, Serial: dev.Serial, ComputerName: dev.ComputerName},
		KeyID:  t.keyID, SubscriptionID: t.subscriptionID, AccountID: t.accountID, Edition: t.edition, Model: t.model,
		Trial: t.trial, Features: Features(t.edition), IssuedAt: now.UTC().Truncate(time.Second), ValidUntil: until.UTC().Truncate(time.Second)}
}

// reactivate gives a device that already holds a seat on the key a new
// credential; no second seat is taken.
func (s *Service) reactivate(ctx context.Context, t *target, activationID string, dev Device, credential string, now time.Time) (*Activation, error) {
	res, err := s.DB.Exec(ctx, `UPDATE license_activations SET credential_hash = ?, serial = ?, computer_name = ?, macos_user = ?,
		app_version = ?, last_check_at = ? WHERE id = ? AND status = 'active'`,
		ids.Hash(credential), dev.Serial, dev.ComputerName, dev.MacOSUser, dev.AppVersion, store.At(now), activationID)
	if err != nil {
		return nil, fmt.Errorf("reactivate: %w", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return nil, errRetry // deactivated meanwhile: take a seat instead
	}
	return &Activation{ActivationID: activationID, Reactivated: true}, nil
}

// takeSeat takes a seat for a device. Key activations of one key are
// grouped into shared transactions (seatBatcher); an invitation code also
// marks its invitation used, in its own transaction.
func (s *Service) takeSeat(ctx context.Context, t *target, dev Device, method, credential, ip string, now time.Time) (*Activation, error) {
	r := &seatRequest{t: t, dev: dev, method: method, credential: credential, ip: ip, now: now}
	if t.invitationID == "" {
		s.takeSeatBatched(ctx, r)
		if r.err != nil {
			return nil, r.err
		}
		return &Activation{ActivationID: r.activationID}, nil
	}
	nowT := store.At(now)
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		r.activationID, r.err = "", nil
		if err := s.grantSeats(ctx, tx, t, []*seatRequest{r}, now); err != nil {
			return err
		}
		if r.err != nil {
			return r.err
		}
		ok, used, revoked, err := invitations.UseTx(ctx, tx, t.invitationID, r.activationID, nowT)
		if err != nil {
			return err
		}
		if !ok {
			switch {
			case !revoked.IsZero():
				return deviceErr(CodeCodeRevoked, "This invitation was revoked.")
			case !used.IsZero():
				return deviceErr(CodeCodeUsed, "This activation code was already used on another computer.")
			}
			return deviceErr(CodeCodeExpired, "This invitation has expired.")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &Activation{ActivationID: r.activationID}, nil
}

// validCredential rejects what cannot be a credential before any lookup.
func validCredential(c string) bool {
	if len(c) < 20 || len(c) > 128 {
		return false
	}
	for i := 0; i < len(c); i++ {
		ch := c[i]
		if !(ch >= 'A' && ch <= 'Z' || ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return true
}

type deviceRow struct {
	t          target
	id, status string
	dev        Device
	lastCheck  store.Time
	method     string
}

const deviceQuery = `SELECT a.id, a.status, a.method, a.key_id, a.account_id, a.subscription_id, a.hardware_uuid, a.serial,
	a.computer_name, a.app_version, a.last_check_at, s.edition, s.model, s.status, s.trial, s.ends_at, s.purged_at
	FROM license_activations a JOIN subscriptions s ON s.id = a.subscription_id WHERE a.credential_hash = ?`

func (s *Service) deviceByCredential(ctx context.Context, q store.Querier, credential string) (*deviceRow, error) {
	if !validCredential(credential) {
		return nil, deviceErr(CodeUnauthorized, "Missing or unknown device credential.")
	}
	// Every license check runs this query, so it reads only what a check
	// needs (the claims, the subscription's state, the device), as a
	// prepared statement when outside a transaction (SQLite would parse it
	// anew each time, and parsing is most of its cost).
	d := &deviceRow{}
	hash := ids.Hash(credential)
	var row *sql.Row
	if db, ok := q.(*store.DB); ok {
		row = db.QueryRowPrepared(ctx, deviceQuery, hash)
	} else {
		row = q.QueryRow(ctx, deviceQuery, hash)
	}
	err := row.Scan(&d.id, &d.status, &d.method, &d.t.keyID, &d.t.accountID, &d.t.subscriptionID,
		&d.dev.HardwareUUID, &d.dev.Serial, &d.dev.ComputerName, &d.dev.AppVersion, &d.lastCheck,
		&d.t.edition, &d.t.model, &d.t.subStatus, &d.t.trial, &d.t.endsAt, &d.t.purgedAt)
	if isNoRows(err) {
		return nil, deviceErr(CodeUnauthorized, "Missing or unknown device credential.")
	} else if err != nil {
		return nil, fmt.Errorf("look up device: %w", err)
	}
	return d, nil
}

// CheckInput is what a device reports on a license check.
type CheckInput struct {
	AppVersion string // optional
}

// Check re-validates a device's activation and returns a fresh certificate,
// or the reason it is no longer valid (*DeviceError: deactivated, expired,
// suspended, unauthorized).
func (s *Service) Check(ctx context.Context, credential string, in CheckInput) (*Activation, error) {
	appVersion := ""
	if in.AppVersion != "" {
		v, err := cleanText("app_version", in.AppVersion, 1, 64)
		if err != nil {
			return nil, err
		}
		appVersion = v
	}
	d, err := s.deviceByCredential(ctx, s.DB, credential)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if d.status != "active" {
		if d.method == MethodSSO { // "revoked" and why (peruser.go)
			return nil, s.ssoCheck(ctx, s.DB, d.id, nil)
		}
		return nil, deviceErr(CodeDeactivated, "This computer's license was deactivated.")
	}
	if r := subscriptionRefusal(d.t.subStatus, d.t.endsAt, d.t.purgedAt, now); r != nil {
		return nil, r
	}
	// Write only when the stored last check is stale or the version changed,
	// so that frequent checks stay reads.
	if now.Sub(d.lastCheck.Time) >= s.Config.LastCheckResolution || (appVersion != "" && appVersion != d.dev.AppVersion) {
		if appVersion == "" {
			appVersion = d.dev.AppVersion
		}
		if _, err := s.DB.Exec(ctx, `UPDATE license_activations SET last_check_at = ?, app_version = ? WHERE id = ? AND status = 'active'`,
			store.At(now), appVersion, d.id); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
	}
	sec, err := s.loadSecrets(ctx)
	if err != nil {
		return nil, err
	}
	act := &Activation{ActivationID: d.id}
	act.Claims = s.claims(&d.t, d.id, d.dev, now)
	act.Claims.Method = d.method
	if d.method == MethodSSO {
		if r := s.ssoCheck(ctx, s.DB, d.id, &act.Claims); r != nil {
			return nil, r
		}
	}
	act.Certificate = sec.sign(act.Claims)
	return act, nil
}

// DeactivateDevice is a device giving its seat back (the client's
// deactivate-license command). Deactivating twice is not an error. The
// computer's row keeps deactivated_at and deactivated_by = "device", and the
// audit log records it with the device as actor.
func (s *Service) DeactivateDevice(ctx context.Context, credential string) error {
	d, err := s.deviceByCredential(ctx, s.DB, credential)
	if err != nil {
		return err
	}
	if d.status != "active" {
		return nil
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		n, err := deactivateTx(ctx, tx, []actRef{{id: d.id, keyID: d.t.keyID}}, "device", store.At(s.now()))
		if err != nil || n == 0 {
			return err
		}
		return audit.Record(ctx, tx, deviceActor(d.dev, ""), audit.Entry{AccountID: d.t.accountID, Action: "device.deactivated",
			TargetType: "computer", TargetID: d.id, TargetLabel: d.dev.ComputerName})
	})
}

type actRef struct{ id, keyID string }

// deactivateTx deactivates activations and returns their seats, exactly
// once each. Lock order, the same as activation's: key rows (sorted), then
// activation rows, then subscription rows (sorted).
func deactivateTx(ctx context.Context, tx *store.Tx, refs []actRef, by string, now store.Time) (int, error) {
	byKey := map[string][]string{}
	for _, r := range refs {
		byKey[r.keyID] = append(byKey[r.keyID], r.id)
	}
	keyIDs := make([]string, 0, len(byKey))
	for k := range byKey {
		keyIDs = append(keyIDs, k)
	}
	slices.Sort(keyIDs)
	shared := map[string]int{}
	total := 0
	for _, keyID := range keyIDs {
		var kind, subID string
		if err := tx.QueryRow(ctx, `UPDATE license_keys SET used = used WHERE id = ? RETURNING kind, subscription_id`, keyID).Scan(&kind, &subID); err != nil {
			return 0, fmt.Errorf("deactivate: lock key: %w", store.NotFound(err))
		}
		actIDs := byKey[keyID]
		args := []any{now, by, keyID}
		for _, id := range actIDs {
			args = append(args, id)
		}
		res, err := tx.Exec(ctx, `UPDATE license_activations SET status = 'deactivated', deactivated_at = ?, deactivated_by = ?
			WHERE key_id = ? AND id IN (`+store.Placeholders(len(actIDs))+`) AND status = 'active' AND method <> 'sso'`, args...)
		if err != nil {
			return 0, fmt.Errorf("deactivate: %w", err)
		}
		n64, _ := res.RowsAffected()
		n := int(n64)
		// SSO devices hold no seat of their own: a person's seat returns
		// with their last device (peruser.go).
		ssoDevices, userSeats, err := deactivateSSODevicesTx(ctx, tx, keyID, actIDs, by, now)
		if err != nil {
			return 0, err
		}
		total += n + ssoDevices
		n += userSeats
		if n == 0 {
			continue
		}
		if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used - ? WHERE id = ?`, n, keyID); err != nil {
			return 0, fmt.Errorf("deactivate: return seat: %w", err)
		}
		if kind != KindReserved {
			shared[subID] += n
		}
	}
	subIDs := make([]string, 0, len(shared))
	for id := range shared {
		subIDs = append(subIDs, id)
	}
	slices.Sort(subIDs)
	for _, id := range subIDs {
		if err := moveSeats(ctx, tx, id, 0, -shared[id]); err != nil {
			return 0, fmt.Errorf("deactivate: return shared seat: %w", err)
		}
	}
	return total, nil
}

// deviceActor names a computer as the author of its own events.
func deviceActor(dev Device, ip string) audit.Actor {
	return audit.Actor{Type: audit.ActorDevice, ID: dev.HardwareUUID, Label: "computer " + dev.ComputerName, IP: ip}
}
