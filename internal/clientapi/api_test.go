package clientapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/license"
	"gatehouse/internal/license/invitations"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func wantAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	ae, ok := err.(*agent.APIError)
	if !ok || ae.Code != code || ae.Status != status {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
}

func TestActivationLifecycle(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, ratelimit.Limit{Max: 1000, Window: time.Minute})
		ctx := context.Background()
		c := &agent.Client{BaseURL: e.srv.URL, HTTP: e.http}
		_, key := issue(t, e.svc, e.caller, license.IssueInput{Edition: "enterprise", Model: "mixed", Seats: 2})
		dev := agent.NewDevice()

		act, err := c.Activate(ctx, strings.ToLower(strings.ReplaceAll(key, "-", " ")), "", dev)
		if err != nil {
			t.Fatal(err)
		}
		if act.Status != "active" || act.Credential == "" || act.Reactivated || act.License.Edition != "enterprise" || !act.CheckAfter.Before(act.ValidUntil) {
			t.Fatalf("activation %+v", act)
		}
		// Verified offline with the published key (JSON and PEM forms agree).
		pub, err := c.FetchPublicKey(ctx)
		if err != nil || pub.Algorithm != "Ed25519" || pub.KeyID != act.Certificate.KeyID {
			t.Fatalf("public key %+v %v", pub, err)
		}
		pk, err := agent.ParsePublicKey(pub.PEM)
		if err != nil {
			t.Fatal(err)
		}
		pk2, err := agent.ParsePublicKey(pub.PublicKey)
		if err != nil || !pk.Equal(pk2) {
			t.Fatalf("raw key %v", err)
		}
		claims, err := agent.Verify(act.Certificate, pk, dev.HardwareUUID, time.Now())
		if err != nil || claims.ActivationID != act.ActivationID || claims.Device.Serial != dev.Serial || claims.Edition != "enterprise" || claims.Method != "key" ||
			len(claims.Features) == 0 || !claims.ValidUntil.Equal(act.ValidUntil) {
			t.Fatalf("claims %+v %v", claims, err)
		}
		if _, err := agent.Verify(act.Certificate, pk, "OTHER-DEVICE", time.Now()); err != agent.ErrWrongDevice {
			t.Fatalf("wrong device: %v", err)
		}
		if _, err := agent.Verify(act.Certificate, pk, dev.HardwareUUID, act.ValidUntil.Add(time.Second)); err != agent.ErrExpired {
			t.Fatalf("expired: %v", err)
		}
		forged := act.Certificate
		forged.Payload = strings.Replace(forged.Payload, forged.Payload[10:14], "AAAA", 1)
		if _, err := agent.Verify(forged, pk, "", time.Now()); err != agent.ErrBadSignature {
			t.Fatalf("forged: %v", err)
		}
		resp, err := e.http.Get(e.srv.URL + WellKnownPath + ".pem")
		if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pem-file" {
			t.Fatalf("pem %v %v", resp, err)
		}
		resp.Body.Close()

		// Re-activation: 200, same activation, no second seat.
		again, err := c.Activate(ctx, key, "", dev)
		if err != nil || !again.Reactivated || again.ActivationID != act.ActivationID {
			t.Fatalf("reactivation %+v %v", again, err)
		}
		other, err := c.Activate(ctx, key, "", agent.NewDevice())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Activate(ctx, key, "", agent.NewDevice())
		wantAPIError(t, err, 409, "no_free_seat")

		// Check.
		chk, err := c.Check(ctx, again.Credential, "26.2.0")
		if err != nil || chk.Status != "active" || chk.ActivationID != act.ActivationID || chk.Credential != "" {
			t.Fatalf("check %+v %v", chk, err)
		}
		_, err = c.Check(ctx, act.Credential, "") // replaced by the re-activation
		wantAPIError(t, err, 401, "unauthorized")
		_, err = c.Check(ctx, "", "")
		wantAPIError(t, err, 401, "unauthorized")

		// Deactivate → check reports deactivated; the seat is free again.
		if err := c.Deactivate(ctx, again.Credential); err != nil {
			t.Fatal(err)
		}
		if err := c.Deactivate(ctx, again.Credential); err != nil {
			t.Fatalf("second deactivate: %v", err)
		}
		_, err = c.Check(ctx, again.Credential, "")
		wantAPIError(t, err, 403, "deactivated")
		if _, err := c.Activate(ctx, key, "", agent.NewDevice()); err != nil {
			t.Fatalf("seat not returned: %v", err)
		}

		// Suspended and expired.
		op := license.OperatorActor("test")
		if _, err := e.svc.Suspend(ctx, key, "", op); err != nil {
			t.Fatal(err)
		}
		_, err = c.Check(ctx, other.Credential, "")
		wantAPIError(t, err, 403, "suspended")
		_, err = c.Activate(ctx, key, "", agent.NewDevice())
		wantAPIError(t, err, 403, "suspended")
		if _, err := e.svc.Resume(ctx, key, op); err != nil {
			t.Fatal(err)
		}
		e.clock.add(400 * 24 * time.Hour)
		_, err = c.Check(ctx, other.Credential, "")
		wantAPIError(t, err, 403, "expired")
		_, err = c.Activate(ctx, key, "", agent.NewDevice())
		wantAPIError(t, err, 403, "expired")

		// Keys: malformed (typo), unknown, unregistered.
		typo := []byte(key)
		typo[0] ^= 1
		_, err = c.Activate(ctx, string(typo), "", dev)
		wantAPIError(t, err, 400, "invalid_key")
		_, err = c.Activate(ctx, license.GenerateKey(), "", dev)
		wantAPIError(t, err, 400, "invalid_key")
		_, fresh, _ := e.svc.Issue(ctx, license.IssueInput{Edition: "business", Model: "per-device", Seats: 1, Term: license.Term{Years: 2}}, op)
		_, err = c.Activate(ctx, fresh, "", dev)
		wantAPIError(t, err, 403, "key_not_registered")
		if e.val.checks < 18 {
			t.Fatalf("only %d exchanges validated", e.val.checks)
		}
	})
}

