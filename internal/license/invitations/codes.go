package invitations

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"unicode/utf8"

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

// ErrMalformedCode is what NormalizeCode's errors are (errors.Is) for
// input that cannot be an invitation code; each error's message says what
// is wrong.
var ErrMalformedCode = errors.New("malformed activation code")

// CodeError is a malformed activation code with a message for people.
type CodeError struct{ msg string }

func (e *CodeError) Error() string        { return e.msg }
func (e *CodeError) Is(target error) bool { return target == ErrMalformedCode }

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
	const shape = "four groups of five, like XXXXX-XXXXX-XXXXX-XXXXX"
	if len(input) > 100 {
		return "", &CodeError{"This is far longer than an activation code, which has 20 letters and digits (" + shape + "). Paste only the code."}
	}
	raw := make([]byte, 0, codeChars)
	n := 0
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\r' || c == '\n':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		if strings.IndexByte(codeAlphabet, c) < 0 {
			if strings.IndexByte("01IO", c) >= 0 {
				return "", &CodeError{fmt.Sprintf("Activation codes never contain 0, 1, I or O, but this has “%c”. Check the code in the invitation email (it may be a license key instead).", c)}
			}
			r, _ := utf8.DecodeRuneInString(input[i:])
			return "", &CodeError{fmt.Sprintf("An activation code has only letters and digits, but this has “%s”. Copy the code again.", string(r))}
		}
		n++
		if len(raw) < codeChars {
			raw = append(raw, c)
		}
	}
	if n != codeChars {
		return "", &CodeError{fmt.Sprintf("This has %d letters and digits, but an activation code has 20 (%s).", n, shape)}
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

// Hash is how a code is stored and looked up (never the code itself).
func Hash(normalized string) string { return ids.Hash("invitation-code:" + normalized) }
