package clientapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/license"
	"gatehouse/internal/license/operator"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestVendorAPI(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		svc := license.New(db, license.Config{})
		tokens := operator.NewTokens(db)
		srv := httptest.NewServer(NewVendor(svc, VendorConfig{Token: "flag-token-0123456789", Tokens: tokens}))
		defer srv.Close()
		call := func(method, path, token, body string) (int, map[string]any) {
			t.Helper()
			req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
			if body != "" {
				req.Header.Set("Content-Type", "application/json")
			}
			if token != "" {
				req.Header.Set("Authorization", "Bearer "+token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s %s: not JSON (%d): %s", method, path, resp.StatusCode, b)
			}
			return resp.StatusCode, m
		}
		const tok = "flag-token-0123456789"
		// Authentication.
		if st, _ := call("GET", "/api/vendor/v1/subscriptions", "", ""); st != 401 {
			t.Fatalf("no token: %d", st)
		}
		if st, _ := call("GET", "/api/vendor/v1/subscriptions", "wrong", ""); st != 401 {
			t.Fatalf("wrong token: %d", st)
		}
		stored, err := tokens.Create(ctx, license.OperatorActor("t"))
		if err != nil {
			t.Fatal(err)
		}
		if st, _ := call("GET", "/api/vendor/v1/subscriptions", stored, ""); st != 200 {
			t.Fatalf("stored token: %d", st)
		}
		// Issue.
		st, m := call("POST", "/api/vendor/v1/subscriptions", tok, `{"edition":"business","model":"per-device","seats":25,"term":"1y","note":"PO-7"}`)
		if st != 201 || !license.ValidKey(m["key"].(string)) {
			t.Fatalf("issue: %d %v", st, m)
		}
		key := m["key"].(string)
		sub := m["subscription"].(map[string]any)
		if sub["seats"].(float64) != 25 || sub["state"] != "active" || strings.Contains(sub["primary_key_masked"].(string), key[:6]) {
			t.Fatalf("issued %v", sub)
		}
		for _, bad := range []string{`{"edition":"gold","seats":1,"term":"1y"}`, `{"edition":"business","seats":1,"term":"forever"}`,
			`{"edition":"business","seats":"many","term":"1y"}`, `{"edition":"business","seats":1,"term":"1y","admin":true}`, `nope`} {
			if st, m := call("POST", "/api/vendor/v1/subscriptions", tok, bad); st < 400 || st >= 500 {
				t.Fatalf("bad issue %s: %d %v", bad, st, m)
			}
		}
		// Look up by key, list, act.
		if st, m := call("GET", "/api/vendor/v1/subscriptions/"+strings.ToLower(key), tok, ""); st != 200 || m["subscription"].(map[string]any)["id"] != sub["id"] {
			t.Fatalf("get: %d %v", st, m)
		}
		if st, _ := call("GET", "/api/vendor/v1/subscriptions/"+license.GenerateKey(), tok, ""); st != 404 {
			t.Fatalf("unknown key: %d", st)
		}
		if st, m := call("GET", "/api/vendor/v1/subscriptions?q=po-7", tok, ""); st != 200 || len(m["subscriptions"].([]any)) != 1 {
			t.Fatalf("list: %d %v", st, m)
		}
		if st, m := call("POST", "/api/vendor/v1/subscriptions/"+key+"/convert", tok, `{"model":"mixed"}`); st != 200 || m["subscription"].(map[string]any)["edition"] != "enterprise" {
			t.Fatalf("convert: %d %v", st, m)
		}
		if st, _ := call("POST", "/api/vendor/v1/subscriptions/"+key+"/convert", tok, ""); st != 422 {
			t.Fatalf("convert twice: %d", st)
		}
		if st, m := call("POST", "/api/vendor/v1/subscriptions/"+key+"/extend", tok, `{"until":"2099-12-31","seats":30}`); st != 200 ||
			m["subscription"].(map[string]any)["seats"].(float64) != 30 || !strings.HasPrefix(m["subscription"].(map[string]any)["ends_at"].(string), "2099-12-31") {
			t.Fatalf("extend: %d %v", st, m)
		}
		if st, _ := call("POST", "/api/vendor/v1/subscriptions/"+key+"/extend", tok, `{"until":"someday"}`); st != 400 {
			t.Fatalf("bad extend: %d", st)
		}
		if st, m := call("POST", "/api/vendor/v1/subscriptions/"+key+"/suspend", tok, `{"reason":"unpaid"}`); st != 200 || m["subscription"].(map[string]any)["state"] != "suspended" {
			t.Fatalf("suspend: %d %v", st, m)
		}
		if st, m := call("POST", "/api/vendor/v1/subscriptions/"+key+"/resume", tok, ""); st != 200 || m["subscription"].(map[string]any)["state"] != "active" {
			t.Fatalf("resume: %d %v", st, m)
		}
		if st, _ := call("POST", "/api/vendor/v1/subscriptions/"+key+"/explode", tok, ""); st != 404 {
			t.Fatalf("unknown action: %d", st)
		}
		if st, _ := call("DELETE", "/api/vendor/v1/subscriptions/"+key, tok, ""); st != 404 && st != 405 {
			t.Fatalf("DELETE: %d", st)
		}
	})
}
