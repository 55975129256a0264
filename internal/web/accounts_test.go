package web_test

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/mail"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

const pw = "correct-horse-battery-9"

// outboxLink returns the first link to path prefix in the newest email to addr.
func outboxLink(t *testing.T, db *store.DB, addr, prefix string) string {
	t.Helper()
	msgs, err := mail.List(context.Background(), db, 50)
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`https?://[^\s]+` + regexp.QuoteMeta(prefix) + `[^\s]+`)
	for _, m := range msgs {
		if strings.EqualFold(m.To, addr) {
			if l := re.FindString(m.Text); l != "" {
				return l
			}
		}
	}
	t.Fatalf("no email to %s with a %s link", addr, prefix)
	return ""
}

func TestMemberLifecycleOverHTTP(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL)
		admin := apptest.NewClient(t, node.URL)
		admin.SignUp("Alice@Example.com", pw, "Alice Admin")
		acct := admin.CreateAccount("Example Corp")

		// Invite a member; the email carries a single-use link.
		admin.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {"bob@example.com"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
		users := admin.Get("/accounts/"+acct+"/users?status=invited").Expect(t, http.StatusOK)
		apptest.MustContain(t, users.Text("tbody"), "bob@example.com")
		link := outboxLink(t, node.App.DB, "bob@example.com", "/invites/")

		// Bob signs up and accepts.
		bob := apptest.NewClient(t, node.URL)
		bob.Get(link).Expect(t, http.StatusOK)
		bob.SignUp("bob@example.com", pw, "Bob")
		r := bob.Post(link, nil).Expect(t, http.StatusSeeOther)
		if r.Location != "/accounts/"+acct {
			t.Fatalf("accept redirected to %q", r.Location)
		}
		// The link is single use.
		bob.Post(link, nil).Expect(t, http.StatusConflict)
		// Bob is a plain user: no Users page, no audit log.
		bob.Get("/accounts/"+acct+"/users").Expect(t, http.StatusForbidden)
		bob.Get("/accounts/"+acct+"/audit").Expect(t, http.StatusForbidden)

		// Admin makes Bob a license admin.
		page := admin.Get("/accounts/"+acct+"/users?q=bob").Expect(t, http.StatusOK)
		action, ok := page.Doc.Find(`form[action$="/role"]`).First().Attr("action")
		if !ok {
			t.Fatal("no role form for bob")
		}
		admin.Post(action, url.Values{"role": {"license_admin"}}).Expect(t, http.StatusSeeOther)
		bob.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK)
		page = admin.Get("/accounts/"+acct+"/users?role=license_admin").Expect(t, http.StatusOK)
		apptest.MustContain(t, page.Text("tbody"), "bob@example.com")

		// Audit log shows every step; the CSV has the same rows.
		audit := admin.Get("/accounts/"+acct+"/audit").Expect(t, http.StatusOK)
		for _, action := range []string{"account.created", "member.invited", "member.joined", "member.role_changed"} {
			apptest.MustContain(t, auditText(audit), action)
		}
		csvResp := admin.Get("/accounts/"+acct+"/audit.csv?action=member.").Expect(t, http.StatusOK)
		if ct := csvResp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
			t.Fatalf("csv content type %q", ct)
		}
		rows, err := csv.NewReader(strings.NewReader(csvResp.Body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 4 || rows[0][4] != "action" {
			t.Fatalf("csv rows: %v", rows)
		}
		got := map[string]bool{}
		for _, row := range rows[1:] {
			got[row[4]] = true
		}
		for _, a := range []string{"member.invited", "member.joined", "member.role_changed"} {
			if !got[a] {
				t.Errorf("csv lacks %s: %v", a, rows)
			}
		}
	})
}

