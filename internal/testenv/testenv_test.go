package testenv_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestEngines(t *testing.T) {
	var ran []string
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ran = append(ran, string(db.Dialect()))
		ctx := context.Background()
		v, err := db.SchemaVersion(ctx)
		if err != nil || v < 1 {
			t.Fatalf("schema version = %d, %v; want migrated", v, err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO settings (key, value) VALUES (?, ?)`, "k", "v"); err != nil {
			t.Fatal(err)
		}
		var got string
		if err := db.QueryRow(ctx, `SELECT value FROM settings WHERE key = ?`, "k").Scan(&got); err != nil || got != "v" {
			t.Fatalf("read back %q, %v", got, err)
		}
	})
	if testenv.RequirePeers() && !slices.Equal(ran, []string{"sqlite", "postgres"}) {
		t.Errorf("engines run: %v", ran)
	}
}

func TestEnginesAreIsolated(t *testing.T) {
	// Two calls give two different, empty databases.
	ctx := context.Background()
	for _, open := range []struct {
		name string
		fn   func(testing.TB) *store.DB
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		t.Run(open.name, func(t *testing.T) {
			a, b := open.fn(t), open.fn(t)
			if _, err := a.Exec(ctx, `INSERT INTO settings (key, value) VALUES ('x', '1')`); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := b.QueryRow(ctx, `SELECT COUNT(*) FROM settings`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("second database sees %d rows (%v); want 0", n, err)
			}
		})
	}
}

func TestEngineURLs(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, u string) {
		ctx := context.Background()
		db, err := store.Open(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		switch db.Dialect() {
		case store.SQLite:
			if !strings.HasPrefix(u, "sqlite:///") {
				t.Errorf("sqlite URL %q", u)
			}
		case store.Postgres:
			if !strings.HasPrefix(u, "postgres://") {
				t.Errorf("postgres URL %q", u)
			}
		}
		// Empty: not migrated.
		v, err := db.SchemaVersion(ctx)
		if err == nil && v > 0 {
			t.Fatalf("fresh database already at version %d", v)
		}
		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPostgresDatabaseDroppedAtCleanup(t *testing.T) {
	var u string
	t.Run("inner", func(t *testing.T) { u = testenv.PostgresURL(t) })
	if u == "" {
		return // skipped
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	db, err := store.Open(ctx, u)
	if err == nil {
		db.Close()
		t.Fatalf("database %s still exists after its test ended", u)
	}
	if !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("open dropped database: %v (want \"does not exist\")", err)
	}
}

func TestSMTPSink(t *testing.T) {
	sink := testenv.SMTP(t)
	if !strings.HasPrefix(sink.URL, "smtp://127.0.0.1:") {
		t.Fatalf("URL %q", sink.URL)
	}
	msg := strings.Join([]string{
		"From: Gatehouse <noreply@example.test>",
		"To: alice@example.test",
		"Subject: =?UTF-8?Q?Willkommen_bei_Gatehouse_=E2=9C=93?=",
		"MIME-Version: 1.0",
		`Content-Type: multipart/alternative; boundary="b1"`,
		"",
		"--b1",
		"Content-Type: text/plain; charset=utf-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"Hallo Alice, gr=C3=BC=C3=9F dich. Your code is 123456 and this line is lo=",
		"ng.",
		"--b1",
		"Content-Type: text/html; charset=utf-8",
		"Content-Transfer-Encoding: base64",
		"",
		"PHA+SGFsbG8gPGI+QWxpY2U8L2I+PC9wPg==",
		"--b1--",
		"",
	}, "\r\n")
	if err := smtp.SendMail(sink.Addr, nil, "bounce@example.test", []string{"alice@example.test", "bob@example.test"}, []byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := sink.WaitFor(t, func(e testenv.Email) bool { return slices.Contains(e.To, "alice@example.test") }, 5*time.Second)
	if got.From != "bounce@example.test" || len(got.To) != 2 {
		t.Errorf("envelope from %q to %v", got.From, got.To)
	}
	if got.Subject != "Willkommen bei Gatehouse ✓" {
		t.Errorf("subject %q", got.Subject)
	}
	if got.Text != "Hallo Alice, grüß dich. Your code is 123456 and this line is long." {
		t.Errorf("text %q", got.Text)
	}
	if got.HTML != "<p>Hallo <b>Alice</b></p>" {
		t.Errorf("html %q", got.HTML)
	}
	if got.Header.Get("From") != "Gatehouse <noreply@example.test>" || len(got.Raw) == 0 {
		t.Errorf("header From %q, raw %d bytes", got.Header.Get("From"), len(got.Raw))
	}
	if n := len(sink.Messages()); n != 1 {
		t.Errorf("%d messages, want 1", n)
	}
}

func TestSMTPSinkFailNext(t *testing.T) {
	sink := testenv.SMTP(t)
	sink.FailNext(2)
	body := []byte("Subject: retry me\r\n\r\nplain body\r\n")
	for i := 0; i < 2; i++ {
		err := smtp.SendMail(sink.Addr, nil, "a@example.test", []string{"b@example.test"}, body)
		if err == nil || !strings.Contains(err.Error(), "451") {
			t.Fatalf("attempt %d: err %v, want 451", i+1, err)
		}
	}
	if err := smtp.SendMail(sink.Addr, nil, "a@example.test", []string{"b@example.test"}, body); err != nil {
		t.Fatalf("third attempt: %v", err)
	}
	got := sink.WaitFor(t, func(e testenv.Email) bool { return e.Subject == "retry me" }, 5*time.Second)
	if got.Text != "plain body\n" {
		t.Errorf("text %q", got.Text)
	}
	if sink.Failed() != 2 || len(sink.Messages()) != 1 {
		t.Errorf("failed %d, delivered %d", sink.Failed(), len(sink.Messages()))
	}
}

func TestSMTPSinkAuthPlain(t *testing.T) {
	sink := testenv.SMTP(t)
	// net/smtp refuses PLAIN without TLS except to localhost.
	addr := strings.Replace(sink.Addr, "127.0.0.1", "localhost", 1)
	auth := smtp.PlainAuth("", "user", "secret", "localhost")
	if err := smtp.SendMail(addr, auth, "a@example.test", []string{"b@example.test"}, []byte("Subject: auth\r\n\r\nx\r\n")); err != nil {
		t.Fatal(err)
	}
	sink.WaitFor(t, func(e testenv.Email) bool { return e.Subject == "auth" }, 5*time.Second)
}

func TestDNS(t *testing.T) {
	dns := testenv.DNS(t)
	const name = "_gatehouse-challenge.example.test"
	dns.SetTXT(t, name, "gatehouse-verification=abc123", `with "quotes" and \ backslash`)
	long := strings.Repeat("x", 300)
	dns.SetTXT(t, "long.example.test", long)

	res := dns.Resolver()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, err := res.LookupTXT(ctx, name+".")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	want := []string{"gatehouse-verification=abc123", `with "quotes" and \ backslash`}
	if !slices.Equal(got, want) {
		t.Fatalf("TXT %s = %q, want %q", name, got, want)
	}
	if got, err := res.LookupTXT(ctx, "long.example.test."); err != nil || len(got) != 1 || got[0] != long {
		t.Fatalf("long TXT = %d values, %v", len(got), err)
	}

	// Removing the record is seen after SetTXT returns.
	dns.SetTXT(t, name)
	if got, err := res.LookupTXT(ctx, name+"."); err == nil && len(got) > 0 {
		t.Fatalf("TXT %s after removal = %q", name, got)
	}
	// TCP answers too (large answers come over TCP).
	tcp := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", dns.Addr)
	}}
	if got, err := tcp.LookupTXT(ctx, "long.example.test."); err != nil || len(got) != 1 || got[0] != long {
		t.Fatalf("over TCP: %d values, %v", len(got), err)
	}
}

func TestBrowser(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Gatehouse test</title><h1 id="h">Hello from the test server</h1>
<script>document.getElementById("h").dataset.js = "ran"</script>`)
	}))
	defer srv.Close()
	ctx := testenv.Browser(t)
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(tctx, chromedp.Navigate(srv.URL)); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(tctx, chromedp.Text(chromedp.CSS(`#h`)))
	if err != nil {
		t.Fatal(err)
	}
	if text != "Hello from the test server" {
		t.Errorf("text %q", text)
	}
	js, err := chromedp.Run(tctx, chromedp.Evaluate[string](`document.getElementById("h").dataset.js`))
	if err != nil || js != "ran" {
		t.Errorf("script result %q, %v", js, err)
	}
	title, err := chromedp.Run(tctx, chromedp.Title())
	if err != nil || title != "Gatehouse test" {
		t.Errorf("title %q, %v", title, err)
	}
}

