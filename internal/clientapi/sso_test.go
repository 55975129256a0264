package clientapi

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// ssoEnv is the client API with SSO activation over one database; the
// IdP side (the ACS completing attempts) is played by calling the
// licensing service, as the web package's hook does.
type ssoEnv struct {
	*env
	domains  sync.Map // domain → ssoDomain
	pending  atomic.Pointer[license.SSORefusal]
	client   *agent.Client
	recorded atomic.Int32
}

type ssoDomain struct {
	account string
	active  bool
}

func newSSOEnv(t *testing.T, db *store.DB) *ssoEnv {
	t.Helper()
	clk := &testClock{t: time.Now().UTC()}
	svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test", Now: clk.now})
	e := &ssoEnv{env: &env{db: db, svc: svc, clock: clk}}
	svc.RecordSSOFailure = func(ctx context.Context, accountID, code, detail, subject, ip string) string {
		e.recorded.Add(1)
		return strings.ToUpper(ids.Secret(6))
	}
	sso := NewSSO(svc, SSOConfig{PublicURL: "https://gatehouse.test",
		AccountForDomain: func(_ context.Context, domain string) (string, bool, error) {
			v, ok := e.domains.Load(domain)
			if !ok {
				return "", false, store.ErrNotFound
			}
			d := v.(ssoDomain)
			return d.account, d.active, nil
		},
		Pending: func(context.Context, *license.SSOAttempt) *license.SSORefusal {
			if r := e.pending.Load(); r != nil {
				c := *r
				return &c
			}
			return nil
		},
		StartLimit: ratelimit.Limit{Max: 100_000, Window: time.Minute},
		// A 500's cause belongs in the test's output (references alone
		// say nothing after the run).
		Log: slog.New(slog.NewTextHandler(testLogWriter{t}, nil))})
	mux := http.NewServeMux()
	mux.Handle(SSOPrefix, sso)
	mux.Handle("/", New(svc, Config{}))
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	e.val = newValidator(t, e.srv.URL, nil)
	e.http = &http.Client{Transport: e.val, Timeout: time.Minute}
	e.caller = newAccount(t, db)
	e.domains.Store("corp.example", ssoDomain{account: e.caller.AccountID, active: true})
	e.client = &agent.Client{BaseURL: e.srv.URL, HTTP: e.http}
	return e
}

func (e *ssoEnv) person(t testing.TB, email string) string {
	t.Helper()
	id := ids.New()
	if _, err := e.db.Exec(context.Background(), `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`,
		id, email, strings.ToLower(email), store.Now()); err != nil {
		t.Fatal(err)
	}
	return id
}

// signIn plays the person's sign-in at the ACS for an attempt.
func (e *ssoEnv) signIn(attemptID, personID, email string, groups []string, inUsers bool) error {
	_, err := e.svc.CompleteSSOActivation(context.Background(), license.SSOCompleteInput{AttemptID: attemptID,
		AccountID: e.caller.AccountID, PersonID: personID, Email: email, Groups: groups, InDesktopUsers: inUsers})
	return err
}

