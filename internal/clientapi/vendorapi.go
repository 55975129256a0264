package clientapi

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/clientip"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/updates"
)

// VendorPrefix is where the operator's API is mounted.
const VendorPrefix = "/api/vendor/v1/"

// VendorConfig configures the vendor API.
type VendorConfig struct {
	// Token, when set (--operator-token / GATEHOUSE_OPERATOR_TOKEN), is
	// accepted as the bearer token. A token made by `gatehouse vendor token`
	// (stored hashed in settings) is accepted as well.
	Token string
	Log   *slog.Logger
	// Releases, when set, adds the release endpoints (vendor_releases.go).
	Releases *updates.Service
}

// VendorHandler is the operator-only HTTP API a shop system calls to issue
// and manage subscriptions. Every request carries
// "Authorization: Bearer <operator token>". JSON in, JSON out:
//
//	POST /api/vendor/v1/subscriptions                {edition, model, seats, term, trial, note} → 201 {subscription, key}
//	GET  /api/vendor/v1/subscriptions?q=&account_id=&limit=                                     → {subscriptions}
//	GET  /api/vendor/v1/subscriptions/{ref}          ref = subscription id or any of its keys   → {subscription}
//	POST /api/vendor/v1/subscriptions/{ref}/convert  {model?}                                   → {subscription, suspended_trial?}
//	POST /api/vendor/v1/subscriptions/{ref}/extend   {term?, until?, seats?}                    → {subscription}
//	POST /api/vendor/v1/subscriptions/{ref}/suspend  {reason?}                                  → {subscription}
//	POST /api/vendor/v1/subscriptions/{ref}/resume                                              → {subscription}
//
// Errors: {"error":{"code","message","field"?}} with codes unauthorized,
// invalid_request, not_found, conflict (a rule refused it), internal.
type VendorHandler struct {
	svc *license.Service
	cfg VendorConfig
	mux *http.ServeMux
}

// NewVendor returns the vendor API handler; mount it at VendorPrefix.
func NewVendor(svc *license.Service, cfg VendorConfig) *VendorHandler {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &VendorHandler{svc: svc, cfg: cfg, mux: http.NewServeMux()}
	h.mux.HandleFunc("POST "+VendorPrefix+"subscriptions", h.issue)
	h.mux.HandleFunc("GET "+VendorPrefix+"subscriptions", h.list)
	h.mux.HandleFunc("GET "+VendorPrefix+"subscriptions/{ref}", h.get)
	h.mux.HandleFunc("POST "+VendorPrefix+"subscriptions/{ref}/{action}", h.action)
	if cfg.Releases != nil {
		h.mountReleases(cfg.Releases)
	}
	return h
}

func (h *VendorHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	token := bearer(r)
	ok := token != "" && h.cfg.Token != "" && ids.Equal(token, h.cfg.Token)
	if !ok && token != "" {
		var err error
		if ok, err = h.svc.CheckOperatorToken(r.Context(), token); err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse-vendor"`)
		writeError(w, http.StatusUnauthorized, "unauthorized", "An operator token is required.")
		return
	}
	_, pattern := h.mux.Handler(r)
	if pattern == "" {
		writeError(w, http.StatusNotFound, "not_found", "No such endpoint.")
		return
	}
	h.mux.ServeHTTP(w, r)
}

type subscriptionJSON struct {
	ID          string `json:"id"`
	AccountID   string `json:"account_id,omitempty"`
	AccountName string `json:"account_name,omitempty"`
	Name        string `json:"name,omitempty"`
	Edition     string `json:"edition"`
	Model       string `json:"model"`
	Trial       bool   `json:"trial"`
	Seats       int    `json:"seats"`
	Used        int    `json:"used"`
	Reserved    int    `json:"reserved"`
	State       string `json:"state"`
	StartsAt    string `json:"starts_at"`
	EndsAt      string `json:"ends_at"`
	IssuedAt    string `json:"issued_at"`
	Registered  string `json:"registered_at,omitempty"`
	Note        string `json:"note,omitempty"`
	PrimaryKey  string `json:"primary_key_masked"`
}

func subJSON(s *license.Subscription) subscriptionJSON {
	f := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	return subscriptionJSON{ID: s.ID, AccountID: s.AccountID, AccountName: s.AccountName, Name: s.Name, Edition: s.Edition,
		Model: s.Model, Trial: s.Trial, Seats: s.Seats, Used: s.Used, Reserved: s.Reserved, State: s.State(time.Now()),
		StartsAt: f(s.StartsAt.Time), EndsAt: f(s.EndsAt.Time), IssuedAt: f(s.IssuedAt.Time), Registered: f(s.Registered.Time),
		Note: s.Note, PrimaryKey: license.MaskKey(s.PrimaryLast)}
}

