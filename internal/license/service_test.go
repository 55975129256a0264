package license

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestIssueValidation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		op := OperatorActor("test")
		_, _, err := s.Issue(ctx, IssueInput{Edition: "gold", Model: "per-device", Seats: 5, Term: Term{Years: 1}}, op)
		wantField(t, err, "edition")
		_, _, err = s.Issue(ctx, IssueInput{Edition: "business", Model: "mixed", Seats: 5, Term: Term{Years: 1}}, op)
		wantField(t, err, "model")
		_, _, err = s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 0, Term: Term{Years: 1}}, op)
		wantField(t, err, "seats")
		sub, key, err := s.Issue(ctx, IssueInput{Edition: "enterprise", Model: "mixed", Seats: 50, Term: Term{Years: 1}, Trial: true, Note: "PO-1"}, op)
		if err != nil {
			t.Fatal(err)
		}
		if !ValidKey(key) || sub.Edition != EditionEnterprise || sub.Model != ModelMixed || !sub.Trial || sub.Seats != 50 || sub.AccountID != "" {
			t.Fatalf("issued %+v key %q", sub, key)
		}
		if !strings.HasSuffix(key, sub.PrimaryLast) {
			t.Fatalf("primary last %q of %q", sub.PrimaryLast, key)
		}
		found, err := s.FindSubscription(ctx, strings.ToLower(strings.ReplaceAll(key, "-", "")))
		if err != nil || found.ID != sub.ID {
			t.Fatalf("find by key: %v %v", found, err)
		}
		// The key is stored only hashed and sealed.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM license_keys WHERE key_hash = ? OR key_sealed LIKE ? OR key_last = ?`, key, "%"+key[:6]+"%", key).Scan(&n); err != nil || n != 0 {
			t.Fatalf("key stored in clear? %d %v", n, err)
		}
	})
}

