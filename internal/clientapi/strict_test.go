package clientapi

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestDuplicateKeysRefused: a JSON body that names a field twice is refused
// with a 400 naming the field (encoding/json would silently keep the last
// value) on the client API and the vendor API, and nothing happens;
// unknown fields and oversized bodies are refused as before.
func TestDuplicateKeysRefused(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, ratelimit.Limit{Max: 1000, Window: time.Minute})
		sub, key := issue(t, e.svc, e.caller, license.IssueInput{Seats: 5})
		other := license.GenerateKey()
		uuid := ids.New()
		m := []string{"X-Test-Malformed", "1"}
		for _, c := range []struct{ name, path, body, mention string }{
			{"top-level", "/api/client/v1/activate",
				`{"key":"` + key + `","key":"` + other + `","device":{"hardware_uuid":"` + uuid + `","computer_name":"Mac","app_version":"26.1.0"}}`, `"key"`},
			{"nested", "/api/client/v1/activate",
				`{"key":"` + key + `","device":{"hardware_uuid":"` + uuid + `","computer_name":"Mac","computer_name":"Other","app_version":"26.1.0"}}`, `"computer_name" in "device"`},
			{"invalid UTF-8", "/api/client/v1/activate",
				"{\"key\":\"" + key + "\",\"device\":{\"hardware_uuid\":\"" + uuid + "\",\"computer_name\":\"Mac \xff\",\"app_version\":\"26.1.0\"}}", "UTF-8"},
		} {
			status, body := e.raw(t, "POST", c.path, "application/json", c.body, m...)
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || status != 400 || eb.Error.Code != "invalid_request" || !strings.Contains(eb.Error.Message, c.mention) {
				t.Errorf("%s: %d %s; want 400 invalid_request mentioning %s", c.name, status, body, c.mention)
			}
		}
		if n := seatsUsed(t, e, sub.ID); n != 0 {
			t.Fatalf("%d seats used after refused activations", n)
		}
		// Unknown fields and size limits keep their answers.
		if status, body := e.raw(t, "POST", "/api/client/v1/activate", "application/json",
			`{"key":"`+key+`","device":{"hardware_uuid":"`+uuid+`","computer_name":"Mac","app_version":"26.1.0"},"admin":true}`, m...); status != 400 || !strings.Contains(body, `Unknown field \"admin\"`) {
			t.Errorf("unknown field: %d %s", status, body)
		}
		if status, _ := e.raw(t, "POST", "/api/client/v1/activate", "application/json", `{"key":"`+strings.Repeat("A", 70<<10)+`"}`, m...); status != 413 {
			t.Errorf("oversized: %d", status)
		}
		// A well-formed body still activates.
		if status, body := e.raw(t, "POST", "/api/client/v1/activate", "application/json", deviceJSONBody(key)); status != 201 {
			t.Fatalf("activate: %d %s", status, body)
		}

		// Vendor API.
		svc := license.New(db, license.Config{})
		srv := httptest.NewServer(NewVendor(svc, VendorConfig{Token: "flag-token-0123456789"}))
		defer srv.Close()
		before := countSubscriptions(t, db)
		req, _ := http.NewRequest("POST", srv.URL+"/api/vendor/v1/subscriptions",
			strings.NewReader(`{"edition":"business","model":"per-device","seats":1,"term":"1y","seats":500}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer flag-token-0123456789")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 400 || !strings.Contains(string(b), `\"seats\"`) || !strings.Contains(string(b), "invalid_request") {
			t.Errorf("vendor issue with seats twice: %d %s", resp.StatusCode, b)
		}
		if after := countSubscriptions(t, db); after != before {
			t.Errorf("a subscription was issued from a refused body (%d → %d)", before, after)
		}
	})
}

func seatsUsed(t *testing.T, e *env, subID string) int {
	t.Helper()
	var n int
	if err := e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM license_activations a JOIN license_keys k ON k.id = a.key_id WHERE k.subscription_id = ?`, subID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func countSubscriptions(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM subscriptions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