func TestBrowserScreenshotOnFailure(t *testing.T) {
	if os.Getenv("TESTENV_FAILING_BROWSER_TEST") == "1" {
		// The child process: a browser test that fails.
		ctx := testenv.Browser(t)
		_ = chromedp.Do(ctx, chromedp.Navigate(`data:text/html,<h1 style="color:red">failure screenshot</h1>`))
		t.Error("deliberate failure")
		return
	}
	testenv.Command(t, "chromium")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBrowserScreenshotOnFailure$", "-test.count=1")
	cmd.Env = append(os.Environ(), "TESTENV_FAILING_BROWSER_TEST=1", "GATEHOUSE_ARTIFACTS="+dir)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the deliberately failing child test passed:\n%s", out)
	}
	png, err := os.ReadFile(filepath.Join(dir, "TestBrowserScreenshotOnFailure.png"))
	if err != nil {
		t.Fatalf("no screenshot: %v\nchild output:\n%s", err, out)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("screenshot is not a PNG (%d bytes)", len(png))
	}
	html, err := os.ReadFile(filepath.Join(dir, "TestBrowserScreenshotOnFailure.html"))
	if err != nil || !bytes.Contains(html, []byte("failure screenshot")) {
		t.Errorf("page HTML not saved: %v %q", err, html)
	}
}

func TestCommandAndNodeDir(t *testing.T) {
	if p := testenv.Command(t, "go"); !filepath.IsAbs(p) {
		t.Errorf("Command(go) = %q", p)
	}
	if port := testenv.FreePort(t); port <= 0 || port > 65535 {
		t.Errorf("FreePort = %d", port)
	}
	root := testenv.RepoRoot()
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Errorf("RepoRoot %q: %v", root, err)
	}
}
