package license

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"

	"gatehouse/internal/ids"
)

// License keys look like XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX: 30 characters
// from A–Z0–9 in five groups of six. The first 28 characters are random
// (28 × log2(36) ≈ 144.8 bits); the last two carry a check value.
//
// The check: give every character its value v (0–9 → 0–9, A–Z → 10–35) and
// position i (1-based). The weights are w_i = i for the 28 random positions,
// w_29 = 36 and w_30 = 1, and a key is valid when Σ w_i·v_i ≡ 0 (mod 1291).
// The two check characters together form the base-36 number 36·v_29 + v_30,
// which spans 0…1295 and so can always be chosen to make the sum vanish.
//
// Why this catches every single mistyped character and every swap of two
// neighbours: 1291 is prime and larger than every |w_i·Δ| that one change
// can cause (Δ = difference of two character values, |Δ| ≤ 35, w_i ≤ 36, so
// |w_i·Δ| ≤ 1260). A substitution changes the sum by w_i·Δ ≠ 0 (mod 1291); a
// swap of neighbours i, i+1 changes it by (w_i − w_{i+1})·Δ, where the weight
// difference is 1, 7 (positions 28/29) or 35 (29/30) — never 0 — and again
// the product stays below 1291. Random garbage passes with probability
// 1/1291, which is why lookups still verify the key's hash.
const (
	keyChars     = 30
	keyRandom    = 28
	keyGroup     = 6
	keyAlphabet  = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	checkModulus = 1291
)

// ErrMalformedKey is what Normalize returns for input that cannot be a
// license key. Its message is meant for people.
var ErrMalformedKey = errors.New("this is not a valid key: check it for typos (it looks like XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX)")

func charValue(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'Z':
		return int(c-'A') + 10
	}
	return -1
}

func weight(i int) int { // i is 0-based
	switch i {
	case keyRandom:
		return 36
	case keyRandom + 1:
		return 1
	}
	return i + 1
}

// checkSum returns Σ w_i·v_i mod 1291 over the first n characters of raw
// (30 undashed upper-case characters).
func checkSum(raw []byte, n int) int {
	s := 0
	for i := 0; i < n; i++ {
		s += weight(i) * charValue(raw[i])
	}
	return s % checkModulus
}

// GenerateKey returns a new random license key in display form.
func GenerateKey() string {
	raw := make([]byte, keyChars)
	max := big.NewInt(int64(len(keyAlphabet)))
	for i := 0; i < keyRandom; i++ {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err) // crypto/rand does not fail on supported platforms
		}
		raw[i] = keyAlphabet[n.Int64()]
	}
	need := (checkModulus - checkSum(raw, keyRandom)) % checkModulus // 36·v29 + v30 ≡ need
	raw[keyRandom] = keyAlphabet[need/36]
	raw[keyRandom+1] = keyAlphabet[need%36]
	return format(raw)
}

// NormalizeKey turns what a person typed or pasted into the canonical key
// (upper case, dashed), or returns ErrMalformedKey. Case, spaces and missing
// or misplaced dashes are forgiven; anything else is not. The check digits
// are verified, so a typo is caught here, before any lookup.
func NormalizeKey(input string) (string, error) {
	if len(input) > 200 {
		return "", ErrMalformedKey
	}
	raw := make([]byte, 0, keyChars)
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			return "", ErrMalformedKey
		}
		if len(raw) == keyChars {
			return "", ErrMalformedKey
		}
		raw = append(raw, c)
	}
	if len(raw) != keyChars || checkSum(raw, keyChars) != 0 {
		return "", ErrMalformedKey
	}
	return format(raw), nil
}

// ValidKey reports whether s is a well-formed key (in any accepted spelling).
func ValidKey(s string) bool {
	_, err := NormalizeKey(s)
	return err == nil
}

func format(raw []byte) string {
	var b strings.Builder
	b.Grow(keyChars + keyChars/keyGroup - 1)
	for i := 0; i < len(raw); i++ {
		if i > 0 && i%keyGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(raw[i])
	}
	return b.String()
}

// keyHash is the lookup hash of a normalized key. Keys carry ~145 random
// bits, so an unsalted SHA-256 cannot be reversed by guessing.
func keyHash(normalized string) string { return ids.Hash("license-key:" + normalized) }

// keyLast returns the last group of a normalized key: the part shown to
// people who may not see the whole key.
func keyLast(normalized string) string { return normalized[len(normalized)-keyGroup:] }

// MaskKey renders a key for people who may not see it: only its last group.
func MaskKey(last string) string {
	return "••••••-••••••-••••••-••••••-" + last
}