func TestLastAdminIsKept(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db")
	admin := apptest.NewClient(t, node.URL)
	admin.SignUp("solo@example.com", pw, "Solo")
	acct := admin.CreateAccount("Solo Ltd")
	page := admin.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK)
	action, _ := page.Doc.Find(`form[action$="/role"]`).First().Attr("action")
	r := admin.Post(action, url.Values{"role": {"user"}}).Expect(t, http.StatusSeeOther)
	flash := admin.Get(r.Location)
	apptest.MustContain(t, flash.Text(".flash"), "at least one active admin")
	status, _ := page.Doc.Find(`form[action$="/status"]`).First().Attr("action")
	admin.Post(status, url.Values{"status": {"deactivated"}}).Expect(t, http.StatusSeeOther)
	admin.Get("/accounts/"+acct+"/users").Expect(t, http.StatusOK) // still admin
}

// TestSignInRateLimit: failures slow down the source they come from — per
// address and source, and per source — and never lock the address: the
// owner signing in from elsewhere is not refused because of someone else's
// failures (issue 19), and the slowed-down source may try again once its
// growing delay has passed.
func TestSignInRateLimit(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		node := apptest.Start(t, dbURL, apptest.Options{Configure: func(c *app.Config) { c.TrustProxy = true }})
		now := time.Now()
		node.App.Accounts.Now = func() time.Time { return now }
		from := func(ip string) *apptest.Client {
			c := apptest.NewClient(t, node.URL)
			c.Header = http.Header{"X-Forwarded-For": {ip}}
			return c
		}
		c := from("198.51.100.20")
		c.SignUp("carol@example.com", pw, "Carol")
		c.Post("/signout", nil)

		attacker := from("203.0.113.7")
		for i := 0; i < 5; i++ {
			attacker.SignIn("carol@example.com", "wrong-password-1").Expect(t, http.StatusUnauthorized)
		}
		// From the attacker's address even the right password now has to
		// wait, and the answer says how long.
		r := attacker.SignIn("carol@example.com", pw).Expect(t, http.StatusTooManyRequests)
		apptest.MustContain(t, r.Text(".flash.error"), "Too many failed sign-in attempts")
		first, _ := strconv.Atoi(r.Header.Get("Retry-After"))
		if first <= 0 || first > 60 {
			t.Fatalf("Retry-After %q; want a short wait", r.Header.Get("Retry-After"))
		}
		// An unknown email is answered exactly like a known one.
		unknown := attacker.SignIn("nobody@example.com", "wrong-password-1").Expect(t, http.StatusUnauthorized)
		apptest.MustContain(t, unknown.Text(".flash.error"), "The email or password is not correct.")

		// Carol, from her own address, is not refused because of the
		// attacker's failures.
		c.SignIn("carol@example.com", pw).Expect(t, http.StatusSeeOther)
		c.Post("/signout", nil)

		// The attacker's address is slowed down, not locked: after the wait
		// it may try again, and each further failure doubles the wait.
		now = now.Add(time.Duration(first) * time.Second)
		attacker.SignIn("carol@example.com", "wrong-password-2").Expect(t, http.StatusUnauthorized)
		r = attacker.SignIn("carol@example.com", pw).Expect(t, http.StatusTooManyRequests)
		if second, _ := strconv.Atoi(r.Header.Get("Retry-After")); second != 2*first {
			t.Fatalf("Retry-After after one more failure = %d; want %d", second, 2*first)
		}
		now = now.Add(time.Duration(2*first) * time.Second)
		attacker.SignIn("carol@example.com", pw).Expect(t, http.StatusSeeOther)

		// One address trying many accounts is slowed down across all of
		// them; other addresses are not.
		sprayer := from("192.0.2.50")
		for i := 0; i < 20; i++ {
			sprayer.SignIn(apptest.Fmt("user%d@example.com", i), "wrong-password-1").Expect(t, http.StatusUnauthorized)
		}
		sprayer.SignIn("someone-else@example.com", "wrong-password-1").Expect(t, http.StatusTooManyRequests)
		sprayer.SignIn("carol@example.com", pw).Expect(t, http.StatusTooManyRequests)
		from("198.51.100.21").SignIn("carol@example.com", pw).Expect(t, http.StatusSeeOther)
	})
}

