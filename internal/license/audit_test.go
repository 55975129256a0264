package license

import (
	"context"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestDeviceEventsAudited: a computer activating and giving its seat back are
// in the account's audit log with the computer as actor.
func TestDeviceEventsAudited(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newService(db)
		caller := newAccount(t, db)
		_, key := issueRegistered(t, s, caller, IssueInput{Seats: 3})
		dev := device(1)
		act, err := s.Activate(ctx, ActivateInput{Key: key, Device: dev, IP: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.DeactivateDevice(ctx, act.Credential); err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(ctx, `SELECT action, actor_type, actor_label, target_id, source_ip FROM audit_log
			WHERE account_id = ? AND action LIKE 'device.%' ORDER BY id`, caller.AccountID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var action, actorType, label, target, ip string
			if err := rows.Scan(&action, &actorType, &label, &target, &ip); err != nil {
				t.Fatal(err)
			}
			if actorType != "device" || label != "computer "+dev.ComputerName || target != act.ActivationID {
				t.Errorf("%s: actor %s %q, target %s", action, actorType, label, target)
			}
			got = append(got, action+" "+ip)
		}
		if len(got) != 2 || got[0] != "device.activated 192.0.2.7" || got[1] != "device.deactivated " {
			t.Fatalf("device audit entries: %q", got)
		}
	})
}