func TestInvitationCodesOverHTTP(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, ratelimit.Limit{})
		ctx := context.Background()
		c := &agent.Client{BaseURL: e.srv.URL, HTTP: e.http}
		sub, _ := issue(t, e.svc, e.caller, license.IssueInput{Seats: 5})
		k, _, err := e.svc.CreateSublicense(ctx, e.caller, sub.ID, license.KeyInput{Name: "Sales", Kind: "dynamic", Seats: 1}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		res, err := e.svc.SendInvitations(ctx, e.caller, license.InviteInput{KeyID: k.ID, Language: "en", ExpiresInDays: 3,
			Emails: []string{"a@example.com", "b@example.com", "c@example.com", "d@example.com"}, Confirm: true}, testActor)
		if err != nil {
			t.Fatal(err)
		}
		codes := map[string]string{}
		ids := map[string]string{}
		for _, inv := range res.Invitations {
			codes[inv.Email], ids[inv.Email] = inv.Code, inv.ID
		}
		act, err := c.Activate(ctx, "", codes["a@example.com"], agent.NewDevice())
		if err != nil || act.License.Edition != "business" {
			t.Fatalf("activate by code: %+v %v", act, err)
		}
		_, err = c.Activate(ctx, "", codes["a@example.com"], agent.NewDevice())
		wantAPIError(t, err, 403, "code_used")
		_, err = c.Activate(ctx, "", codes["b@example.com"], agent.NewDevice())
		wantAPIError(t, err, 409, "no_free_seat")
		if _, err := e.svc.RevokeInvitations(ctx, e.caller, []string{ids["c@example.com"]}, testActor); err != nil {
			t.Fatal(err)
		}
		_, err = c.Activate(ctx, "", codes["c@example.com"], agent.NewDevice())
		wantAPIError(t, err, 403, "code_revoked")
		e.clock.add(4 * 24 * time.Hour)
		_, err = c.Activate(ctx, "", codes["d@example.com"], agent.NewDevice())
		wantAPIError(t, err, 403, "code_expired")
		_, err = c.Activate(ctx, "", "nope", agent.NewDevice())
		wantAPIError(t, err, 400, "invalid_code")
		_, err = c.Activate(ctx, "", invitations.GenerateCode(), agent.NewDevice())
		wantAPIError(t, err, 400, "invalid_code")
		_, err = c.Activate(ctx, license.GenerateKey(), codes["b@example.com"], agent.NewDevice())
		wantAPIError(t, err, 400, "invalid_request")
	})
}

