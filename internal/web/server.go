// Package web serves the admin and user portal: server-rendered pages with
// html/template, forms that work without JavaScript, and the route table that
// every other HTTP surface (client API, SCIM, SAML) is mounted through so that
// access rules and tenant isolation are enforced in one place.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/account"
	"gatehouse/internal/clientip"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// Config configures the portal.
type Config struct {
	PublicURL string // e.g. https://gatehouse.example.com (no trailing slash)
	// TrustProxy makes the client address come from the last
	// X-Forwarded-For entry (set when running behind a load balancer).
	TrustProxy bool
	// MaxFormBytes bounds form bodies (larger bodies get 413).
	MaxFormBytes int64
	// CookieKey signs flash messages and derives CSRF tokens; shared by all
	// nodes (kept in the database).
	CookieKey []byte
	// MailServer is set when email is delivered (SMTP configured); without
	// it, email waits in the operator's outbox and pages say so.
	MailServer bool

	// Features' additions, given at construction (see internal/app/wire.go).

	// DashboardCards are the features' boxes on the account dashboard, in
	// order.
	DashboardCards []DashboardCard
	// LicenseHolders lets the Users page filter people holding a per-user
	// seat (the licensing feature's ProductLicenseHolders).
	LicenseHolders account.ProductLicenseHolders
	// Installer finds the Desktop installer /download redirects to (the
	// updates feature); nil: --download-url.
	Installer InstallerFunc
}

// Server holds what handlers need.
type Server struct {
	Config   Config
	DB       *store.DB
	Accounts *account.Service
	Log      *slog.Logger
	Metrics  *Metrics

	views  *views
	routes []Route
	// features lets other packages add account navigation and dashboard cards.
	dashboardCards []DashboardCard
	licenseHolders account.ProductLicenseHolders
	desktopSSO     DesktopSSO
	// personActivations lists a member's own Desktop activations for their
	// dashboard (the SSO activation feature provides it).
	personActivations func(ctx context.Context, accountID, personID string) ([]license.PersonActivation, error)
	ssoFailures       func(ctx context.Context, accountID string, limit int) ([]sso.Failure, error)
	// sso runs the configurator's test sign-in (set with the SSO routes).
	sso       *sso.Service
	installer InstallerFunc
}

// DashboardCard is a box on the account dashboard provided by a feature.
type DashboardCard func(r *http.Request) (title string, body any, link string, err error)

// New builds the server with the foundation's routes. Features add theirs
// with Add before Handler is called.
func New(cfg Config, db *store.DB, accounts *account.Service, log *slog.Logger, metrics *Metrics) (*Server, error) {
	if cfg.MaxFormBytes == 0 {
		cfg.MaxFormBytes = 1 << 20
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	v, err := parseViews()
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, DB: db, Accounts: accounts, Log: log, Metrics: metrics, views: v,
		dashboardCards: cfg.DashboardCards, licenseHolders: cfg.LicenseHolders, installer: cfg.Installer}
	s.routes = s.foundationRoutes()
	return s, nil
}

// Add registers more routes (features call this while the app is wired).
func (s *Server) Add(routes ...Route) { s.routes = append(s.routes, routes...) }

// Routes returns the route table (the isolation test walks it).
func (s *Server) Routes() []Route { return append([]Route(nil), s.routes...) }

// Handler returns the complete HTTP handler.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.Pattern(), s.guard(rt))
	}
	mux.Handle("/", s.instrument("(unmatched)", http.HandlerFunc(s.notFound)))
	return s.outer(mux)
}

// nav returns the account navigation entries the route table declares.
func (s *Server) nav() []Route {
	var out []Route
	for _, r := range s.routes {
		if r.Nav != "" {
			out = append(out, r)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].NavOrder < out[j].NavOrder })
	return out
}

