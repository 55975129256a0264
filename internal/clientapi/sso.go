package clientapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/clientip"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
)

// SSO activation (spec 04) for Desktop installations: /sso/start and
// /sso/redeem under Prefix. The installation starts an attempt with the work
// email, its device and an S256 code challenge, opens the returned browser
// URL, and redeems the attempt with its code verifier until the person has
// signed in (202 pending), then receives its credential and certificate once.

// SSOPrefix is where the SSO handler is mounted.
const SSOPrefix = Prefix + "sso/"

// SSOConfig wires the SSO handler to the IdP integration.
type SSOConfig struct {
	// PublicURL is where browsers reach Gatehouse; the browser URL is
	// PublicURL + "/sso/desktop/" + attempt id.
	PublicURL string
	// AccountForDomain finds the account that verified an email's domain
	// and whether its IdP integration is active (store.ErrNotFound: none).
	AccountForDomain func(ctx context.Context, emailOrDomain string) (accountID string, active bool, err error)
	// Pending, when set, looks for a reason a pending attempt will never
	// complete (integration switched off, the IdP's answer refused at the
	// ACS) so that the installation learns it instead of waiting.
	Pending func(ctx context.Context, a *license.SSOAttempt) *license.SSORefusal
	// StartLimit limits attempts per source address. Max 0 disables it.
	StartLimit ratelimit.Limit
	// PollInterval is what the installation is told to wait between
	// redeem calls. Default 2 s.
	PollInterval time.Duration
	ClientIP     func(*http.Request) string
	Log          *slog.Logger
}

// SSOHandler serves /api/client/v1/sso/.
type SSOHandler struct {
	svc *license.Service
	cfg SSOConfig
	mux *http.ServeMux
}

// NewSSO returns the SSO handler; mount it at SSOPrefix.
func NewSSO(svc *license.Service, cfg SSOConfig) *SSOHandler {
	if cfg.ClientIP == nil {
		cfg.ClientIP = clientip.From
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = 2 * time.Second
	}
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	h := &SSOHandler{svc: svc, cfg: cfg, mux: http.NewServeMux()}
	h.route("POST", SSOPrefix+"start", h.start)
	h.route("POST", SSOPrefix+"redeem", h.redeem)
	h.mux.HandleFunc(SSOPrefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "No such endpoint.")
	})
	return h
}

// route registers path for one method; other methods get a JSON 405.
func (h *SSOHandler) route(method, path string, fn http.HandlerFunc) {
	routeMethod(h.mux, method, path, fn)
}

func (h *SSOHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveJSON(w, r, h.mux, h.cfg.Log)
}

type ssoStartRequest struct {
	Email               string      `json:"email"`
	Device              *deviceJSON `json:"device"`
	CodeChallenge       string      `json:"code_challenge"`
	CodeChallengeMethod string      `json:"code_challenge_method"`
}

type ssoStartResponse struct {
	AttemptID    string `json:"attempt_id"`
	BrowserURL   string `json:"browser_url"`
	ExpiresAt    string `json:"expires_at"`
	PollInterval int    `json:"poll_interval"`
}

type ssoRedeemRequest struct {
	AttemptID    string `json:"attempt_id"`
	CodeVerifier string `json:"code_verifier"`
}

type ssoPendingResponse struct {
	Status       string `json:"status"`
	PollInterval int    `json:"poll_interval"`
	ExpiresAt    string `json:"expires_at"`
}

type ssoActivationResponse struct {
	activationResponse
	Method  string `json:"method"`
	KeyName string `json:"key_name"`
	User    string `json:"user"`
}

type ssoErrorBody struct {
	Error struct {
		Code      string `json:"code"`
		Message   string `json:"message"`
		Reference string `json:"reference,omitempty"`
	} `json:"error"`
}

// ssoStatus maps an SSO refusal to its HTTP status.
func ssoStatus(code string) int {
	switch code {
	case license.CodeInvalidRequest:
		return http.StatusBadRequest
	case license.CodeAttemptNotFound:
		return http.StatusNotFound
	case license.CodeAttemptExpired:
		return http.StatusGone
	case license.CodeNoFreeSeat, license.CodeAttemptUsed:
		return http.StatusConflict
	}
	return http.StatusForbidden
}

func writeSSOError(w http.ResponseWriter, code, message, reference string) {
	var b ssoErrorBody
	b.Error.Code, b.Error.Message, b.Error.Reference = code, message, reference
	writeJSON(w, ssoStatus(code), b)
}

func (h *SSOHandler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var rf *license.SSORefusal
	var de *license.DeviceError
	switch {
	case errors.As(err, &rf):
		writeSSOError(w, rf.Code, rf.Message, rf.Reference)
	case errors.As(err, &de):
		writeSSOError(w, de.Code, de.Message, "")
	case r.Context().Err() != nil:
	default:
		ref := ids.Secret(6)
		h.cfg.Log.Error("client api sso", "path", r.URL.Path, "err", err, "ref", ref)
		writeError(w, http.StatusInternalServerError, "internal", "Internal error (reference "+ref+").")
	}
}

