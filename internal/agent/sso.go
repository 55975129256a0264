package agent

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"time"
)

// SSO activation as Desktop does it (spec 04): the client keeps a random
// code verifier, sends its S256 challenge with the work email and the
// device, opens the returned URL in the person's browser, and redeems the
// attempt with the verifier until the person has signed in.

// NewVerifier returns a fresh RFC 7636 code verifier (43 characters).
func NewVerifier() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Challenge returns the S256 code challenge of verifier.
func Challenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// SSOStart is the server's answer to starting an SSO activation.
type SSOStart struct {
	AttemptID    string    `json:"attempt_id"`
	BrowserURL   string    `json:"browser_url"`
	ExpiresAt    time.Time `json:"expires_at"`
	PollInterval int       `json:"poll_interval"`
}

// SSOActivation is a completed SSO activation: an Activation plus how it
// was made, the key the person's seat comes from and the person.
type SSOActivation struct {
	Activation
	Method  string `json:"method"`
	KeyName string `json:"key_name"`
	User    string `json:"user"`
}

type ssoStartRequest struct {
	Email               string `json:"email"`
	Device              Device `json:"device"`
	CodeChallenge       string `json:"code_challenge"`
	CodeChallengeMethod string `json:"code_challenge_method"`
}

// StartSSO starts an SSO activation for email on dev with the challenge of
// a verifier the caller keeps.
func (c *Client) StartSSO(ctx context.Context, email string, dev Device, challenge string) (*SSOStart, error) {
	var out SSOStart
	err := c.do(ctx, "POST", "/api/client/v1/sso/start", "", ssoStartRequest{Email: email, Device: dev,
		CodeChallenge: challenge, CodeChallengeMethod: "S256"}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// ErrPending is RedeemSSO's answer while the person has not signed in yet.
var ErrPending = errors.New("the person has not finished signing in yet")

// RedeemSSO asks once for the result of an SSO activation: ErrPending while
// the person is signing in, the activation, or the refusal (*APIError with
// the reason).
func (c *Client) RedeemSSO(ctx context.Context, attemptID, verifier string) (*SSOActivation, error) {
	var out struct {
		SSOActivation
		Status string `json:"status"`
	}
	err := c.do(ctx, "POST", "/api/client/v1/sso/redeem", "", map[string]string{"attempt_id": attemptID, "code_verifier": verifier}, &out)
	if err != nil {
		return nil, err
	}
	if out.Status == "pending" {
		return nil, ErrPending
	}
	out.SSOActivation.Status = out.Status
	return &out.SSOActivation, nil
}

// ActivateSSO runs a whole SSO activation: it starts the attempt, hands the
// browser URL to open (which shows it to the person, or drives a browser),
// and redeems until the person has signed in, the server refuses, or ctx
// ends. open runs in its own goroutine so that a blocking browser driver
// does not stop the polling.
func (c *Client) ActivateSSO(ctx context.Context, email string, dev Device, open func(browserURL string) error) (*SSOActivation, error) {
	verifier := NewVerifier()
	st, err := c.StartSSO(ctx, email, dev, Challenge(verifier))
	if err != nil {
		return nil, err
	}
	opened := make(chan error, 1)
	go func() { opened <- open(st.BrowserURL) }()
	interval := time.Duration(max(st.PollInterval, 1)) * time.Second
	for {
		act, err := c.RedeemSSO(ctx, st.AttemptID, verifier)
		if !errors.Is(err, ErrPending) {
			return act, err
		}
		select {
		case err := <-opened:
			if err != nil {
				return nil, fmt.Errorf("open the sign-in page: %w", err)
			}
			opened = nil // keep polling; the person may still be signing in
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the sign-in at %s: %w", st.BrowserURL, ctx.Err())
		case <-time.After(interval):
		}
	}
}
