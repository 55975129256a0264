package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // viewers' time zones on machines without zoneinfo
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

//go:embed templates static
var assets embed.FS

// views holds one parsed template set per page: the layout and partials plus
// that page. Parsing everything at start-up makes a broken template fail the
// start, not a request.
type views struct {
	pages      map[string]*template.Template
	staticHash string // content hash of static/, part of static URLs
}

func parseViews() (*views, error) {
	base := template.New("base").Funcs(funcs)
	if _, err := base.ParseFS(assets, "templates/layout.html", "templates/partials.html"); err != nil {
		return nil, fmt.Errorf("parse layout: %w", err)
	}
	files, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	v := &views{pages: map[string]*template.Template{}}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := base.Clone()
		if err != nil {
			return nil, err
		}
		if _, err := t.ParseFS(assets, f); err != nil {
			return nil, fmt.Errorf("parse %s: %w", f, err)
		}
		v.pages[name] = t
	}
	h := sha256.New()
	_ = fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := assets.ReadFile(p)
			h.Write([]byte(p))
			h.Write(b)
		}
		return nil
	})
	v.staticHash = fmt.Sprintf("%x", h.Sum(nil))[:12]
	return v, nil
}

var funcs = template.FuncMap{
	"roleLabel":  account.RoleLabel,
	"auditLabel": audit.Label,
	"country":    account.CountryName,
	"lower":      strings.ToLower,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + strings.ReplaceAll(s[1:], "_", " ")
	},
	"join": strings.Join,
	// plural picks the word for a count: {{plural .Seats "seat" "seats"}}.
	"plural": func(n int, one, many string) string {
		if n == 1 {
			return one
		}
		return many
	},
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[fmt.Sprint(kv[i])] = kv[i+1]
		}
		return m
	},
	"list3": func(a, b, c string) []string { return []string{a, b, c} },
}

// Page is what every template receives.
type Page struct {
	Title      string
	Session    *account.Session
	Access     *account.Access
	Workspaces []account.Membership
	Nav        []NavItem
	Flash      *Flash
	CSRF       string
	Errors     map[string]string
	Form       url.Values
	Data       any
	RequestID  string
	Path       string
	Static     string // prefix of static URLs
	Zone       *time.Location
	PublicURL  string
	// FormTargets are the only places other than this site that the page's
	// forms may post to (CSP form-action): the IdP's SSO URL on the page
	// that hands a sign-in to an IdP with the HTTP-POST binding.
	FormTargets []string
	// NoMailServer: email is not delivered but waits in the operator's
	// outbox (no SMTP server configured).
	NoMailServer bool
}

// NavItem is one entry of the account navigation.
type NavItem struct {
	Label  string
	Href   string
	Active bool
}

// When formats a stored time in the viewer's zone, naming the zone.
func (p *Page) When(t store.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(p.Zone).Format("2 Jan 2006 15:04 MST")
}

// Clock formats the time of day of a stored time in the viewer's zone.
func (p *Page) Clock(t store.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.In(p.Zone).Format("15:04 MST")
}

// Date formats a stored time as a date in the viewer's zone.
func (p *Page) Date(t store.Time) string {
	if t.IsZero() {
		return "—"
	}
	return t.In(p.Zone).Format("2 Jan 2006")
}

// Err returns the error message of a form field.
func (p *Page) Err(field string) string { return p.Errors[field] }

// Val returns a submitted form value.
func (p *Page) Val(field string) string { return p.Form.Get(field) }

// AccountPath builds a path inside the current business account.
func (p *Page) AccountPath(rest string) string {
	if p.Access == nil {
		return "/"
	}
	return "/accounts/" + p.Access.AccountID + rest
}

// NavHere names the navigation entry of the current page, shown on the
// collapsed menu of narrow screens so people know where they are.
func (p *Page) NavHere() string {
	if p.Access != nil && p.Path == p.AccountPath("/profile") {
		return "Business Profile"
	}
	for _, n := range p.Nav {
		if n.Active {
			return n.Label
		}
	}
	return ""
}

// Flash is a one-time message shown after a redirect.
type Flash struct {
	Kind    string // "success", "error", "info"
	Message string
}

