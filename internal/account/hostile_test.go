package account_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestHostileAddressesSignUpAndInvitations runs the hostile address table
// through sign-up, sign-in and member invitations with the people it aims
// at in place: every form is refused with a field error, or is the same
// canonical address (then sign-up creates nobody and only mails the owner,
// and an invitation is for the owner), or is an address of its own — never
// a way into an existing person whose address differs.
func TestHostileAddressesSignUpAndInvitations(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc, _ := newService(db)
		// Several forms are the admin's address (forms trim surrounding
		// spaces; ASCII case; IDNA spellings): the per-address sign-up
		// limit (its own test) must not decide this one.
		svc.Config.SignUpPerEmail.Max = 1000
		people := map[string]*account.Person{}
		for _, a := range []string{"admin@corp.example.test", "sam@corp.example.test", "kelvin@corp.example.test", "ann@bücher.example", "jose@corp.example.test"} {
			p := accounttest.SignUp(t, svc, account.SignUpInput{Email: a, Password: pw})
			people[p.EmailNorm] = p
		}
		admin := people["admin@corp.example.test"]
		acct, err := svc.CreateBusinessAccount(ctx, admin.ID, account.AccountInput{Name: "Corp", Country: "DE"},
			audit.Actor{Type: audit.ActorPerson, ID: admin.ID, Label: admin.EmailNorm})
		if err != nil {
			t.Fatal(err)
		}
		before := count(t, db, `SELECT COUNT(*) FROM people`)
		for i, c := range accounttest.Hostile {
			ip := fmt.Sprintf("203.0.113.%d", i+1)
			want, wantErr := account.FormEmail(c.Raw)
			err := svc.SignUp(ctx, account.SignUpInput{Email: c.Raw, Password: "hostile-pass-2026", Binding: "hostile-browser-0000000000"}, ip)
			var fe *account.FieldError
			switch {
			case wantErr != nil:
				if !errors.As(err, &fe) || fe.Field != "email" {
					t.Errorf("%s: sign-up with %q: %v, want an email field error", c.Name, c.Raw, err)
				}
			case err != nil:
				t.Errorf("%s: sign-up with %q: %v", c.Name, c.Raw, err)
			}
			if n := count(t, db, `SELECT COUNT(*) FROM people`); n != before {
				t.Fatalf("%s: sign-up created a person without a link", c.Name)
			}
			// The stranger's password opens nobody.
			if p, err := svc.Authenticate(ctx, c.Raw, "hostile-pass-2026", ip); err == nil {
				t.Fatalf("%s: %q signed in as %s", c.Name, c.Raw, p.EmailNorm)
			}
			if wantErr == nil && people[want] == nil {
				// An address of its own: its link creates exactly that address.
				token := accounttest.VerifyToken(t, db, c.Raw)
				res, err := svc.UseVerification(ctx, token, "hostile-browser-0000000000", "", nil, ip)
				if err != nil || res.Person.EmailNorm != want || people[res.Person.EmailNorm] != nil {
					t.Fatalf("%s: link: %+v %v", c.Name, res, err)
				}
				people[want] = res.Person
				before++
			}

			// Member invitations: refused, or addressed to the canonical
			// address — which only its verified owner can accept.
			err = svc.InviteMember(ctx, acct.ID, c.Raw, account.RoleAdmin, audit.Actor{Type: audit.ActorPerson, ID: admin.ID, Label: admin.EmailNorm})
			switch {
			case wantErr != nil:
				if !errors.As(err, &fe) || fe.Field != "email" {
					t.Errorf("%s: invitation to %q: %v, want an email field error", c.Name, c.Raw, err)
				}
				continue
			case want == admin.EmailNorm:
				if err == nil {
					t.Errorf("%s: the admin was invited again as %q", c.Name, c.Raw)
				}
				continue
			case err != nil:
				t.Errorf("%s: invitation to %q: %v", c.Name, c.Raw, err)
				continue
			}
			var norm string
			if err := db.QueryRow(ctx, `SELECT email_norm FROM member_invites WHERE account_id = ? AND revoked_at IS NULL AND accepted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1`,
				acct.ID).Scan(&norm); err != nil || norm != want {
				t.Errorf("%s: invitation stored for %q (%v), want %q", c.Name, norm, err, want)
			}
			for addr, p := range people {
				inv := &account.Invite{Email: norm}
				if account.InviteAddressMatches(p, inv) != (addr == want) {
					t.Errorf("%s: the invitation for %q matches %s", c.Name, norm, addr)
				}
			}
		}
		if !strings.Contains(mails(t, db, "admin@corp.example.test")[0], "exists already") {
			t.Error("the admin was not told about the sign-up attempts with their address")
		}
	})
}
