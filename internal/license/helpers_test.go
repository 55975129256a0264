package license

import (
	"context"
	"errors"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

var testActor = audit.Actor{Type: audit.ActorPerson, ID: "test", Label: "test@example.com"}

func newService(db *store.DB) *Service {
	return New(db, Config{PublicURL: "https://gatehouse.test"})
}

// newPerson inserts a person.
func newPerson(t *testing.T, db *store.DB) string {
	t.Helper()
	id := ids.New()
	email := id + "@example.com"
	if _, err := db.Exec(context.Background(), `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`,
		id, email, email, store.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

// newAccount inserts a business account with a new person as admin and
// returns the admin's Caller.
func newAccount(t *testing.T, db *store.DB) Caller {
	t.Helper()
	pid := newPerson(t, db)
	aid := ids.New()
	ctx := context.Background()
	if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, aid, "Org "+aid[len(aid)-6:], store.Now()); err != nil {
		t.Fatal(err)
	}
	addMember(t, db, aid, pid, RoleAdmin)
	return Caller{PersonID: pid, AccountID: aid, Role: RoleAdmin}
}

func addMember(t *testing.T, db *store.DB, accountID, personID, role string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES (?, ?, ?, 'active', ?)`,
		accountID, personID, role, store.Now()); err != nil {
		t.Fatal(err)
	}
}

// issueRegistered issues a subscription and registers it into caller's account.
func issueRegistered(t *testing.T, s *Service, caller Caller, in IssueInput) (*Subscription, string) {
	t.Helper()
	ctx := context.Background()
	if in.Edition == "" {
		in.Edition = EditionBusiness
	}
	if in.Model == "" {
		in.Model = ModelPerDevice
	}
	if (in.Term == Term{}) {
		in.Term = Term{Years: 1}
	}
	_, key, err := s.Issue(ctx, in, OperatorActor("test"))
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	res, err := s.RegisterKey(ctx, caller, RegisterInput{Key: key, SuspendTrial: true}, testActor)
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	return res.Subscription, key
}

func device(n int) Device {
	return Device{HardwareUUID: ids.New(), Serial: "C02TEST" + string(rune('A'+n%26)), ComputerName: "Mac " + ids.New()[30:],
		MacOSUser: "ann", AppVersion: "26.1.0"}
}

func wantField(t *testing.T, err error, field string) *FieldError {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("want a FieldError on %q, got %v", field, err)
	}
	if fe.Field != field {
		t.Fatalf("want a FieldError on %q, got %q: %s", field, fe.Field, fe.Message)
	}
	return fe
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var de *DeviceError
	if !errors.As(err, &de) || de.Code != code {
		t.Fatalf("want device error %q, got %v", code, err)
	}
}

// checkInvariants recomputes (I1)–(I4) of doc.go, and (I5') and (I6) of
// peruser.go (which are (I5) when no per-user seats exist), from the rows.
func checkInvariants(t *testing.T, db *store.DB, subscriptionID string) {
	t.Helper()
	ctx := context.Background()
	q := db.Writer()
	var seats, reserved, sharedUsed int
	if err := q.QueryRow(ctx, `SELECT seats, reserved, shared_used FROM subscriptions WHERE id = ?`, subscriptionID).Scan(&seats, &reserved, &sharedUsed); err != nil {
		t.Fatal(err)
	}
	rows, err := q.Query(ctx, `SELECT id, kind, seats, used, deleted_at IS NOT NULL FROM license_keys WHERE subscription_id = ?`, subscriptionID)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		id, kind    string
		seats, used int
		deleted     bool
	}
	var keys []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.id, &k.kind, &k.seats, &k.used, &k.deleted); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	rows.Close()
	var sumReserved, sumShared int
	for _, k := range keys {
		var devices, userSeats, orphans, badCount int
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_activations WHERE key_id = ? AND status = 'active' AND method <> 'sso'`, k.id).Scan(&devices); err != nil {
			t.Fatal(err)
		}
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_user_seats WHERE key_id = ? AND status = 'active'`, k.id).Scan(&userSeats); err != nil {
			t.Fatal(err)
		}
		if devices+userSeats != k.used {
			t.Errorf("I5': key %s (%s) used=%d but %d device activations + %d user seats", k.id, k.kind, k.used, devices, userSeats)
		}
		// I6: every active SSO device has its person's seat on the same key,
		// and the seat's device count matches.
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_activations a WHERE a.key_id = ? AND a.status = 'active' AND a.method = 'sso'
			AND NOT EXISTS (SELECT 1 FROM license_user_seats s WHERE s.key_id = a.key_id AND s.person_id = a.person_id AND s.status = 'active')`, k.id).Scan(&orphans); err != nil {
			t.Fatal(err)
		}
		if orphans != 0 {
			t.Errorf("I6: key %s has %d SSO devices without a seat", k.id, orphans)
		}
		if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_user_seats s WHERE s.key_id = ? AND s.status = 'active'
			AND s.devices <> (SELECT COUNT(*) FROM license_activations a WHERE a.key_id = s.key_id AND a.person_id = s.person_id AND a.method = 'sso' AND a.status = 'active')`, k.id).Scan(&badCount); err != nil {
			t.Fatal(err)
		}
		if badCount != 0 {
			t.Errorf("I6: key %s has %d seats whose device count is wrong", k.id, badCount)
		}
		if k.deleted {
			if k.used != 0 {
				t.Errorf("deleted key %s still uses %d", k.id, k.used)
			}
			continue
		}
		if k.kind != KindPrimary && k.used > k.seats {
			t.Errorf("I2: key %s used %d > seats %d", k.id, k.used, k.seats)
		}
		if k.kind == KindReserved {
			sumReserved += k.seats
		} else {
			sumShared += k.used
		}
	}
	if reserved != sumReserved {
		t.Errorf("I3: reserved=%d, reserved keys sum to %d", reserved, sumReserved)
	}
	if sharedUsed != sumShared {
		t.Errorf("I4: shared_used=%d, primary+dynamic keys use %d", sharedUsed, sumShared)
	}
	if reserved+sharedUsed > seats || reserved < 0 || sharedUsed < 0 {
		t.Errorf("I1: reserved %d + shared_used %d vs seats %d", reserved, sharedUsed, seats)
	}
}

// clock is a movable Config.Now.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }

// typo changes the character at i of key to another one.
func typo(key string, i int) string {
	b := []byte(key)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}