func TestRegisterKey(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a, b := newAccount(t, db), newAccount(t, db)
		sub, key, err := s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 10, Term: Term{Years: 1}}, OperatorActor("test"))
		if err != nil {
			t.Fatal(err)
		}
		// A typo is caught before any lookup.
		_, err = s.RegisterKey(ctx, a, RegisterInput{Key: typo(key, 3)}, testActor)
		if fe := wantField(t, err, "key"); !strings.HasPrefix(fe.Message, "This key has a typo") {
			t.Fatalf("typo message %q", fe.Message)
		}
		// Preview.
		p, err := s.PreviewKey(ctx, a, strings.ToLower(key))
		if err != nil || p.Edition != EditionBusiness || p.Seats != 10 || p.Registered {
			t.Fatalf("preview %+v %v", p, err)
		}
		res, err := s.RegisterKey(ctx, a, RegisterInput{Key: " " + strings.ToLower(key) + " ", DisplayName: "Design team"}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if res.AccountID != a.AccountID || res.Subscription.ID != sub.ID || res.Subscription.Name != "Design team" || res.AccountCreated {
			t.Fatalf("register result %+v", res)
		}
		// Same account again: a clear message, no crash, nothing changes.
		_, err = s.RegisterKey(ctx, a, RegisterInput{Key: key}, testActor)
		if fe := wantField(t, err, "key"); !strings.Contains(fe.Message, "already registered to this") {
			t.Fatalf("second registration: %q", fe.Message)
		}
		// Another account: refused and audited in both.
		_, err = s.RegisterKey(ctx, b, RegisterInput{Key: key}, testActor)
		if fe := wantField(t, err, "key"); !strings.Contains(fe.Message, "another business account") {
			t.Fatalf("foreign registration: %q", fe.Message)
		}
		for _, acc := range []string{a.AccountID, b.AccountID} {
			var n int
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = 'license.key_register_refused'`, acc).Scan(&n); err != nil || n != 1 {
				t.Fatalf("refusal audit in %s: %d %v", acc, n, err)
			}
		}
		got, err := s.FindSubscription(ctx, key)
		if err != nil || got.AccountID != a.AccountID {
			t.Fatalf("subscription moved: %+v %v", got, err)
		}
		// Only admins register into an account.
		la := Caller{PersonID: newPerson(t, db), AccountID: a.AccountID, Role: RoleLicenseAdmin}
		if _, err := s.RegisterKey(ctx, la, RegisterInput{Key: GenerateKey()}, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("license admin registering: %v", err)
		}
		// An unknown but well-formed key.
		_, err = s.RegisterKey(ctx, a, RegisterInput{Key: GenerateKey()}, testActor)
		if fe := wantField(t, err, "key"); !strings.Contains(fe.Message, "No license") {
			t.Fatalf("unknown key: %q", fe.Message)
		}
		// The product card list.
		subs, err := s.Subscriptions(ctx, a)
		if err != nil || len(subs) != 1 || subs[0].ID != sub.ID {
			t.Fatalf("subscriptions %+v %v", subs, err)
		}
		if subs, err := s.Subscriptions(ctx, b); err != nil || len(subs) != 0 {
			t.Fatalf("other account sees %+v %v", subs, err)
		}
		if _, err := s.Subscription(ctx, b, sub.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("other account reads details: %v", err)
		}
	})
}

func TestRegisterCreatesAccount(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		person := Caller{PersonID: newPerson(t, db)}
		_, key, err := s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 3, Term: Term{Months: 6}}, OperatorActor("test"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.RegisterKey(ctx, person, RegisterInput{Key: key}, testActor)
		wantField(t, err, "account")
		_, err = s.RegisterKey(ctx, person, RegisterInput{Key: key, NewAccount: &NewAccount{Name: " "}}, testActor)
		wantField(t, err, "name")
		res, err := s.RegisterKey(ctx, person, RegisterInput{Key: key, NewAccount: &NewAccount{Name: "Acme GmbH", Country: "de"}}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if !res.AccountCreated || res.Subscription.AccountID != res.AccountID || res.Subscription.AccountName != "Acme GmbH" {
			t.Fatalf("result %+v", res)
		}
		var role string
		if err := db.QueryRow(ctx, `SELECT role FROM memberships WHERE account_id = ? AND person_id = ?`, res.AccountID, person.PersonID).Scan(&role); err != nil || role != RoleAdmin {
			t.Fatalf("membership %q %v", role, err)
		}
		// A failed attempt created nothing.
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM accounts`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("accounts: %d %v", n, err)
		}
	})
}

func TestOneEnterprisePerAccount(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		op := OperatorActor("test")
		trial, trialKey := issueRegistered(t, s, a, IssueInput{Edition: "enterprise", Model: "mixed", Seats: 5, Term: Term{Days: 30}, Trial: true})
		// A second trial is refused outright.
		_, trial2, _ := s.Issue(ctx, IssueInput{Edition: "enterprise", Model: "mixed", Seats: 5, Term: Term{Days: 30}, Trial: true}, op)
		_, err := s.RegisterKey(ctx, a, RegisterInput{Key: trial2, SuspendTrial: true}, testActor)
		wantField(t, err, "key")
		// A purchased Enterprise key asks to suspend the trial first.
		_, bought, _ := s.Issue(ctx, IssueInput{Edition: "enterprise", Model: "per-device", Seats: 100, Term: Term{Years: 1}}, op)
		_, err = s.RegisterKey(ctx, a, RegisterInput{Key: bought}, testActor)
		var ce *ConfirmationError
		if !errors.As(err, &ce) || ce.Action != "suspend_trial" {
			t.Fatalf("want confirmation, got %v", err)
		}
		var hooked []string
		s.Hooks.TrialSuspended = append(s.Hooks.TrialSuspended, func(ctx context.Context, tx *store.Tx, accountID, subID string) error {
			hooked = append(hooked, subID)
			return nil
		})
		res, err := s.RegisterKey(ctx, a, RegisterInput{Key: bought, SuspendTrial: true}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if res.SuspendedTrial == nil || res.SuspendedTrial.ID != trial.ID || len(hooked) != 1 || hooked[0] != trial.ID {
			t.Fatalf("suspended %+v hooked %v", res.SuspendedTrial, hooked)
		}
		got, _ := s.FindSubscription(ctx, trialKey)
		if got.State(time.Now()) != StateSuspended {
			t.Fatalf("trial state %s", got.State(time.Now()))
		}
		// Resuming the trial now would make two.
		_, err = s.Resume(ctx, trialKey, op)
		wantField(t, err, "subscription")
		// Converting a Business subscription of this account is refused while
		// a purchased Enterprise one is active.
		biz, bizKey := issueRegistered(t, s, a, IssueInput{Edition: "business", Seats: 5})
		_, err = s.Convert(ctx, bizKey, "", op)
		wantField(t, err, "subscription")
		_ = biz
	})
}

