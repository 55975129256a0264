package web_test

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/testenv"
)

// syncBuffer collects a node's log lines from many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// from127002 is an HTTP client whose connections come from 127.0.0.2, so
// that the client's address differs from the proxy's (127.0.0.1) and a
// test can tell which one a node recorded.
func from127002() *http.Transport {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 10 * time.Second}
	return &http.Transport{DialContext: d.DialContext}
}

// TestTrustProxyEverywhere runs a node with --trust-proxy behind a real
// HAProxy (option forwardfor) and checks that every place a client address
// is recorded — access log, audit log of the web UI, SCIM and the vendor
// API, the web and client API rate limits — holds the address HAProxy saw,
// never the proxy's own nor what the client wrote into X-Forwarded-For.
// A node without --trust-proxy records the proxy's address.
func TestTrustProxyEverywhere(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		logs := &syncBuffer{}
		node := apptest.Start(t, dbURL, apptest.Options{Logs: logs, Configure: func(c *app.Config) { c.TrustProxy = true }})
		proxy := testenv.HAProxy(t, node.URL)
		apptest.Behind(t, proxy.URL, node)

		const client, spoofed = "127.0.0.2", "203.0.113.66"
		hdr := http.Header{"X-Forwarded-For": {spoofed}}
		c := apptest.NewClient(t, proxy.URL)
		c.HTTP.Transport = from127002()
		c.Header = hdr
		c.SignUp("proxied@example.org", pw, "Proxied")
		acct := c.CreateAccount("Proxied Ltd")
		// A wrong password: the per-address sign-in limit counts it.
		c2 := apptest.NewClient(t, proxy.URL)
		c2.HTTP.Transport = from127002()
		c2.Header = hdr
		c2.SignIn("proxied@example.org", "wrong password entirely")

		raw := func(method, path, token, body string) int {
			t.Helper()
			req, err := http.NewRequest(method, proxy.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Forwarded-For", spoofed)
			resp, err := (&http.Client{Transport: c.HTTP.Transport, Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		// Vendor API: issuing a subscription is audited.
		opToken, err := node.App.License.CreateOperatorToken(ctx, audit.System("test"))
		if err != nil {
			t.Fatal(err)
		}
		if st := raw("POST", clientapi.VendorPrefix+"subscriptions", opToken, `{"edition":"enterprise","model":"mixed","seats":5,"term":"1y"}`); st != http.StatusCreated {
			t.Fatalf("vendor issue: %d", st)
		}
		// SCIM: creating a user is audited.
		scimToken, err := node.App.SCIM.GenerateToken(ctx, acct, audit.System("test"), 0)
		if err != nil {
			t.Fatal(err)
		}
		if st := raw("POST", "/scim/v2/Users", scimToken, `{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"sc@example.org"}`); st != http.StatusCreated {
			t.Fatalf("SCIM create: %d", st)
		}
		// Client API: a wrong key counts against the address's failures.
		if st := raw("POST", clientapi.Prefix+"activate", "", `{"key":"GH-WRONG-KEY","device":{"hardware_uuid":"3F2504E0-4F89-11D3-9A0C-0305E82C3301","serial":"C02X","computer_name":"Mac","macos_user":"u","app_version":"1.0"}}`); st < 400 || st >= 500 {
			t.Fatalf("client activate with a wrong key: %d", st)
		}

		// Audit log: web (account created), vendor API, SCIM.
		rows, err := node.App.DB.Query(ctx, `SELECT action, source_ip FROM audit_log WHERE actor_type <> 'system' ORDER BY at`)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]string{}
		for rows.Next() {
			var action, ip string
			if err := rows.Scan(&action, &ip); err != nil {
				t.Fatal(err)
			}
			seen[action] = ip
			if ip != client {
				t.Errorf("audit %s recorded from %q, want %q", action, ip, client)
			}
		}
		rows.Close()
		for _, prefix := range []string{"account.created", "license.subscription_issued", "scim.user_created"} {
			found := false
			for a := range seen {
				found = found || strings.HasPrefix(a, prefix)
			}
			if !found {
				t.Errorf("no %s* audit entry recorded (have %v)", prefix, seen)
			}
		}

		// Rate limits: web sign-up and sign-in, client API activation.
		keys := map[string]bool{}
		rows, err = node.App.DB.Query(ctx, `SELECT key FROM rate_limits`)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				t.Fatal(err)
			}
			keys[k] = true
			if strings.Contains(k, spoofed) || strings.Contains(k, "127.0.0.1") {
				t.Errorf("rate limit keyed on the wrong address: %q", k)
			}
		}
		rows.Close()
		for _, k := range []string{"signup:ip:" + client, "signin:ip:" + client, "client_activate_failures:" + client} {
			if !keys[k] {
				t.Errorf("rate limit %q not recorded (have %v)", k, keys)
			}
		}

		// Access log.
		out := logs.String()
		if !strings.Contains(out, "ip="+client) {
			t.Errorf("access log has no ip=%s", client)
		}
		for _, wrong := range []string{"ip=" + spoofed, "ip=127.0.0.1"} {
			if strings.Contains(out, wrong) {
				t.Errorf("access log has %s", wrong)
			}
		}

		// Without --trust-proxy the proxy is the client, whatever the
		// header says.
		plainLogs := &syncBuffer{}
		plain := apptest.Start(t, dbURL, apptest.Options{Logs: plainLogs})
		plainProxy := testenv.HAProxy(t, plain.URL)
		pc := apptest.NewClient(t, plainProxy.URL)
		pc.HTTP.Transport = from127002()
		pc.Header = hdr
		pc.PostRaw("/signin", url.Values{"email": {"x@example.org"}, "password": {"y"}})
		if o := plainLogs.String(); !strings.Contains(o, "ip=127.0.0.1") || strings.Contains(o, "ip="+client) || strings.Contains(o, "ip="+spoofed) {
			t.Errorf("without --trust-proxy the access log should name the proxy only:\n%s", o)
		}
	})
}
