package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/testenv"
)

// TestFreeTextRefused: NUL and invalid UTF-8 in account names and every
// other form field or query parameter are refused with a 4xx naming the
// field on both engines (SQLite used to store them, PostgreSQL answered
// 500), and nothing is stored.
func TestFreeTextRefused(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		c := apptest.NewClient(t, node.URL)
		c.SignUp("texts@corp.example", pw, "Tess")
		acct := c.CreateAccount("Text Corp")
		c.Get("/personal") // takes the "created" message
		before := c.Get("/personal").Text("main")

		for _, bad := range []struct{ value, mention string }{{"Acme\x00 Corp", "NUL"}, {"Acme \xff Corp", "UTF-8"}, {"\xc0\xafAcme", "UTF-8"}} {
			r := c.Post("/accounts/new", url.Values{"name": {bad.value}, "country": {"DE"}, "contact_name": {"Admin"}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("new account named %q: status %d", bad.value, r.Status)
			}
			apptest.MustContain(t, r.Text("main"), "“name”")
			apptest.MustContain(t, r.Text("main"), bad.mention)
			r = c.Post("/accounts/"+acct+"/profile", url.Values{"name": {"Text Corp"}, "country": {"DE"}, "contact_name": {bad.value}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("profile contact %q: status %d", bad.value, r.Status)
			}
			apptest.MustContain(t, r.Text("main"), "“contact_name”")
			other := apptest.NewClient(t, node.URL)
			r = other.Post("/signup", url.Values{"email": {"nul@corp.example"}, "password": {pw}, "password_confirm": {pw}, "display_name": {bad.value}})
			if r.Status != http.StatusUnprocessableEntity {
				t.Fatalf("sign-up named %q: status %d", bad.value, r.Status)
			}
			apptest.MustContain(t, r.Text("main"), "“display_name”")
		}
		if after := c.Get("/personal").Text("main"); after != before {
			t.Errorf("refused forms changed the workspaces:\n%s\n→\n%s", before, after)
		}
		if _, err := node.App.Accounts.PersonByEmail(context.Background(), "nul@corp.example"); err == nil {
			t.Error("a sign-up with a bad display name created the person")
		}
		if p := c.Get("/accounts/" + acct + "/profile"); strings.Contains(p.Body, "\ufffd") || strings.Contains(p.Body, "Acme") {
			t.Error("the profile kept refused text")
		}

		// Queries and paths: 400, never 500.
		for _, p := range []string{
			"/accounts/" + acct + "/users?q=%00",
			"/accounts/" + acct + "/users?q=%FF",
			"/accounts/" + acct + "/audit?actor=%C0%AF",
			"/accounts/" + acct + "/audit.csv?action=%00",
			"/accounts/%FF",
			"/accounts/" + acct + "%00/users",
			"/signin?next=%2F%00",
		} {
			if r := c.Get(p); r.Status != http.StatusBadRequest {
				t.Errorf("GET %s: status %d, want 400", p, r.Status)
			}
		}

		// The service refuses the same text for callers other than the portal.
		ctx := context.Background()
		owner, err := node.App.Accounts.PersonByEmail(ctx, "texts@corp.example")
		if err != nil {
			t.Fatal(err)
		}
		_, err = node.App.Accounts.CreateBusinessAccount(ctx, owner.ID, account.AccountInput{Name: "Svc\x00", Country: "DE"},
			audit.Actor{Type: audit.ActorPerson, ID: owner.ID})
		var fe *account.FieldError
		if !errors.As(err, &fe) || fe.Field != "name" {
			t.Errorf("CreateBusinessAccount with NUL: %v", err)
		}
	})
}
