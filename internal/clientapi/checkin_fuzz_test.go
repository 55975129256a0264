package clientapi

import (
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"gatehouse/internal/agent"
	"gatehouse/internal/testenv"
)

// Whatever an activated installation sends as a check-in, the answer is a
// success or a JSON error with a code, never a 5xx.
func FuzzCheckInBodies(f *testing.F) {
	db := testenv.SQLite(f)
	e := newFleetEnv(f, db)
	h := e.srv.Config.Handler
	seed, _ := json.Marshal(e.st.NextCheckIn(agent.TriggerLaunch, true))
	f.Add(string(seed))
	f.Add(`{"seq":2,"trigger":"daily","known":{"answer_hash":"x","report_hash":"y"}}`)
	f.Add(`{"seq":3,"trigger":"command_result","known":{},"command_results":[{"id":"a","result":"done"},{"id":"a","result":"failed","reason":"r"}]}`)
	f.Add(`{"seq":4,"trigger":"launch","report":{"host":{"computer_name":"M","hardware_uuid":"U","cpu":"intel","desktop_version":"1","desktop_state":"deactivated"},"vms":[{"id":"v","state":"running","last_used_at":"2026-01-02T03:04:05Z","source":"golden_image","golden_image_id":"g"}]}}`)
	f.Add(`{"seq":9223372036854775807,"trigger":"launch","report":{"host":null,"vms":null}}`)
	f.Add(`{"seq":-1,"trigger":"","report":{"host":{},"vms":[{}]}}`)
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", Prefix+"checkin", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+e.st.Credential)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code >= 400 {
			var eb errorBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error.Code == "" {
				t.Fatalf("%q: %d with body %s", body, rec.Code, rec.Body)
			}
		}
	})
}
