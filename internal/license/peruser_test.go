package license

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/internal/license/peruser"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// ssoEnv is an account with a per-user (or mixed) subscription.
type ssoEnv struct {
	s      *Service
	db     *store.DB
	caller Caller
	sub    *Subscription
	clock  *clock
}

func newSSOEnv(t *testing.T, db *store.DB, model string, seats int) *ssoEnv {
	t.Helper()
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	s := New(db, Config{PublicURL: "https://gatehouse.test", Now: clk.now})
	caller := newAccount(t, db)
	edition := EditionBusiness
	if model == ModelMixed {
		edition = EditionEnterprise
	}
	sub, _ := issueRegistered(t, s, caller, IssueInput{Edition: edition, Model: model, Seats: seats})
	return &ssoEnv{s: s, db: db, caller: caller, sub: sub, clock: clk}
}

// person inserts a person with an email and returns id and email.
func (e *ssoEnv) person(t testing.TB) (string, string) {
	t.Helper()
	id := ids.New()
	email := "p" + strings.ReplaceAll(id[len(id)-12:], "-", "") + "@corp.example"
	if _, err := e.db.Exec(context.Background(), `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`,
		id, email, email, store.Now()); err != nil {
		t.Fatal(err)
	}
	return id, email
}

func (e *ssoEnv) sublicense(t *testing.T, name, kind string, seats int) *Key {
	t.Helper()
	k, _, err := e.s.CreateSublicense(context.Background(), e.caller, e.sub.ID, KeyInput{Name: name, Kind: kind, Seats: seats}, testActor)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func (e *ssoEnv) primary(t *testing.T) *Key {
	t.Helper()
	d, err := e.s.Subscription(context.Background(), e.caller, e.sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	for i := range d.Keys {
		if d.Keys[i].Kind == KindPrimary {
			return &d.Keys[i]
		}
	}
	t.Fatal("no primary key")
	return nil
}

func (e *ssoEnv) keyUsed(t *testing.T, keyID string) int {
	t.Helper()
	var n int
	if err := e.db.Writer().QueryRow(context.Background(), `SELECT used FROM license_keys WHERE id = ?`, keyID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// activate runs a whole SSO activation for person on dev: start, complete
// (as the ACS would after the IdP vouched), redeem.
func (e *ssoEnv) activate(t *testing.T, personID, email string, groups []string, dev Device) (*Activation, *SSOCompletion, error) {
	t.Helper()
	ctx := context.Background()
	verifier := ids.Secret(40)
	a, err := e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: e.caller.AccountID, Email: email, Device: dev,
		CodeChallenge: peruser.ChallengeOf(verifier), ChallengeMethod: "S256"})
	if err != nil {
		return nil, nil, err
	}
	c, err := e.s.CompleteSSOActivation(ctx, SSOCompleteInput{AttemptID: a.ID, AccountID: e.caller.AccountID, PersonID: personID,
		Email: email, Groups: groups, InDesktopUsers: true})
	if err != nil {
		return nil, nil, err
	}
	act, _, err := e.s.RedeemSSOActivation(ctx, a.ID, verifier, "")
	return act, c, err
}

func wantRefusal(t *testing.T, err error, code string) *SSORefusal {
	t.Helper()
	var r *SSORefusal
	if !errors.As(err, &r) || r.Code != code {
		t.Fatalf("want refusal %q, got %v", code, err)
	}
	if r.Reference == "" || r.Message == "" {
		t.Fatalf("refusal without reference or message: %+v", r)
	}
	return r
}

func TestUserSeatLifecycle(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelPerUser, 3)
		ctx := context.Background()
		primary := e.primary(t)
		ann, annEmail := e.person(t)

		// One seat for Ann whatever the number of her devices.
		mac1, mac2 := device(1), device(2)
		act1, c1, err := e.activate(t, ann, annEmail, nil, mac1)
		if err != nil {
			t.Fatal(err)
		}
		if !c1.NewSeat || c1.KeyID != primary.ID || act1.Credential == "" {
			t.Fatalf("completion %+v act %+v", c1, act1)
		}
		if act1.Claims.Method != MethodSSO || act1.Claims.KeyID != primary.ID || act1.Claims.User != annEmail || act1.Claims.Model != ModelPerUser {
			t.Fatalf("claims %+v", act1.Claims)
		}
		act2, c2, err := e.activate(t, ann, annEmail, nil, mac2)
		if err != nil || c2.NewSeat || act2.ActivationID == act1.ActivationID {
			t.Fatalf("second device: %+v %v", c2, err)
		}
		if got := e.keyUsed(t, primary.ID); got != 1 {
			t.Fatalf("used %d after two devices of one person, want 1", got)
		}
		checkInvariants(t, db, e.sub.ID)
		// The same Mac again: a new credential, nothing else.
		again, c3, err := e.activate(t, ann, annEmail, nil, mac1)
		if err != nil || !c3.Reactivated || again.ActivationID != act1.ActivationID {
			t.Fatalf("reactivation: %+v %v", c3, err)
		}
		if _, err := e.s.Check(ctx, act1.Credential, CheckInput{}); err == nil {
			t.Fatal("the replaced credential still works")
		}
		chk, err := e.s.Check(ctx, again.Credential, CheckInput{})
		if err != nil || chk.Claims.Method != MethodSSO || chk.Claims.User != annEmail {
			t.Fatalf("check %+v %v", chk, err)
		}
		checkInvariants(t, db, e.sub.ID)

		// A device gives its seat back: Ann still holds the seat through
		// her other device; the seat returns with her last device.
		if err := e.s.DeactivateDevice(ctx, again.Credential); err != nil {
			t.Fatal(err)
		}
		if got := e.keyUsed(t, primary.ID); got != 1 {
			t.Fatalf("used %d after one of two devices left", got)
		}
		_, err = e.s.Check(ctx, again.Credential, CheckInput{})
		wantCode(t, err, CodeDeactivated)
		if err := e.s.DeactivateDevice(ctx, act2.Credential); err != nil {
			t.Fatal(err)
		}
		if got := e.keyUsed(t, primary.ID); got != 0 {
			t.Fatalf("used %d after the last device left, want 0", got)
		}
		checkInvariants(t, db, e.sub.ID)

		// Per-user licenses cannot be activated with the key.
		holders, err := e.s.ProductLicenseHolders(ctx, e.caller.AccountID)
		if err != nil || len(holders) != 0 {
			t.Fatalf("holders %v %v", holders, err)
		}
	})
}

