package clientapi

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// loadDoc parses the embedded OpenAPI document with its server set to base.
func loadDoc(t testing.TB, base string) *openapi3.T {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPI())
	if err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("openapi.yaml is not valid: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base + "/api/client/v1"}}
	return doc
}

// validator checks every request and response of the client API against
// the OpenAPI document. Requests marked as deliberately malformed (header
// X-Test-Malformed) skip request validation; their responses are still
// checked.
type validator struct {
	t      testing.TB
	router routers.Router
	next   http.RoundTripper
	mu     sync.Mutex
	checks int
}

func newValidator(t testing.TB, base string, next http.RoundTripper) *validator {
	doc := loadDoc(t, base)
	r, err := legacy.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	if next == nil {
		next = http.DefaultTransport
	}
	return &validator{t: t, router: r, next: next}
}

func (v *validator) RoundTrip(req *http.Request) (*http.Response, error) {
	if !strings.Contains(req.URL.Path, "/api/client/v1/") {
		return v.next.RoundTrip(req)
	}
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	malformed := req.Header.Get("X-Test-Malformed") != ""
	route, params, routeErr := v.router.FindRoute(req)
	if routeErr != nil && !malformed {
		v.t.Errorf("openapi: %s %s is not in the document: %v", req.Method, req.URL.Path, routeErr)
	}
	in := &openapi3filter.RequestValidationInput{Request: req.Clone(req.Context()), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, IncludeResponseStatus: true, MultiError: true}}
	in.Request.Body = io.NopCloser(bytes.NewReader(body))
	if routeErr == nil && !malformed {
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			v.t.Errorf("openapi: request %s %s %s does not match the document: %v", req.Method, req.URL.Path, body, err)
		}
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	resp, err := v.next.RoundTrip(req)
	if err != nil || routeErr != nil {
		return resp, err
	}
	rbody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(rbody))
	rin := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(rbody)), Options: in.Options}
	if err := openapi3filter.ValidateResponse(req.Context(), rin); err != nil {
		v.t.Errorf("openapi: response %d to %s %s does not match the document: %v\n%s", resp.StatusCode, req.Method, req.URL.Path, err, rbody)
	}
	if resp.StatusCode >= 500 {
		v.t.Errorf("server error %d to %s %s: %s", resp.StatusCode, req.Method, req.URL.Path, rbody)
	}
	v.mu.Lock()
	v.checks++
	v.mu.Unlock()
	return resp, nil
}

// env is a running client API on one database.
type env struct {
	db     *store.DB
	svc    *license.Service
	srv    *httptest.Server
	http   *http.Client // validating
	val    *validator
	caller license.Caller
	clock  *testClock
}

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testActor = audit.Actor{Type: audit.ActorPerson, ID: "test", Label: "admin@example.com"}

func newEnv(t testing.TB, db *store.DB, limit ratelimit.Limit) *env {
	t.Helper()
	clk := &testClock{t: time.Now().UTC()}
	svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test", Now: clk.now})
	h := New(svc, Config{ActivationLimit: limit})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	val := newValidator(t, srv.URL, nil)
	e := &env{db: db, svc: svc, srv: srv, http: &http.Client{Transport: val, Timeout: time.Minute}, val: val, clock: clk}
	e.caller = newAccount(t, db)
	return e
}

func newAccount(t testing.TB, db *store.DB) license.Caller {
	t.Helper()
	ctx := context.Background()
	pid, aid := ids.New(), ids.New()
	if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, created_at) VALUES (?, ?, ?, ?)`, pid, pid+"@example.com", pid+"@example.com", store.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, aid, "Org", store.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO memberships (account_id, person_id, role, status, joined_at) VALUES (?, ?, 'admin', 'active', ?)`, aid, pid, store.Now()); err != nil {
		t.Fatal(err)
	}
	return license.Caller{PersonID: pid, AccountID: aid, Role: license.RoleAdmin}
}

// issue issues and registers a subscription; returns it and its primary key.
func issue(t testing.TB, svc *license.Service, caller license.Caller, in license.IssueInput) (*license.Subscription, string) {
	t.Helper()
	ctx := context.Background()
	if in.Edition == "" {
		in.Edition = "business"
	}
	if in.Model == "" {
		in.Model = "per-device"
	}
	if (in.Term == license.Term{}) {
		in.Term = license.Term{Years: 1}
	}
	_, key, err := svc.Issue(ctx, in, license.OperatorActor("test"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := svc.RegisterKey(ctx, caller, license.RegisterInput{Key: key}, testActor)
	if err != nil {
		t.Fatal(err)
	}
	return res.Subscription, key
}

// raw sends a request with the given body and headers through the
// validating client and returns status and body.
func (e *env) raw(t testing.TB, method, path, contentType, body string, hdr ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func deviceJSONBody(key string) string {
	return fmt.Sprintf(`{"key":%q,"device":{"hardware_uuid":%q,"computer_name":"Test Mac","app_version":"26.1.0"}}`, key, ids.New())
}