func TestBadInput(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db")
	c := apptest.NewClient(t, node.URL)

	// Unknown route: a proper 404 page.
	r := c.Get("/no/such/page").Expect(t, http.StatusNotFound)
	apptest.MustContain(t, r.Text("h1"), "Page not found")

	// Missing CSRF token: refused.
	c.PostRaw("/signup", url.Values{"email": {"x@example.com"}}).Expect(t, http.StatusForbidden)

	// Oversized form: 413.
	big := url.Values{"email": {strings.Repeat("a", 2<<20)}}
	big.Set("csrf_token", c.CSRF())
	c.PostRaw("/signup", big).Expect(t, http.StatusRequestEntityTooLarge)

	// Validation: each field's message, the form kept.
	r = c.Post("/signup", url.Values{"email": {"not-an-email"}, "password": {"short"}, "password_confirm": {"short"}}).Expect(t, http.StatusUnprocessableEntity)
	apptest.MustContain(t, r.Text("#e-email"), "needs an @")
	if v, _ := r.Doc.Find("#f-email").Attr("value"); v != "not-an-email" {
		t.Errorf("email not kept: %q", v)
	}
	r = c.Post("/signup", url.Values{"email": {"dave@example.com"}, "password": {"password123"}, "password_confirm": {"password123"}}).Expect(t, http.StatusUnprocessableEntity)
	apptest.MustContain(t, r.Text("#e-password"), "commonly used")
	r = c.Post("/signup", url.Values{"email": {"dave@example.com"}, "password": {pw}, "password_confirm": {pw + "x"}}).Expect(t, http.StatusUnprocessableEntity)
	apptest.MustContain(t, r.Text("#e-password_confirm"), "not the same")

	c.SignUp("dave@example.com", pw, "Dave")
	r = c.Post("/accounts/new", url.Values{"name": {""}, "country": {"XX"}}).Expect(t, http.StatusUnprocessableEntity)
	apptest.MustContain(t, r.Text("#e-name"), "Enter the organization")
	// Addresses are identifiers in ASCII case: a second sign-up with
	// another case answers exactly as for a new address (no enumeration),
	// creates nobody, and the owner's mail says what happened.
	other := apptest.NewClient(t, node.URL)
	r = other.Post("/signup", url.Values{"email": {"DAVE@example.com"}, "password": {"someone-else-pass-1"}, "password_confirm": {"someone-else-pass-1"}}).Expect(t, http.StatusSeeOther)
	fresh := apptest.NewClient(t, node.URL).Post("/signup", url.Values{"email": {"nobody-yet@example.com"}, "password": {"someone-else-pass-1"}, "password_confirm": {"someone-else-pass-1"}}).Expect(t, http.StatusSeeOther)
	if strings.Replace(r.Location, "DAVE%40example.com", "X", 1) != strings.Replace(fresh.Location, "nobody-yet%40example.com", "X", 1) {
		t.Fatalf("known and unknown addresses answer differently: %q vs %q", r.Location, fresh.Location)
	}
	apptest.MustContain(t, other.Get(r.Location).Expect(t, http.StatusOK).Text("main"), "Check your email")
	apptest.MustContain(t, outboxText(t, node.App.DB, "dave@example.com"), "exists already")
	other.SignIn("DAVE@EXAMPLE.COM", "someone-else-pass-1").Expect(t, http.StatusUnauthorized)
	other.SignIn("DAVE@EXAMPLE.COM", pw).Expect(t, http.StatusSeeOther)
}

// outboxText returns the newest email to addr.
func outboxText(t *testing.T, db *store.DB, addr string) string {
	t.Helper()
	msgs, err := mail.List(context.Background(), db, 50)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if strings.EqualFold(m.To, addr) {
			return m.Text
		}
	}
	t.Fatalf("no email to %s", addr)
	return ""
}

