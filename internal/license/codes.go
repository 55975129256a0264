package license

import (
	"crypto/rand"
	"errors"
	"math/big"
	"strings"

	"gatehouse/internal/ids"
)

// Invitation codes are single-use activation codes: XXXXX-XXXXX-XXXXX-XXXXX,
// 20 characters from a 32-letter alphabet without the look-alikes 0/O and
// 1/I (100 random bits). They are shorter than license keys and cannot be
// mistaken for one (a key has five groups of six).
const (
	codeChars    = 20
	codeGroup    = 5
	codeAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
)

// ErrMalformedCode is returned for input that cannot be an invitation code.
var ErrMalformedCode = errors.New("this is not a valid activation code: check it for typos (it looks like XXXXX-XXXXX-XXXXX-XXXXX)")

// GenerateCode returns a new random invitation code in display form.
func GenerateCode() string {
	raw := make([]byte, codeChars)
	max := big.NewInt(int64(len(codeAlphabet)))
	for i := range raw {
		n, err := rand.Int(rand.Reader, max)
		if err != nil {
			panic(err)
		}
		raw[i] = codeAlphabet[n.Int64()]
	}
	return formatCode(raw)
}

// NormalizeCode returns the canonical form of a typed code, forgiving case,
// spaces and dashes. 0, 1, I and O never occur in a code; input holding them
// is reported as malformed rather than guessed at.
func NormalizeCode(input string) (string, error) {
	if len(input) > 100 {
		return "", ErrMalformedCode
	}
	raw := make([]byte, 0, codeChars)
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(codeAlphabet, c) < 0 || len(raw) == codeChars {
			return "", ErrMalformedCode
		}
		raw = append(raw, c)
	}
	if len(raw) != codeChars {
		return "", ErrMalformedCode
	}
	return formatCode(raw), nil
}

func formatCode(raw []byte) string {
	var b strings.Builder
	for i, c := range raw {
		if i > 0 && i%codeGroup == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(c)
	}
	return b.String()
}

func codeHash(normalized string) string { return ids.Hash("invitation-code:" + normalized) }