func (h *SSOHandler) start(w http.ResponseWriter, r *http.Request) {
	ip := h.cfg.ClientIP(r)
	if lim := h.cfg.StartLimit; lim.Max > 0 {
		d, err := ratelimit.Hit(r.Context(), h.svc.DB, "client_sso_start:"+ip, lim, time.Now())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !d.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter.Seconds()+0.999)))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many activation attempts from this address; try again later.")
			return
		}
	}
	var req ssoStartRequest
	if !decode(w, r, &req, false) {
		return
	}
	if req.Device == nil {
		writeError(w, http.StatusBadRequest, "invalid_request", `Field "device" is required.`)
		return
	}
	email, err := account.FormEmail(req.Email)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "email: "+err.Error())
		return
	}
	_, domain, _ := strings.Cut(email, "@")
	accountID, active, err := h.cfg.AccountForDomain(r.Context(), domain)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ref := h.record(r.Context(), "", license.CodeUnknownDomain, "no business account has verified the domain "+domain, email, ip)
		writeSSOError(w, license.CodeUnknownDomain, fmt.Sprintf("Single sign-on is not set up for %s. Check the address, or activate Desktop with a license key.", domain), ref)
		return
	case err != nil:
		h.fail(w, r, err)
		return
	case !active:
		ref := h.record(r.Context(), accountID, license.CodeIntegrationInactive, "the IdP integration of the account that owns "+domain+" is not active", email, ip)
		writeSSOError(w, license.CodeIntegrationInactive, fmt.Sprintf("Your organization has not switched on single sign-on for %s yet. Ask your IT admin.", domain), ref)
		return
	}
	a, err := h.svc.StartSSOActivation(r.Context(), license.SSOStartInput{AccountID: accountID, Email: email, IP: ip,
		CodeChallenge: req.CodeChallenge, ChallengeMethod: req.CodeChallengeMethod,
		Device: license.Device{HardwareUUID: req.Device.HardwareUUID, Serial: req.Device.Serial, ComputerName: req.Device.ComputerName,
			MacOSUser: req.Device.MacOSUser, AppVersion: req.Device.AppVersion}})
	var de *license.DeviceError
	if errors.As(err, &de) && de.Code != license.CodeInvalidRequest {
		ref := h.record(r.Context(), accountID, de.Code, de.Message, email, ip)
		writeSSOError(w, de.Code, de.Message, ref)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, ssoStartResponse{AttemptID: a.ID, BrowserURL: h.cfg.PublicURL + "/sso/desktop/" + a.ID,
		ExpiresAt: a.ExpiresAt.UTC().Format(time.RFC3339), PollInterval: int(h.cfg.PollInterval / time.Second)})
}

func (h *SSOHandler) record(ctx context.Context, accountID, code, detail, subject, ip string) string {
	if h.svc.RecordSSOFailure == nil {
		return strings.ToUpper(ids.Secret(6))
	}
	return h.svc.RecordSSOFailure(ctx, accountID, code, detail, subject, ip)
}

func (h *SSOHandler) redeem(w http.ResponseWriter, r *http.Request) {
	var req ssoRedeemRequest
	if !decode(w, r, &req, false) {
		return
	}
	if req.AttemptID == "" || req.CodeVerifier == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", `Fields "attempt_id" and "code_verifier" are required.`)
		return
	}
	act, a, err := h.svc.RedeemSSOActivation(r.Context(), req.AttemptID, req.CodeVerifier, h.cfg.ClientIP(r))
	if errors.Is(err, license.ErrSSOPending) && h.cfg.Pending != nil {
		if rf := h.cfg.Pending(r.Context(), a); rf != nil {
			rf, err = h.svc.RefuseSSOAttempt(r.Context(), a, rf, h.cfg.ClientIP(r))
			if err == nil {
				err = rf
			}
		}
	}
	if errors.Is(err, license.ErrSSOPending) {
		w.Header().Set("Retry-After", strconv.Itoa(int(h.cfg.PollInterval/time.Second)))
		writeJSON(w, http.StatusAccepted, ssoPendingResponse{Status: "pending", PollInterval: int(h.cfg.PollInterval / time.Second),
			ExpiresAt: a.ExpiresAt.UTC().Format(time.RFC3339)})
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	c := act.Claims
	margin := min(c.ValidUntil.Sub(c.IssuedAt)/7, 24*time.Hour)
	writeJSON(w, http.StatusCreated, ssoActivationResponse{
		activationResponse: activationResponse{ActivationID: act.ActivationID, Credential: act.Credential, Status: "active",
			Certificate: act.Certificate, ValidUntil: c.ValidUntil.UTC().Format(time.RFC3339),
			CheckAfter: c.ValidUntil.Add(-margin).UTC().Format(time.RFC3339),
			License:    licenseJSON{Edition: c.Edition, Model: c.Model, Trial: c.Trial, Features: c.Features}},
		Method: c.Method, KeyName: c.KeyName, User: c.User})
}
