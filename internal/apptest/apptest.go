// Package apptest boots a complete Gatehouse node for tests and drives it over
// real HTTP: a browser-like client with a cookie jar that submits forms with
// their CSRF token, and helpers to read pages with CSS selectors.
package apptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/app"
)

// Node is a running server.
type Node struct {
	URL string
	App *app.App
}

// Options tweak the node.
type Options struct {
	// Configure edits the config before the app is built.
	Configure func(*app.Config)
	// Logs, when set, also receives every log line of the node (text
	// format, debug level and up), for tests that assert what is (not)
	// logged.
	Logs io.Writer
}

// Start boots a node on a free loopback port against databaseURL and stops it
// when the test ends.
func Start(t testing.TB, databaseURL string, opts ...Options) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + ln.Addr().String()
	cfg := app.Config{Addr: ln.Addr().String(), DatabaseURL: databaseURL, PublicURL: base, DataDir: t.TempDir(),
		LogFormat: "text", LogLevel: "warn", ShutdownTimeout: 5 * time.Second}
	for _, o := range opts {
		if o.Configure != nil {
			o.Configure(&cfg)
		}
	}
	level := slog.LevelWarn
	if os.Getenv("GATEHOUSE_TEST_LOG") != "" {
		level = slog.LevelDebug
	}
	handlers := []slog.Handler{slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: level})}
	for _, o := range opts {
		if o.Logs != nil {
			handlers = append(handlers, slog.NewTextHandler(o.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		}
	}
	log := slog.New(slog.NewMultiHandler(handlers...))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := app.New(ctx, cfg, log)
	if err != nil {
		cancel()
		ln.Close()
		t.Fatalf("start gatehouse: %v", err)
	}
	// Every test client connects from 127.0.0.1: the per-source sign-up
	// limit would otherwise decide how many people a test may create.
	a.Accounts.Config.SignUpPerIP.Max = 100000
	done := make(chan error, 1)
	go func() { done <- a.ServeListener(ctx, ln, nil) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.Close()
	})
	node := &Node{URL: base, App: a}
	nodes.Store(base, node)
	t.Cleanup(func() { nodes.Delete(base) })
	return node
}

// Behind makes clients of base (a reverse proxy in front of node) find
// node's mail, as clients of node do.
func Behind(t testing.TB, base string, node *Node) {
	nodes.Store(base, node)
	t.Cleanup(func() { nodes.Delete(base) })
}

// nodes finds a running node by its URL, so a client can read the mail its
// node sent (the outbox).
var nodes sync.Map

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Client is a cookie-keeping HTTP client that does not follow redirects on
// its own (tests assert on them) unless asked.
type Client struct {
	T    testing.TB
	Base string
	HTTP *http.Client
	// Header is added to every request (e.g. X-Forwarded-For, to come from
	// another source address to a node started with TrustProxy).
	Header http.Header
}

// NewClient returns a client for base.
func NewClient(t testing.TB, base string) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{T: t, Base: base, HTTP: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// Response is a fetched page.
type Response struct {
	Status   int
	Header   http.Header
	Body     string
	Location string
	Doc      *goquery.Document
	URL      string
}

// Text returns the trimmed text of the first element matching sel.
func (r *Response) Text(sel string) string { return strings.TrimSpace(r.Doc.Find(sel).First().Text()) }

// Has reports whether an element matches sel.
func (r *Response) Has(sel string) bool { return r.Doc.Find(sel).Length() > 0 }

func (c *Client) do(req *http.Request) *Response {
	c.T.Helper()
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		c.T.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.T.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	doc, _ := goquery.NewDocumentFromReader(strings.NewReader(string(b)))
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: string(b), Location: resp.Header.Get("Location"), Doc: doc, URL: req.URL.String()}
}

func (c *Client) abs(path string) string {
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		return path
	}
	return c.Base + path
}

// Get fetches path.
func (c *Client) Get(path string) *Response {
	c.T.Helper()
	req, err := http.NewRequest(http.MethodGet, c.abs(path), nil)
	if err != nil {
		c.T.Fatal(err)
	}
	return c.do(req)
}