// render writes page name with status.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, name string, p *Page) {
	t, ok := s.views.pages[name]
	if !ok {
		s.serverError(w, r, fmt.Errorf("no view %q", name))
		return
	}
	s.fillPage(w, r, p)
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		s.serverError(w, r, fmt.Errorf("render %s: %w", name, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(p.FormTargets))
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func (s *Server) fillPage(w http.ResponseWriter, r *http.Request, p *Page) {
	p.Session = SessionFrom(r)
	if p.Session == nil {
		// Pages outside the guard (the 404 of unknown paths) and machine
		// routes that answer people (the SAML ACS) have not looked at the
		// session: read it, only to show the right header.
		if c, err := r.Cookie(sessionCookie); err == nil {
			if ss, err := s.Accounts.SessionByToken(r.Context(), c.Value); err == nil {
				p.Session = ss
				r = withValue(r, keySession, ss)
			}
		}
	}
	if p.Access == nil {
		p.Access = AccessFrom(r)
	}
	p.CSRF = s.csrfToken(r)
	p.RequestID = RequestID(r)
	p.Path = r.URL.Path
	p.Static = "/static/" + s.views.staticHash
	p.PublicURL = s.Config.PublicURL
	p.NoMailServer = !s.Config.MailServer
	if p.Form == nil {
		p.Form = url.Values{}
	}
	p.Zone = time.UTC
	if c, err := r.Cookie("gh_tz"); err == nil {
		if name, err := url.QueryUnescape(c.Value); err == nil && len(name) < 64 {
			if loc, err := time.LoadLocation(name); err == nil {
				p.Zone = loc
			}
		}
	}
	if p.Flash == nil {
		p.Flash = s.takeFlash(w, r)
	}
	if p.Session != nil && p.Workspaces == nil {
		ws, err := s.Accounts.Workspaces(r.Context(), p.Session.Person.ID)
		if err != nil {
			s.Log.Error("workspaces", "err", err, "request_id", p.RequestID)
		}
		p.Workspaces = ws
	}
	if p.Access != nil {
		for _, rt := range s.nav() {
			if !roleAtLeast(p.Access.Role, rt.Role) {
				continue
			}
			href := strings.Replace(rt.Path, "{account}", p.Access.AccountID, 1)
			active := r.URL.Path == href || href != "/accounts/"+p.Access.AccountID && strings.HasPrefix(r.URL.Path, href+"/")
			p.Nav = append(p.Nav, NavItem{Label: rt.Nav, Href: href, Active: active})
		}
	}
}

// setFlash stores a message for the next page, signed so it cannot be forged.
func (s *Server) setFlash(w http.ResponseWriter, kind, msg string) {
	v := base64.RawURLEncoding.EncodeToString([]byte(kind + "\x00" + msg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v + "." + s.sign(v), Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode, MaxAge: 60})
}

func (s *Server) takeFlash(w http.ResponseWriter, r *http.Request) *Flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	s.clearCookie(w, flashCookie)
	v, sig, ok := strings.Cut(c.Value, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(s.sign(v))) {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(v)
	if err != nil {
		return nil
	}
	kind, msg, _ := strings.Cut(string(b), "\x00")
	return &Flash{Kind: kind, Message: msg}
}

func (s *Server) sign(v string) string {
	m := hmac.New(sha256.New, s.Config.CookieKey)
	m.Write([]byte("flash\x00" + v))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:22]
}

// redirectFlash redirects after a successful POST with a message.
func (s *Server) redirectFlash(w http.ResponseWriter, r *http.Request, to, kind, msg string) {
	s.setFlash(w, kind, msg)
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// formErrors turns a service error into per-field messages; ok is false when
// err is not a validation error (then the caller reports a server error).
func formErrors(err error) (map[string]string, bool) {
	var fe *account.FieldError
	if errors.As(err, &fe) {
		return map[string]string{fe.Field: fe.Message}, true
	}
	var fes FieldErrorer
	if errors.As(err, &fes) {
		m := map[string]string{fes.FieldName(): fes.FieldMessage()}
		// A technical detail behind the message goes under <field>_detail
		// (templates fold it away).
		if d, ok := fes.(interface{ FieldDetail() string }); ok && d.FieldDetail() != "" {
			m[fes.FieldName()+"_detail"] = d.FieldDetail()
		}
		return m, true
	}
	return nil, false
}

// FieldErrorer is implemented by validation errors of feature packages.
type FieldErrorer interface {
	error
	FieldName() string
	FieldMessage() string
}

// sentence makes a service error's text (lower case, no full stop, as Go
// errors are written) a sentence for a page.
func sentence(err error) string {
	msg := strings.TrimSpace(err.Error())
	if msg == "" {
		return msg
	}
	r, size := utf8.DecodeRuneInString(msg)
	msg = string(unicode.ToUpper(r)) + msg[size:]
	if !strings.HasSuffix(msg, ".") && !strings.HasSuffix(msg, "?") && !strings.HasSuffix(msg, "!") {
		msg += "."
	}
	return msg
}

func (s *Server) renderError(w http.ResponseWriter, r *http.Request, status int, title, msg string) {
	s.render(w, r, status, "error", &Page{Title: title, Data: map[string]any{"Status": status, "Message": msg}})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "Page not found",
		"There is nothing here, or you do not have access to it. Check the address, or go back to your dashboard.")
}

