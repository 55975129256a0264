package idp_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/idp"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// complete walks the seven steps through the service.
func (e *env) complete(dns *testenv.DNSServer, acct, domain string, actor audit.Actor) {
	e.t.Helper()
	ctx := context.Background()
	d, err := e.svc.AddDomain(ctx, acct, domain, actor)
	if err != nil {
		e.t.Fatal(err)
	}
	dns.SetTXT(e.t, d.TXTName, d.TXTValue)
	if v, err := e.svc.VerifyDomain(ctx, acct, d.ID, actor); err != nil || v.Status != idp.DomainVerified {
		e.t.Fatalf("verify: %+v %v", v, err)
	}
	now := time.Now()
	cert := testCert(e.t, "IdP", now.Add(-time.Hour), now.Add(365*24*time.Hour))
	must(e.t, e.svc.SetStepDone(ctx, acct, 2, true, actor))
	must(e.t, e.svc.SetGroup(ctx, acct, idp.GroupAdmins, "Gatehouse Admins", "11111111-1111-4111-8111-111111111111", actor))
	must(e.t, e.svc.SetGroup(ctx, acct, idp.GroupDesktopUsers, "Gatehouse Desktop Users", "22222222-2222-4222-8222-222222222222", actor))
	must(e.t, e.svc.SaveSAML(ctx, acct, idp.SAMLInput{EntityID: "https://idp.example.com/" + acct, SSOURL: "https://idp.example.com/sso", Certificates: pemOf(cert)}, actor))
	must(e.t, e.svc.SetStepDone(ctx, acct, 4, true, actor))
	if _, err := e.svc.GenerateSCIMToken(ctx, acct, time.Hour, actor); err != nil {
		e.t.Fatal(err)
	}
	must(e.t, e.svc.SetStepDone(ctx, acct, 5, true, actor))
	must(e.t, e.svc.SetStepDone(ctx, acct, 6, true, actor))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestStepsAndActivation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		acct, ada, actor := e.startedAccount("Acme", idp.ProviderEntra)

		o, err := e.svc.Overview(ctx, acct)
		if err != nil {
			t.Fatal(err)
		}
		// A fresh start: only step 7 is green (the configuring admin is the
		// default backup login).
		for _, st := range o.Steps {
			if st.Done != (st.Number == 7) {
				t.Errorf("step %d done=%v at start", st.Number, st.Done)
			}
			if !st.Done && st.Left == "" {
				t.Errorf("step %d: no hint of what is left", st.Number)
			}
		}
		if o.Backup == nil || o.Backup.PersonID != ada.ID || !strings.Contains(o.Steps[2].Warning, "Desktop Users") {
			t.Fatalf("backup %+v, step 3 warning %q", o.Backup, o.Steps[2].Warning)
		}
		// Activation refuses an incomplete configuration, naming the steps.
		var inc *idp.IncompleteError
		if err := e.svc.Activate(ctx, acct, actor); !errors.As(err, &inc) || len(inc.Steps) != 6 || inc.Steps[0] != 1 {
			t.Fatalf("activate incomplete: %v", err)
		}
		// Step 5 cannot be ticked without a token while SCIM is on.
		if err := e.svc.SetStepDone(ctx, acct, 5, true, actor); err == nil || !strings.Contains(err.Error(), "bearer token") {
			t.Fatalf("tick 5 without token: %v", err)
		}
		if err := e.svc.SetStepDone(ctx, acct, 3, true, actor); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("step 3 has no checkbox: %v", err)
		}
		if err := e.svc.SetGroup(ctx, acct, idp.GroupDesktopUsers, "X", "", actor); err == nil {
			t.Fatal("a group without UUID was accepted")
		}

		e.complete(dns, acct, "acme-corp.test", actor)
		// The group UUIDs must differ.
		var fe *idp.FieldError
		if err := e.svc.SetGroup(ctx, acct, idp.GroupDesktopUsers, "Same", "11111111-1111-4111-8111-111111111111", actor); !errors.As(err, &fe) {
			t.Fatalf("same UUID for both groups: %v", err)
		}
		o, _ = e.svc.Overview(ctx, acct)
		if !o.AllDone || o.DoneCount != 7 {
			t.Fatalf("after completing: %+v", o.Steps)
		}

		// A second admin who signs in with a password.
		bob, _ := e.person("bob")
		if _, err := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at) VALUES (?, ?, 'admin', 'active', ?, ?)`,
			acct, bob.ID, store.Now(), store.Now()); err != nil {
			t.Fatal(err)
		}
		pwBob := &account.Session{Person: *bob, Method: account.MethodPassword}
		pwAda := &account.Session{Person: *ada, Method: account.MethodPassword}
		ssoBob := &account.Session{Person: *bob, Method: account.MethodSSO, SSOAccount: acct, SSOAdmin: true}
		ssoBobNotAdmin := &account.Session{Person: *bob, Method: account.MethodSSO, SSOAccount: acct}
		ssoBobOtherAcct := &account.Session{Person: *bob, Method: account.MethodSSO, SSOAccount: "other", SSOAdmin: true}
		check := func(when string, s *account.Session, want bool) {
			t.Helper()
			got, err := e.svc.AdminAccess(ctx, acct, s)
			if err != nil || got != want {
				t.Errorf("%s: AdminAccess(%s %s) = %v, %v; want %v", when, s.Person.Email, s.Method, got, err, want)
			}
		}
		check("inactive", pwBob, true)
		check("inactive", pwAda, true)

		must(t, e.svc.Activate(ctx, acct, actor))
		if err := e.svc.Activate(ctx, acct, actor); !errors.Is(err, idp.ErrAlreadyActive) {
			t.Fatalf("second activation: %v", err)
		}
		check("active", pwBob, false)
		check("active", pwAda, true) // the backup login
		check("active", ssoBob, true)
		check("active", ssoBobNotAdmin, false)
		check("active", ssoBobOtherAcct, false)
		// Through the account service, as every request resolves it.
		e.accounts.AdminAccess = e.svc.AdminAccess
		accBob, err := e.accounts.AccessFor(ctx, pwBob, acct)
		if err != nil || accBob.Role != account.RoleUser || !accBob.AdminRestricted {
			t.Fatalf("bob's access while active: %+v %v", accBob, err)
		}
		accAda, err := e.accounts.AccessFor(ctx, pwAda, acct)
		if err != nil || accAda.Role != account.RoleAdmin {
			t.Fatalf("ada's access while active: %+v %v", accAda, err)
		}
		if owner, active, err := e.svc.AccountForDomain(ctx, "x@acme-corp.test"); owner != acct || !active || err != nil {
			t.Fatalf("AccountForDomain active: %q %v %v", owner, active, err)
		}
		// While active: the last verified domain stays, the admins group stays.
		ds, _ := e.svc.Domains(ctx, acct)
		if err := e.svc.RemoveDomain(ctx, acct, ds[0].ID, actor); !errors.As(err, &fe) {
			t.Fatalf("remove last domain while active: %v", err)
		}
		if err := e.svc.SetGroup(ctx, acct, idp.GroupAdmins, "", "", actor); !errors.As(err, &fe) {
			t.Fatalf("clear admins group while active: %v", err)
		}
		if _, _, _, active, err := e.svc.Settings(ctx, acct); !active || err != nil {
			t.Fatalf("Settings: %v %v", active, err)
		}

		must(t, e.svc.Deactivate(ctx, acct, actor))
		if err := e.svc.Deactivate(ctx, acct, actor); !errors.Is(err, idp.ErrNotActive) {
			t.Fatalf("second deactivation: %v", err)
		}
		check("deactivated", pwBob, true)
		acts := auditActions(t, db, acct)
		for _, a := range []string{"idp.step_confirmed", "idp.group_mapped", "idp.saml_settings_saved", "scim.token_generated",
			"idp.integration_activated", "idp.integration_deactivated"} {
			if !contains(acts, a) {
				t.Errorf("audit lacks %s", a)
			}
		}
	})
}

// TestConcurrentActivation: several admins click Activate at once; one
// wins, the others are told it is already active, one audit entry.
func TestConcurrentActivation(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		acct, _, actor := e.startedAccount("Race", idp.ProviderOkta)
		e.complete(dns, acct, "race-act.test", actor)
		const n = 8
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = e.svc.Activate(ctx, acct, actor)
			}()
		}
		close(start)
		wg.Wait()
		wins := 0
		for _, err := range errs {
			switch {
			case err == nil:
				wins++
			case errors.Is(err, idp.ErrAlreadyActive):
			default:
				t.Errorf("unexpected: %v", err)
			}
		}
		var entries int
		must(t, db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE account_id = ? AND action = 'idp.integration_activated'`, acct).Scan(&entries))
		if wins != 1 || entries != 1 {
			t.Fatalf("%d activations won, %d audit entries", wins, entries)
		}
		if active, _ := e.svc.IsActive(ctx, acct); !active {
			t.Fatal("not active")
		}
	})
}

