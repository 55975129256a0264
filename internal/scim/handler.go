package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/clientip"
	"gatehouse/internal/freetext"
	"gatehouse/internal/strictjson"
)

const contentType = "application/scim+json"

// Handler serves the SCIM API under /scim/v2 and /scim.
func Handler(svc *Service) http.Handler {
	h := &handler{svc: svc}
	mux := http.NewServeMux()
	for _, p := range []string{"/scim/v2", "/scim"} {
		mux.HandleFunc("GET "+p+"/Users", h.authed(h.listUsers))
		mux.HandleFunc("GET "+p+"/Users/{$}", h.authed(h.listUsers)) // some clients add a slash
		mux.HandleFunc("POST "+p+"/Users", h.authed(h.createUser))
		mux.HandleFunc("POST "+p+"/Users/.search", h.authed(h.searchUsers))
		mux.HandleFunc("GET "+p+"/Users/{id}", h.authed(h.getUser))
		mux.HandleFunc("PUT "+p+"/Users/{id}", h.authed(h.replaceUser))
		mux.HandleFunc("PATCH "+p+"/Users/{id}", h.authed(h.patchUser))
		mux.HandleFunc("DELETE "+p+"/Users/{id}", h.authed(h.deleteUser))
		mux.HandleFunc("GET "+p+"/Groups", h.authed(h.listGroups))
		mux.HandleFunc("GET "+p+"/Groups/{$}", h.authed(h.listGroups))
		mux.HandleFunc("POST "+p+"/Groups", h.authed(h.createGroup))
		mux.HandleFunc("POST "+p+"/Groups/.search", h.authed(h.searchGroups))
		mux.HandleFunc("GET "+p+"/Groups/{id}", h.authed(h.getGroup))
		mux.HandleFunc("PUT "+p+"/Groups/{id}", h.authed(h.replaceGroup))
		mux.HandleFunc("PATCH "+p+"/Groups/{id}", h.authed(h.patchGroup))
		mux.HandleFunc("DELETE "+p+"/Groups/{id}", h.authed(h.deleteGroup))
		mux.HandleFunc("GET "+p+"/ServiceProviderConfig", h.authed(h.serviceProviderConfig))
		mux.HandleFunc("GET "+p+"/ResourceTypes", h.authed(h.resourceTypes))
		mux.HandleFunc("GET "+p+"/ResourceTypes/{id}", h.authed(h.resourceTypeByID))
		mux.HandleFunc("GET "+p+"/Schemas", h.authed(h.schemas))
		mux.HandleFunc("GET "+p+"/Schemas/{id}", h.authed(h.schemaByID))
		mux.HandleFunc(p+"/", h.authed(h.fallback))
	}
	return h.recoverer(mux)
}

type handler struct {
	svc *Service
}

// reqCtx is what a handler knows about an authenticated request.
type reqCtx struct {
	caller
	actor audit.Actor
	base  string // SCIM base URL for locations and $ref
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, rc *reqCtx) error

// statusWriter remembers the status for the activity record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// recoverer is the last line: a panic becomes a SCIM 500, never a dropped
// connection.
func (h *handler) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				h.svc.logger().Error("scim: panic", "method", r.Method, "path", r.URL.Path, "panic", p)
				writeError(w, &Error{Status: http.StatusInternalServerError, Detail: "internal error"})
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// authed authenticates the bearer token, applies the account's switch and
// the token's rate limit, limits the body, runs fn and records activity.
func (h *handler) authed(fn handlerFunc) http.HandlerFunc {
	return func(rw http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		w := &statusWriter{ResponseWriter: rw}
		token, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="SCIM"`)
			writeError(w, &Error{Status: http.StatusUnauthorized, Detail: "a bearer token is required (Authorization: Bearer <token>)"})
			return
		}
		c, err := h.svc.authenticate(ctx, token)
		if errors.Is(err, errBadToken) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="SCIM", error="invalid_token"`)
			writeError(w, &Error{Status: http.StatusUnauthorized, Detail: "the bearer token is not valid (regenerated or mistyped?)"})
			return
		}
		if err != nil {
			h.internal(w, r, err)
			return
		}
		rc := &reqCtx{
			caller: c,
			actor: audit.Actor{
				Type: audit.ActorToken, ID: c.tokenID, Label: "SCIM token …" + c.last4,
				IP: clientip.From(r), RequestID: r.Header.Get("X-Request-Id"),
			},
			base: h.baseURL(r),
		}
		err = h.gate(ctx, w, r, rc)
		if err == nil {
			err = checkQueryText(r)
		}
		if err == nil {
			r.Body = http.MaxBytesReader(w, r.Body, h.svc.maxBody())
			err = fn(w, r, rc)
		}
		if err != nil {
			e, ok := asError(err)
			if !ok {
				h.internal(w, r, err)
				e = &Error{Status: http.StatusInternalServerError, Detail: "internal error"}
			} else {
				writeError(w, e)
			}
			if e.Status != http.StatusNotFound && e.Status != http.StatusTooManyRequests {
				h.svc.recordError(context.WithoutCancel(ctx), c.accountID, fmt.Sprintf("%s %s: %d %s %s", r.Method, r.URL.Path, e.Status, e.ScimType, e.Detail))
			}
		}
		h.svc.touch(context.WithoutCancel(ctx), c.accountID)
	}
}

