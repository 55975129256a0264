package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/apptest"
	"gatehouse/internal/testenv"
)

// TestVerificationOverHTTP: the pages around verification — check your
// email, resend, the confirmation page (GET does not use the link), the
// address change on /me with its link usable only by the same person.
func TestVerificationOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		c := apptest.NewClient(t, node.URL)
		r := c.Post("/signup", url.Values{"email": {"yan@example.com"}, "password": {pw}, "password_confirm": {pw}, "display_name": {"Yan"}}).Expect(t, http.StatusSeeOther)
		page := c.Get(r.Location).Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("main"), "yan@example.com")
		apptest.MustContain(t, page.Text("main"), "no account exists")
		first := accounttest.VerifyToken(t, node.App.DB, "yan@example.com")
		c.Post("/verify/resend", url.Values{"email": {"yan@example.com"}}).Expect(t, http.StatusSeeOther)
		second := accounttest.VerifyToken(t, node.App.DB, "yan@example.com")
		if first == second {
			t.Fatal("resend did not mail a new link")
		}
		// Opening the page twice uses nothing; the POST does, once.
		c.Get("/verify/"+second).Expect(t, http.StatusOK)
		v := c.Get("/verify/"+second).Expect(t, http.StatusOK)
		if v.Doc.Find(`input[name=password]`).Length() != 0 {
			t.Fatal("the browser that asked is asked for the password")
		}
		c.Post("/verify/"+second, nil).Expect(t, http.StatusSeeOther)
		c.Post("/verify/"+first, nil).Expect(t, http.StatusNotFound) // the other sign-ups of the address are moot
		c.Get("/verify/"+second).Expect(t, http.StatusNotFound)
		me := c.Get("/me").Expect(t, http.StatusOK)
		apptest.MustContain(t, me.Text("main"), "confirmed")

		// Address change: wrong password, then the link by someone else,
		// then by the person.
		r = c.Post("/me/email", url.Values{"email": {"yan@new.example"}, "current_password": {"not-my-password"}}).Expect(t, http.StatusUnprocessableEntity)
		apptest.MustContain(t, r.Text("#e-current_password"), "not your current password")
		c.Post("/me/email", url.Values{"email": {"Yan@New.example"}, "current_password": {pw}}).Expect(t, http.StatusSeeOther)
		apptest.MustContain(t, c.Get("/me").Text("main"), "Yan@New.example")
		link := accounttest.VerifyToken(t, node.App.DB, "yan@new.example")
		other := apptest.NewClient(t, node.URL)
		other.SignUp("zoe@example.com", pw, "Zoe")
		other.Post("/verify/"+link, nil).Expect(t, http.StatusForbidden)
		apptest.NewClient(t, node.URL).Post("/verify/"+link, nil).Expect(t, http.StatusForbidden)
		c.Post("/verify/"+link, nil).Expect(t, http.StatusSeeOther)
		who := c.Get("/me").Expect(t, http.StatusOK).Text("header")
		if !strings.Contains(who, "Yan@New.example") {
			t.Fatalf("header shows %q", who)
		}
		c.Post("/signout", nil)
		c.SignIn("yan@example.com", pw).Expect(t, http.StatusUnauthorized)
		c.SignIn("YAN@new.example", pw).Expect(t, http.StatusSeeOther)
	})
}
