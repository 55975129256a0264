package idp_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"gatehouse/internal/idp"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestNormalizeDomain(t *testing.T) {
	ok := map[string]string{
		"Example.COM":         "example.com",
		"  example.com.  ":    "example.com",
		"@example.com":        "example.com",
		"mail.eu.example.com": "mail.eu.example.com",
		"bücher.example":      "xn--bcher-kva.example",
		"BÜCHER.de":           "xn--bcher-kva.de",
		"xn--bcher-kva.de":    "xn--bcher-kva.de",
		"example.co.uk":       "example.co.uk",
		"acme-corp.test":      "acme-corp.test",
		"ｅｘａｍｐｌｅ．ｃｏｍ":         "example.com", // full-width forms map to ASCII
	}
	for in, want := range ok {
		got, err := idp.NormalizeDomain(in)
		if err != nil || got != want {
			t.Errorf("NormalizeDomain(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"":                               "Enter a domain",
		"com":                            "public suffix",
		"co.uk":                          "public suffix",
		"github.io":                      "public suffix",
		"localhost":                      "at least one dot",
		"gmail.com":                      "public email service",
		"GMail.com":                      "public email service",
		"outlook.com":                    "public email service",
		"hotmail.com":                    "public email service",
		"yahoo.com":                      "public email service",
		"icloud.com":                     "public email service",
		"eu.mail.yahoo.com":              "public email service",
		"https://example.com/":           "not a web address",
		"example.com/path":               "not a web address",
		"bob@example.com":                "only the part after the @",
		"*.example.com":                  "Wildcards",
		"exa mple.com":                   "spaces",
		"192.168.1.1":                    "IP address",
		"[::1]":                          "IP address",
		"-bad.example.com":               "not a valid domain",
		"bad-.example.com":               "not a valid domain",
		"ex_ample.com":                   "not a valid domain",
		"a..example.com":                 "not a valid domain",
		strings.Repeat("a", 64) + ".com": "not a valid domain",
	}
	for in, want := range bad {
		got, err := idp.NormalizeDomain(in)
		if err == nil {
			t.Errorf("NormalizeDomain(%q) = %q, want an error about %q", in, got, want)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeDomain(%q): %q does not mention %q", in, err, want)
		}
	}
}

func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range []string{"example.com", "bücher.de", "co.uk", "gmail.com", "@x.org", "a..b", "xn--", "ｅｘａｍｐｌｅ．ｃｏｍ", "1.2.3.4", "0.\x93"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := idp.NormalizeDomain(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error message")
			}
			return
		}
		if d != strings.ToLower(d) || !utf8.ValidString(d) || len(d) > 253 || !strings.Contains(d, ".") {
			t.Fatalf("NormalizeDomain(%q) = %q: not a lower-case ASCII domain", s, d)
		}
		for _, r := range d {
			if r > 0x7f {
				t.Fatalf("NormalizeDomain(%q) = %q: not ASCII", s, d)
			}
		}
		again, err := idp.NormalizeDomain(d)
		if err != nil || again != d {
			t.Fatalf("not idempotent: %q → %q → %q, %v", s, d, again, err)
		}
	})
}