func TestConvertSuspendsTrial(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		op := OperatorActor("test")
		biz, bizKey := issueRegistered(t, s, a, IssueInput{Edition: "business", Seats: 5})
		trial, _ := issueRegistered(t, s, a, IssueInput{Edition: "enterprise", Model: "mixed", Seats: 5, Term: Term{Days: 30}, Trial: true})
		// A device activated on the Business key keeps working after the
		// conversion (same key, no reactivation).
		act, err := s.Activate(ctx, ActivateInput{Key: bizKey, Device: device(1)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := s.Convert(ctx, biz.ID, "mixed", op)
		if err != nil {
			t.Fatal(err)
		}
		if res.Subscription.Edition != EditionEnterprise || res.Subscription.Model != ModelMixed || res.SuspendedTrial == nil || res.SuspendedTrial.ID != trial.ID {
			t.Fatalf("convert %+v", res)
		}
		chk, err := s.Check(ctx, act.Credential, CheckInput{})
		if err != nil || chk.Claims.Edition != EditionEnterprise {
			t.Fatalf("check after convert: %+v %v", chk, err)
		}
		if _, err := s.Convert(ctx, biz.ID, "", op); err == nil {
			t.Fatal("converted twice")
		}
	})
}

func TestSeatRules(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		sub, primary := issueRegistered(t, s, a, IssueInput{Seats: 10})

		// Reserved 4: the shared pool becomes 6.
		res4, resKey, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Design", Kind: "reserved", Seats: 4}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if !ValidKey(resKey) || res4.Masked == resKey {
			t.Fatalf("sublicense key %q masked %q", resKey, res4.Masked)
		}
		// Reservations can never exceed the subscription.
		_, _, err = s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Too big", Kind: "reserved", Seats: 7}, testActor)
		if fe := wantField(t, err, "seats"); !strings.Contains(fe.Message, "Only 6") {
			t.Fatalf("message %q", fe.Message)
		}
		// A dynamic cap cannot exceed the shared pool.
		_, _, err = s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Dyn", Kind: "dynamic", Seats: 7}, testActor)
		wantField(t, err, "seats")
		dyn, dynKey, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Contractors", Kind: "dynamic", Seats: 3}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "", Kind: "dynamic", Seats: 3}, testActor)
		wantField(t, err, "name")
		// A form sent twice does not make two keys of one name.
		_, _, err = s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "contractors", Kind: "dynamic", Seats: 1}, testActor)
		if fe := wantField(t, err, "name"); !strings.Contains(fe.Message, "already has a key named") {
			t.Fatalf("duplicate name: %q", fe.Message)
		}
		_, err = s.UpdateKey(ctx, a, res4.ID, KeyInput{Name: "Contractors", Kind: "reserved", Seats: 4}, testActor)
		wantField(t, err, "name")
		_, _, err = s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "x", Kind: "floating", Seats: 3}, testActor)
		wantField(t, err, "kind")

		activate := func(key string) error {
			_, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)})
			return err
		}
		// Dynamic: cap 3.
		for i := 0; i < 3; i++ {
			if err := activate(dynKey); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, activate(dynKey), CodeNoFreeSeat)
		// Primary: the pool has 6 − 3 = 3 left.
		for i := 0; i < 3; i++ {
			if err := activate(primary); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, activate(primary), CodeNoFreeSeat)
		// The reserved key still has its 4, guaranteed.
		for i := 0; i < 4; i++ {
			if err := activate(resKey); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, activate(resKey), CodeNoFreeSeat)
		checkInvariants(t, db, sub.ID)

		d, err := s.Subscription(ctx, a, sub.ID)
		if err != nil {
			t.Fatal(err)
		}
		if d.Used != 10 || d.Reserved != 4 || d.SharedUsed != 6 || len(d.Keys) != 3 || d.Keys[0].Kind != KindPrimary {
			t.Fatalf("details %+v", d)
		}
		for _, k := range d.Keys {
			if k.Free != 0 {
				t.Fatalf("key %s free %d", k.Name, k.Free)
			}
		}

		// Lowering a cap below what the key holds is refused.
		_, err = s.UpdateKey(ctx, a, dyn.ID, KeyInput{Name: "Contractors", Kind: "dynamic", Seats: 2}, testActor)
		wantField(t, err, "seats")
		// Dynamic → reserved with 3 seats: the pool shrinks to 3 but holds
		// 3 (primary) — fits exactly.
		k, err := s.UpdateKey(ctx, a, dyn.ID, KeyInput{Name: "Contractors (reserved)", Kind: "reserved", Seats: 3}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		if k.Kind != KindReserved || k.Used != 3 {
			t.Fatalf("updated %+v", k)
		}
		checkInvariants(t, db, sub.ID)
		// Raising a reservation with no room left is refused.
		_, err = s.UpdateKey(ctx, a, dyn.ID, KeyInput{Name: "Contractors (reserved)", Kind: "reserved", Seats: 4}, testActor)
		wantField(t, err, "seats")
		// Deleting asks first, then deactivates the computers and frees the seats.
		_, err = s.DeleteKey(ctx, a, res4.ID, false, testActor)
		var ce *ConfirmationError
		if !errors.As(err, &ce) || !strings.Contains(ce.Message, "4 seats in use") {
			t.Fatalf("delete without confirmation: %v", err)
		}
		n, err := s.DeleteKey(ctx, a, res4.ID, true, testActor)
		if err != nil || n != 4 {
			t.Fatalf("delete: %d %v", n, err)
		}
		checkInvariants(t, db, sub.ID)
		wantCode(t, activate(resKey), CodeKeyDeleted)
		// Its 4 seats went back to the shared pool.
		for i := 0; i < 4; i++ {
			if err := activate(primary); err != nil {
				t.Fatal(err)
			}
		}
		wantCode(t, activate(primary), CodeNoFreeSeat)
		checkInvariants(t, db, sub.ID)
		if _, err := s.DeleteKey(ctx, a, d.Keys[0].ID, true, testActor); err == nil {
			t.Fatal("deleted the primary key")
		}
		// Vendor cannot shrink below what is used.
		_, err = s.Extend(ctx, sub.ID, ExtendInput{Seats: 5}, OperatorActor("test"))
		wantField(t, err, "seats")
		if _, err := s.Extend(ctx, sub.ID, ExtendInput{Seats: 20}, OperatorActor("test")); err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, db, sub.ID)
	})
}