func TestUserSeatDeviceCapAndRevocation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelPerUser, 5)
		ctx := context.Background()
		primary := e.primary(t)
		if err := e.s.SetSSOSettings(ctx, e.caller, SSOSettings{DeviceCap: 2}, testActor); err != nil {
			t.Fatal(err)
		}
		err := e.s.SetSSOSettings(ctx, e.caller, SSOSettings{DeviceCap: 0}, testActor)
		wantField(t, err, "device_cap")
		ann, annEmail := e.person(t)
		var creds []string
		for i := 0; i < 2; i++ {
			act, _, err := e.activate(t, ann, annEmail, nil, device(i))
			if err != nil {
				t.Fatal(err)
			}
			creds = append(creds, act.Credential)
		}
		_, _, err = e.activate(t, ann, annEmail, nil, device(3))
		wantRefusal(t, err, CodeDeviceLimit)
		checkInvariants(t, db, e.sub.ID)

		// Revoked by an admin: every device fails with revoked, the seat
		// is back at once, and revoking twice finds nothing.
		n, err := e.s.RevokeUserSeat(ctx, e.caller, ann, testActor)
		if err != nil || n != 2 {
			t.Fatalf("revoke: %d %v", n, err)
		}
		for _, c := range creds {
			_, err := e.s.Check(ctx, c, CheckInput{})
			wantCode(t, err, CodeRevoked)
			if !strings.Contains(err.Error(), "administrator") {
				t.Fatalf("revocation reason: %v", err)
			}
		}
		if got := e.keyUsed(t, primary.ID); got != 0 {
			t.Fatalf("used %d after revocation", got)
		}
		if _, err := e.s.RevokeUserSeat(ctx, e.caller, ann, testActor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second revoke: %v", err)
		}
		// Another account's admin cannot revoke.
		other := newAccount(t, db)
		if _, _, err := e.activate(t, ann, annEmail, nil, device(5)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.RevokeUserSeat(ctx, other, ann, testActor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("foreign revoke: %v", err)
		}
		// Concurrent revocations return the seat exactly once.
		var wg sync.WaitGroup
		var released atomic.Int32
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := db.InTx(ctx, func(tx *store.Tx) error {
					_, ok, err := e.s.RevokePersonTx(ctx, tx, e.caller.AccountID, ann, RevokeDeactivatedInIdP, testActor)
					if ok {
						released.Add(1)
					}
					return err
				})
				if err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		if released.Load() != 1 {
			t.Fatalf("released %d times", released.Load())
		}
		checkInvariants(t, db, e.sub.ID)
	})
}