func (h *VendorHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *license.FieldError
	switch {
	case errors.As(err, &fe):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]string{
			"code": "conflict", "message": fe.Message, "field": fe.Field}})
	case license.IsNotFound(err):
		writeError(w, http.StatusNotFound, "not_found", "No subscription matches.")
	default:
		ref := ids.Secret(6)
		h.cfg.Log.Error("vendor api", "path", r.URL.Path, "err", err, "ref", ref)
		writeError(w, http.StatusInternalServerError, "internal", "Internal error (reference "+ref+").")
	}
}

type issueRequest struct {
	Edition string `json:"edition"`
	Model   string `json:"model"`
	Seats   int    `json:"seats"`
	Term    string `json:"term"`
	Trial   bool   `json:"trial"`
	Note    string `json:"note"`
}

func (h *VendorHandler) issue(w http.ResponseWriter, r *http.Request) {
	var req issueRequest
	if !decode(w, r, &req, false) {
		return
	}
	term, err := license.ParseTerm(req.Term)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	actor := license.OperatorActor("vendor API")
	actor.IP = clientip.From(r)
	sub, key, err := h.svc.Issue(r.Context(), license.IssueInput{Edition: req.Edition, Model: req.Model, Seats: req.Seats,
		Term: term, Trial: req.Trial, Note: req.Note}, actor)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"subscription": subJSON(sub), "key": key})
}

func (h *VendorHandler) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	subs, err := h.svc.ListSubscriptions(r.Context(), license.VendorFilter{AccountID: q.Get("account_id"), Query: q.Get("q"), Limit: limit})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out := make([]subscriptionJSON, 0, len(subs))
	for i := range subs {
		out = append(out, subJSON(&subs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
}

func (h *VendorHandler) get(w http.ResponseWriter, r *http.Request) {
	sub, err := h.svc.FindSubscription(r.Context(), r.PathValue("ref"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscription": subJSON(sub)})
}

type actionRequest struct {
	Model  string `json:"model"`
	Term   string `json:"term"`
	Until  string `json:"until"`
	Seats  int    `json:"seats"`
	Reason string `json:"reason"`
}

func (h *VendorHandler) action(w http.ResponseWriter, r *http.Request) {
	var req actionRequest
	if !decode(w, r, &req, true) {
		return
	}
	ref := r.PathValue("ref")
	actor := license.OperatorActor("vendor API")
	actor.IP = clientip.From(r)
	var sub *license.Subscription
	var err error
	out := map[string]any{}
	switch r.PathValue("action") {
	case "convert":
		var res *license.ConvertResult
		if res, err = h.svc.Convert(r.Context(), ref, req.Model, actor); err == nil {
			sub = res.Subscription
			if res.SuspendedTrial != nil {
				out["suspended_trial"] = subJSON(res.SuspendedTrial)
			}
		}
	case "extend":
		in := license.ExtendInput{Seats: req.Seats}
		if strings.TrimSpace(req.Term) != "" {
			if in.Term, err = license.ParseTerm(req.Term); err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
				return
			}
		}
		if req.Until != "" {
			if in.Until, err = parseDate(req.Until); err != nil {
				writeError(w, http.StatusBadRequest, "invalid_request", `Field "until" must be a date (2027-12-31) or an RFC 3339 time.`)
				return
			}
		}
		sub, err = h.svc.Extend(r.Context(), ref, in, actor)
	case "suspend":
		sub, err = h.svc.Suspend(r.Context(), ref, req.Reason, actor)
	case "resume":
		sub, err = h.svc.Resume(r.Context(), ref, actor)
	default:
		writeError(w, http.StatusNotFound, "not_found", "No such action (convert, extend, suspend, resume).")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	out["subscription"] = subJSON(sub)
	writeJSON(w, http.StatusOK, out)
}

// parseDate reads 2027-12-31 (end of that day, UTC) or an RFC 3339 time.
func parseDate(s string) (time.Time, error) {
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.Add(24*time.Hour - time.Second), nil
	}
	return time.Parse(time.RFC3339, s)
}

// ParseDate is parseDate for the vendor command line.
func ParseDate(s string) (time.Time, error) { return parseDate(s) }