func TestPasswordReset(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db")
	c := apptest.NewClient(t, node.URL)
	c.SignUp("erin@example.com", pw, "Erin")
	c.Post("/signout", nil)
	// The answer is the same for known and unknown addresses.
	known := c.Post("/password/forgot", url.Values{"email": {"erin@example.com"}}).Expect(t, http.StatusSeeOther)
	unknown := c.Post("/password/forgot", url.Values{"email": {"nobody@example.com"}}).Expect(t, http.StatusSeeOther)
	if known.Location != unknown.Location {
		t.Fatal("reset answers differ")
	}
	link := outboxLink(t, node.App.DB, "erin@example.com", "/password/reset/")
	c.Get(link).Expect(t, http.StatusOK)
	c.Post(link, url.Values{"password": {"a-new-passphrase-7"}, "password_confirm": {"a-new-passphrase-7"}}).Expect(t, http.StatusSeeOther)
	c.Get(link).Expect(t, http.StatusNotFound) // single use
	c.SignIn("erin@example.com", pw).Expect(t, http.StatusUnauthorized)
	c.SignIn("erin@example.com", "a-new-passphrase-7").Expect(t, http.StatusSeeOther)
}

func TestSetupLinkCreatesOperator(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db")
	link, err := node.App.Accounts.SetupLink(context.Background())
	if err != nil || link == "" {
		t.Fatalf("setup link %q, %v", link, err)
	}
	c := apptest.NewClient(t, node.URL)
	c.Get(link).Expect(t, http.StatusOK)
	c.Post(link, url.Values{"email": {"ops@example.com"}, "password": {pw}, "password_confirm": {pw}}).Expect(t, http.StatusSeeOther)
	c.Get("/operator/outbox").Expect(t, http.StatusOK)
	// Used once.
	apptest.NewClient(t, node.URL).Get(link).Expect(t, http.StatusNotFound)
	// Non-operators do not see the outbox.
	u := apptest.NewClient(t, node.URL)
	u.SignUp("user@example.com", pw, "")
	u.Get("/operator/outbox").Expect(t, http.StatusNotFound)
}

// /metrics is served on its own listener (--metrics-addr, loopback by
// default), never on the public one.
func TestHealthAndMetrics(t *testing.T) {
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db", apptest.Options{Configure: func(c *app.Config) { c.MetricsAddr = metricsAddr }})
	c := apptest.NewClient(t, node.URL)
	c.Get("/healthz").Expect(t, http.StatusOK)
	c.Get("/signin")
	c.Get("/metrics").Expect(t, http.StatusNotFound)
	// The metrics listener starts with the server: wait until it answers.
	mc := apptest.NewClient(t, "http://"+metricsAddr)
	var m *apptest.Response
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err == nil {
			resp.Body.Close()
			m = mc.Get("/metrics").Expect(t, http.StatusOK)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics listener: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	apptest.MustContain(t, m.Body, `gatehouse_http_requests_total{code="200",method="GET",route="GET /signin"}`)
	apptest.MustContain(t, m.Body, `gatehouse_db_open_connections{pool="write"}`)
	mc.Get("/signin").Expect(t, http.StatusNotFound) // nothing else there

	// The shipped default is loopback.
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfg := app.Flags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	if host, _, err := net.SplitHostPort(cfg.MetricsAddr); err != nil || !net.ParseIP(host).IsLoopback() {
		t.Fatalf("default --metrics-addr %q is not loopback", cfg.MetricsAddr)
	}
}

func TestDatabaseErrorShowsReference(t *testing.T) {
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db")
	c := apptest.NewClient(t, node.URL)
	c.SignUp("frank@example.com", pw, "Frank")
	node.App.DB.Close() // every query now fails
	r := c.Get("/personal").Expect(t, http.StatusInternalServerError)
	ref := r.Header.Get("X-Request-ID")
	apptest.MustContain(t, r.Text("main"), "Reference: "+ref)
	if strings.Contains(r.Body, "sql:") || strings.Contains(r.Body, "database is closed") {
		t.Error("the error page leaks the internal error")
	}
	c.Get("/healthz").Expect(t, http.StatusServiceUnavailable)
}

// auditText is what an audit log page says: the rows' text (labels) and
// the event codes behind them (their tooltips).
func auditText(page *apptest.Response) string {
	var codes []string
	page.Doc.Find("tbody .audit-action").Each(func(_ int, s *goquerySelection) { codes = append(codes, s.AttrOr("title", "")) })
	return page.Text("tbody") + "\n" + strings.Join(codes, "\n")
}