func TestUserGroupsPickPool(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelMixed, 10)
		ctx := context.Background()
		design := e.sublicense(t, "Design", KindReserved, 2)
		eng := e.sublicense(t, "Engineering", KindDynamic, 3)
		primary := e.primary(t)
		if _, err := e.s.MapGroup(ctx, e.caller, design.ID, "G-DESIGN", "Design team", nil, testActor); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.MapGroup(ctx, e.caller, design.ID, "g-design-contractors", "Design contractors", nil, testActor); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.MapGroup(ctx, e.caller, eng.ID, "g-eng", "Engineering", nil, testActor); err != nil {
			t.Fatal(err)
		}
		// A group maps to one key; the primary key takes no groups; the
		// configurator's groups are refused; empty fields are named.
		_, err := e.s.MapGroup(ctx, e.caller, eng.ID, "g-DESIGN", "x", nil, testActor)
		if fe := wantField(t, err, "uuid"); !strings.Contains(fe.Message, "Design") {
			t.Fatalf("duplicate mapping message %q", fe.Message)
		}
		_, err = e.s.MapGroup(ctx, e.caller, primary.ID, "g-x", "x", nil, testActor)
		wantField(t, err, "uuid")
		_, err = e.s.MapGroup(ctx, e.caller, eng.ID, "desktop-users", "Desktop Users", func(context.Context, string) (map[string]string, error) {
			return map[string]string{"desktop-users": "Desktop Users"}, nil
		}, testActor)
		wantField(t, err, "uuid")
		_, err = e.s.MapGroup(ctx, e.caller, eng.ID, "g-y", "", nil, testActor)
		wantField(t, err, "name")
		groups, err := e.s.KeyGroups(ctx, e.caller, design.ID)
		if err != nil || len(groups) != 2 {
			t.Fatalf("design groups %+v %v", groups, err)
		}

		ann, annEmail := e.person(t)   // design (group id case differs)
		bob, bobEmail := e.person(t)   // no mapped group
		cleo, cleoEmail := e.person(t) // design and engineering
		act, c, err := e.activate(t, ann, annEmail, []string{"g-design", "other"}, device(1))
		if err != nil || c.KeyID != design.ID || act.Claims.KeyID != design.ID || act.Claims.KeyName != "Design" {
			t.Fatalf("ann: %+v %v", c, err)
		}
		_, c, err = e.activate(t, bob, bobEmail, []string{"other"}, device(2))
		if err != nil || c.KeyID != primary.ID {
			t.Fatalf("bob: %+v %v", c, err)
		}
		// Two mapped keys: the key created first (Design) wins, every time,
		// and admins see Cleo in the conflict list.
		_, c, err = e.activate(t, cleo, cleoEmail, []string{"g-eng", "g-design-contractors"}, device(3))
		if err != nil || c.KeyID != design.ID || len(c.Conflict) != 2 || c.Conflict[0] != design.ID || c.Conflict[1] != eng.ID {
			t.Fatalf("cleo: %+v %v", c, err)
		}
		conflicts, err := e.s.GroupConflicts(ctx, e.caller)
		if err != nil || len(conflicts) != 1 || conflicts[0].Email != cleoEmail || conflicts[0].Chosen != "Design" ||
			strings.Join(conflicts[0].Keys, ",") != "Design,Engineering" {
			t.Fatalf("conflicts %+v %v", conflicts, err)
		}
		// The reserved Design key is full now (2 seats): Dan in the design
		// group is refused, though the shared pool has room.
		dan, danEmail := e.person(t)
		_, _, err = e.activate(t, dan, danEmail, []string{"G-Design"}, device(4))
		wantRefusal(t, err, CodeNoFreeSeat)
		checkInvariants(t, db, e.sub.ID)

		if got := e.keyUsed(t, design.ID); got != 2 {
			t.Fatalf("design used %d", got)
		}
		// Ann leaves the design group and joins engineering: her next SSO
		// activation moves her seat; her design device is revoked.
		_, c, err = e.activate(t, ann, annEmail, []string{"g-eng"}, device(5))
		if err != nil || c.KeyID != eng.ID || c.MovedFrom != design.ID || !c.NewSeat {
			t.Fatalf("move: %+v %v", c, err)
		}
		_, err = e.s.Check(ctx, act.Credential, CheckInput{})
		wantCode(t, err, CodeRevoked)
		if got := e.keyUsed(t, design.ID); got != 1 {
			t.Fatalf("design used %d after the move", got)
		}
		checkInvariants(t, db, e.sub.ID)

		// Deleting a key releases its per-user seats exactly once.
		n, err := e.s.DeleteKey(ctx, e.caller, eng.ID, true, testActor)
		if err != nil || n != 1 {
			t.Fatalf("delete key: %d %v", n, err)
		}
		checkInvariants(t, db, e.sub.ID)
		// Unmapping.
		if err := e.s.UnmapGroup(ctx, e.caller, design.ID, groups[0].ID, testActor); err != nil {
			t.Fatal(err)
		}
		if err := e.s.UnmapGroup(ctx, e.caller, design.ID, groups[0].ID, testActor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("second unmap: %v", err)
		}
	})
}