// checkQueryText refuses query parameters that are not storable text (NUL,
// invalid UTF-8): a filter value reaches the database, where PostgreSQL
// would fail on it. The value itself is not echoed (it is not text).
func checkQueryText(r *http.Request) error {
	for k, vs := range r.URL.Query() {
		for _, v := range append([]string{k}, vs...) {
			if p := freetext.Problem(v); p != "" {
				scimType := ErrInvalidValue
				if strings.EqualFold(k, "filter") {
					scimType = ErrInvalidFilter
				}
				return badRequest(scimType, "the query parameter %q %s", strings.ToValidUTF8(strings.ReplaceAll(k, "\x00", ""), "?"), p)
			}
		}
	}
	return nil
}

// gate refuses requests of disabled accounts and over-limit tokens.
func (h *handler) gate(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if !rc.enabled {
		return &Error{Status: http.StatusForbidden, Detail: "SCIM provisioning is switched off for this account (IdP Integration, step 5)"}
	}
	d, err := h.svc.allow(ctx, rc.tokenID)
	if err != nil {
		return err
	}
	if !d.Allowed {
		secs := int(math.Ceil(d.RetryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		return &Error{Status: http.StatusTooManyRequests, Detail: fmt.Sprintf("too many requests for this token; retry in %d s", secs)}
	}
	return nil
}

func (h *handler) internal(w http.ResponseWriter, r *http.Request, err error) {
	h.svc.logger().Error("scim: internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, &Error{Status: http.StatusInternalServerError, Detail: "internal error"})
}

func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// baseURL is Service.BaseURL, or the URL the client used up to /scim[/v2].
func (h *handler) baseURL(r *http.Request) string {
	if h.svc.BaseURL != "" {
		return strings.TrimSuffix(h.svc.BaseURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	prefix := "/scim"
	if strings.HasPrefix(r.URL.Path, "/scim/v2/") || r.URL.Path == "/scim/v2" {
		prefix = "/scim/v2"
	}
	return scheme + "://" + r.Host + prefix
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		buf.WriteString(`{"schemas":["` + URNError + `"],"status":"500","detail":"internal error"}`)
	}
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, e *Error) {
	body := map[string]any{
		"schemas": []any{URNError},
		"status":  strconv.Itoa(e.Status),
		"detail":  e.Detail,
	}
	if e.ScimType != "" {
		body["scimType"] = e.ScimType
	}
	writeJSON(w, e.Status, body)
}

// readBody decodes a JSON object body, refusing other media types, bodies
// over the limit (413), malformed JSON and trailing data.
func readBody(r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != contentType && mt != "application/json") {
			return nil, &Error{Status: http.StatusUnsupportedMediaType, Detail: fmt.Sprintf("send application/scim+json (or application/json), not %q", ct)}
		}
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &Error{Status: http.StatusRequestEntityTooLarge, Detail: fmt.Sprintf("the request body is larger than %d bytes", mbe.Limit)}
		}
		return nil, badRequest(ErrInvalidSyntax, "cannot read the request body: %v", err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badRequest(ErrInvalidSyntax, "the request body is empty")
	}
	// Attribute names are case-insensitive, so "userName" and "USERNAME"
	// are one attribute sent twice: ambiguous, refused.
	if err := strictjson.Check(b, strictjson.Options{FoldCase: true}); err != nil {
		var dup *strictjson.DuplicateKeyError
		var te *strictjson.TextError
		switch {
		case errors.As(err, &dup) && dup.Path == "":
			return nil, badRequest(ErrInvalidSyntax, "the attribute %q appears more than once (attribute names are case-insensitive)", dup.Key)
		case errors.As(err, &dup):
			return nil, badRequest(ErrInvalidSyntax, "the attribute %q appears more than once in %s (attribute names are case-insensitive)", dup.Key, dup.Path)
		case errors.As(err, &te):
			return nil, badRequest(ErrInvalidValue, "%s", te.Error())
		}
		return nil, badRequest(ErrInvalidSyntax, "%v", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, badRequest(ErrInvalidSyntax, "the body is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest(ErrInvalidSyntax, "unexpected data after the JSON object")
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, badRequest(ErrInvalidSyntax, "the body must be a JSON object")
	}
	return m, nil
}

func queryProjection(rt *resourceType, r *http.Request) *projection {
	q := r.URL.Query()
	return parseProjection(rt, q.Get("attributes"), q.Get("excludedAttributes"))
}

// ---- Users ----------------------------------------------------------------

// respondUser renders one user (loading its groups when they are wanted).
func (h *handler) respondUser(ctx context.Context, w http.ResponseWriter, status int, rc *reqCtx, rec *record, proj *projection) error {
	var groups []memberRef
	if proj.wants("groups") && status != http.StatusCreated { // a new user is in no group yet
		m, err := groupsOfUsers(ctx, h.svc.DB, rc.accountID, []string{rec.id})
		if err != nil {
			return err
		}
		groups = m[rec.id]
	}
	out := renderUser(rec, groups, rc.base)
	proj.apply(userType, out)
	w.Header().Set("ETag", etag(rec.version))
	if status == http.StatusCreated {
		w.Header().Set("Location", rc.base+"/Users/"+rec.id)
	}
	writeJSON(w, status, out)
	return nil
}

func (h *handler) listUsers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	return h.doList(w, r, rc, usersTable, listParams{
		filter: q.Get("filter"), startIndex: q.Get("startIndex"), count: q.Get("count"),
		sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"),
	}, queryProjection(userType, r))
}

func (h *handler) doList(w http.ResponseWriter, r *http.Request, rc *reqCtx, t *table, p listParams, proj *projection) error {
	ctx := r.Context()
	lq, err := parseListQuery(t.rt, h.svc.maxResults(), p)
	if err != nil {
		return err
	}
	total, recs, err := h.svc.list(ctx, rc.accountID, t, lq)
	if err != nil {
		return err
	}
	idList := make([]string, len(recs))
	for i, rec := range recs {
		idList[i] = rec.id
	}
	resources := make([]any, 0, len(recs))
	if t == usersTable {
		var groups map[string][]memberRef
		if proj.wants("groups") && len(recs) > 0 {
			if groups, err = groupsOfUsers(ctx, h.svc.DB, rc.accountID, idList); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			out := renderUser(rec, groups[rec.id], rc.base)
			proj.apply(userType, out)
			resources = append(resources, out)
		}
	} else {
		var members map[string][]memberRef
		if proj.wants("members") && len(recs) > 0 {
			if members, err = membersOfGroups(ctx, h.svc.DB, rc.accountID, idList); err != nil {
				return err
			}
		}
		for _, rec := range recs {
			out := renderGroup(rec, members[rec.id], rc.base)
			proj.apply(groupType, out)
			resources = append(resources, out)
		}
	}
	writeJSON(w, http.StatusOK, listResponse(total, lq.startIndex, resources))
	return nil
}

// search implements POST /.search (RFC 7644 §3.4.3).
func (h *handler) search(w http.ResponseWriter, r *http.Request, rc *reqCtx, t *table) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	raw, _ := lookupCI(body, "schemas")
	ok := false
	if list, isList := raw.([]any); isList {
		for _, s := range list {
			if u, _ := s.(string); strings.EqualFold(u, URNSearch) {
				ok = true
			}
		}
	}
	if !ok {
		return badRequest(ErrInvalidSyntax, "\"schemas\" must contain %q", URNSearch)
	}
	str := func(key string) (string, error) {
		v, ok := lookupCI(body, key)
		if !ok || v == nil {
			return "", nil
		}
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		case []any:
			parts := make([]string, 0, len(x))
			for _, e := range x {
				s, ok := e.(string)
				if !ok {
					return "", badRequest(ErrInvalidValue, "%s must list attribute names", key)
				}
				parts = append(parts, s)
			}
			return strings.Join(parts, ","), nil
		}
		return "", badRequest(ErrInvalidValue, "%s has the wrong type", key)
	}
	var p listParams
	var attrs, excl string
	for _, f := range []struct {
		key string
		dst *string
	}{{"filter", &p.filter}, {"startIndex", &p.startIndex}, {"count", &p.count}, {"sortBy", &p.sortBy},
		{"sortOrder", &p.sortOrder}, {"attributes", &attrs}, {"excludedAttributes", &excl}} {
		if *f.dst, err = str(f.key); err != nil {
			return err
		}
	}
	return h.doList(w, r, rc, t, p, parseProjection(t.rt, attrs, excl))
}

func (h *handler) searchUsers(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return h.search(w, r, rc, usersTable)
}

func (h *handler) createUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := h.svc.createUser(r.Context(), rc.accountID, rc.actor, body)
	if err != nil {
		return err
	}
	return h.respondUser(r.Context(), w, http.StatusCreated, rc, rec, queryProjection(userType, r))
}

