package account

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Limits of RFC 5321 (§4.5.3.1): a local part of at most 64 octets, a
// domain of at most 255, and a path of at most 256 octets including the
// angle brackets, so an address of at most 254.
const (
	maxLocalOctets   = 64
	maxDomainOctets  = 255
	maxAddressOctets = 254
)

// domainProfile maps a domain the way browsers and mail systems do for a
// lookup (UTS #46, non-transitional: ß stays ß) and checks the labels and
// the lengths. Its ASCII output is the only form domains are stored and
// compared in.
var domainProfile = idna.New(idna.MapForLookup(), idna.BidiRule(), idna.ValidateLabels(true),
	idna.StrictDomainName(true), idna.VerifyDNSLength(true), idna.Transitional(false))

// AddressError is why CanonicalEmail refused an address. Message is a
// sentence for people; Reason is a stable machine word for logs and SSO
// refusal details.
type AddressError struct {
	Reason  string
	Message string
}

func (e *AddressError) Error() string { return e.Message }

func addrErr(reason, msg string) error { return &AddressError{Reason: reason, Message: msg} }

// IsAddressError reports whether err is a refusal of CanonicalEmail.
func IsAddressError(err error) bool {
	var ae *AddressError
	return errors.As(err, &ae)
}

// CanonicalEmail is the one function that turns an address into the
// identifier Gatehouse compares, stores under unique indexes and looks
// people up by (DESIGN.md "Identity and trust rules", docs/decisions.md
// "One canonical address").
//
// It accepts only a bare local@domain exactly as given: no display name, no
// comment, no angle brackets, no quoted local part, no whitespace, control
// or format characters, no surrounding spaces (callers that take typed form
// input trim ASCII spaces first; values from an IdP are never trimmed). The
// domain is mapped with IDNA (UTS #46) to its ASCII form, lower case. The
// local part is lower-cased in ASCII only; a non-ASCII local part is kept as
// sent and must already be in Unicode normalization form C (NFC would turn
// the Kelvin sign K into an ASCII K that then case-folds into someone
// else's address). Unicode case folding is never applied: İ, ı, ſ and K are
// not i, s and k.
//
// Two inputs have the same result only when they differ in the ASCII case
// of their local part or in equivalent IDNA spellings of their domain.
func CanonicalEmail(raw string) (string, error) {
	local, domain, err := splitAddress(raw)
	if err != nil {
		return "", err
	}
	if err := checkLocal(local); err != nil {
		return "", err
	}
	d, err := CanonicalDomain(domain)
	if err != nil {
		return "", err
	}
	if isASCII(local) {
		local = asciiLower(local)
	}
	out := local + "@" + d
	if len(out) > maxAddressOctets {
		return "", addrErr("too_long", "This email address is too long (at most 254 characters).")
	}
	return out, nil
}

// CanonicalDomain maps the domain of an address (or a bare domain) to the
// lower-case ASCII form CanonicalEmail uses. It refuses what a mail domain
// cannot be: empty labels, a trailing dot, a single label, an address
// literal, characters IDNA does not allow.
func CanonicalDomain(domain string) (string, error) {
	switch {
	case domain == "":
		return "", addrErr("no_domain", "The email address has nothing after the @.")
	case len(domain) > maxDomainOctets*4:
		return "", addrErr("too_long", "The domain of this email address is too long.")
	case !utf8.ValidString(domain):
		return "", addrErr("invalid_utf8", "The email address is not valid text (invalid UTF-8).")
	case strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, "."):
		return "", addrErr("domain_dot", "The domain of this email address starts or ends with a dot.")
	case strings.HasPrefix(domain, "["):
		return "", addrErr("domain_literal", "Use a domain name after the @, not an address literal.")
	}
	for _, r := range domain {
		if forbiddenRune(r) {
			return "", addrErr("control_character", "The domain of this email address contains a space, control or invisible character.")
		}
	}
	ascii, err := domainProfile.ToASCII(domain)
	if err == nil {
		// The ASCII form must map to itself: it is what is stored.
		var again string
		if again, err = domainProfile.ToASCII(ascii); err == nil && again != ascii {
			err = errors.New("unstable mapping")
		}
	}
	if err != nil || ascii == "" {
		return "", addrErr("invalid_domain", "The domain of this email address is not a valid domain name.")
	}
	ascii = asciiLower(ascii)
	if !strings.Contains(ascii, ".") {
		return "", addrErr("incomplete_domain", "The domain of this email address is incomplete: it needs a dot, like example.com.")
	}
	for _, label := range strings.Split(ascii, ".") {
		if label == "" {
			return "", addrErr("invalid_domain", "The domain of this email address has an empty part between dots.")
		}
	}
	return ascii, nil
}

