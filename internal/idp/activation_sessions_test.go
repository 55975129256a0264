package idp_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestActivationEndsPasswordSessionsAtDomains (issue 19): when an account
// activates SSO, the password sessions of people whose address is at one of
// its verified domains end at once — a stranger who once got a password
// session for an employee's address included — except the backup login's;
// SSO sessions and people at other domains keep theirs.
func TestActivationEndsPasswordSessionsAtDomains(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		acct, ada, actor := e.startedAccount("Acme", "entra")
		e.complete(dns, acct, "acme-sessions.test", actor)
		sign := func(email string, method string) (*account.Person, string) {
			t.Helper()
			p := accounttest.SignUp(t, e.accounts, account.SignUpInput{Email: email, Password: pw})
			tok, err := e.accounts.CreateSession(ctx, db, account.NewSession{PersonID: p.ID, Method: method})
			if err != nil {
				t.Fatal(err)
			}
			return p, tok
		}
		_, employee := sign("employee@acme-sessions.test", account.MethodPassword)
		_, upper := sign("Other@ACME-SESSIONS.test", account.MethodPassword)
		_, ssoSess := sign("sso.user@acme-sessions.test", account.MethodSSO)
		_, outsider := sign("someone@elsewhere.test", account.MethodPassword)
		_, sub := sign("x@sub.acme-sessions.test", account.MethodPassword)
		adaSess, err := e.accounts.CreateSession(ctx, db, account.NewSession{PersonID: ada.ID, Method: account.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		// Ada (example.org) is the backup login; the next test has the
		// backup login at the verified domain.
		if err := e.svc.Activate(ctx, acct, actor); err != nil {
			t.Fatal(err)
		}
		alive := func(tok string) bool {
			_, err := e.accounts.SessionByToken(ctx, tok)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				t.Fatal(err)
			}
			return err == nil
		}
		for name, c := range map[string]struct {
			tok  string
			want bool
		}{
			"employee (password, verified domain)":   {employee, false},
			"other case (password, verified domain)": {upper, false},
			"SSO session at the domain":              {ssoSess, true},
			"password session at another domain":     {outsider, true},
			"password session at a subdomain":        {sub, true},
			"the backup login":                       {adaSess, true},
		} {
			if got := alive(c.tok); got != c.want {
				t.Errorf("%s: alive %v, want %v", name, got, c.want)
			}
		}
		entries, err := e.accounts.AuditLog(ctx, acct, account.AuditFilter{Action: "idp.integration_activated"})
		if err != nil || len(entries) != 1 || !strings.Contains(entries[0].After, `"password_sessions_ended":2`) {
			t.Fatalf("audit: %+v %v", entries, err)
		}
	})
}

// TestActivationKeepsBackupLoginAtDomain: the backup login's password
// session survives even when its address is at the verified domain.
func TestActivationKeepsBackupLoginAtDomain(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		p := accounttest.SignUp(t, e.accounts, account.SignUpInput{Email: "boss@acme-backup.test", Password: pw})
		actor := audit.Actor{Type: audit.ActorPerson, ID: p.ID, Label: p.EmailNorm}
		a, err := e.accounts.CreateBusinessAccount(ctx, p.ID, account.AccountInput{Name: "Acme", Country: "DE"}, actor)
		if err != nil {
			t.Fatal(err)
		}
		must(t, e.svc.Start(ctx, a.ID, "entra", p.ID, actor))
		e.complete(dns, a.ID, "acme-backup.test", actor)
		tok, _ := e.accounts.CreateSession(ctx, db, account.NewSession{PersonID: p.ID, Method: account.MethodPassword})
		must(t, e.svc.Activate(ctx, a.ID, actor))
		if _, err := e.accounts.SessionByToken(ctx, tok); err != nil {
			t.Fatalf("the backup login's session ended: %v", err)
		}
	})
}