func TestSSOActivationOverHTTP(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newSSOEnv(t, db)
		ctx := context.Background()
		issue(t, e.svc, e.caller, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 5})
		ann := e.person(t, "ann@corp.example")
		c := e.client
		dev := agent.NewDevice()

		// Start → pending → the person signs in → redeemed once.
		verifier := agent.NewVerifier()
		st, err := c.StartSSO(ctx, "Ann@Corp.Example", dev, agent.Challenge(verifier))
		if err != nil {
			t.Fatal(err)
		}
		if st.BrowserURL != "https://gatehouse.test/sso/desktop/"+st.AttemptID || st.PollInterval < 1 || !st.ExpiresAt.After(time.Now()) {
			t.Fatalf("start %+v", st)
		}
		if _, err := c.RedeemSSO(ctx, st.AttemptID, verifier); !errors.Is(err, agent.ErrPending) {
			t.Fatalf("pending: %v", err)
		}
		_, err = c.RedeemSSO(ctx, st.AttemptID, agent.NewVerifier())
		wantAPIError(t, err, 403, "invalid_verifier")
		if err := e.signIn(st.AttemptID, ann, "ann@corp.example", nil, true); err != nil {
			t.Fatal(err)
		}
		// Someone who knows the attempt id but not the verifier gets
		// nothing, even now.
		_, err = c.RedeemSSO(ctx, st.AttemptID, agent.NewVerifier())
		wantAPIError(t, err, 403, "invalid_verifier")
		act, err := c.RedeemSSO(ctx, st.AttemptID, verifier)
		if err != nil {
			t.Fatal(err)
		}
		if act.Credential == "" || act.Method != "sso" || act.User != "ann@corp.example" || act.License.Model != "mixed" {
			t.Fatalf("activation %+v", act)
		}
		pub, err := c.FetchPublicKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pk, _ := agent.ParsePublicKey(pub.PEM)
		claims, err := agent.Verify(act.Certificate, pk, dev.HardwareUUID, time.Now())
		if err != nil || claims.ActivationID != act.ActivationID {
			t.Fatalf("verify %+v %v", claims, err)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(act.Certificate.Payload)
		var m map[string]any
		_ = json.Unmarshal(raw, &m)
		if m["method"] != "sso" || m["user"] != "ann@corp.example" {
			t.Fatalf("claims %v", m)
		}
		_, err = c.RedeemSSO(ctx, st.AttemptID, verifier)
		wantAPIError(t, err, 409, "attempt_used")
		_, err = c.RedeemSSO(ctx, ids.New(), verifier)
		wantAPIError(t, err, 404, "attempt_not_found")
		chk, err := c.Check(ctx, act.Credential, "")
		if err != nil || chk.ActivationID != act.ActivationID {
			t.Fatalf("check %v", err)
		}

		// Expired: the person never signed in.
		verifier = agent.NewVerifier()
		st, err = c.StartSSO(ctx, "ann@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		if err != nil {
			t.Fatal(err)
		}
		e.clock.add(license.AttemptTTL + time.Second)
		_, err = c.RedeemSSO(ctx, st.AttemptID, verifier)
		wantAPIError(t, err, 410, "attempt_expired")

		// Not in Desktop Users: the redeem answer carries the reason and
		// the reference of the admins' log.
		verifier = agent.NewVerifier()
		st, err = c.StartSSO(ctx, "ann@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		if err != nil {
			t.Fatal(err)
		}
		var rf *license.SSORefusal
		if err := e.signIn(st.AttemptID, ann, "ann@corp.example", nil, false); !errors.As(err, &rf) {
			t.Fatalf("not in desktop users: %v", err)
		}
		status, body := e.raw(t, "POST", "/api/client/v1/sso/redeem", "application/json",
			`{"attempt_id":"`+st.AttemptID+`","code_verifier":"`+verifier+`"}`)
		if status != 403 || !strings.Contains(body, `"not_in_desktop_users"`) || !strings.Contains(body, rf.Reference) {
			t.Fatalf("redeem refused: %d %s", status, body)
		}

		// A refusal found outside the licensing service (integration
		// switched off mid-flow) reaches the waiting installation.
		verifier = agent.NewVerifier()
		st, err = c.StartSSO(ctx, "ann@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		if err != nil {
			t.Fatal(err)
		}
		e.pending.Store(&license.SSORefusal{Code: license.CodeIntegrationInactive, Message: "switched off", Detail: "test"})
		_, err = c.RedeemSSO(ctx, st.AttemptID, verifier)
		wantAPIError(t, err, 403, "integration_inactive")
		e.pending.Store(nil)
		_, err = c.RedeemSSO(ctx, st.AttemptID, verifier) // stays refused
		wantAPIError(t, err, 403, "integration_inactive")

		// Refusals at start.
		_, err = c.StartSSO(ctx, "someone@elsewhere.example", agent.NewDevice(), agent.Challenge(verifier))
		wantAPIError(t, err, 403, "unknown_domain")
		e.domains.Store("corp.example", ssoDomain{account: e.caller.AccountID, active: false})
		_, err = c.StartSSO(ctx, "ann@corp.example", agent.NewDevice(), agent.Challenge(verifier))
		wantAPIError(t, err, 403, "integration_inactive")
		e.domains.Store("corp.example", ssoDomain{account: e.caller.AccountID, active: true})

		// The admin revokes: the check says revoked (a documented reason).
		if _, err := e.svc.RevokeUserSeat(ctx, e.caller, ann, testActor); err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(ctx, act.Credential, "")
		wantAPIError(t, err, 403, "revoked")

		// Malformed input is a 4xx with a precise reason.
		for _, tc := range []struct{ body, want string }{
			{`{"email":"ann@corp.example","device":{"hardware_uuid":"X","computer_name":"M","app_version":"1"},"code_challenge":"short","code_challenge_method":"S256"}`, "code_challenge"},
			{`{"email":"ann@corp.example","device":{"hardware_uuid":"X","computer_name":"M","app_version":"1"},"code_challenge":"` + agent.Challenge(verifier) + `","code_challenge_method":"plain"}`, "S256"},
			{`{"email":"not an email","device":{"hardware_uuid":"X","computer_name":"M","app_version":"1"},"code_challenge":"` + agent.Challenge(verifier) + `","code_challenge_method":"S256"}`, "email"},
			{`{"email":"ann@corp.example","code_challenge":"` + agent.Challenge(verifier) + `","code_challenge_method":"S256"}`, "device"},
			{`{"email":"ann@corp.example","extra":1}`, "extra"},
			{`[]`, "object"},
		} {
			status, body := e.raw(t, "POST", "/api/client/v1/sso/start", "application/json", tc.body, "X-Test-Malformed", "1")
			if status != 400 || !strings.Contains(body, tc.want) {
				t.Errorf("start %s: %d %s", tc.body, status, body)
			}
		}
		for _, tc := range []struct{ body, want string }{
			{`{"attempt_id":"` + st.AttemptID + `","code_verifier":"short"}`, "code_verifier"},
			{`{"attempt_id":"` + st.AttemptID + `"}`, "required"},
		} {
			status, body := e.raw(t, "POST", "/api/client/v1/sso/redeem", "application/json", tc.body, "X-Test-Malformed", "1")
			if status != 400 || !strings.Contains(body, tc.want) {
				t.Errorf("redeem %s: %d %s", tc.body, status, body)
			}
		}
		status, _ = e.raw(t, "GET", "/api/client/v1/sso/redeem", "", "", "X-Test-Malformed", "1")
		if status != http.StatusMethodNotAllowed {
			t.Errorf("GET redeem: %d", status)
		}
		if e.recorded.Load() == 0 {
			t.Error("no refusal was recorded for the admins")
		}
		if e.val.checks < 15 {
			t.Errorf("only %d exchanges validated", e.val.checks)
		}
	})
}