// splitAddress checks the outer shape: valid UTF-8, exactly one @, nothing
// that belongs to the display-name, comment or quoted forms of RFC 5322.
func splitAddress(raw string) (local, domain string, err error) {
	switch {
	case raw == "":
		return "", "", addrErr("empty", "Enter an email address.")
	case len(raw) > 4*maxAddressOctets:
		return "", "", addrErr("too_long", "This email address is too long (at most 254 characters).")
	case !utf8.ValidString(raw):
		return "", "", addrErr("invalid_utf8", "The email address is not valid text (invalid UTF-8).")
	case strings.ContainsAny(raw, "<>"):
		return "", "", addrErr("display_name", "Enter the bare address (name@example.com), without a name or angle brackets.")
	case strings.ContainsAny(raw, "()"):
		return "", "", addrErr("comment", "Enter the bare address (name@example.com), without comments in parentheses.")
	case strings.ContainsRune(raw, '"'):
		return "", "", addrErr("quoted", "Quoted email addresses are not accepted; enter the address without quotation marks.")
	}
	for _, r := range raw {
		if forbiddenRune(r) {
			return "", "", addrErr("control_character", "The email address contains a space, control or invisible character.")
		}
	}
	at := strings.IndexByte(raw, '@')
	switch {
	case at < 0:
		return "", "", addrErr("no_at", "An email address needs an @ between the name and the domain.")
	case strings.IndexByte(raw[at+1:], '@') >= 0:
		return "", "", addrErr("several_at", "An email address has exactly one @.")
	case at == 0:
		return "", "", addrErr("no_local", "The email address has nothing before the @.")
	}
	return raw[:at], raw[at+1:], nil
}

// checkLocal holds the local part to RFC 5322's dot-atom, with UTF-8
// beyond ASCII as RFC 6532 allows, in NFC.
func checkLocal(local string) error {
	if len(local) > maxLocalOctets {
		return addrErr("too_long", "The part before the @ is too long (at most 64 characters).")
	}
	if strings.HasPrefix(local, ".") || strings.HasSuffix(local, ".") || strings.Contains(local, "..") {
		return addrErr("local_dot", "The part before the @ cannot start or end with a dot or have two dots in a row.")
	}
	for i := 0; i < len(local); i++ {
		c := local[i]
		if c < utf8.RuneSelf && !atext(c) && c != '.' {
			return addrErr("local_character", "The part before the @ contains "+quoteByte(c)+", which an email address cannot have.")
		}
	}
	if !norm.NFC.IsNormalString(local) {
		return addrErr("not_nfc", "The part before the @ is not in Unicode normalization form C; type it again or ask your administrator.")
	}
	return nil
}

// atext are the ASCII characters of an RFC 5322 atom.
func atext(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

func quoteByte(c byte) string {
	switch c {
	case ',':
		return "a comma"
	case ';':
		return "a semicolon"
	case ':':
		return "a colon"
	case '\\':
		return "a backslash"
	case '[', ']':
		return "a square bracket"
	}
	return "“" + string(rune(c)) + "”"
}

// forbiddenRune: whitespace, controls (C0, DEL, C1), format characters
// (zero-width, bidi overrides, soft hyphen), separators, private use and
// noncharacters never belong in an address; they only hide what it says.
func forbiddenRune(r rune) bool {
	switch {
	case r == utf8.RuneError:
		return true
	case r < 0x21 || r == 0x7f:
		return true
	case r < utf8.RuneSelf:
		return false
	case unicode.IsSpace(r), unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r), unicode.Is(unicode.Co, r),
		unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r), unicode.Is(unicode.Zs, r), unicode.Is(unicode.Cs, r):
		return true
	case r >= 0xfdd0 && r <= 0xfdef, r&0xfffe == 0xfffe:
		return true
	}
	return false
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// asciiLower lower-cases A–Z and nothing else.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// SameAddressSpelling reports whether two raw addresses are the same text
// apart from the ASCII case of their letters. Identity linking accepts a
// new sign-in for an existing person only then: a canonical match reached
// through any other difference (another IDNA spelling of the domain, for
// example) is refused and shown to the admins.
func SameAddressSpelling(a, b string) bool {
	return len(a) == len(b) && asciiLower(a) == asciiLower(b)
}

// FormEmail is CanonicalEmail for an address a person typed into a form:
// surrounding ASCII spaces are the form's, not the address's.
func FormEmail(typed string) (string, error) {
	return CanonicalEmail(strings.Trim(typed, " \t\r\n"))
}

// IdentityKey is the key SCIM userNames and SAML login names are compared
// by: the canonical address when the value is an address; otherwise (a
// login name such as "jdoe") the value itself, lower-cased when it is ASCII
// and kept exactly otherwise (the same rule as an address's local part).
// A value with an @ that is not a bare address, or with whitespace,
// control or format characters, is refused.
func IdentityKey(raw string) (string, error) {
	if strings.ContainsRune(raw, '@') {
		return CanonicalEmail(raw)
	}
	if raw == "" {
		return "", addrErr("empty", "The login name is empty.")
	}
	if !utf8.ValidString(raw) {
		return "", addrErr("invalid_utf8", "The login name is not valid text (invalid UTF-8).")
	}
	for _, r := range raw {
		if forbiddenRune(r) {
			return "", addrErr("control_character", "The login name contains a space, control or invisible character.")
		}
	}
	if len(raw) > 256 {
		return "", addrErr("too_long", "The login name is too long (at most 256 characters).")
	}
	if !norm.NFC.IsNormalString(raw) {
		return "", addrErr("not_nfc", "The login name is not in Unicode normalization form C.")
	}
	if !isASCII(raw) {
		return raw, nil
	}
	return asciiLower(raw), nil
}