// TestSCIMOffCompletesStep5: Google Workspace has no SCIM; switching it off
// completes step 5, and the SCIM server refuses the account's token.
func TestSCIMOffCompletesStep5(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	e := newEnv(t, db, nil)
	acct, _, actor := e.startedAccount("Goog", idp.ProviderGoogle)
	o, _ := e.svc.Overview(ctx, acct)
	if o.Steps[4].Done || !o.SCIMEnabled {
		t.Fatal("step 5 done before saving SCIM off")
	}
	must(t, e.svc.SetSCIM(ctx, acct, false, actor))
	o, _ = e.svc.Overview(ctx, acct)
	if !o.Steps[4].Done || o.SCIMEnabled {
		t.Fatalf("step 5 after SCIM off: %+v", o.Steps[4])
	}
	if !contains(auditActions(t, db, acct), "scim.disabled") {
		t.Fatal("SCIM off not audited")
	}
}

// TestSCIMTokenRegenerationOverlap drives the real SCIM server: after
// Regenerate the previous token keeps working for the chosen overlap, then
// stops; with no overlap it stops at once.
func TestSCIMTokenRegenerationOverlap(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		e.scim.RateLimit.PerSecond = -1
		srv := httptest.NewServer(scim.Handler(e.scim))
		defer srv.Close()
		status := func(token string) int {
			req, _ := http.NewRequest("GET", srv.URL+"/scim/v2/Users?count=1", nil)
			req.Header.Set("Authorization", "Bearer "+token)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		acct, _, actor := e.startedAccount("Tokens", idp.ProviderOkta)
		if _, err := e.svc.GenerateSCIMToken(ctx, acct, 17*time.Minute, actor); err == nil {
			t.Fatal("an overlap outside the offered choices was accepted")
		}
		first, err := e.svc.GenerateSCIMToken(ctx, acct, time.Hour, actor)
		if err != nil {
			t.Fatal(err)
		}
		if status(first) != 200 {
			t.Fatal("first token refused")
		}
		e.clock.Add(time.Minute)
		second, err := e.svc.GenerateSCIMToken(ctx, acct, time.Hour, actor)
		if err != nil {
			t.Fatal(err)
		}
		if second == first || status(second) != 200 || status(first) != 200 {
			t.Fatal("during the overlap both tokens must work")
		}
		o, _ := e.svc.Overview(ctx, acct)
		if !o.Token.Exists || o.Token.Last4 != second[len(second)-4:] || o.Token.PreviousValidUntil.Sub(e.clock.Now()) != time.Hour {
			t.Fatalf("token status %+v", o.Token)
		}
		e.clock.Add(time.Hour + time.Second)
		if status(first) != 401 || status(second) != 200 {
			t.Fatal("after the overlap only the new token may work")
		}
		// No overlap: the old one stops at once.
		third, err := e.svc.GenerateSCIMToken(ctx, acct, 0, actor)
		if err != nil {
			t.Fatal(err)
		}
		if status(second) != 401 || status(third) != 200 {
			t.Fatal("regenerate without overlap")
		}
		if o, _ := e.svc.Overview(ctx, acct); o.Activity.LastRequestAt.IsZero() {
			t.Fatal("SCIM activity shows no request")
		}
		acts := auditActions(t, db, acct)
		if !contains(acts, "scim.token_generated") || !contains(acts, "scim.token_regenerated") {
			t.Fatalf("audit %v", acts)
		}
	})
}

