package peruser

import (
	"context"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestAttemptStates walks an attempt through its one-way states: each
// transition happens once, and a decided attempt cannot be decided again.
func TestAttemptStates(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Unix(1_800_000_000, 0)
		// A bare account row is the only fixture the attempts table needs.
		if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES ('acc1', 'Acme', ?)`, store.At(now)); err != nil {
			t.Fatal(err)
		}
		insert := func(id string, expires time.Time) {
			t.Helper()
			if err := InsertAttempt(ctx, db, NewAttempt{ID: id, AccountID: "acc1", Email: "ann@example.com",
				HardwareUUID: "HW-" + id, Challenge: "c", CreatedAt: store.At(now), ExpiresAt: store.At(expires)}); err != nil {
				t.Fatal(err)
			}
		}
		insert("a1", now.Add(10*time.Minute))
		insert("a2", now.Add(10*time.Minute))
		insert("old", now.Add(-48*time.Hour))

		inTx := func(fn func(tx *store.Tx) (bool, error)) bool {
			t.Helper()
			var ok bool
			if err := db.InTx(ctx, func(tx *store.Tx) error {
				var err error
				ok, err = fn(tx)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			return ok
		}
		complete := func(tx *store.Tx) (bool, error) {
			return CompleteAttemptTx(ctx, tx, "a1", "p1", "k1", "act1", store.At(now.Add(10*time.Minute)), store.At(now))
		}
		redeem := func(tx *store.Tx) (bool, error) { return RedeemAttemptTx(ctx, tx, "a1", store.At(now)) }

		if inTx(redeem) {
			t.Error("a pending attempt was redeemed")
		}
		if !inTx(complete) {
			t.Fatal("completing a pending attempt failed")
		}
		if inTx(complete) {
			t.Error("an attempt was completed twice")
		}
		if ok, err := RefuseAttempt(ctx, db, "a1", "x", "m", "r"); err != nil || ok {
			t.Errorf("refusing a completed attempt = %v, %v; want false", ok, err)
		}
		if !inTx(redeem) {
			t.Fatal("redeeming a completed attempt failed")
		}
		if inTx(redeem) {
			t.Error("an attempt was redeemed twice")
		}

		if ok, err := RefuseAttempt(ctx, db, "a2", "code", "msg", "ref"); err != nil || !ok {
			t.Fatalf("refusing a pending attempt = %v, %v", ok, err)
		}
		var state, code string
		if err := db.QueryRow(ctx, `SELECT state, refusal_code FROM sso_activation_attempts WHERE id = 'a2'`).Scan(&state, &code); err != nil {
			t.Fatal(err)
		}
		if state != "refused" || code != "code" {
			t.Errorf("refused attempt has state %q, code %q", state, code)
		}

		n, err := PurgeAttempts(ctx, db, store.At(now.Add(-24*time.Hour)))
		if err != nil || n != 1 {
			t.Errorf("purge = %d, %v; want only the attempt that expired two days ago", n, err)
		}
	})
}