// outer wraps every request: request id, client address, panic recovery and
// access log.
func (s *Server) outer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rid := r.Header.Get("X-Request-ID")
		if rid == "" || len(rid) > 64 || strings.ContainsAny(rid, " \r\n\t") {
			rid = ids.Secret(9)
		}
		w.Header().Set("X-Request-ID", rid)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("Referrer-Policy", "same-origin")
		if s.secureCookies() {
			// The public URL is https: browsers must never use plain http
			// for this host again (no includeSubDomains: the operator's
			// other hosts are not ours to decide).
			w.Header().Set("Strict-Transport-Security", "max-age=31536000")
		}
		r = withValue(r, keyRequestID, rid)
		r = clientip.With(r, clientip.Resolve(r, s.Config.TrustProxy))
		rec := &statusRecorder{ResponseWriter: w, status: 200}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.Log.Error("panic", "request_id", rid, "method", r.Method, "path", logPath(r), "panic", p)
				if !rec.wroteHeader {
					s.serverError(rec, r, fmt.Errorf("panic: %v", p))
				}
			}
			s.Log.Info("request", "request_id", rid, "method", r.Method, "path", logPath(r), "status", rec.status,
				"bytes", rec.bytes, "duration_ms", time.Since(start).Milliseconds(), "ip", ClientIP(r))
		}()
		next.ServeHTTP(rec, r)
	})
}

// guard enforces a route's access rule, the body size limit and CSRF, then
// calls its handler.
func (s *Server) guard(rt Route) http.Handler {
	inner := rt.Handler
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rt.Access == Machine {
			inner.ServeHTTP(w, r)
			return
		}
		// Portal answers are personal: no cache keeps them unless a handler
		// says otherwise (static files do).
		w.Header().Set("Cache-Control", "no-store")
		r.Body = http.MaxBytesReader(w, r.Body, s.Config.MaxFormBytes)
		r, sess, err := s.loadSession(w, r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if ok, formErr := s.checkCSRF(r); !ok {
			var tooBig *http.MaxBytesError
			if errors.As(formErr, &tooBig) {
				s.renderError(w, r, http.StatusRequestEntityTooLarge, "The request is too large",
					fmt.Sprintf("Forms may send at most %d KiB. Make the upload smaller and try again.", s.Config.MaxFormBytes>>10))
				return
			}
			s.renderError(w, r, http.StatusForbidden, "The form has expired",
				"This form was open too long or came from another site. Go back, reload the page and try again.")
			return
		}
		if tp := badText(r); tp != nil {
			s.refuseText(w, r, tp)
			return
		}
		switch rt.Access {
		case Person, Member, Operator:
			if sess == nil {
				if r.Method == http.MethodGet {
					http.Redirect(w, r, "/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				} else {
					http.Redirect(w, r, "/signin", http.StatusSeeOther)
				}
				return
			}
		}
		switch rt.Access {
		case Operator:
			if !sess.Person.IsOperator {
				s.notFound(w, r)
				return
			}
		case Member:
			acc, err := s.Accounts.AccessFor(r.Context(), sess, r.PathValue("account"))
			if errors.Is(err, store.ErrNotFound) {
				s.notFound(w, r)
				return
			}
			if err != nil {
				s.serverError(w, r, err)
				return
			}
			if !roleAtLeast(acc.Role, rt.Role) {
				s.forbidden(w, r, acc)
				return
			}
			r = withValue(r, keyAccess, acc)
			if sess.AccountID != acc.AccountID && r.Method == http.MethodGet {
				if err := s.Accounts.SetWorkspace(r.Context(), sess, acc.AccountID); err != nil {
					s.serverError(w, r, err)
					return
				}
			}
		}
		inner.ServeHTTP(w, r)
	})
	return s.instrument(rt.Pattern(), h)
}