// TestDomainVerification follows one domain through DNS with a real dnsmasq:
// pending at once (no record), still pending at the first background check,
// then the record is published and the next background check verifies it.
func TestDomainVerification(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		acct, _, actor := e.startedAccount("Acme", idp.ProviderOkta)

		d, err := e.svc.AddDomain(ctx, acct, "Acme-Corp.test", actor)
		if err != nil {
			t.Fatal(err)
		}
		if d.Name != "acme-corp.test" || d.Status != idp.DomainPending || d.Checks != 1 {
			t.Fatalf("after add: %+v", d)
		}
		if !strings.HasPrefix(d.TXTName, "_gatehouse-") || !strings.HasSuffix(d.TXTName, ".acme-corp.test") ||
			!strings.HasPrefix(d.TXTValue, "gatehouse-domain-verification=") || d.TXTHost() == d.TXTName {
			t.Fatalf("record: %q = %q (host %q)", d.TXTName, d.TXTValue, d.TXTHost())
		}
		if !strings.Contains(d.LastFound, "No TXT record") || !strings.Contains(d.LastFound, d.TXTName) || d.LastCheckedAt.IsZero() {
			t.Fatalf("found: %q at %v", d.LastFound, d.LastCheckedAt)
		}
		if got := d.NextCheckAt.Sub(e.clock.Now()); got != time.Minute {
			t.Fatalf("next check in %v, want 1m", got)
		}
		// Another domain's record under the same name with the wrong value.
		other, err := e.svc.AddDomain(ctx, acct, "other-corp.test", actor)
		if err != nil {
			t.Fatal(err)
		}
		dns.SetTXT(t, other.TXTName, "v=spf1 -all", "something else")

		// Not due yet: nothing happens.
		if err := e.svc.RecheckDue(ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		if d2, _ := e.svc.Domain(ctx, acct, d.ID); d2.Checks != 1 {
			t.Fatalf("checked before due: %+v", d2)
		}
		// First background check: still nothing published; back-off doubles.
		e.clock.Add(time.Minute)
		if err := e.svc.RecheckDue(ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		d2, _ := e.svc.Domain(ctx, acct, d.ID)
		if d2.Status != idp.DomainPending || d2.Checks != 2 || d2.NextCheckAt.Sub(e.clock.Now()) != 2*time.Minute {
			t.Fatalf("after first recheck: %+v (next in %v)", d2, d2.NextCheckAt.Sub(e.clock.Now()))
		}
		o2, _ := e.svc.Domain(ctx, acct, other.ID)
		if !strings.Contains(o2.LastFound, "another value") || !strings.Contains(o2.LastFound, "v=spf1 -all") {
			t.Fatalf("other found: %q", o2.LastFound)
		}

		// The admin publishes the record; the next background check finds it.
		dns.SetTXT(t, d.TXTName, d.TXTValue)
		e.clock.Add(2 * time.Minute)
		if err := e.svc.RecheckDue(ctx, e.clock.Now()); err != nil {
			t.Fatal(err)
		}
		d3, _ := e.svc.Domain(ctx, acct, d.ID)
		if d3.Status != idp.DomainVerified || d3.VerifiedAt.IsZero() || !d3.NextCheckAt.IsZero() || !strings.Contains(d3.LastFound, "Found the expected") {
			t.Fatalf("after publishing: %+v", d3)
		}
		if got, active, err := e.svc.AccountForDomain(ctx, "Someone@ACME-corp.test"); err != nil || got != acct || active {
			t.Fatalf("AccountForDomain = %q %v %v", got, active, err)
		}
		if _, _, err := e.svc.AccountForDomain(ctx, "other-corp.test"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unverified domain found: %v", err)
		}
		acts := auditActions(t, db, acct)
		for _, a := range []string{"idp.configuration_started", "idp.domain_added", "idp.domain_verified"} {
			if !contains(acts, a) {
				t.Errorf("audit lacks %s: %v", a, acts)
			}
		}
		var by string
		if err := db.QueryRow(ctx, `SELECT actor_label FROM audit_log WHERE account_id = ? AND action = 'idp.domain_verified'`, acct).Scan(&by); err != nil || by != "system: "+idp.JobName {
			t.Fatalf("verified by %q, %v", by, err)
		}
	})
}

// TestDomainWindowExpires: a record that never appears is failed after the
// window; Verify restarts the checks for another window.
func TestDomainWindowExpires(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		acct, _, actor := e.startedAccount("Slow", idp.ProviderEntra)
		d, err := e.svc.AddDomain(ctx, acct, "slow-dns.test", actor)
		if err != nil {
			t.Fatal(err)
		}
		checks := 1
		for i := 0; i < 200; i++ {
			e.clock.Add(time.Hour)
			if err := e.svc.RecheckDue(ctx, e.clock.Now()); err != nil {
				t.Fatal(err)
			}
			cur, _ := e.svc.Domain(ctx, acct, d.ID)
			checks = cur.Checks
			if cur.Status == idp.DomainFailed {
				break
			}
		}
		cur, _ := e.svc.Domain(ctx, acct, d.ID)
		if cur.Status != idp.DomainFailed || !cur.NextCheckAt.IsZero() || !strings.Contains(cur.LastFound, "stopped checking after 72 hours") {
			t.Fatalf("after the window: %+v", cur)
		}
		if checks > 90 || cur.LastCheckedAt.Sub(d.CreatedAt.Time) > 73*time.Hour {
			t.Fatalf("%d checks, last at +%v", checks, cur.LastCheckedAt.Sub(d.CreatedAt.Time))
		}
		// Failed domains are left alone by the job…
		e.clock.Add(time.Hour)
		_ = e.svc.RecheckDue(ctx, e.clock.Now())
		if again, _ := e.svc.Domain(ctx, acct, d.ID); again.Checks != cur.Checks {
			t.Fatal("a failed domain was checked again by the job")
		}
		// …until the admin clicks Verify.
		v, err := e.svc.VerifyDomain(ctx, acct, d.ID, actor)
		if err != nil {
			t.Fatal(err)
		}
		if v.Status != idp.DomainPending || v.WindowUntil.Sub(e.clock.Now()) != 72*time.Hour {
			t.Fatalf("after Verify: %+v", v)
		}
		if !contains(auditActions(t, db, acct), "idp.domain_verification_failed") || !contains(auditActions(t, db, acct), "idp.domain_verification_restarted") {
			t.Fatalf("audit: %v", auditActions(t, db, acct))
		}
	})
}