func TestLicenseAdminScope(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		sub, _ := issueRegistered(t, s, a, IssueInput{Seats: 10})
		k1, _, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "One", Kind: "dynamic", Seats: 2}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		k2, _, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Two", Kind: "dynamic", Seats: 2}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		laID := newPerson(t, db)
		addMember(t, db, a.AccountID, laID, RoleLicenseAdmin)
		la := Caller{PersonID: laID, AccountID: a.AccountID, Role: RoleLicenseAdmin}
		if _, err := s.Key(ctx, la, k1.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("unassigned: %v", err)
		}
		if err := s.AssignKeyAdmin(ctx, la, k1.ID, laID, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("license admin assigning: %v", err)
		}
		if err := s.AssignKeyAdmin(ctx, a, k1.ID, a.PersonID, testActor); err == nil {
			t.Fatal("assigned an admin")
		}
		if err := s.AssignKeyAdmin(ctx, a, k1.ID, laID, testActor); err != nil {
			t.Fatal(err)
		}
		if err := s.AssignKeyAdmin(ctx, a, k1.ID, laID, testActor); err != nil {
			t.Fatalf("assign twice: %v", err)
		}
		if _, err := s.Key(ctx, la, k1.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.UpdateKey(ctx, la, k1.ID, KeyInput{Name: "One renamed", Kind: "dynamic", Seats: 2}, testActor); err != nil {
			t.Fatalf("rename own key: %v", err)
		}
		if _, err := s.UpdateKey(ctx, la, k1.ID, KeyInput{Name: "One renamed", Kind: "dynamic", Seats: 5}, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("change allotment without the primary key: %v", err)
		}
		if _, err := s.UpdateKey(ctx, la, k2.ID, KeyInput{Name: "x", Kind: "dynamic", Seats: 2}, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("other key: %v", err)
		}
		if _, err := s.RevealKey(ctx, la, k1.ID, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("reveal by license admin: %v", err)
		}
		if _, _, err := s.CreateSublicense(ctx, la, sub.ID, KeyInput{Name: "Three", Kind: "dynamic", Seats: 1}, testActor); !errors.Is(err, ErrForbidden) {
			t.Fatalf("create: %v", err)
		}
		d, err := s.Subscription(ctx, la, sub.ID)
		if err != nil || len(d.Keys) != 1 || d.Keys[0].ID != k1.ID || d.CanManage {
			t.Fatalf("license admin details %+v %v", d, err)
		}
		subs, err := s.Subscriptions(ctx, la)
		if err != nil || len(subs) != 1 {
			t.Fatalf("license admin subscriptions %+v %v", subs, err)
		}
		admins, err := s.KeyAdmins(ctx, a, k1.ID)
		if err != nil || len(admins) != 1 || admins[0].PersonID != laID {
			t.Fatalf("key admins %+v %v", admins, err)
		}
		// Admin reveals the full key; audited.
		full, err := s.RevealKey(ctx, a, k2.ID, testActor)
		if err != nil || !ValidKey(full) || !strings.HasSuffix(full, k2.Last) {
			t.Fatalf("reveal %q %v", full, err)
		}
		if err := s.UnassignKeyAdmin(ctx, a, k1.ID, laID, testActor); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Key(ctx, la, k1.ID); !errors.Is(err, ErrForbidden) {
			t.Fatalf("after unassign: %v", err)
		}
		// Another account's admin sees nothing.
		b := newAccount(t, db)
		if _, err := s.Key(ctx, b, k1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign key: %v", err)
		}
		if _, err := s.DeleteKey(ctx, b, k1.ID, true, testActor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign delete: %v", err)
		}
	})
}

