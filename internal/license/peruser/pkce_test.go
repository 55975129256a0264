package peruser

import (
	"strings"
	"testing"
)

func TestPKCE(t *testing.T) {
	// RFC 7636 appendix B.
	const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	const challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	if got := ChallengeOf(verifier); got != challenge {
		t.Errorf("ChallengeOf = %q, want %q", got, challenge)
	}
	if !ValidChallenge(challenge) || !ValidVerifier(verifier) || !VerifierMatches(verifier, challenge) {
		t.Error("the RFC example was refused")
	}
	if VerifierMatches(verifier+"x", challenge) {
		t.Error("a different verifier matched")
	}
	for _, c := range []string{"", challenge + "=", challenge[:42], strings.Repeat("!", 43)} {
		if ValidChallenge(c) {
			t.Errorf("ValidChallenge(%q) = true", c)
		}
	}
	for _, v := range []string{"", verifier[:42], strings.Repeat("a", 129), verifier[:42] + " "} {
		if ValidVerifier(v) {
			t.Errorf("ValidVerifier(%q) = true", v)
		}
	}
	if !ValidVerifier(strings.Repeat("a-._~Z9", 19)[:128]) {
		t.Error("a 128-character verifier of allowed characters was refused")
	}
}
