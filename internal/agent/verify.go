package agent

import (
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Claims is the decoded payload of an activation certificate.
type Claims struct {
	Version      int    `json:"v"`
	Type         string `json:"typ"`
	ActivationID string `json:"activation_id"`
	Device       struct {
		HardwareUUID string `json:"hardware_uuid"`
		Serial       string `json:"serial"`
		ComputerName string `json:"computer_name"`
	} `json:"device"`
	KeyID          string    `json:"key_id"`
	SubscriptionID string    `json:"subscription_id"`
	AccountID      string    `json:"account_id"`
	Edition        string    `json:"edition"`
	Model          string    `json:"model"`
	Trial          bool      `json:"trial"`
	Features       []string  `json:"features"`
	IssuedAt       time.Time `json:"issued_at"`
	ValidUntil     time.Time `json:"valid_until"`
	Method         string    `json:"method"`   // key, invitation or sso
	KeyName        string    `json:"key_name"` // per-user (SSO) activations
	User           string    `json:"user"`     // per-user (SSO) activations
}

// Verification errors.
var (
	ErrBadSignature = errors.New("certificate signature does not verify")
	ErrExpired      = errors.New("certificate is past its valid_until")
	ErrWrongDevice  = errors.New("certificate names another computer")
)

// ParsePublicKey reads the published key: a PEM "PUBLIC KEY" block or the
// raw 32 bytes in base64.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode([]byte(s)); block != nil {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pk, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("public key: not an Ed25519 key")
		}
		return pk, nil
	}
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(raw) != ed25519.PublicKeySize {
		return nil, errors.New("public key: neither PEM nor 32 bytes of base64")
	}
	return ed25519.PublicKey(raw), nil
}

// Verify checks a certificate offline: the Ed25519 signature over the
// payload with pub, the type, that it names hardwareUUID (if given), and
// that now is before valid_until. It returns the claims even when only the
// time check fails (with ErrExpired), so callers can show them.
func Verify(cert Certificate, pub ed25519.PublicKey, hardwareUUID string, now time.Time) (*Claims, error) {
	if cert.Algorithm != "Ed25519" {
		return nil, fmt.Errorf("certificate algorithm %q is not Ed25519", cert.Algorithm)
	}
	sig, err := base64.RawURLEncoding.DecodeString(cert.Signature)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, ErrBadSignature
	}
	if !ed25519.Verify(pub, []byte(cert.Payload), sig) {
		return nil, ErrBadSignature
	}
	body, err := base64.RawURLEncoding.DecodeString(cert.Payload)
	if err != nil {
		return nil, fmt.Errorf("certificate payload: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(body, &c); err != nil {
		return nil, fmt.Errorf("certificate payload: %w", err)
	}
	if c.Version != 1 || c.Type != "gatehouse.activation" {
		return nil, fmt.Errorf("not an activation certificate (typ %q, v %d)", c.Type, c.Version)
	}
	if hardwareUUID != "" && c.Device.HardwareUUID != hardwareUUID {
		return &c, ErrWrongDevice
	}
	if !now.Before(c.ValidUntil) {
		return &c, ErrExpired
	}
	return &c, nil
}
