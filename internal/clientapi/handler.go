// Package clientapi is the JSON API Desktop installations talk to
// (/api/client/v1, described by the embedded openapi.yaml), the published
// activation-certificate key (/.well-known/gatehouse/activation-key), and
// the operator's vendor API (/api/vendor/v1, see vendorapi.go). Handlers
// parse and validate, call license.Service, and render; every error is
// {"error":{"code","message"}} and malformed input is a 4xx, never a 5xx.
package clientapi

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/clientip"
	"gatehouse/internal/fleet"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/strictjson"
)

//go:embed openapi.yaml
var openAPIDoc []byte

// OpenAPI returns the embedded OpenAPI document.
func OpenAPI() []byte { return openAPIDoc }

// Paths the server mounts this handler at.
const (
	Prefix        = "/api/client/v1/"
	WellKnownPath = "/.well-known/gatehouse/activation-key"
)

// MaxBody is the largest request body accepted.
const MaxBody = 64 << 10

// Config tunes the handler.
type Config struct {
	// ActivationLimit limits failed activation attempts per source address
	// — wrong or unknown keys and codes, the signs of guessing — in the
	// database, shared by every node; once over it, the address gets 429
	// for any activation until the window ends. Successful activations and
	// capacity refusals (no_free_seat, expired, suspended) are not counted:
	// a whole office behind one address may activate at once, and counting
	// them would cost a database write per activation. Max 0 disables it.
	ActivationLimit ratelimit.Limit
	// ClientIP returns the caller's address. Default: clientip.From, which
	// honours --trust-proxy once the request passed the web server.
	ClientIP func(*http.Request) string
	Log      *slog.Logger
	// Fleet, when set, serves the check-in (POST checkin, spec 07).
	Fleet *fleet.Service
}

// DefaultActivationLimit: 100 failed attempts per address in 15 minutes.
// Keys and codes cannot be guessed (≥ 100 random bits) even without it; it
// keeps scripted guessing and broken clients from hammering the database.
var DefaultActivationLimit = ratelimit.Limit{Max: 100, Window: 15 * time.Minute}

// countedFailures are the refusals that count against ActivationLimit.
var countedFailures = map[string]bool{
	license.CodeInvalidKey: true, license.CodeInvalidCode: true, license.CodeCodeUsed: true,
	license.CodeCodeExpired: true, license.CodeCodeRevoked: true, license.CodeKeyNotRegistered: true,
	license.CodeKeyDeleted: true,
}

// Handler serves the client API.
type Handler struct {
	svc   *license.Service
	fleet *fleet.Service
	cfg   Config
	mux   *http.ServeMux
}

// New returns the handler. Mount it at Prefix and WellKnownPath (it also
// answers WellKnownPath + ".pem").
func New(svc *license.Service, cfg Config) *Handler {
	if cfg.ClientIP == nil {
		cfg.ClientIP = clientip.From
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := &Handler{svc: svc, cfg: cfg, mux: http.NewServeMux()}
	h.route("POST", Prefix+"activate", h.activate)
	h.route("POST", Prefix+"check", h.check)
	h.route("POST", Prefix+"deactivate", h.deactivate)
	h.route("GET", Prefix+"openapi.yaml", h.openapi)
	if cfg.Fleet != nil {
		h.MountFleet(cfg.Fleet)
	}
	h.route("GET", WellKnownPath, h.publicKey)
	h.route("GET", WellKnownPath+".pem", h.publicKeyPEM)
	h.mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "No such endpoint.")
	})
	return h
}

// route registers path for one method; other methods get a JSON 405.
func (h *Handler) route(method, path string, fn http.HandlerFunc) {
	routeMethod(h.mux, method, path, fn)
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	serveJSON(w, r, h.mux, h.cfg.Log)
}

// routeMethod registers path on mux for one method (GET also answers HEAD);
// other methods get a JSON 405.
func routeMethod(mux *http.ServeMux, method, path string, fn http.HandlerFunc) {
	mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != method && !(method == "GET" && r.Method == "HEAD") {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", "Use "+method+".")
			return
		}
		fn(w, r)
	})
}

// serveJSON serves a JSON API mux: no caching, no sniffing, and a panic
// becomes a JSON 500 with a reference that is also in the log.
func serveJSON(w http.ResponseWriter, r *http.Request, mux *http.ServeMux, log *slog.Logger) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			ref := ids.Secret(6)
			log.Error("client api panic", "panic", fmt.Sprint(p), "path", r.URL.Path, "ref", ref)
			writeError(w, http.StatusInternalServerError, "internal", "Internal error (reference "+ref+").")
		}
	}()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	mux.ServeHTTP(w, r)
}

// ---- wire types (mirror openapi.yaml) ----