func roleAtLeast(have, need string) bool {
	rank := map[string]int{account.RoleUser: 1, account.RoleLicenseAdmin: 2, account.RoleAdmin: 3}
	if need == "" {
		need = account.RoleUser
	}
	return rank[have] >= rank[need]
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

const (
	sessionCookie = "gh_session"
	anonCookie    = "gh_anon"
	flashCookie   = "gh_flash"
)

// loadSession resolves the session cookie and makes sure every visitor has an
// anonymous id that CSRF tokens of signed-out forms are bound to.
func (s *Server) loadSession(w http.ResponseWriter, r *http.Request) (*http.Request, *account.Session, error) {
	var sess *account.Session
	if c, err := r.Cookie(sessionCookie); err == nil {
		ss, err := s.Accounts.SessionByToken(r.Context(), c.Value)
		switch {
		case err == nil:
			sess = ss
			r = withValue(r, keySession, ss)
		case errors.Is(err, store.ErrNotFound):
			s.clearCookie(w, sessionCookie)
		default:
			return r, nil, err
		}
	}
	anon := ""
	if c, err := r.Cookie(anonCookie); err == nil && len(c.Value) == 22 {
		anon = c.Value
	} else {
		anon = ids.Secret(16)
		http.SetCookie(w, &http.Cookie{Name: anonCookie, Value: anon, Path: "/", HttpOnly: true,
			Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	}
	r = withValue(r, keyAnon, anon)
	return r, sess, nil
}

// csrfToken derives the form token for this visitor: bound to the session when
// signed in, else to the anonymous cookie.
func (s *Server) csrfToken(r *http.Request) string {
	bind := "anon:"
	if sess := SessionFrom(r); sess != nil {
		bind = "session:" + sess.IDHash
	} else if a, _ := r.Context().Value(keyAnon).(string); a != "" {
		bind += a
	}
	m := hmac.New(sha256.New, s.Config.CookieKey)
	m.Write([]byte("csrf\x00" + bind))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// checkCSRF verifies the form token of unsafe requests (header X-CSRF-Token
// or form field csrf_token). It parses the form, so it also reports a body
// that was too large.
func (s *Server) checkCSRF(r *http.Request) (ok bool, formErr error) {
	if safeMethod(r.Method) {
		return true, nil
	}
	got := r.Header.Get("X-CSRF-Token")
	if got == "" {
		formErr = r.ParseForm()
		if formErr == nil && strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
			formErr = r.ParseMultipartForm(s.Config.MaxFormBytes)
		}
		got = r.PostFormValue("csrf_token")
	}
	return got != "" && hmac.Equal([]byte(got), []byte(s.csrfToken(r))), formErr
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.Config.PublicURL, "https://") }

func (s *Server) clearCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

// SetSessionCookie gives the browser its session.
func (s *Server) SetSessionCookie(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: token, Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
}

// ClientIP returns the caller's address as the server determined it
// (clientip.From: every transport reads the same one).
func ClientIP(r *http.Request) string { return clientip.From(r) }

type statusRecorder struct {
	http.ResponseWriter
	status      int
	bytes       int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.wroteHeader = true
	}
	n, err := r.ResponseWriter.Write(b)
	r.bytes += n
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Metrics are the Prometheus collectors of the HTTP layer.
type Metrics struct {
	Requests *prometheus.CounterVec
	Duration *prometheus.HistogramVec
}

// NewMetrics registers the HTTP collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gatehouse_http_requests_total",
			Help: "HTTP requests by route pattern, method and status code."}, []string{"route", "method", "code"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "gatehouse_http_request_duration_seconds",
			Help: "HTTP request latency by route pattern.", Buckets: prometheus.DefBuckets}, []string{"route"}),
	}
	reg.MustRegister(m.Requests, m.Duration)
	return m
}

func (s *Server) instrument(route string, h http.Handler) http.Handler {
	if s.Metrics == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec, ok := w.(*statusRecorder)
		if !ok {
			rec = &statusRecorder{ResponseWriter: w, status: 200}
		}
		h.ServeHTTP(rec, r)
		s.Metrics.Requests.WithLabelValues(route, r.Method, fmt.Sprint(rec.status)).Inc()
		s.Metrics.Duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// logPath is the request path as logs may show it. A route whose path
// carries a secret (a {token}: password reset, invitation and setup links)
// is logged by its pattern, so reading the logs gives no one a usable link.
// secretParams are path parameters that are secrets or work as one: a
// pending link ({token}: reset, setup, invitation, verification, an
// organisation's local update feed) and a Desktop SSO activation attempt
// ({attempt}: it starts the sign-in for that installation). A request to
// such a route is logged by its pattern, never its path.
var secretParams = []string{"{token}", "{attempt}"}

func logPath(r *http.Request) string {
	if slices.ContainsFunc(secretParams, func(p string) bool { return strings.Contains(r.Pattern, p) }) {
		if _, p, ok := strings.Cut(r.Pattern, " "); ok {
			return p
		}
		return r.Pattern
	}
	return r.URL.Path
}