// The HTTP-level seat race: many people at once start, sign in and redeem
// against a small pool; exactly the pool's seats are granted.
func TestConcurrentSSOActivationsOverHTTP(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		people, free := 200, 50
		e := newSSOEnv(t, db)
		issue(t, e.svc, e.caller, license.IssueInput{Edition: "business", Model: "per-user", Seats: free})
		ids := make([]string, people)
		for i := range ids {
			ids[i] = e.person(t, "p"+strconv.Itoa(i)+"@corp.example")
		}
		ctx := context.Background()
		var granted, refused atomic.Int32
		var wg sync.WaitGroup
		start := time.Now()
		for i := range ids {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				email := "p" + strconv.Itoa(i) + "@corp.example"
				act, err := e.client.ActivateSSO(ctx, email, agent.NewDevice(), func(u string) error {
					id := u[strings.LastIndex(u, "/")+1:]
					err := e.signIn(id, ids[i], email, nil, true)
					var rf *license.SSORefusal
					if errors.As(err, &rf) {
						return nil // the installation hears it at redeem
					}
					return err
				})
				switch {
				case err == nil && act.Credential != "":
					granted.Add(1)
				case agent.ErrorCode(err) == "no_free_seat":
					refused.Add(1)
				default:
					t.Errorf("%s: %v", email, err)
				}
			}(i)
		}
		wg.Wait()
		if int(granted.Load()) != free || int(refused.Load()) != people-free {
			t.Fatalf("granted %d, refused %d; want %d and %d", granted.Load(), refused.Load(), free, people-free)
		}
		t.Logf("%s: %d SSO activations over HTTP for %d seats in %v", db.Dialect(), people, free, time.Since(start))
	})
}

// testLogWriter sends a handler's log lines to the test's log.
type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}
