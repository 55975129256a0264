package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

const pw = "correct-horse-battery-9"

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newService(db *store.DB) (*account.Service, *clock) {
	clk := &clock{t: time.Now().UTC()}
	return &account.Service{DB: db, Config: account.DefaultConfig(), PublicURL: "https://gatehouse.test", Now: clk.now}, clk
}

func count(t *testing.T, db *store.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// mails returns the bodies mailed to addr, newest first.
func mails(t *testing.T, db *store.DB, addr string) []string {
	t.Helper()
	rows, err := db.Query(context.Background(), `SELECT body_text FROM outbox WHERE to_addr = ? ORDER BY created_at DESC, id DESC`, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestSignUpCreatesNothingUntilVerified: sign-up answers the same for known
// and unknown addresses, creates no person and no session until the link
// mailed to the address is used; the link works once, expires, and creates
// exactly the address it was sent to.
func TestSignUpCreatesNothingUntilVerified(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, clk := newService(db)
		existing := accounttest.SignUp(t, svc, account.SignUpInput{Email: "Owner@Corp.example", Password: pw})
		if !existing.Verified() || existing.EmailNorm != "owner@corp.example" || existing.Email != "Owner@Corp.example" {
			t.Fatalf("person %+v", existing)
		}

		// Unknown and known addresses get the same answer (nil); the mail
		// says what happened.
		if err := svc.SignUp(ctx, account.SignUpInput{Email: "new@corp.example", Password: pw, Binding: "browser-a-0000000000000"}, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		if err := svc.SignUp(ctx, account.SignUpInput{Email: "OWNER@corp.example", Password: "stranger-password-1", Binding: "browser-b-0000000000000"}, "192.0.2.2"); err != nil {
			t.Fatalf("known address: %v (must answer like an unknown one)", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM people`); n != 1 {
			t.Fatalf("%d people after two sign-ups without links, want 1", n)
		}
		if m := mails(t, db, "Owner@Corp.example"); len(m) == 0 || !strings.Contains(m[0], "exists already") {
			t.Fatalf("the owner was not told: %q", m)
		}
		if _, err := svc.Authenticate(ctx, "new@corp.example", pw, "192.0.2.1"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("sign-in before the link: %v", err)
		}
		if _, err := svc.Authenticate(ctx, "owner@corp.example", "stranger-password-1", "192.0.2.2"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("the stranger's password works: %v", err)
		}

		token := accounttest.VerifyToken(t, db, "new@corp.example")
		v, err := svc.VerificationByToken(ctx, token, "browser-a-0000000000000")
		if err != nil || v.EmailNorm != "new@corp.example" || !v.Bound || v.NeedsPassword {
			t.Fatalf("link %+v %v", v, err)
		}
		// Looking at the link does not use it (mail scanners open links).
		if _, err := svc.VerificationByToken(ctx, token, ""); err != nil {
			t.Fatal(err)
		}
		res, err := svc.UseVerification(ctx, token, "browser-a-0000000000000", "", nil, "192.0.2.1")
		if err != nil || !res.SignIn || res.Person.EmailNorm != "new@corp.example" || !res.Person.Verified() {
			t.Fatalf("use: %+v %v", res, err)
		}
		// Single use.
		if _, err := svc.UseVerification(ctx, token, "browser-a-0000000000000", "", nil, "192.0.2.1"); !errors.Is(err, account.ErrVerifyLinkInvalid) {
			t.Fatalf("second use: %v", err)
		}
		if _, err := svc.Authenticate(ctx, "new@corp.example", pw, "192.0.2.1"); err != nil {
			t.Fatalf("sign-in after the link: %v", err)
		}

		// Expiry.
		if err := svc.SignUp(ctx, account.SignUpInput{Email: "late@corp.example", Password: pw, Binding: "browser-c-0000000000000"}, "192.0.2.3"); err != nil {
			t.Fatal(err)
		}
		late := accounttest.VerifyToken(t, db, "late@corp.example")
		clk.t = clk.t.Add(svc.Config.VerifyTTL + time.Minute)
		if _, err := svc.UseVerification(ctx, late, "browser-c-0000000000000", "", nil, "192.0.2.3"); !errors.Is(err, account.ErrVerifyLinkInvalid) {
			t.Fatalf("expired link: %v", err)
		}
		if n := count(t, db, `SELECT COUNT(*) FROM people WHERE email_norm = ?`, "late@corp.example"); n != 0 {
			t.Fatal("an expired link created a person")
		}
	})
}

// TestVerificationLinkInAnotherBrowser: a stranger who signs up with the
// owner's address cannot get the owner to finish the stranger's sign-up
// with one click: outside the browser that asked, the link wants the
// password chosen at sign-up, which the owner does not know.
func TestVerificationLinkInAnotherBrowser(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		if err := svc.SignUp(ctx, account.SignUpInput{Email: "ceo@corp.example", Password: "stranger-password-1",
			Binding: "stranger-browser-000000000"}, "203.0.113.9"); err != nil {
			t.Fatal(err)
		}
		token := accounttest.VerifyToken(t, db, "ceo@corp.example")
		v, err := svc.VerificationByToken(ctx, token, "owner-browser-00000000000")
		if err != nil || v.Bound || !v.NeedsPassword {
			t.Fatalf("%+v %v", v, err)
		}
		for _, p := range []string{"", "owner-guess-password"} {
			_, err := svc.UseVerification(ctx, token, "owner-browser-00000000000", p, nil, "192.0.2.50")
			var fe *account.FieldError
			if !errors.As(err, &fe) || fe.Field != "password" {
				t.Fatalf("password %q: %v", p, err)
			}
		}
		if n := count(t, db, `SELECT COUNT(*) FROM people`); n != 0 {
			t.Fatal("a person exists")
		}
		// The real owner signs up themselves; their link works in their
		// browser, and the stranger's link is dead afterwards.
		owner := accounttest.SignUp(t, svc, account.SignUpInput{Email: "ceo@corp.example", Password: pw})
		if _, err := svc.UseVerification(ctx, token, "stranger-browser-000000000", "", nil, "203.0.113.9"); !errors.Is(err, account.ErrVerifyLinkInvalid) {
			t.Fatalf("the stranger's link after the owner's sign-up: %v", err)
		}
		if _, err := svc.Authenticate(ctx, "ceo@corp.example", "stranger-password-1", "203.0.113.9"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("stranger password: %v", err)
		}
		if p, err := svc.Authenticate(ctx, "ceo@corp.example", pw, "192.0.2.50"); err != nil || p.ID != owner.ID {
			t.Fatalf("owner: %v", err)
		}
	})
}

// TestSignUpRateLimited: sign-up is limited per address and per source like
// sign-in (each attempt costs a password hash and a mail).
func TestSignUpRateLimited(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		var limited *account.RateLimitedError
		for i := 0; i <= svc.Config.SignUpPerEmail.Max; i++ {
			err := svc.SignUp(ctx, account.SignUpInput{Email: "target@corp.example", Password: pw}, "192.0.2."+string(rune('1'+i)))
			if i < svc.Config.SignUpPerEmail.Max && err != nil {
				t.Fatalf("attempt %d: %v", i+1, err)
			}
			if i == svc.Config.SignUpPerEmail.Max && !errors.As(err, &limited) {
				t.Fatalf("attempt %d per address not limited: %v", i+1, err)
			}
		}
		for i := 0; i <= svc.Config.SignUpPerIP.Max; i++ {
			err := svc.SignUp(ctx, account.SignUpInput{Email: "p" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@ip.example", Password: pw}, "198.51.100.77")
			if i == svc.Config.SignUpPerIP.Max {
				if !errors.As(err, &limited) {
					t.Fatalf("attempt %d per source not limited: %v", i+1, err)
				}
			} else if err != nil && !errors.As(err, &limited) {
				t.Fatal(err)
			}
		}
	})
}

// TestAddressChangeReverification: a new address counts only once the link
// mailed to it is used by the same person, signed in; until then the old
// address stays; a newer request supersedes an older link; the old address
// is told; other sessions end.
func TestAddressChangeReverification(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		p := accounttest.SignUp(t, svc, account.SignUpInput{Email: "ann@old.example", Password: pw})
		other := accounttest.SignUp(t, svc, account.SignUpInput{Email: "bob@old.example", Password: pw})
		keep, err := svc.CreateSession(ctx, db, account.NewSession{PersonID: p.ID, Method: account.MethodPassword})
		if err != nil {
			t.Fatal(err)
		}
		elsewhere, _ := svc.CreateSession(ctx, db, account.NewSession{PersonID: p.ID, Method: account.MethodPassword})
		sess, err := svc.SessionByToken(ctx, keep)
		if err != nil {
			t.Fatal(err)
		}

		if err := svc.RequestAddressChange(ctx, p, "ann@new.example", "wrong-password-123", "192.0.2.1"); err == nil {
			t.Fatal("changed without the password")
		}
		if err := svc.RequestAddressChange(ctx, p, "bob@old.example", pw, "192.0.2.1"); err == nil {
			t.Fatal("another person's address accepted")
		}
		if err := svc.RequestAddressChange(ctx, p, "ann@first.example", pw, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		first := accounttest.VerifyToken(t, db, "ann@first.example")
		if err := svc.RequestAddressChange(ctx, p, "Ann@New.example", pw, "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		second := accounttest.VerifyToken(t, db, "Ann@New.example")
		if got, _ := svc.PersonByID(ctx, p.ID); got.EmailNorm != "ann@old.example" {
			t.Fatalf("address changed before the link: %s", got.EmailNorm)
		}
		if _, err := svc.UseVerification(ctx, first, "", "", sess, "192.0.2.1"); !errors.Is(err, account.ErrVerifyLinkInvalid) {
			t.Fatalf("superseded link: %v", err)
		}
		// Only the person who asked, signed in, completes it.
		bobSessToken, _ := svc.CreateSession(ctx, db, account.NewSession{PersonID: other.ID, Method: account.MethodPassword})
		bobSess, _ := svc.SessionByToken(ctx, bobSessToken)
		for _, s := range []*account.Session{nil, bobSess} {
			if _, err := svc.UseVerification(ctx, second, "", "", s, "192.0.2.1"); !errors.Is(err, account.ErrVerifyWrongPerson) {
				t.Fatalf("someone else used the link: %v", err)
			}
		}
		res, err := svc.UseVerification(ctx, second, "", "", sess, "192.0.2.1")
		if err != nil || res.Person.EmailNorm != "ann@new.example" || res.Person.Email != "Ann@New.example" {
			t.Fatalf("%+v %v", res, err)
		}
		if _, err := svc.SessionByToken(ctx, elsewhere); !errors.Is(err, store.ErrNotFound) {
			t.Fatal("the other session survived the address change")
		}
		if _, err := svc.SessionByToken(ctx, keep); err != nil {
			t.Fatal("the session that confirmed was ended")
		}
		if m := mails(t, db, "ann@old.example"); len(m) == 0 || !strings.Contains(m[0], "now uses Ann@New.example") {
			t.Fatalf("the old address was not told: %q", m)
		}
		if _, err := svc.Authenticate(ctx, "ann@old.example", pw, "192.0.2.1"); !errors.Is(err, account.ErrInvalidCredentials) {
			t.Fatalf("old address still signs in: %v", err)
		}
	})
}

// TestConfirmLinkBoundToAddress: a confirmation link of a person from
// before verification existed proves only the address it was sent to.
func TestConfirmLinkBoundToAddress(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		p := accounttest.SignUp(t, svc, account.SignUpInput{Email: "old@corp.example", Password: pw})
		// As the address migration leaves a person it could not vouch for.
		if _, err := db.Exec(ctx, `UPDATE people SET email_verified_at = NULL WHERE id = ?`, p.ID); err != nil {
			t.Fatal(err)
		}
		_, err := svc.Authenticate(ctx, "old@corp.example", pw, "192.0.2.1")
		var unverified *account.UnverifiedError
		if !errors.As(err, &unverified) {
			t.Fatalf("unverified sign-in: %v", err)
		}
		if err := svc.SendConfirmation(ctx, unverified.Person, "browser-x-0000000000000", "192.0.2.1"); err != nil {
			t.Fatal(err)
		}
		token := accounttest.VerifyToken(t, db, "old@corp.example")
		// The address changes in between (an operator fixing it): the link
		// no longer proves anything.
		if _, err := db.Exec(ctx, `UPDATE people SET email = ?, email_norm = ? WHERE id = ?`, "other@corp.example", "other@corp.example", p.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.UseVerification(ctx, token, "browser-x-0000000000000", "", nil, "192.0.2.1"); !errors.Is(err, account.ErrVerifyLinkInvalid) {
			t.Fatalf("link used for another address: %v", err)
		}
		if got, _ := svc.PersonByID(ctx, p.ID); got.Verified() {
			t.Fatal("verified through a link for another address")
		}
	})
}
