package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/mail"
	"gatehouse/internal/testenv"
)

// resetLinks returns every password reset link mailed to addr, oldest first.
func resetLinks(t *testing.T, node *apptest.Node, addr string) []string {
	t.Helper()
	msgs, err := mail.List(context.Background(), node.App.DB, 100)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`https?://\S+/password/reset/\S+`)
	var out []string
	for i := len(msgs) - 1; i >= 0; i-- {
		if strings.EqualFold(msgs[i].To, addr) {
			out = append(out, re.FindAllString(msgs[i].Text, -1)...)
		}
	}
	return out
}

// TestResetLinksInvalidatedTogether: using one reset link invalidates every
// other outstanding link of the person, whichever was asked for first, so
// an older link (in a forwarded or leaked mail) cannot undo the change.
func TestResetLinksInvalidatedTogether(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		c := apptest.NewClient(t, node.URL)
		c.SignUp("erin@example.com", pw, "Erin")
		c.Post("/signout", nil)
		for range 3 {
			c.Post("/password/forgot", url.Values{"email": {"erin@example.com"}}).Expect(t, http.StatusSeeOther)
		}
		links := resetLinks(t, node, "erin@example.com")
		if len(links) != 3 {
			t.Fatalf("%d reset links mailed, want 3", len(links))
		}
		for _, l := range links {
			c.Get(l).Expect(t, http.StatusOK) // all usable so far
		}
		// The newest link is used…
		c.Post(links[2], url.Values{"password": {"a-new-passphrase-7"}, "password_confirm": {"a-new-passphrase-7"}}).Expect(t, http.StatusSeeOther)
		// …and the older ones are dead, for showing and for posting.
		for _, l := range links {
			c.Get(l).Expect(t, http.StatusNotFound)
			c.Post(l, url.Values{"password": {"attackers-passphrase-1"}, "password_confirm": {"attackers-passphrase-1"}}).Expect(t, http.StatusNotFound)
		}
		c.SignIn("erin@example.com", "attackers-passphrase-1").Expect(t, http.StatusUnauthorized)
		c.SignIn("erin@example.com", "a-new-passphrase-7").Expect(t, http.StatusSeeOther)
		c.Post("/signout", nil)

		// The other way round: the oldest of two new links is used, the
		// newer one dies with it.
		for range 2 {
			c.Post("/password/forgot", url.Values{"email": {"erin@example.com"}}).Expect(t, http.StatusSeeOther)
		}
		links = resetLinks(t, node, "erin@example.com")[3:]
		c.Post(links[0], url.Values{"password": {"third-passphrase-9"}, "password_confirm": {"third-passphrase-9"}}).Expect(t, http.StatusSeeOther)
		c.Get(links[1]).Expect(t, http.StatusNotFound)
		c.SignIn("erin@example.com", "third-passphrase-9").Expect(t, http.StatusSeeOther)
	})
}

// TestSecretLinksNotLogged: the access log names the route of a link that
// carries a secret (reset, member invitation), never the link itself.
func TestSecretLinksNotLogged(t *testing.T) {
	logs := &logBuffer{}
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db", apptest.Options{Logs: logs})
	c := apptest.NewClient(t, node.URL)
	c.SignUp("logan@example.com", pw, "Logan")
	acct := c.CreateAccount("Log Corp")
	c.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {"ivan@example.com"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
	invite := outboxLink(t, node.App.DB, "ivan@example.com", "/invites/")
	c.Post("/signout", nil)
	c.Post("/password/forgot", url.Values{"email": {"logan@example.com"}}).Expect(t, http.StatusSeeOther)
	reset := resetLinks(t, node, "logan@example.com")[0]
	c.Get(reset).Expect(t, http.StatusOK)
	c.Get(invite).Expect(t, http.StatusOK)
	c.Post(reset, url.Values{"password": {"x"}, "password_confirm": {"y"}}).Expect(t, http.StatusUnprocessableEntity)
	out := logs.String()
	for _, link := range []string{reset, invite} {
		secret := link[strings.LastIndex(link, "/")+1:]
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the secret of %s", link)
		}
	}
	apptest.MustContain(t, out, `path=/password/reset/{token}`)
	apptest.MustContain(t, out, `path=/invites/{token}`)
}