func TestActivationReasons(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		clk := &clock{t: time.Now().UTC()}
		s := New(db, Config{PublicURL: "https://gatehouse.test", Now: clk.now})
		ctx := context.Background()
		op := OperatorActor("test")
		a := newAccount(t, db)

		// Not registered yet.
		_, unregistered, _ := s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 2, Term: Term{Days: 10}}, op)
		_, err := s.Activate(ctx, ActivateInput{Key: unregistered, Device: device(0)})
		wantCode(t, err, CodeKeyNotRegistered)
		// Malformed and unknown keys.
		_, err = s.Activate(ctx, ActivateInput{Key: typo(unregistered, 33), Device: device(0)})
		wantCode(t, err, CodeInvalidKey)
		_, err = s.Activate(ctx, ActivateInput{Key: GenerateKey(), Device: device(0)})
		wantCode(t, err, CodeInvalidKey)
		_, err = s.Activate(ctx, ActivateInput{Device: device(0)})
		wantCode(t, err, CodeInvalidRequest)
		_, err = s.Activate(ctx, ActivateInput{Key: unregistered, Device: Device{HardwareUUID: "bad uuid!", ComputerName: "x", AppVersion: "1"}})
		wantCode(t, err, CodeInvalidRequest)
		// Per-user licenses activate by SSO.
		_, ssoKey := issueRegistered(t, s, a, IssueInput{Model: "per-user", Seats: 2})
		_, err = s.Activate(ctx, ActivateInput{Key: ssoKey, Device: device(0)})
		wantCode(t, err, CodeSSORequired)

		sub, key := issueRegistered(t, s, a, IssueInput{Seats: 2, Term: Term{Days: 10}})
		dev := device(1)
		act, err := s.Activate(ctx, ActivateInput{Key: key, Device: dev})
		if err != nil {
			t.Fatal(err)
		}
		if act.Reactivated || act.Credential == "" || act.Claims.Device.HardwareUUID != strings.ToUpper(dev.HardwareUUID) || act.Claims.Method != MethodKey {
			t.Fatalf("activation %+v", act)
		}
		if want := clk.t.Add(7 * 24 * time.Hour).Truncate(time.Second); !act.Claims.ValidUntil.Equal(want) {
			t.Fatalf("valid until %v, want %v", act.Claims.ValidUntil, want)
		}
		// Re-activating the same device takes no second seat.
		again, err := s.Activate(ctx, ActivateInput{Key: strings.ToLower(key), Device: dev})
		if err != nil || !again.Reactivated || again.ActivationID != act.ActivationID {
			t.Fatalf("reactivation %+v %v", again, err)
		}
		if _, err := s.Check(ctx, act.Credential, CheckInput{}); err == nil {
			t.Fatal("old credential still works after re-activation")
		}
		checkInvariants(t, db, sub.ID)
		if d, _ := s.Subscription(ctx, a, sub.ID); d.Used != 1 {
			t.Fatalf("used %d after re-activation", d.Used)
		}
		// Suspended.
		if _, err := s.Suspend(ctx, key, "unpaid", op); err != nil {
			t.Fatal(err)
		}
		_, err = s.Check(ctx, again.Credential, CheckInput{})
		wantCode(t, err, CodeSuspended)
		_, err = s.Activate(ctx, ActivateInput{Key: key, Device: device(2)})
		wantCode(t, err, CodeSuspended)
		if _, err := s.Resume(ctx, key, op); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Check(ctx, again.Credential, CheckInput{AppVersion: "26.2.0"}); err != nil {
			t.Fatal(err)
		}
		var version string
		db.Writer().QueryRow(ctx, `SELECT app_version FROM license_activations WHERE id = ?`, again.ActivationID).Scan(&version)
		if version != "26.2.0" {
			t.Fatalf("app version after check: %q", version)
		}
		// The certificate never outlives the subscription.
		clk.add(5 * 24 * time.Hour)
		chk, err := s.Check(ctx, again.Credential, CheckInput{})
		if err != nil || !chk.Claims.ValidUntil.Equal(sub.EndsAt.Time.Truncate(time.Second)) {
			t.Fatalf("valid until %v, subscription ends %v (%v)", chk.Claims.ValidUntil, sub.EndsAt, err)
		}
		// Expired.
		clk.add(6 * 24 * time.Hour)
		_, err = s.Check(ctx, again.Credential, CheckInput{})
		wantCode(t, err, CodeExpired)
		_, err = s.Activate(ctx, ActivateInput{Key: key, Device: device(3)})
		wantCode(t, err, CodeExpired)
		// Extended: valid again.
		if _, err := s.Extend(ctx, key, ExtendInput{Term: Term{Years: 1}}, op); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Check(ctx, again.Credential, CheckInput{}); err != nil {
			t.Fatal(err)
		}
		// Deactivated by the device; deactivating twice is fine.
		if err := s.DeactivateDevice(ctx, again.Credential); err != nil {
			t.Fatal(err)
		}
		if err := s.DeactivateDevice(ctx, again.Credential); err != nil {
			t.Fatal(err)
		}
		_, err = s.Check(ctx, again.Credential, CheckInput{})
		wantCode(t, err, CodeDeactivated)
		_, err = s.Check(ctx, "not-a-credential", CheckInput{})
		wantCode(t, err, CodeUnauthorized)
		checkInvariants(t, db, sub.ID)
		// The same device can activate again (reusing its row).
		back, err := s.Activate(ctx, ActivateInput{Key: key, Device: dev})
		if err != nil || back.Reactivated || back.ActivationID != act.ActivationID {
			t.Fatalf("activate after deactivation: %+v %v", back, err)
		}
		checkInvariants(t, db, sub.ID)
	})
}

