// Package agent is the reference Desktop client: an HTTP client of the
// client API (/api/client/v1) that speaks the protocol exactly as Desktop
// would, an on-disk state (credential, certificate, simulated host
// identity), offline certificate verification against the published key,
// and the load generator built on them. It deliberately does not import the
// server's packages: it knows only the protocol.
package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"gatehouse/internal/freetext"
	"io"
	"net/http"
	"strings"
	"time"
)

// Client talks to one Gatehouse server.
type Client struct {
	// BaseURL is the server's public URL, e.g. https://gatehouse.example.com.
	BaseURL string
	HTTP    *http.Client
	// UserAgent identifies the client; default "gatehouse-agent".
	UserAgent string
}

// NewClient returns a client of baseURL with a sensible HTTP client.
func NewClient(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}}
}

// APIError is a refusal from the server: Code is the machine-readable reason
// (no_free_seat, expired, deactivated, …).
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// ErrorCode returns the reason code of err if it is an *APIError, else "".
func ErrorCode(err error) string {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return ""
}

// Device is the identity the client reports.
type Device struct {
	HardwareUUID string `json:"hardware_uuid"`
	Serial       string `json:"serial,omitempty"`
	ComputerName string `json:"computer_name"`
	MacOSUser    string `json:"macos_user,omitempty"`
	AppVersion   string `json:"app_version"`
}

// Certificate is a signed activation certificate as the server sends it.
type Certificate struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

// License summarizes what the certificate grants.
type License struct {
	Edition  string   `json:"edition"`
	Model    string   `json:"model"`
	Trial    bool     `json:"trial"`
	Features []string `json:"features"`
}

// Activation is the answer to activate and check.
type Activation struct {
	ActivationID string      `json:"activation_id"`
	Credential   string      `json:"credential,omitempty"`
	Status       string      `json:"status"`
	Reactivated  bool        `json:"reactivated,omitempty"`
	Certificate  Certificate `json:"certificate"`
	ValidUntil   time.Time   `json:"valid_until"`
	CheckAfter   time.Time   `json:"check_after"`
	License      License     `json:"license"`
}

type activateRequest struct {
	Key    string `json:"key,omitempty"`
	Code   string `json:"code,omitempty"`
	Device Device `json:"device"`
}

// Activate activates the device with a license key or an invitation code
// (give exactly one).
func (c *Client) Activate(ctx context.Context, key, code string, dev Device) (*Activation, error) {
	var out Activation
	if err := c.do(ctx, "POST", "/api/client/v1/activate", "", activateRequest{Key: key, Code: code, Device: dev}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

type checkRequest struct {
	AppVersion string `json:"app_version,omitempty"`
}

// Check re-checks the license and returns a fresh certificate.
func (c *Client) Check(ctx context.Context, credential, appVersion string) (*Activation, error) {
	var out Activation
	if err := c.do(ctx, "POST", "/api/client/v1/check", credential, checkRequest{AppVersion: appVersion}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Deactivate gives the device's seat back.
func (c *Client) Deactivate(ctx context.Context, credential string) error {
	var out struct {
		Status string `json:"status"`
	}
	return c.do(ctx, "POST", "/api/client/v1/deactivate", credential, struct{}{}, &out)
}

// PublicKeyInfo is the published activation-certificate key.
type PublicKeyInfo struct {
	KeyID     string `json:"kid"`
	Algorithm string `json:"alg"`
	PublicKey string `json:"public_key"`
	PEM       string `json:"pem"`
}

// FetchPublicKey downloads the key certificates are verified with.
func (c *Client) FetchPublicKey(ctx context.Context) (*PublicKeyInfo, error) {
	var out PublicKeyInfo
	if err := c.do(ctx, "GET", "/.well-known/gatehouse/activation-key", "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func (c *Client) do(ctx context.Context, method, path, credential string, body, out any) error {
	var rdr io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rdr = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(c.BaseURL, "/")+path, rdr)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = "gatehouse-agent"
	}
	req.Header.Set("User-Agent", ua)
	if credential != "" {
		req.Header.Set("Authorization", "Bearer "+credential)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read response: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error.Code != "" {
			return &APIError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
		}
		return &APIError{Status: resp.StatusCode, Code: "http_error", Message: strings.TrimSpace(freetext.Shorten(string(data), 200))}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: malformed response: %w", method, path, err)
	}
	return nil
}