type deviceJSON struct {
	HardwareUUID string `json:"hardware_uuid"`
	Serial       string `json:"serial"`
	ComputerName string `json:"computer_name"`
	MacOSUser    string `json:"macos_user"`
	AppVersion   string `json:"app_version"`
}

type activateRequest struct {
	Key    string      `json:"key"`
	Code   string      `json:"code"`
	Device *deviceJSON `json:"device"`
}

type checkRequest struct {
	AppVersion string `json:"app_version"`
}

type deactivateRequest struct{}

type licenseJSON struct {
	Edition  string   `json:"edition"`
	Model    string   `json:"model"`
	Trial    bool     `json:"trial"`
	Features []string `json:"features"`
}

type activationResponse struct {
	ActivationID string              `json:"activation_id"`
	Credential   string              `json:"credential,omitempty"`
	Status       string              `json:"status"`
	Reactivated  *bool               `json:"reactivated,omitempty"`
	Certificate  license.Certificate `json:"certificate"`
	ValidUntil   string              `json:"valid_until"`
	CheckAfter   string              `json:"check_after"`
	License      licenseJSON         `json:"license"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, message string) {
	var b errorBody
	b.Error.Code, b.Error.Message = code, message
	writeJSON(w, status, b)
}

// statusOf maps a refusal reason to its HTTP status.
func statusOf(code string) int {
	switch code {
	case license.CodeInvalidRequest, license.CodeInvalidKey, license.CodeInvalidCode:
		return http.StatusBadRequest
	case license.CodeUnauthorized:
		return http.StatusUnauthorized
	case license.CodeNoFreeSeat:
		return http.StatusConflict
	}
	return http.StatusForbidden
}

func (h *Handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var de *license.DeviceError
	if errors.As(err, &de) {
		if de.Code == license.CodeUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		}
		writeError(w, statusOf(de.Code), de.Code, de.Message)
		return
	}
	if errors.Is(err, r.Context().Err()) && r.Context().Err() != nil {
		return // the client went away
	}
	ref := ids.Secret(6)
	h.cfg.Log.Error("client api", "path", r.URL.Path, "err", err, "ref", ref)
	writeError(w, http.StatusInternalServerError, "internal", "Internal error (reference "+ref+").")
}

// decode reads a JSON object body strictly: at most MaxBody bytes, JSON
// content type, no duplicate keys and only storable text (strictjson), no
// unknown fields, no trailing data. An empty body is allowed when optional.
// Every JSON endpoint of the client and vendor APIs reads its body here. It writes the error response and returns false on
// failure.
func decode(w http.ResponseWriter, r *http.Request, v any, optional bool) bool {
	return decodeLimit(w, r, v, optional, MaxBody)
}

// decodeLimit is decode with a body limit of its own (the check-in's
// report is larger than any other body).
func decodeLimit(w http.ResponseWriter, r *http.Request, v any, optional bool, limit int64) bool {
	if r.ContentLength > limit {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body is larger than %d bytes.", limit))
		return false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("The request body is larger than %d bytes.", limit))
		} else {
			writeError(w, http.StatusBadRequest, "invalid_request", "Could not read the request body.")
		}
		return false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		if optional {
			return true
		}
		writeError(w, http.StatusBadRequest, "invalid_request", "The request needs a JSON body.")
		return false
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
			writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json.")
			return false
		}
	} else {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "Send the body as application/json (Content-Type header missing).")
		return false
	}
	if err := strictjson.Check(body, strictjson.Options{}); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", strictProblem(err))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", jsonProblem(err))
		return false
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); err != io.EOF {
		writeError(w, http.StatusBadRequest, "invalid_request", "Unexpected data after the JSON object.")
		return false
	}
	return true
}

// strictProblem words a strictjson refusal for the client.
func strictProblem(err error) string {
	var dup *strictjson.DuplicateKeyError
	var te *strictjson.TextError
	switch {
	case errors.As(err, &dup) && dup.Path == "":
		return fmt.Sprintf("Duplicate key %q: each field may appear only once.", dup.Key)
	case errors.As(err, &dup):
		return fmt.Sprintf("Duplicate key %q in %q: each field may appear only once.", dup.Key, dup.Path)
	case errors.As(err, &te) && te.Path == "":
		return "The body " + te.Problem + "."
	case errors.As(err, &te):
		return fmt.Sprintf("Field %q %s.", te.Path, te.Problem)
	}
	return "The body is not valid: " + err.Error() + "."
}

// jsonProblem turns a decoding error into a message naming the field.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return "The body must be a JSON object."
		}
		return fmt.Sprintf("Field %q must be a %s, not a %s.", field, jsonType(te.Type.Kind().String()), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("The body is not valid JSON (at byte %d).", se.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "The body is not valid JSON (it ends early)."
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return "Unknown field " + f + "."
	}
	return "The body is not valid: " + msg
}

func jsonType(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice", "array":
		return "array"
	}
	return "number"
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (h *Handler) respond(w http.ResponseWriter, status int, act *license.Activation, withCredential bool) {
	validUntil := act.Claims.ValidUntil
	margin := min(validUntil.Sub(act.Claims.IssuedAt)/7, 24*time.Hour)
	resp := activationResponse{ActivationID: act.ActivationID, Status: "active", Certificate: act.Certificate,
		ValidUntil: validUntil.UTC().Format(time.RFC3339), CheckAfter: validUntil.Add(-margin).UTC().Format(time.RFC3339),
		License: licenseJSON{Edition: act.Claims.Edition, Model: act.Claims.Model, Trial: act.Claims.Trial, Features: act.Claims.Features}}
	if withCredential {
		resp.Credential = act.Credential
		re := act.Reactivated
		resp.Reactivated = &re
	}
	writeJSON(w, status, resp)
}

func (h *Handler) activate(w http.ResponseWriter, r *http.Request) {
	lim := h.cfg.ActivationLimit
	limitKey := "client_activate_failures:" + h.cfg.ClientIP(r)
	if lim.Max > 0 {
		d, err := ratelimit.Peek(r.Context(), h.svc.DB, limitKey, lim, time.Now())
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if !d.Allowed {
			w.Header().Set("Retry-After", strconv.Itoa(int(d.RetryAfter.Seconds()+0.999)))
			writeError(w, http.StatusTooManyRequests, "rate_limited", "Too many failed activation attempts from this address; try again later.")
			return
		}
	}
	var req activateRequest
	if !decode(w, r, &req, false) {
		return
	}
	if req.Device == nil {
		writeError(w, http.StatusBadRequest, "invalid_request", `Field "device" is required.`)
		return
	}
	act, err := h.svc.Activate(r.Context(), license.ActivateInput{Key: req.Key, Code: req.Code, IP: h.cfg.ClientIP(r),
		Device: license.Device{HardwareUUID: req.Device.HardwareUUID, Serial: req.Device.Serial, ComputerName: req.Device.ComputerName,
			MacOSUser: req.Device.MacOSUser, AppVersion: req.Device.AppVersion}})
	if err != nil {
		var de *license.DeviceError
		if lim.Max > 0 && errors.As(err, &de) && countedFailures[de.Code] {
			if _, herr := ratelimit.Hit(r.Context(), h.svc.DB, limitKey, lim, time.Now()); herr != nil {
				h.cfg.Log.Error("client api: count failed activation", "err", herr)
			}
		}
		h.fail(w, r, err)
		return
	}
	status := http.StatusCreated
	if act.Reactivated {
		status = http.StatusOK
	}
	h.respond(w, status, act, true)
}

func (h *Handler) check(w http.ResponseWriter, r *http.Request) {
	var req checkRequest
	if !decode(w, r, &req, true) {
		return
	}
	act, err := h.svc.Check(r.Context(), bearer(r), license.CheckInput{AppVersion: req.AppVersion})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.respond(w, http.StatusOK, act, false)
}

func (h *Handler) deactivate(w http.ResponseWriter, r *http.Request) {
	var req deactivateRequest
	if !decode(w, r, &req, true) {
		return
	}
	if err := h.svc.DeactivateDevice(r.Context(), bearer(r)); err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "deactivated"})
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	w.Header().Set("Cache-Control", "public, max-age=300")
	_, _ = w.Write(openAPIDoc)
}

// publicKeyJSON is the published activation key.
type publicKeyJSON struct {
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	PublicKey string `json:"public_key"` // raw 32 bytes, standard base64
	PEM       string `json:"pem"`
}

func (h *Handler) publicKey(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("format") == "pem" || preferPEM(r.Header.Get("Accept")) {
		h.publicKeyPEM(w, r)
		return
	}
	pk, err := h.svc.ActivationPublicKey(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, publicKeyJSON{KeyID: pk.KeyID, Algorithm: pk.Algorithm, PublicKey: pk.Base64(), PEM: pk.PEM()})
}

func preferPEM(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, _ := mime.ParseMediaType(strings.TrimSpace(part))
		switch mt {
		case "application/x-pem-file", "application/pem-certificate-chain":
			return true
		case "application/json":
			return false
		}
	}
	return false
}

func (h *Handler) publicKeyPEM(w http.ResponseWriter, r *http.Request) {
	pk, err := h.svc.ActivationPublicKey(r.Context())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	_, _ = io.WriteString(w, pk.PEM())
}
