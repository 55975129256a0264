package license

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"time"
)

// CertificateType is the "typ" of an activation certificate's claims; a
// verifier must check it so that no other signed document of ours can pass
// for one.
const CertificateType = "gatehouse.activation"

// CertificateClaims is what an activation certificate asserts. Times are
// UTC, whole seconds.
type CertificateClaims struct {
	Version        int        `json:"v"`
	Type           string     `json:"typ"`
	ActivationID   string     `json:"activation_id"`
	Device         CertDevice `json:"device"`
	KeyID          string     `json:"key_id"`
	SubscriptionID string     `json:"subscription_id"`
	AccountID      string     `json:"account_id"`
	Edition        string     `json:"edition"`
	Model          string     `json:"model"`
	Trial          bool       `json:"trial"`
	Features       []string   `json:"features"`
	IssuedAt       time.Time  `json:"issued_at"`
	ValidUntil     time.Time  `json:"valid_until"`
	// Method is how the computer was activated: key, invitation or sso.
	// Per-user (SSO) activations also name the key the person's seat comes
	// from and the person (peruser.go); those two are empty otherwise.
	Method  string `json:"method,omitempty"`
	KeyName string `json:"key_name,omitempty"`
	User    string `json:"user,omitempty"`
}

// CertDevice names the device a certificate was issued to.
type CertDevice struct {
	HardwareUUID string `json:"hardware_uuid"`
	Serial       string `json:"serial"`
	ComputerName string `json:"computer_name"`
}

// Certificate is a signed activation certificate as it travels: Payload is
// the base64url (unpadded) JSON of the claims, Signature the base64url
// Ed25519 signature over the ASCII bytes of Payload (as in JWS), KeyID names
// the signing key published at /.well-known/gatehouse/activation-key.
type Certificate struct {
	Algorithm string `json:"alg"`
	KeyID     string `json:"kid"`
	Payload   string `json:"payload"`
	Signature string `json:"signature"`
}

func (sec *secrets) sign(c CertificateClaims) Certificate {
	c.Version = 1
	c.Type = CertificateType
	c.IssuedAt = c.IssuedAt.UTC().Truncate(time.Second)
	c.ValidUntil = c.ValidUntil.UTC().Truncate(time.Second)
	if c.Features == nil {
		c.Features = []string{}
	}
	body, err := json.Marshal(c)
	if err != nil {
		panic(err) // plain struct: cannot fail
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	sig := ed25519.Sign(sec.signKey, []byte(payload))
	return Certificate{Algorithm: "Ed25519", KeyID: sec.keyID, Payload: payload,
		Signature: base64.RawURLEncoding.EncodeToString(sig)}
}

// Features lists what an edition unlocks, as named in certificates.
func Features(edition string) []string {
	switch edition {
	case EditionEnterprise:
		return []string{"business", "sso", "deployment", "management_portal", "golden_images", "policies", "configuration_profiles"}
	default:
		return []string{"business", "sso", "deployment"}
	}
}
