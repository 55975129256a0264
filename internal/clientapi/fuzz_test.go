package clientapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/testenv"
)

// Whatever a client sends, the answer is a JSON error or a success, never
// a 5xx.
func FuzzClientAPIBodies(f *testing.F) {
	db := testenv.SQLite(f)
	svc := license.New(db, license.Config{})
	h := New(svc, Config{ActivationLimit: ratelimit.Limit{}})
	f.Add("activate", `{"key":"AAAAAA-AAAAAA-AAAAAA-AAAAAA-AAAAAA","device":{"hardware_uuid":"A","computer_name":"x","app_version":"1"}}`)
	f.Add("activate", `{"code":"ABCDE-FGHJK-LMNPQ-RSTUV","device":{"hardware_uuid":"A-B","computer_name":"x","app_version":"1","serial":"","macos_user":""}}`)
	f.Add("activate", `{"device":null}`)
	f.Add("check", `{"app_version":"26"}`)
	f.Add("deactivate", `{}`)
	f.Add("check", `{"app_version":"\u0000"}`)
	f.Fuzz(func(t *testing.T, endpoint, body string) {
		switch endpoint {
		case "activate", "check", "deactivate":
		default:
			endpoint = "activate"
		}
		req := httptest.NewRequest("POST", Prefix+endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+strings.Repeat("a", 43))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %q: %d %s", endpoint, body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var e errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code == "" {
				t.Fatalf("%s %q: %d with body %s", endpoint, body, rec.Code, rec.Body)
			}
		}
		if rec.Code == http.StatusOK || rec.Code == http.StatusCreated {
			t.Fatalf("%s %q succeeded without a registered key: %s", endpoint, body, rec.Body)
		}
	})
}