func TestCertificateVerifies(t *testing.T) {
	db := testenv.SQLite(t)
	s := newService(db)
	ctx := context.Background()
	a := newAccount(t, db)
	_, key := issueRegistered(t, s, a, IssueInput{Seats: 1})
	act, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)})
	if err != nil {
		t.Fatal(err)
	}
	pk, err := s.ActivationPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if act.Certificate.KeyID != pk.KeyID || act.Certificate.Algorithm != "Ed25519" || !strings.Contains(pk.PEM(), "BEGIN PUBLIC KEY") {
		t.Fatalf("cert %+v key %+v", act.Certificate, pk)
	}
	// A second service on the same database shares the key.
	s2 := newService(db)
	pk2, err := s2.ActivationPublicKey(ctx)
	if err != nil || pk2.KeyID != pk.KeyID {
		t.Fatalf("second node key %v %v", pk2.KeyID, err)
	}
}

// Concurrent activations of the same computer take one seat; concurrent
// activations and deactivations keep the counters exact.
func TestConcurrentSameDevice(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		s := newService(db)
		ctx := context.Background()
		a := newAccount(t, db)
		sub, primary := issueRegistered(t, s, a, IssueInput{Seats: 45})
		_, dynKey, err := s.CreateSublicense(ctx, a, sub.ID, KeyInput{Name: "Dyn", Kind: "dynamic", Seats: 30}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		same := device(0)
		var wg sync.WaitGroup
		results := make(chan error, 200)
		creds := make(chan string, 200)
		for i := 0; i < 60; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				dev := same
				key := dynKey
				if i%3 == 1 {
					dev = device(i)
				}
				if i%3 == 2 {
					key, dev = primary, device(i)
				}
				act, err := s.Activate(ctx, ActivateInput{Key: key, Device: dev})
				results <- err
				if err == nil && i%2 == 0 {
					creds <- act.Credential
				}
			}(i)
		}
		wg.Wait()
		close(results)
		close(creds)
		for err := range results {
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
		}
		checkInvariants(t, db, sub.ID)
		var n int
		db.Writer().QueryRow(ctx, `SELECT COUNT(*) FROM license_activations WHERE hardware_uuid = ?`, strings.ToUpper(same.HardwareUUID)).Scan(&n)
		if n != 1 {
			t.Fatalf("same device has %d rows", n)
		}
		// Deactivate concurrently (device and admin at once) while others activate.
		list, _, _ := s.Computers(ctx, a, ComputerFilter{})
		var wg2 sync.WaitGroup
		for c := range creds {
			wg2.Add(1)
			go func(c string) { defer wg2.Done(); _ = s.DeactivateDevice(ctx, c) }(c)
		}
		for _, c := range list {
			wg2.Add(1)
			go func(id string) { defer wg2.Done(); _, _ = s.DeactivateComputers(ctx, a, []string{id}, testActor) }(c.ID)
			wg2.Add(1)
			go func(i int) {
				defer wg2.Done()
				_, _ = s.Activate(ctx, ActivateInput{Key: dynKey, Device: device(100 + i)})
			}(len(list))
		}
		wg2.Wait()
		checkInvariants(t, db, sub.ID)
	})
}
