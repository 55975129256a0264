package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// hookCall is one recorded Hooks call.
type hookCall struct {
	kind      string // "deactivated", "changed", "membership"
	accountID string
	user      User
	groupID   string
	added     []string
	removed   []string
}

// recHooks records every hook call; failNext makes the next call fail.
type recHooks struct {
	mu       sync.Mutex
	calls    []hookCall
	failNext bool
}

func (h *recHooks) record(c hookCall) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.failNext {
		h.failNext = false
		return fmt.Errorf("hook failed on purpose")
	}
	h.calls = append(h.calls, c)
	return nil
}

func (h *recHooks) UserDeactivated(ctx context.Context, tx *store.Tx, accountID string, u User) error {
	return h.record(hookCall{kind: "deactivated", accountID: accountID, user: u})
}

func (h *recHooks) UserChanged(ctx context.Context, tx *store.Tx, accountID string, u User) error {
	return h.record(hookCall{kind: "changed", accountID: accountID, user: u})
}

func (h *recHooks) MembershipChanged(ctx context.Context, tx *store.Tx, accountID, groupID string, added, removed []string) error {
	return h.record(hookCall{kind: "membership", accountID: accountID, groupID: groupID, added: added, removed: removed})
}

func (h *recHooks) take() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.calls
	h.calls = nil
	return c
}

// env is one account with a SCIM token, served over real HTTP.
type env struct {
	t       testing.TB
	db      *store.DB
	svc     *Service
	srv     *httptest.Server
	account string
	token   string
	hooks   *recHooks
	prefix  string // "/scim/v2" by default
	// allow500 silences the check that no request answers 500.
	allow500 bool
}

var admin = audit.Actor{Type: audit.ActorPerson, ID: "admin", Label: "admin@example.com"}

func newAccount(t testing.TB, db *store.DB, name string) string {
	t.Helper()
	id := ids.New()
	if _, err := db.Exec(context.Background(), `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, id, name, store.Now()); err != nil {
		t.Fatalf("insert account: %v", err)
	}
	return id
}

func newEnv(t testing.TB, db *store.DB) *env {
	t.Helper()
	h := &recHooks{}
	svc := &Service{DB: db, Hooks: h, RateLimit: ratelimit.Rate{PerSecond: -1}}
	srv := httptest.NewServer(Handler(svc))
	t.Cleanup(srv.Close)
	e := &env{t: t, db: db, svc: svc, srv: srv, hooks: h, prefix: "/scim/v2"}
	e.account = newAccount(t, db, "Acme")
	tok, err := svc.GenerateToken(context.Background(), e.account, admin, time.Hour)
	if err != nil {
		t.Fatalf("generate token: %v", err)
	}
	e.token = tok
	return e
}

// sibling returns an env for another account on the same server.
func (e *env) sibling(name string) *env {
	e.t.Helper()
	o := *e
	o.account = newAccount(e.t, e.db, name)
	tok, err := e.svc.GenerateToken(context.Background(), o.account, admin, time.Hour)
	if err != nil {
		e.t.Fatalf("generate token: %v", err)
	}
	o.token = tok
	return &o
}

type resp struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r *resp) String() string { return fmt.Sprintf("%d %s", r.status, r.raw) }

// str digs a string out of the body: str("name", "givenName").
func (r *resp) str(path ...string) string {
	v := dig(r.body, path...)
	s, _ := v.(string)
	return s
}

func dig(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func (r *resp) list() []map[string]any {
	l, _ := r.body["Resources"].([]any)
	out := make([]map[string]any, 0, len(l))
	for _, e := range l {
		m, _ := e.(map[string]any)
		out = append(out, m)
	}
	return out
}

func (r *resp) total() int {
	f, _ := r.body["totalResults"].(float64)
	return int(f)
}

// do sends a request; body may be a string (sent as is) or a value (JSON).
// headers come in pairs.
func (e *env) do(method, path string, body any, headers ...string) *resp {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		js, err := json.Marshal(b)
		if err != nil {
			e.t.Fatalf("marshal: %v", err)
		}
		rd = bytes.NewReader(js)
	}
	if !strings.HasPrefix(path, "/scim") {
		path = e.prefix + path
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatalf("request: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+e.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("read body: %v", err)
	}
	r := &resp{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: %d, body is not JSON: %v\n%s", method, path, res.StatusCode, err, raw)
		}
	}
	if res.StatusCode >= 500 && res.StatusCode != http.StatusNotImplemented && !e.allow500 {
		e.t.Errorf("%s %s: server error %s", method, path, r)
	}
	return r
}

// must asserts the status.
func (e *env) must(status int, r *resp) *resp {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("want status %d, got %s", status, r)
	}
	if status >= 400 {
		checkErrorShape(e.t, r)
	} else if r.status != http.StatusNoContent && r.status != http.StatusNotModified {
		if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/scim+json") {
			e.t.Errorf("Content-Type %q", ct)
		}
	}
	return r
}

// checkErrorShape asserts the RFC 7644 §3.12 error body.
func checkErrorShape(t testing.TB, r *resp) {
	t.Helper()
	if s, _ := dig(r.body, "schemas").([]any); len(s) != 1 || s[0] != URNError {
		t.Errorf("error schemas: %s", r)
	}
	if st, _ := r.body["status"].(string); st != fmt.Sprint(r.status) {
		t.Errorf("error status %q (want the string %q): %s", r.body["status"], fmt.Sprint(r.status), r)
	}
}

func (e *env) scimType(want string, r *resp) {
	e.t.Helper()
	if got, _ := r.body["scimType"].(string); got != want {
		e.t.Errorf("scimType %q, want %q: %s", got, want, r)
	}
}

func patchOps(ops ...map[string]any) map[string]any {
	l := make([]any, len(ops))
	for i, o := range ops {
		l[i] = o
	}
	return map[string]any{"schemas": []any{URNPatchOp}, "Operations": l}
}

func op(name, path string, value any) map[string]any {
	m := map[string]any{"op": name}
	if path != "" {
		m["path"] = path
	}
	if value != nil {
		m["value"] = value
	}
	return m
}

// auditActions lists the account's audit actions in order.
func (e *env) auditActions() []string {
	e.t.Helper()
	rows, err := e.db.Query(context.Background(), `SELECT action FROM audit_log WHERE account_id = ? ORDER BY at, id`, e.account)
	if err != nil {
		e.t.Fatalf("audit: %v", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// qf builds "?filter=…" with the filter escaped.
func qf(filter string) string { return "filter=" + url.QueryEscape(filter) }
