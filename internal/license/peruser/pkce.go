package peruser

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// The installation proves at redemption that it started the attempt with
// PKCE (RFC 7636, method S256): it sends a challenge when it starts and the
// verifier when it redeems.

// ValidChallenge reports whether c is base64url without padding of a
// SHA-256 digest.
func ValidChallenge(c string) bool {
	if len(c) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	return err == nil && len(b) == sha256.Size
}

// ValidVerifier follows RFC 7636: 43 to 128 characters of [A-Za-z0-9-._~].
func ValidVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	return true
}

// ChallengeOf returns the S256 challenge of a verifier.
func ChallengeOf(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// VerifierMatches reports, in constant time, whether verifier is the one
// challenge was made from.
func VerifierMatches(verifier, challenge string) bool {
	return subtle.ConstantTimeCompare([]byte(ChallengeOf(verifier)), []byte(challenge)) == 1
}