func (s *Server) forbidden(w http.ResponseWriter, r *http.Request, acc *account.Access) {
	msg := "Your role in this business account does not allow this. Ask an admin of the account."
	if acc != nil && acc.AdminRestricted {
		msg = "Single sign-on is active for this business account: admin rights come only from signing in with SSO as a member of the admins group (or as the backup login)."
	}
	// The page stays in the account (header, navigation) the person is in.
	s.render(w, r, http.StatusForbidden, "error", &Page{Title: "Not allowed", Access: acc,
		Data: map[string]any{"Status": http.StatusForbidden, "Message": msg}})
}

// serverError logs err with a reference code and shows the code, never the error.
func (s *Server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	ref := RequestID(r)
	if ref == "" {
		ref = ids.Secret(6)
	}
	status, msg := http.StatusInternalServerError, "An internal error stopped this request. Nothing was changed. If it happens again, give the operator this reference: "+ref
	if store.IsUnavailable(err) {
		// The database is down or restarting: say so and when to retry,
		// rather than a 500 (health checks take the node out meanwhile).
		status, msg = http.StatusServiceUnavailable, "The service cannot reach its database right now. Nothing was changed. Retry in a few seconds."
		w.Header().Set("Retry-After", strconv.Itoa(store.RetryAfterSeconds))
	}
	s.Log.Error("server error", "request_id", ref, "status", status, "method", r.Method, "path", logPath(r), "err", err)
	t, ok := s.views.pages["error"]
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", contentSecurityPolicy(nil))
	w.Header().Set("X-Frame-Options", "DENY")
	w.WriteHeader(status)
	if !ok {
		fmt.Fprintf(w, "%s\n", template.HTMLEscapeString(msg))
		return
	}
	p := &Page{Title: "Something went wrong", Static: "/static/" + s.views.staticHash, Zone: time.UTC, Form: url.Values{},
		RequestID: ref, Data: map[string]any{"Status": status, "Message": msg}}
	_ = t.ExecuteTemplate(w, "layout", p)
}

// staticHandler serves embedded static files under a content-hash path with
// immutable caching.
func (s *Server) staticHandler() http.Handler {
	sub, _ := fs.Sub(assets, "static")
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("hash") == s.views.staticHash {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + r.PathValue("file")
		files.ServeHTTP(w, r2)
	})
}

// contentSecurityPolicy is the policy of every page: only our own scripts,
// styles and images, no framing, and forms that post only to this site
// plus the given targets (each reduced to a CSP source; unusable ones are
// left out, which blocks the form rather than widening the policy).
func contentSecurityPolicy(formTargets []string) string {
	action := "'self'"
	for _, t := range formTargets {
		if src := cspSource(t); src != "" {
			action += " " + src
		}
	}
	return "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action " + action
}

// cspSource turns an absolute http(s) URL into a CSP source expression that
// matches it: scheme, host, port and path (without query), with the
// characters CSP gives a meaning (";", ",", spaces) percent-encoded.
func cspSource(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return ""
	}
	for _, c := range u.Host {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(".-:[]", c)) {
			return ""
		}
	}
	p := strings.NewReplacer(";", "%3B", ",", "%2C").Replace(u.EscapedPath())
	for _, c := range p {
		if c <= ' ' || c >= 0x7f || c == '\'' || c == '"' {
			return ""
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + p
}