func TestMixedSeatArithmetic(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelMixed, 3)
		ctx := context.Background()
		var primaryKey string
		if err := db.QueryRow(ctx, `SELECT id FROM license_keys WHERE subscription_id = ? AND kind = 'primary'`, e.sub.ID).Scan(&primaryKey); err != nil {
			t.Fatal(err)
		}
		team := e.sublicense(t, "Team", KindDynamic, 3)
		plain, err := e.s.RevealKey(ctx, e.caller, team.ID, testActor)
		if err != nil {
			t.Fatal(err)
		}
		// Two computers by key, one person by SSO: the subscription is full.
		byKey := []Device{device(0), device(1)}
		for _, d := range byKey {
			if _, err := e.s.Activate(ctx, ActivateInput{Key: plain, Device: d}); err != nil {
				t.Fatal(err)
			}
		}
		ann, annEmail := e.person(t)
		if _, _, err := e.activate(t, ann, annEmail, nil, device(7)); err != nil {
			t.Fatal(err)
		}
		bob, bobEmail := e.person(t)
		_, _, err = e.activate(t, bob, bobEmail, nil, device(8))
		wantRefusal(t, err, CodeNoFreeSeat)
		_, err = e.s.Activate(ctx, ActivateInput{Key: plain, Device: device(9)})
		wantCode(t, err, CodeNoFreeSeat)
		checkInvariants(t, db, e.sub.ID)
		// A Mac activated by key that its owner then activates with SSO on
		// the same key gives its per-device seat back first.
		if _, err := e.s.MapGroup(ctx, e.caller, team.ID, "team", "Team", nil, testActor); err != nil {
			t.Fatal(err)
		}
		_, c, err := e.activate(t, bob, bobEmail, []string{"team"}, byKey[0])
		if err != nil || c.KeyID != team.ID {
			t.Fatalf("convert: %+v %v", c, err)
		}
		checkInvariants(t, db, e.sub.ID)
		if got := e.keyUsed(t, team.ID); got != 2 {
			t.Fatalf("team used %d, want 2 (one computer by key, one person)", got)
		}
		// An admin deactivating an SSO computer on Registered Computers
		// returns the person's seat with their last device.
		comps, _, err := e.s.Computers(ctx, e.caller, ComputerFilter{SubscriptionID: e.sub.ID})
		if err != nil {
			t.Fatal(err)
		}
		var ssoIDs []string
		for _, c := range comps {
			if c.Method == MethodSSO {
				ssoIDs = append(ssoIDs, c.ID)
			}
		}
		if len(ssoIDs) != 2 {
			t.Fatalf("sso computers %d", len(ssoIDs))
		}
		n, err := e.s.DeactivateComputers(ctx, e.caller, ssoIDs, testActor)
		if err != nil || n != 2 {
			t.Fatalf("deactivate computers %d %v", n, err)
		}
		checkInvariants(t, db, e.sub.ID)
		var shared int
		if err := db.Writer().QueryRow(ctx, `SELECT shared_used FROM subscriptions WHERE id = ?`, e.sub.ID).Scan(&shared); err != nil || shared != 1 {
			t.Fatalf("shared_used %d %v, want 1", shared, err)
		}
	})
}

