package clientapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/agent"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// FuzzSSOBodies sends arbitrary bodies to /sso/start and /sso/redeem: the
// answer is always a well-formed JSON answer below 500.
func FuzzSSOBodies(f *testing.F) {
	v := agent.NewVerifier()
	f.Add(true, `{"email":"ann@corp.example","device":{"hardware_uuid":"ABC","computer_name":"Mac","app_version":"1"},"code_challenge":"`+agent.Challenge(v)+`","code_challenge_method":"S256"}`)
	f.Add(true, `{"email":"@","device":{},"code_challenge":"","code_challenge_method":""}`)
	f.Add(false, `{"attempt_id":"01a20894-8462-781d-99c4-3d6802f92394","code_verifier":"`+v+`"}`)
	f.Add(false, `{"attempt_id":"../../etc","code_verifier":"\u0000"}`)
	f.Add(false, `{"attempt_id":1e999}`)
	db := testenv.SQLite(f)
	svc := license.New(db, license.Config{})
	h := NewSSO(svc, SSOConfig{PublicURL: "https://gatehouse.test", AccountForDomain: func(_ context.Context, d string) (string, bool, error) {
		return "", false, store.ErrNotFound
	}})
	f.Fuzz(func(t *testing.T, start bool, body string) {
		path := SSOPrefix + "redeem"
		if start {
			path = SSOPrefix + "start"
		}
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", path, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Fatalf("content type %q", ct)
		}
		if rec.Code != http.StatusCreated && rec.Code != http.StatusAccepted && !strings.Contains(rec.Body.String(), `"error"`) {
			t.Fatalf("%d without an error body: %s", rec.Code, rec.Body)
		}
	})
}