// Malformed input is a 4xx with a JSON error, never a 5xx.
func TestBadInput(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db, ratelimit.Limit{Max: 1000, Window: time.Minute})
		_, key := issue(t, e.svc, e.caller, license.IssueInput{Seats: 5})
		const j = "application/json"
		m := []string{"X-Test-Malformed", "1"}
		cases := []struct {
			name, method, path, ct, body string
			status                       int
			code                         string
		}{
			{"unknown field", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":"A","computer_name":"x","app_version":"1"},"admin":true}`, 400, "invalid_request"},
			{"unknown device field", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":"A","computer_name":"x","app_version":"1","ram":8}}`, 400, "invalid_request"},
			{"wrong type", "POST", "/api/client/v1/activate", j, `{"key":123,"device":{}}`, 400, "invalid_request"},
			{"wrong nested type", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":["A"]}}`, 400, "invalid_request"},
			{"device missing", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `"}`, 400, "invalid_request"},
			{"device fields missing", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{}}`, 400, "invalid_request"},
			{"bad hardware uuid", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":"<script>","computer_name":"x","app_version":"1"}}`, 400, "invalid_request"},
			{"control characters", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":"A","computer_name":"x\u0000y","app_version":"1"}}`, 400, "invalid_request"},
			{"too long name", "POST", "/api/client/v1/activate", j, `{"key":"` + key + `","device":{"hardware_uuid":"A","computer_name":"` + strings.Repeat("x", 300) + `","app_version":"1"}}`, 400, "invalid_request"},
			{"not json", "POST", "/api/client/v1/activate", j, `key=` + key, 400, "invalid_request"},
			{"truncated json", "POST", "/api/client/v1/activate", j, `{"key":"`, 400, "invalid_request"},
			{"array body", "POST", "/api/client/v1/activate", j, `[1,2]`, 400, "invalid_request"},
			{"trailing data", "POST", "/api/client/v1/activate", j, `{"device":{}} {}`, 400, "invalid_request"},
			{"empty body", "POST", "/api/client/v1/activate", j, ``, 400, "invalid_request"},
			{"null body", "POST", "/api/client/v1/activate", j, `null`, 400, "invalid_request"},
			{"form content type", "POST", "/api/client/v1/activate", "application/x-www-form-urlencoded", deviceJSONBody(key), 415, "unsupported_media_type"},
			{"no content type", "POST", "/api/client/v1/activate", "", deviceJSONBody(key), 415, "unsupported_media_type"},
			{"oversized", "POST", "/api/client/v1/activate", j, `{"key":"` + strings.Repeat("A", 70<<10) + `"}`, 413, "body_too_large"},
			{"huge nesting", "POST", "/api/client/v1/check", j, strings.Repeat("[", 10000), 400, "invalid_request"},
			{"check unknown field", "POST", "/api/client/v1/check", j, `{"app_version":"1","x":1}`, 400, "invalid_request"},
			{"check wrong type", "POST", "/api/client/v1/check", j, `{"app_version":1}`, 400, "invalid_request"},
			{"deactivate with field", "POST", "/api/client/v1/deactivate", j, `{"all":true}`, 400, "invalid_request"},
			{"wrong method", "GET", "/api/client/v1/activate", "", "", 405, "method_not_allowed"},
			{"unknown path", "GET", "/api/client/v1/nope", "", "", 404, "not_found"},
			{"check without credential", "POST", "/api/client/v1/check", "", "", 401, "unauthorized"},
			{"check with garbage credential", "POST", "/api/client/v1/check", j, `{}`, 401, "unauthorized"},
		}
		for _, c := range cases {
			hdr := m
			if c.name == "check with garbage credential" {
				hdr = append(hdr, "Authorization", "Bearer "+strings.Repeat("x", 43))
			}
			status, body := e.raw(t, c.method, c.path, c.ct, c.body, hdr...)
			var eb errorBody
			if err := json.Unmarshal([]byte(body), &eb); err != nil || status != c.status || eb.Error.Code != c.code || eb.Error.Message == "" {
				t.Errorf("%s: got %d %s, want %d %s", c.name, status, body, c.status, c.code)
			}
		}
		// The document itself is served.
		status, body := e.raw(t, "GET", "/api/client/v1/openapi.yaml", "", "")
		if status != 200 || !strings.HasPrefix(body, "openapi: 3.1") {
			t.Fatalf("openapi.yaml: %d", status)
		}
	})
}

func TestActivationRateLimit(t *testing.T) {
	db := testenv.SQLite(t)
	e := newEnv(t, db, ratelimit.Limit{Max: 3, Window: time.Minute})
	_, key := issue(t, e.svc, e.caller, license.IssueInput{Seats: 10})
	// Successful activations do not count.
	for i := 0; i < 5; i++ {
		if status, body := e.raw(t, "POST", "/api/client/v1/activate", "application/json", deviceJSONBody(key)); status != 201 {
			t.Fatalf("activation %d: %d %s", i, status, body)
		}
	}
	// Wrong keys do: after 3 the address is blocked, even for a good key.
	for i := 0; i < 3; i++ {
		if status, body := e.raw(t, "POST", "/api/client/v1/activate", "application/json", deviceJSONBody(license.GenerateKey())); status != 400 {
			t.Fatalf("wrong key %d: %d %s", i, status, body)
		}
	}
	req, _ := http.NewRequest("POST", e.srv.URL+"/api/client/v1/activate", strings.NewReader(deviceJSONBody(key)))
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("after 3 failures: %d", resp.StatusCode)
	}
}