func TestSSOAttemptRefusals(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelPerUser, 5)
		ctx := context.Background()
		var recorded []string
		var mu sync.Mutex
		e.s.RecordSSOFailure = func(_ context.Context, accountID, code, detail, subject, ip string) string {
			mu.Lock()
			defer mu.Unlock()
			recorded = append(recorded, code)
			return fmt.Sprintf("REF%03d", len(recorded))
		}
		ann, annEmail := e.person(t)
		start := func(email string, dev Device) (*SSOAttempt, string) {
			t.Helper()
			v := ids.Secret(40)
			a, err := e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: e.caller.AccountID, Email: email, Device: dev,
				CodeChallenge: peruser.ChallengeOf(v), ChallengeMethod: "S256"})
			if err != nil {
				t.Fatal(err)
			}
			return a, v
		}
		complete := func(a *SSOAttempt, inUsers bool) error {
			_, err := e.s.CompleteSSOActivation(ctx, SSOCompleteInput{AttemptID: a.ID, AccountID: e.caller.AccountID, PersonID: ann,
				Email: annEmail, InDesktopUsers: inUsers})
			return err
		}
		// Malformed starts.
		_, err := e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: e.caller.AccountID, Email: annEmail, Device: device(1),
			CodeChallenge: "short", ChallengeMethod: "S256"})
		wantCode(t, err, CodeInvalidRequest)
		_, err = e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: e.caller.AccountID, Email: annEmail, Device: device(1),
			CodeChallenge: peruser.ChallengeOf(ids.Secret(40)), ChallengeMethod: "plain"})
		wantCode(t, err, CodeInvalidRequest)

		// Not in Desktop Users: refused, recorded, and the installation
		// learns the same reason.
		a, v := start(annEmail, device(1))
		r := wantRefusal(t, complete(a, false), CodeNotInDesktopUsers)
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		if r2 := wantRefusal(t, err, CodeNotInDesktopUsers); r2.Reference != r.Reference {
			t.Fatalf("reference %q at redeem, %q on the page", r2.Reference, r.Reference)
		}

		// Signed in as someone else than Desktop asked for.
		a, _ = start("someone.else@corp.example", device(1))
		wantRefusal(t, complete(a, true), CodeEmailMismatch)

		// Wrong verifier, then the right one; single use.
		a, v = start(annEmail, device(1))
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, ids.Secret(40), "")
		wantRefusal(t, err, CodeInvalidVerifier)
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		if !errors.Is(err, ErrSSOPending) {
			t.Fatalf("pending: %v", err)
		}
		if err := complete(a, true); err != nil {
			t.Fatal(err)
		}
		wantRefusal(t, complete(a, true), CodeAttemptUsed)
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, ids.Secret(40), "")
		wantRefusal(t, err, CodeInvalidVerifier)
		act, _, err := e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		if err != nil || act.Credential == "" {
			t.Fatalf("redeem %v", err)
		}
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		wantCode(t, err, CodeAttemptUsed)
		_, _, err = e.s.RedeemSSOActivation(ctx, ids.New(), v, "")
		wantCode(t, err, CodeAttemptNotFound)

		// Expired: nobody signed in in time; a sign-in after expiry.
		a, v = start(annEmail, device(2))
		b, _ := start(annEmail, device(3))
		e.clock.add(AttemptTTL + time.Second)
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		wantRefusal(t, err, CodeAttemptExpired)
		wantRefusal(t, complete(b, true), CodeAttemptExpired)

		// A completed attempt not redeemed in time.
		a, v = start(annEmail, device(4))
		if err := complete(a, true); err != nil {
			t.Fatal(err)
		}
		e.clock.add(AttemptTTL + time.Second)
		_, _, err = e.s.RedeemSSOActivation(ctx, a.ID, v, "")
		wantCode(t, err, CodeAttemptExpired)

		// The subscription ended.
		e.clock.add(400 * 24 * time.Hour)
		_, err = e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: e.caller.AccountID, Email: annEmail, Device: device(1),
			CodeChallenge: peruser.ChallengeOf(ids.Secret(40)), ChallengeMethod: "S256"})
		wantCode(t, err, CodeSubscriptionExpired)
		_, err = e.s.Check(ctx, act.Credential, CheckInput{})
		wantCode(t, err, CodeExpired)

		mu.Lock()
		defer mu.Unlock()
		for _, want := range []string{CodeNotInDesktopUsers, CodeEmailMismatch, CodeAttemptExpired, CodeInvalidVerifier} {
			if !strings.Contains(strings.Join(recorded, " "), want) {
				t.Errorf("refusal %s not recorded for the admins: %v", want, recorded)
			}
		}

		// A per-device license has no SSO activation.
		other := newAccount(t, db)
		issueRegistered(t, e.s, other, IssueInput{Seats: 1})
		_, err = e.s.StartSSOActivation(ctx, SSOStartInput{AccountID: other.AccountID, Email: annEmail, Device: device(1),
			CodeChallenge: peruser.ChallengeOf(ids.Secret(40)), ChallengeMethod: "S256"})
		wantCode(t, err, CodeNoSSOLicense)
	})
}