// TestDomainClaimedByTwoAccounts: a domain may be pending in two accounts;
// the first to verify owns it, the other is told so, and a third account
// cannot even add it. Two simultaneous verifications: exactly one wins.
func TestDomainClaimedByTwoAccounts(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		dns := testenv.DNS(t)
		e := newEnv(t, db, dns)
		a, _, actorA := e.startedAccount("Alpha", idp.ProviderEntra)
		b, _, actorB := e.startedAccount("Beta", idp.ProviderOkta)
		c, _, actorC := e.startedAccount("Gamma", idp.ProviderPing)

		da, err := e.svc.AddDomain(ctx, a, "shared-corp.test", actorA)
		if err != nil {
			t.Fatal(err)
		}
		db2, err := e.svc.AddDomain(ctx, b, "SHARED-corp.test", actorB)
		if err != nil {
			t.Fatalf("a pending domain must not block another account: %v", err)
		}
		if da.TXTName == db2.TXTName || da.TXTValue == db2.TXTValue {
			t.Fatal("two accounts got the same TXT record")
		}
		dns.SetTXT(t, da.TXTName, da.TXTValue)
		if v, err := e.svc.VerifyDomain(ctx, a, da.ID, actorA); err != nil || v.Status != idp.DomainVerified {
			t.Fatalf("A verify: %+v %v", v, err)
		}
		dns.SetTXT(t, db2.TXTName, db2.TXTValue)
		v, err := e.svc.VerifyDomain(ctx, b, db2.ID, actorB)
		if err != nil || v.Status != idp.DomainFailed || !strings.Contains(v.LastFound, "another business account verified") {
			t.Fatalf("B verify: %+v %v", v, err)
		}
		_, err = e.svc.AddDomain(ctx, c, "shared-corp.test", actorC)
		var fe *idp.FieldError
		if !errors.As(err, &fe) || fe.Field != "domain" || !strings.Contains(fe.Message, "already verified by another business account") {
			t.Fatalf("C add: %v", err)
		}
		if strings.Contains(fe.Message, "Alpha") {
			t.Fatal("the refusal names the other account")
		}
		if _, err := e.svc.AddDomain(ctx, a, "shared-corp.test", actorA); err == nil || !strings.Contains(err.Error(), "already in your list") {
			t.Fatalf("A adds twice: %v", err)
		}
		// Another account's domain id is reported like a missing one.
		if _, err := e.svc.VerifyDomain(ctx, b, da.ID, actorB); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B verifies A's domain: %v", err)
		}
		if err := e.svc.RemoveDomain(ctx, b, da.ID, actorB); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("B removes A's domain: %v", err)
		}
		// A releases the domain; B's Verify now succeeds.
		if err := e.svc.RemoveDomain(ctx, a, da.ID, actorA); err != nil {
			t.Fatal(err)
		}
		if v, err := e.svc.VerifyDomain(ctx, b, db2.ID, actorB); err != nil || v.Status != idp.DomainVerified {
			t.Fatalf("B verify after A removed: %+v %v", v, err)
		}
		if owner, _, _ := e.svc.AccountForDomain(ctx, "shared-corp.test"); owner != b {
			t.Fatalf("owner %q, want B", owner)
		}

		// Both publish and verify at the same moment.
		ra, _ := e.svc.AddDomain(ctx, a, "race-corp.test", actorA)
		rc, _ := e.svc.AddDomain(ctx, c, "race-corp.test", actorC)
		dns.SetTXT(t, ra.TXTName, ra.TXTValue)
		dns.SetTXT(t, rc.TXTName, rc.TXTValue)
		var wg sync.WaitGroup
		results := make([]string, 2)
		for i, x := range []struct {
			acct, id string
		}{{a, ra.ID}, {c, rc.ID}} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d, err := e.svc.VerifyDomain(ctx, x.acct, x.id, actorA)
				if err != nil {
					results[i] = "error: " + err.Error()
					return
				}
				results[i] = d.Status
			}()
		}
		wg.Wait()
		if !(results[0] == idp.DomainVerified && results[1] == idp.DomainFailed || results[0] == idp.DomainFailed && results[1] == idp.DomainVerified) {
			t.Fatalf("concurrent verifications: %v", results)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM idp_domains WHERE domain = 'race-corp.test' AND status = 'verified'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("%d verified rows, %v", n, err)
		}
	})
}

func TestAddDomainRefusals(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newEnv(t, db, nil)
		e.svc.Resolver = nil
		e.svc.Config.DNSTimeout = time.Millisecond
		// Not started: refused.
		p, actor := e.person("solo")
		acc, _ := e.accounts.CreateBusinessAccount(ctx, p.ID, accountInput("Solo"), actor)
		if _, err := e.svc.AddDomain(ctx, acc.ID, "solo-corp.test", actor); !errors.Is(err, idp.ErrNotStarted) {
			t.Fatalf("not started: %v", err)
		}
		acct, _, actor := e.startedAccount("Refusals", idp.ProviderGoogle)
		for in, want := range map[string]string{"gmail.com": "public email service", "co.uk": "public suffix",
			"com": "public suffix", "https://acme.com": "web address", "bob@acme.com": "after the @"} {
			_, err := e.svc.AddDomain(ctx, acct, in, actor)
			var fe *idp.FieldError
			if !errors.As(err, &fe) || fe.Field != "domain" || !strings.Contains(fe.Message, want) {
				t.Errorf("%q: %v", in, err)
			}
		}
		if ds, _ := e.svc.Domains(ctx, acct); len(ds) != 0 {
			t.Fatalf("refused domains were stored: %v", ds)
		}
	})
}
