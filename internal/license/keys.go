package license

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

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

// ErrMalformedKey is what NormalizeKey's errors are (errors.Is) for input
// that cannot be a license key. Each error's own message says what is
// wrong, for people.
var ErrMalformedKey = errors.New("malformed license key")

// KeyError is a malformed license key, with a message that says what is
// wrong: a character that cannot occur, the wrong length, or — found by the
// check characters — which character is mistyped.
type KeyError struct{ msg string }

func (e *KeyError) Error() string        { return e.msg }
func (e *KeyError) Is(target error) bool { return target == ErrMalformedKey }

func keyErr(format string, args ...any) error { return &KeyError{msg: fmt.Sprintf(format, args...)} }

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
	const shape = "five groups of six, like XXXXXX-XXXXXX-XXXXXX-XXXXXX-XXXXXX"
	if len(input) > 200 {
		return "", keyErr("This is far longer than a license key, which has 30 letters and digits (%s). Paste only the key.", shape)
	}
	raw := make([]byte, 0, keyChars)
	n := 0 // letters and digits seen
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			r, _ := utf8.DecodeRuneInString(input[i:])
			return "", keyErr("A license key has only the letters A–Z and the digits 0–9, but this has “%s”. Copy the key again.", string(r))
		}
		n++
		if len(raw) < keyChars {
			raw = append(raw, c)
		}
	}
	switch {
	case n > keyChars:
		return "", keyErr("This has %d letters and digits, but a license key has 30 (%s). Paste only the key.", n, shape)
	case n < keyChars:
		return "", keyErr("This has %d letters and digits, but a license key has 30 (%s). Part of the key is missing.", n, shape)
	case checkSum(raw, keyChars) != 0:
		return "", keyErr("This key has a typo: its last two characters, which check the others, do not match. %s", typoHint(raw))
	}
	return format(raw), nil
}

// typoHint uses the check characters to say where the typo is. The check
// catches every single wrong character and every swap of neighbours (see
// above), so the wrong sum points at the positions where one such mistake
// explains it. Often that is one position; sometimes a few fit.
func typoHint(raw []byte) string {
	r := checkSum(raw, keyChars)
	var hints []string
	for i := 0; i < keyChars; i++ {
		// A wrong character at i changed the sum by w_i·Δ ≡ r, so
		// Δ ≡ r·w_i⁻¹ (mod 1291); it fits when the character it replaced
		// was a letter or digit.
		d := r * modInverse(weight(i)) % checkModulus
		if d > checkModulus/2 {
			d -= checkModulus
		}
		if orig := charValue(raw[i]) - d; d != 0 && orig >= 0 && orig < len(keyAlphabet) {
			hints = append(hints, fmt.Sprintf("the %s (“%c”)", keyPlace(i), raw[i]))
		}
	}
	for i := 0; i+1 < keyChars; i++ {
		// Neighbours i and i+1 swapped changed the sum by (w_i − w_i+1)·(t_i − t_i+1).
		diff := charValue(raw[i]) - charValue(raw[i+1])
		if diff != 0 && ((weight(i)-weight(i+1))*diff%checkModulus+checkModulus)%checkModulus == r {
			hints = append(hints, fmt.Sprintf("the %s and %s (“%c%c”), which may be swapped", keyPlace(i), keyPlace(i+1), raw[i], raw[i+1]))
		}
	}
	switch {
	case len(hints) == 1:
		return "Check " + hints[0] + "."
	case len(hints) > 1 && len(hints) <= 3:
		return "Check " + strings.Join(hints[:len(hints)-1], ", ") + " or " + hints[len(hints)-1] + "."
	}
	return "Compare it character by character with the original."
}

// keyPlace names position i (0-based) for people: "3rd character of group 2".
func keyPlace(i int) string {
	pos := i%keyGroup + 1
	suffix := map[int]string{1: "st", 2: "nd", 3: "rd"}[pos]
	if suffix == "" {
		suffix = "th"
	}
	return fmt.Sprintf("%d%s character of group %d", pos, suffix, i/keyGroup+1)
}

// modInverse returns a⁻¹ mod 1291 (prime, so a^(p−2)).
func modInverse(a int) int {
	result, base, e := 1, a%checkModulus, checkModulus-2
	for e > 0 {
		if e&1 == 1 {
			result = result * base % checkModulus
		}
		base = base * base % checkModulus
		e >>= 1
	}
	return result
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