// TestBackupLogin: only admins who signed in to the account qualify.
func TestBackupLogin(t *testing.T) {
	db := testenv.SQLite(t)
	ctx := context.Background()
	e := newEnv(t, db, nil)
	acct, ada, actor := e.startedAccount("Backup", idp.ProviderPing)
	never, _ := e.person("never")
	user, _ := e.person("user")
	admin2, _ := e.person("second")
	now := store.Now()
	for _, m := range []struct {
		id, role string
		signed   any
	}{{never.ID, "admin", nil}, {user.ID, "user", now}, {admin2.ID, "admin", now}} {
		if _, err := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at, last_sign_in_at) VALUES (?, ?, ?, 'active', ?, ?)`,
			acct, m.id, m.role, now, m.signed); err != nil {
			t.Fatal(err)
		}
	}
	cands, err := e.svc.BackupCandidates(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 2 {
		t.Fatalf("candidates %+v", cands)
	}
	for _, p := range []string{never.ID, user.ID, "not-an-id"} {
		if err := e.svc.SetBackupLogin(ctx, acct, p, actor); err == nil {
			t.Errorf("backup %s accepted", p)
		}
	}
	must(t, e.svc.SetBackupLogin(ctx, acct, admin2.ID, actor))
	if b, _ := e.svc.BackupLogin(ctx, acct); b != admin2.ID {
		t.Fatalf("backup %q", b)
	}
	// Demoted: step 7 turns grey.
	if _, err := db.Exec(ctx, `UPDATE memberships SET role = 'user' WHERE account_id = ? AND person_id = ?`, acct, admin2.ID); err != nil {
		t.Fatal(err)
	}
	o, _ := e.svc.Overview(ctx, acct)
	if o.Steps[6].Done || o.BackupValid || !strings.Contains(o.Steps[6].Left, "no longer") {
		t.Fatalf("step 7 after demotion: %+v", o.Steps[6])
	}
	must(t, e.svc.SetBackupLogin(ctx, acct, ada.ID, actor))
	if !contains(auditActions(t, db, acct), "idp.backup_login_set") {
		t.Fatal("not audited")
	}
}

// TestInstructionsForEveryIdP: each of the six variants has its own
// instructions for steps 2–6, with the facts that matter for it.
func TestInstructionsForEveryIdP(t *testing.T) {
	want := map[string][]string{
		idp.ProviderEntra:     {"Enterprise applications", "Non-gallery", "Object ID", "Reply URL", "Add a group claim", "objectId", "Tenant URL", "Federation Metadata XML"},
		idp.ProviderOkta:      {"Create App Integration", "Audience URI (SP Entity ID)", "user.id", "Matches regex", "both", "Push Groups", "userName", "HTTP Header"},
		idp.ProviderPing:      {"SAML Application", "Group IDs", "saml_subject", "SCIM Outbound", "userName eq", "workEmail"},
		idp.ProviderJumpCloud: {"Custom Application", "Assertion and Response", "Declare Redirect Endpoint", "Identity Management", "Token Key", "Test Connection"},
		idp.ProviderGoogle:    {"Add custom SAML app", "Primary email", "objectidentifier", "Group membership", "no SCIM", "ON for everyone"},
		idp.ProviderOther:     {"SAML 2.0", "objectidentifier", "externalId", "Bearer"},
	}
	if len(idp.Providers()) != 6 {
		t.Fatalf("%d providers", len(idp.Providers()))
	}
	seen := map[string]string{}
	for _, p := range idp.Providers() {
		if p.Name == "" || len(p.Highlights) == 0 || idp.ProviderByID(p.ID) != p {
			t.Errorf("%s: incomplete", p.ID)
		}
		var all strings.Builder
		for _, h := range p.Highlights {
			all.WriteString(h + "\n")
		}
		for n := 2; n <= 6; n++ {
			g, ok := p.Guides[n]
			if !ok || g.Intro == "" || len(g.Items) == 0 {
				t.Errorf("%s: no instructions for step %d", p.ID, n)
			}
			var step strings.Builder
			for _, it := range g.Items {
				step.WriteString(it + "\n")
				if strings.Count(it, "**")%2 != 0 || strings.Count(it, "`")%2 != 0 {
					t.Errorf("%s step %d: unbalanced marks in %q", p.ID, n, it)
				}
			}
			if other, dup := seen[step.String()]; dup {
				t.Errorf("%s step %d: same text as %s", p.ID, n, other)
			}
			seen[step.String()] = p.ID
			all.WriteString(g.Intro + "\n" + step.String() + g.Note + "\n")
		}
		for _, w := range want[p.ID] {
			if !strings.Contains(all.String(), w) {
				t.Errorf("%s: instructions never mention %q", p.ID, w)
			}
		}
		attrs := p.Attributes()
		names := ""
		for _, a := range attrs {
			names += a.Name + " "
		}
		for _, a := range []string{"name", "objectidentifier", "displayname", "groups"} {
			if !strings.Contains(names, a) {
				t.Errorf("%s: attribute %s missing from %q", p.ID, a, names)
			}
		}
	}
	if !idp.ProviderByID(idp.ProviderOkta).GroupIDIsName || !idp.ProviderByID(idp.ProviderGoogle).GroupIDIsName || idp.ProviderByID(idp.ProviderEntra).GroupIDIsName {
		t.Error("group UUID = name only for Okta and Google Workspace")
	}
	if idp.ProviderByID(idp.ProviderGoogle).HasSCIM {
		t.Error("Google Workspace has no SCIM")
	}
}