func (h *handler) getUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := h.svc.getUser(r.Context(), rc.accountID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, rec.version) {
		w.Header().Set("ETag", etag(rec.version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return h.respondUser(r.Context(), w, http.StatusOK, rc, rec, queryProjection(userType, r))
}

func (h *handler) replaceUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := h.svc.replaceUser(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match"), body)
	if err != nil {
		return err
	}
	return h.respondUser(r.Context(), w, http.StatusOK, rc, rec, queryProjection(userType, r))
}

func (h *handler) patchUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(body)
	if err != nil {
		return err
	}
	rec, err := h.svc.patchUser(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match"), ops)
	if err != nil {
		return err
	}
	return h.respondUser(r.Context(), w, http.StatusOK, rc, rec, queryProjection(userType, r))
}

func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := h.svc.deleteUser(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// ---- Groups ---------------------------------------------------------------

func (h *handler) respondGroup(ctx context.Context, w http.ResponseWriter, status int, rc *reqCtx, rec *record, proj *projection) error {
	var members []memberRef
	if proj.wants("members") {
		m, err := membersOfGroups(ctx, h.svc.DB, rc.accountID, []string{rec.id})
		if err != nil {
			return err
		}
		members = m[rec.id]
	}
	out := renderGroup(rec, members, rc.base)
	proj.apply(groupType, out)
	w.Header().Set("ETag", etag(rec.version))
	if status == http.StatusCreated {
		w.Header().Set("Location", rc.base+"/Groups/"+rec.id)
	}
	writeJSON(w, status, out)
	return nil
}

func (h *handler) listGroups(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	q := r.URL.Query()
	return h.doList(w, r, rc, groupsTable, listParams{
		filter: q.Get("filter"), startIndex: q.Get("startIndex"), count: q.Get("count"),
		sortBy: q.Get("sortBy"), sortOrder: q.Get("sortOrder"),
	}, queryProjection(groupType, r))
}

func (h *handler) searchGroups(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	return h.search(w, r, rc, groupsTable)
}

func (h *handler) createGroup(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := h.svc.createGroup(r.Context(), rc.accountID, rc.actor, body)
	if err != nil {
		return err
	}
	return h.respondGroup(r.Context(), w, http.StatusCreated, rc, rec, queryProjection(groupType, r))
}

func (h *handler) getGroup(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rec, err := h.svc.getGroup(r.Context(), rc.accountID, r.PathValue("id"))
	if err != nil {
		return err
	}
	if inm := r.Header.Get("If-None-Match"); inm != "" && matchesETag(inm, rec.version) {
		w.Header().Set("ETag", etag(rec.version))
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	return h.respondGroup(r.Context(), w, http.StatusOK, rc, rec, queryProjection(groupType, r))
}

func (h *handler) replaceGroup(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	rec, err := h.svc.replaceGroup(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match"), body)
	if err != nil {
		return err
	}
	return h.respondGroup(r.Context(), w, http.StatusOK, rc, rec, queryProjection(groupType, r))
}

func (h *handler) patchGroup(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	ops, err := parsePatch(body)
	if err != nil {
		return err
	}
	rec, err := h.svc.patchGroup(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match"), ops)
	if err != nil {
		return err
	}
	return h.respondGroup(r.Context(), w, http.StatusOK, rc, rec, queryProjection(groupType, r))
}

func (h *handler) deleteGroup(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	if err := h.svc.deleteGroup(r.Context(), rc.accountID, rc.actor, r.PathValue("id"), r.Header.Get("If-Match")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// fallback answers paths and methods the routes above do not cover.
func (h *handler) fallback(w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	rest := r.URL.Path
	for _, p := range []string{"/scim/v2", "/scim"} {
		if strings.HasPrefix(rest, p+"/") {
			rest = strings.TrimPrefix(rest, p)
			break
		}
	}
	seg := strings.Split(strings.Trim(rest, "/"), "/")
	switch {
	case seg[0] == "Me" || seg[0] == "Bulk":
		return &Error{Status: http.StatusNotImplemented, Detail: "/" + seg[0] + " is not supported (see /ServiceProviderConfig)"}
	case (seg[0] == "Users" || seg[0] == "Groups") && len(seg) == 1:
		w.Header().Set("Allow", "GET, POST")
		return &Error{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed on /" + seg[0]}
	case (seg[0] == "Users" || seg[0] == "Groups") && len(seg) == 2:
		w.Header().Set("Allow", "GET, PUT, PATCH, DELETE")
		return &Error{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed on /" + seg[0] + "/{id}"}
	case len(seg) <= 2 && (seg[0] == "ServiceProviderConfig" || seg[0] == "ResourceTypes" || seg[0] == "Schemas"):
		w.Header().Set("Allow", "GET")
		return &Error{Status: http.StatusMethodNotAllowed, Detail: r.Method + " is not allowed on /" + seg[0]}
	}
	return &Error{Status: http.StatusNotFound, Detail: "no SCIM endpoint at " + r.URL.Path}
}
