package license

import (
	"context"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// seatRequest is one device asking for a new seat on a key.
type seatRequest struct {
	t          *target
	dev        Device
	method     string
	credential string
	ip         string
	now        time.Time
	// result
	activationID string
	err          error
	done         chan struct{}
}

// maxSeatBatch bounds how many seat requests share one transaction.
const maxSeatBatch = 100

// seatBatcher groups concurrent activations of one key into one
// transaction ("group commit"). Every seat taken on a key must lock the key
// row (and, for shared seats, the subscription row) until commit; with a
// durable commit that costs a disk flush, one activation per transaction
// would cap a key at one activation per flush. Requests that arrive while a
// transaction for their key is running wait for it and then go together in
// the next one, so an idle server answers at once and a busy one pays one
// flush per batch. Batching is per node; nodes sharing PostgreSQL still
// serialize on the row locks, so the counts stay exact.
type seatBatcher struct {
	mu     sync.Mutex
	queues map[string]*seatQueue
}

type seatQueue struct {
	pending []*seatRequest
}

// takeSeats queues r behind any running transaction for its key and
// returns when r has its result.
func (s *Service) takeSeatBatched(ctx context.Context, r *seatRequest) {
	r.done = make(chan struct{})
	b := &s.batcher
	b.mu.Lock()
	if b.queues == nil {
		b.queues = map[string]*seatQueue{}
	}
	q, running := b.queues[r.t.keyID]
	if !running {
		q = &seatQueue{}
		b.queues[r.t.keyID] = q
	}
	q.pending = append(q.pending, r)
	b.mu.Unlock()
	if !running {
		// This goroutine drains the queue; the request that started it is
		// in the first batch. A cancelled caller still lets the batch
		// finish (the device may re-activate; it gets the same seat).
		go s.drainSeats(context.WithoutCancel(ctx), r.t.keyID)
	}
	<-r.done
}

func (s *Service) drainSeats(ctx context.Context, keyID string) {
	b := &s.batcher
	for {
		b.mu.Lock()
		q := b.queues[keyID]
		if len(q.pending) == 0 {
			delete(b.queues, keyID)
			b.mu.Unlock()
			return
		}
		n := min(len(q.pending), maxSeatBatch)
		batch := q.pending[:n:n]
		q.pending = q.pending[n:]
		b.mu.Unlock()
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			for _, r := range batch {
				r.activationID, r.err = "", nil
			}
			return s.grantSeats(ctx, tx, batch[0].t, batch, time.Time{})
		})
		for _, r := range batch {
			if err != nil {
				r.err = err
			}
			close(r.done)
		}
	}
}