func TestInactivityRevocation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db, ModelPerUser, 5)
		ctx := context.Background()
		primary := e.primary(t)
		ann, annEmail := e.person(t)
		bob, bobEmail := e.person(t)
		annAct, _, err := e.activate(t, ann, annEmail, nil, device(1))
		if err != nil {
			t.Fatal(err)
		}
		bobAct, _, err := e.activate(t, bob, bobEmail, nil, device(2))
		if err != nil {
			t.Fatal(err)
		}
		// Off by default.
		e.clock.add(100 * 24 * time.Hour)
		if n, err := e.s.RevokeInactive(ctx); err != nil || n != 0 {
			t.Fatalf("inactivity off: %d %v", n, err)
		}
		if err := e.s.SetSSOSettings(ctx, e.caller, SSOSettings{DeviceCap: 5, InactivityDays: 30}, testActor); err != nil {
			t.Fatal(err)
		}
		// Bob's Mac checks its license; Ann's does not.
		if _, err := e.s.Check(ctx, bobAct.Credential, CheckInput{}); err != nil {
			t.Fatal(err)
		}
		e.clock.add(29 * 24 * time.Hour)
		if n, err := e.s.RevokeInactive(ctx); err != nil || n != 1 {
			t.Fatalf("inactivity: %d %v", n, err)
		}
		_, err = e.s.Check(ctx, annAct.Credential, CheckInput{})
		wantCode(t, err, CodeRevoked)
		if _, err := e.s.Check(ctx, bobAct.Credential, CheckInput{}); err != nil {
			t.Fatalf("bob: %v", err)
		}
		if got := e.keyUsed(t, primary.ID); got != 1 {
			t.Fatalf("used %d", got)
		}
		// The job runs under a lease: one node at a time.
		job := e.s.InactivityJob(0)
		runner := &jobs.Runner{DB: db, Holder: "node-a", Log: slog.New(slog.DiscardHandler), Jobs: []jobs.Job{job}}
		runner.RunOnce(ctx, job)
		if ok, err := jobs.TryLease(ctx, db, InactivityJobName, "node-b", time.Minute); err != nil || ok {
			t.Fatalf("the inactivity job's lease is not held: %v %v", ok, err)
		}
		checkInvariants(t, db, e.sub.ID)
		var action string
		if err := db.QueryRow(ctx, `SELECT action FROM audit_log WHERE account_id = ? AND action = 'license.user_seat_revoked'`, e.caller.AccountID).Scan(&action); err != nil {
			t.Fatalf("audit: %v", err)
		}
	})
}

// 2,000 distinct people granted seats at once against a pool of 500: exactly
// 500 seats, on each engine.
func TestConcurrentUserSeatGrants(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		people, free := 2000, 500
		if testing.Short() {
			people, free = 400, 100
		}
		e := newSSOEnv(t, db, ModelPerUser, free)
		ctx := context.Background()
		live, _, _, err := poolCandidatesRefusal(ctx, db, e.caller.AccountID, e.clock.now())
		if err != nil {
			t.Fatal(err)
		}
		p := &pool{keyID: live[0].primaryID, keyKind: KindPrimary, subscriptionID: e.sub.ID}
		ids := make([]string, people)
		for i := range ids {
			ids[i], _ = e.person(t)
		}
		var granted, refused atomic.Int32
		var wg sync.WaitGroup
		start := time.Now()
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				_, err := e.s.grantUserSeat(ctx, &userGrant{accountID: e.caller.AccountID, personID: ids[i], pool: p, dev: device(i),
					cap: DefaultDeviceCap, now: e.clock.now()}, nil)
				var de *DeviceError
				switch {
				case err == nil:
					granted.Add(1)
				case errors.As(err, &de) && de.Code == CodeNoFreeSeat:
					refused.Add(1)
				default:
					t.Error(err)
				}
			}(i)
		}
		wg.Wait()
		elapsed := time.Since(start)
		if int(granted.Load()) != free || int(refused.Load()) != people-free {
			t.Fatalf("granted %d refused %d; want %d and %d", granted.Load(), refused.Load(), free, people-free)
		}
		checkInvariants(t, db, e.sub.ID)
		t.Logf("%s: %d concurrent per-user grants for %d seats in %v (%.0f grants/s)", db.Dialect(), people, free, elapsed,
			float64(people)/elapsed.Seconds())
	})
}