// Follow fetches path and follows redirects (up to 10).
func (c *Client) Follow(path string) *Response {
	c.T.Helper()
	r := c.Get(path)
	for i := 0; i < 10 && r.Location != ""; i++ {
		r = c.Get(r.Location)
	}
	return r
}

// CSRF returns the form token a page of this client carries.
func (c *Client) CSRF() string {
	c.T.Helper()
	r := c.Get("/signin")
	tok, ok := r.Doc.Find(`input[name="csrf_token"]`).First().Attr("value")
	if !ok {
		// Signed in: /signin redirects; any page with the layout has the sign-out form.
		r = c.Follow("/")
		tok, ok = r.Doc.Find(`input[name="csrf_token"]`).First().Attr("value")
	}
	if !ok {
		c.T.Fatalf("no csrf_token found (status %d)", r.Status)
	}
	return tok
}

// Post submits a form with the CSRF token added.
func (c *Client) Post(path string, form url.Values) *Response {
	c.T.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf_token") == "" {
		form.Set("csrf_token", c.CSRF())
	}
	return c.PostRaw(path, form)
}

// PostRaw submits a form as is.
func (c *Client) PostRaw(path string, form url.Values) *Response {
	c.T.Helper()
	req, err := http.NewRequest(http.MethodPost, c.abs(path), strings.NewReader(form.Encode()))
	if err != nil {
		c.T.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.do(req)
}

// Expect fails the test unless r has status want.
func (r *Response) Expect(t testing.TB, want int) *Response {
	t.Helper()
	if r.Status != want {
		body := r.Body
		if len(body) > 3000 {
			body = body[:3000]
		}
		t.Fatalf("%s: status %d, want %d; location %q; body:\n%s", r.URL, r.Status, want, r.Location, body)
	}
	return r
}

// SignUp creates a person through the sign-up form and leaves the client
// signed in.
func (c *Client) SignUp(email, password, name string) {
	c.T.Helper()
	r := c.Post("/signup", url.Values{"email": {email}, "password": {password}, "password_confirm": {password}, "display_name": {name}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Location, "/verify/sent") {
		c.T.Fatalf("sign up %s: status %d %s: %s", email, r.Status, r.Location, r.Text(".error-text, .flash"))
	}
	c.Verify(email)
}

// Verify opens the newest confirmation link mailed to email (read from the
// node's outbox) in this client and confirms it.
func (c *Client) Verify(email string) *Response {
	c.T.Helper()
	v, ok := nodes.Load(c.Base)
	if !ok {
		c.T.Fatalf("no running node at %s", c.Base)
	}
	token := accounttest.VerifyToken(c.T, v.(*Node).App.DB, email)
	c.Get("/verify/"+token).Expect(c.T, http.StatusOK)
	r := c.Post("/verify/"+token, nil)
	if r.Status != http.StatusSeeOther {
		c.T.Fatalf("confirm %s: status %d: %s", email, r.Status, r.Text(".error-text, .flash, main"))
	}
	return r
}

// SignIn signs in with a password.
func (c *Client) SignIn(email, password string) *Response {
	c.T.Helper()
	return c.Post("/signin", url.Values{"email": {email}, "password": {password}})
}

// CreateAccount creates a business account and returns its id.
func (c *Client) CreateAccount(name string) string {
	c.T.Helper()
	r := c.Post("/accounts/new", url.Values{"name": {name}, "country": {"DE"}, "contact_name": {"Admin"}}).Expect(c.T, http.StatusSeeOther)
	id := strings.TrimPrefix(r.Location, "/accounts/")
	if id == r.Location || id == "" {
		c.T.Fatalf("create account: unexpected redirect %q", r.Location)
	}
	return id
}

// MustContain fails unless s contains sub.
func MustContain(t testing.TB, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		if len(s) > 2000 {
			s = s[:2000]
		}
		t.Fatalf("want %q in:\n%s", sub, s)
	}
}

// Fmt is fmt.Sprintf, re-exported so small tests need one import less.
var Fmt = fmt.Sprintf