// grantSeats gives seats on one key to reqs inside tx, first come first
// served, filling each request's activationID or err (a *DeviceError, or
// errRetry when the device turned out to hold a seat already). Lock order:
// key row, subscription row, activation rows — the same as deactivation's
// key-first order, so the two cannot deadlock.
//
// The common case — room for every request — costs three statements: the
// key's and the subscription's counters go up by the whole batch with
// conditional UPDATEs, then the activations are written. Only when either
// UPDATE finds no room does it lock the rows, read what is free and grant
// that many.
func (s *Service) grantSeats(ctx context.Context, tx *store.Tx, t *target, reqs []*seatRequest, now time.Time) error {
	if now.IsZero() {
		now = s.now()
	}
	nowT := store.At(now)
	// A device twice in the batch goes once; the other copy is retried as
	// a re-activation after this transaction.
	var cands []*seatRequest
	seen := map[string]bool{}
	for _, r := range reqs {
		if seen[r.dev.HardwareUUID] {
			r.err = errRetry
			continue
		}
		seen[r.dev.HardwareUUID] = true
		cands = append(cands, r)
	}
	n := len(cands)
	if n == 0 {
		return nil
	}
	var kind string
	err := tx.QueryRow(ctx, `UPDATE license_keys SET used = used + ?
		WHERE id = ? AND deleted_at IS NULL AND (kind = 'primary' OR used + ? <= seats) RETURNING kind`, n, t.keyID, n).Scan(&kind)
	if err != nil && !isNoRows(err) {
		return fmt.Errorf("take seat: %w", err)
	}
	if err == nil && kind != KindReserved {
		res, err := tx.Exec(ctx, `UPDATE subscriptions SET shared_used = shared_used + ?
			WHERE id = ? AND reserved + shared_used + ? <= seats AND status = 'active' AND ends_at > ? AND purged_at IS NULL`,
			n, t.subscriptionID, n, nowT)
		if err != nil {
			return fmt.Errorf("take seat: %w", err)
		}
		if k, _ := res.RowsAffected(); k != 1 {
			// No room in the pool (or the subscription lapsed): undo the
			// key's share and take the careful path.
			if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used - ? WHERE id = ?`, n, t.keyID); err != nil {
				return fmt.Errorf("take seat: %w", err)
			}
			kind = ""
		}
	}
	if kind != "" { // room for all n
		got, err := upsertActivations(ctx, tx, t, cands, nowT)
		if err != nil {
			return err
		}
		missing := 0
		for _, r := range cands {
			if id, ok := got[r.dev.HardwareUUID]; ok {
				r.activationID = id
			} else {
				r.err = errRetry // already active: it takes no seat
				missing++
			}
		}
		if err := giveBack(ctx, tx, t, kind, missing); err != nil {
			return err
		}
		return auditGranted(ctx, tx, t, cands)
	}
	if err := s.grantScarce(ctx, tx, t, cands, now); err != nil {
		return err
	}
	return auditGranted(ctx, tx, t, cands)
}

// auditGranted records each computer that took a seat in this transaction.
func auditGranted(ctx context.Context, tx *store.Tx, t *target, reqs []*seatRequest) error {
	for _, r := range reqs {
		if r.err != nil || r.activationID == "" {
			continue
		}
		after := map[string]string{"method": r.method, "key_id": t.keyID, "serial": r.dev.Serial,
			"macos_user": r.dev.MacOSUser, "app_version": r.dev.AppVersion}
		if err := audit.Record(ctx, tx, deviceActor(r.dev, r.ip), audit.Entry{AccountID: t.accountID, Action: "device.activated",
			TargetType: "computer", TargetID: r.activationID, TargetLabel: r.dev.ComputerName, After: after}); err != nil {
			return err
		}
	}
	return nil
}

// giveBack returns n seats counted for requests that did not need them.
func giveBack(ctx context.Context, tx *store.Tx, t *target, kind string, n int) error {
	if n == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used - ? WHERE id = ?`, n, t.keyID); err != nil {
		return fmt.Errorf("take seat: %w", err)
	}
	if kind != KindReserved {
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET shared_used = shared_used - ? WHERE id = ?`, n, t.subscriptionID); err != nil {
			return fmt.Errorf("take seat: %w", err)
		}
	}
	return nil
}

// grantScarce is grantSeats when seats may run out: lock the key and the
// subscription, read what is free, grant that many in order.
func (s *Service) grantScarce(ctx context.Context, tx *store.Tx, t *target, reqs []*seatRequest, now time.Time) error {
	nowT := store.At(now)
	refuseAll := func(e error) error {
		for _, r := range reqs {
			r.err = e
		}
		return nil
	}
	var kind string
	var keySeats, keyUsed int
	err := tx.QueryRow(ctx, `UPDATE license_keys SET used = used WHERE id = ? AND deleted_at IS NULL RETURNING kind, seats, used`,
		t.keyID).Scan(&kind, &keySeats, &keyUsed)
	if isNoRows(err) {
		return refuseAll(deviceErr(CodeKeyDeleted, "This license key was deleted by its administrator."))
	} else if err != nil {
		return fmt.Errorf("take seat: lock key: %w", err)
	}
	free := math.MaxInt
	if kind != KindPrimary {
		free = keySeats - keyUsed
	}
	if kind != KindReserved {
		var seats, reserved, shared int
		var status string
		var endsAt, purgedAt store.Time
		err := tx.QueryRow(ctx, `UPDATE subscriptions SET shared_used = shared_used WHERE id = ?
			RETURNING seats, reserved, shared_used, status, ends_at, purged_at`, t.subscriptionID).
			Scan(&seats, &reserved, &shared, &status, &endsAt, &purgedAt)
		if err != nil {
			return fmt.Errorf("take seat: lock subscription: %w", err)
		}
		if r := subscriptionRefusal(status, endsAt, purgedAt, now); r != nil {
			return refuseAll(r)
		}
		free = min(free, seats-reserved-shared)
	}
	granted := 0
	pending := reqs
	for len(pending) > 0 && granted < free {
		round := pending[:min(len(pending), free-granted)]
		pending = pending[len(round):]
		got, err := upsertActivations(ctx, tx, t, round, nowT)
		if err != nil {
			return err
		}
		for _, r := range round {
			if id, ok := got[r.dev.HardwareUUID]; ok {
				r.activationID = id
				granted++
			} else {
				r.err = errRetry // already active: no seat taken
			}
		}
	}
	for _, r := range pending {
		r.err = deviceErr(CodeNoFreeSeat, "Every seat of this license key is taken.")
	}
	if granted == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `UPDATE license_keys SET used = used + ? WHERE id = ?`, granted, t.keyID); err != nil {
		return fmt.Errorf("take seat: count: %w", err)
	}
	if kind != KindReserved {
		if _, err := tx.Exec(ctx, `UPDATE subscriptions SET shared_used = shared_used + ? WHERE id = ?`, granted, t.subscriptionID); err != nil {
			return fmt.Errorf("take seat: count shared: %w", err)
		}
	}
	return nil
}

// upsertActivations records active activations for reqs (distinct devices
// of one key) and returns the activation id per hardware UUID for the rows
// written. A device whose row is already active is not written (its
// concurrent activation won) and is missing from the result.
func upsertActivations(ctx context.Context, tx *store.Tx, t *target, reqs []*seatRequest, now store.Time) (map[string]string, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	const cols = 14
	var b strings.Builder
	args := make([]any, 0, cols*len(reqs))
	for i, r := range reqs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', ?, ?, ?)")
		var invitation any
		if r.t.invitationID != "" {
			invitation = r.t.invitationID
		}
		args = append(args, ids.New(), t.accountID, t.subscriptionID, t.keyID, r.dev.HardwareUUID, r.dev.Serial, r.dev.ComputerName,
			r.dev.MacOSUser, r.dev.AppVersion, r.method, invitation, ids.Hash(r.credential), now, now)
	}
	rows, err := tx.Query(ctx, `INSERT INTO license_activations (id, account_id, subscription_id, key_id, hardware_uuid, serial,
		computer_name, macos_user, app_version, method, invitation_id, status, credential_hash, activated_at, last_check_at)
		VALUES `+b.String()+`
		ON CONFLICT (key_id, hardware_uuid) DO UPDATE SET serial = excluded.serial, computer_name = excluded.computer_name,
			macos_user = excluded.macos_user, app_version = excluded.app_version, method = excluded.method,
			invitation_id = excluded.invitation_id, status = 'active', credential_hash = excluded.credential_hash,
			activated_at = excluded.activated_at, last_check_at = excluded.last_check_at, deactivated_at = NULL, deactivated_by = ''
		WHERE license_activations.status <> 'active'
		RETURNING id, hardware_uuid`, args...)
	if err != nil {
		return nil, fmt.Errorf("take seat: record activations: %w", err)
	}
	defer rows.Close()
	out := make(map[string]string, len(reqs))
	for rows.Next() {
		var id, hw string
		if err := rows.Scan(&id, &hw); err != nil {
			return nil, fmt.Errorf("take seat: record activations: %w", err)
		}
		out[hw] = id
	}
	return out, rows.Err()
}
