package account_test

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	. "gatehouse/internal/account"
	"gatehouse/internal/account/accounttest"
)

var Hostile = accounttest.Hostile

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// hides reports characters that must never survive in a canonical address.
func hides(r rune) bool {
	return r < 0x21 || r == 0x7f || unicode.IsSpace(r) || unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Zs, unicode.Zl, unicode.Zp)
}

func TestCanonicalEmailHostile(t *testing.T) {
	existing := map[string]bool{"admin@corp.example.test": true, "sam@corp.example.test": true,
		"kelvin@corp.example.test": true, "ann@xn--bcher-kva.example": true, "jose@corp.example.test": true}
	for _, c := range Hostile {
		got, err := CanonicalEmail(c.Raw)
		if c.Want == "" {
			if err == nil {
				t.Errorf("%s: CanonicalEmail(%q) = %q, want a refusal", c.Name, c.Raw, got)
			} else if !IsAddressError(err) || err.Error() == "" {
				t.Errorf("%s: refusal %v is not a sentence for people", c.Name, err)
			}
			continue
		}
		if err != nil || got != c.Want {
			t.Errorf("%s: CanonicalEmail(%q) = %q, %v; want %q", c.Name, c.Raw, got, err, c.Want)
			continue
		}
		// A result equal to an existing person's address is acceptable only
		// when the spelling differs in ASCII case or the IDNA form of the
		// domain (the same mailbox).
		if existing[got] && !sameModuloASCIICaseAndIDNA(t, c.Raw, got) {
			t.Errorf("%s: %q collides with the existing %q", c.Name, c.Raw, got)
		}
	}
}

func TestCanonicalEmailForms(t *testing.T) {
	ok := map[string]string{
		"Alice@Example.COM":               "alice@example.com",
		"carol+tag@sub.ex.io":             "carol+tag@sub.ex.io",
		"dora@bücher.example":             "dora@xn--bcher-kva.example",
		"o'brien@example.ie":              "o'brien@example.ie",
		"Jörg@example.de":                 "Jörg@example.de",
		"ÄNN@example.de":                  "ÄNN@example.de",
		"straße@example.de":               "straße@example.de",
		"x@faß.de":                        "x@xn--fa-hia.de",
		strings.Repeat("a", 64) + "@x.io": strings.Repeat("a", 64) + "@x.io",
	}
	for in, want := range ok {
		got, err := CanonicalEmail(in)
		if err != nil || got != want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "a@b", "@example.com", "a@", "a@@example.com", "a@exa mple.com", "a@-bad-.com",
		strings.Repeat("a", 60) + "@" + strings.Repeat("b", 63) + "." + strings.Repeat("c", 63) + "." + strings.Repeat("d", 63) + ".com"} {
		if got, err := CanonicalEmail(bad); err == nil {
			t.Errorf("CanonicalEmail(%q) = %q, want an error", bad, got)
		}
	}
	// Forms trim what a form adds; identity values never are trimmed.
	if got, err := FormEmail("  bob@example.org \n"); err != nil || got != "bob@example.org" {
		t.Errorf("FormEmail = %q, %v", got, err)
	}
	if _, err := CanonicalEmail("  bob@example.org"); err == nil {
		t.Error("CanonicalEmail trimmed its input")
	}
	// Unicode case is never folded: Ä is not ä, İ is not i.
	a, _ := CanonicalEmail("Änn@example.de")
	b, _ := CanonicalEmail("änn@example.de")
	if a == b {
		t.Errorf("Änn and änn meet in %q", a)
	}
}

func TestIdentityKey(t *testing.T) {
	for in, want := range map[string]string{"JDoe": "jdoe", "ADMIN@Corp.example.test": "admin@corp.example.test", "ſam": "ſam", "Straße": "Straße"} {
		if got, err := IdentityKey(in); err != nil || got != want {
			t.Errorf("IdentityKey(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "j doe", "Ann <ann@x.io>", "jdoe\x00", "\u212Aelvin", "a@b"} {
		if got, err := IdentityKey(bad); err == nil {
			t.Errorf("IdentityKey(%q) = %q, want an error", bad, got)
		}
	}
}

func TestSameAddressSpelling(t *testing.T) {
	if !SameAddressSpelling("Ann@Example.com", "ann@example.COM") {
		t.Error("ASCII case must not matter")
	}
	for _, b := range []string{"ann@xn--bcher-kva.example", "ANN@BÜCHER.example", "ann@bücher.example "} {
		if SameAddressSpelling("ann@bücher.example", b) {
			t.Errorf("%q counted as the same spelling", b)
		}
	}
}

// sameModuloASCIICaseAndIDNA is the fuzz property's independent statement:
// a and b are the same local part apart from ASCII case (a local part
// with non-ASCII characters exactly the same), at domains that IDNA (UTS
// #46 lookup mapping) maps to the same ASCII name.
func sameModuloASCIICaseAndIDNA(t testing.TB, a, b string) bool {
	t.Helper()
	ia, ib := strings.LastIndexByte(a, '@'), strings.LastIndexByte(b, '@')
	if ia < 0 || ib < 0 {
		return false
	}
	la, lb := a[:ia], b[:ib]
	if !SameAddressSpelling(la, lb) || !isASCII(la) && la != lb {
		return false
	}
	da, errA := idna.Lookup.ToASCII(a[ia+1:])
	db, errB := idna.Lookup.ToASCII(b[ib+1:])
	return errA == nil && errB == nil && strings.EqualFold(da, db)
}

// FuzzCanonicalEmailPairs: canonical(a) == canonical(b) implies a and b
// differ only in the ASCII case of the local part or in equivalent IDN
// spellings of the domain — never in anything Unicode case folding, NFC or
// a display-name parser would paper over.
func FuzzCanonicalEmailPairs(f *testing.F) {
	for _, c := range Hostile {
		f.Add(c.Raw, "admin@corp.example.test")
	}
	f.Add("Ann@Bücher.example", "ann@xn--bcher-kva.example")
	f.Add("ſ@x.io", "s@x.io")
	f.Add("\u212A@x.io", "k@x.io")
	f.Add("ǅ@x.io", "ǆ@x.io")
	f.Fuzz(func(t *testing.T, a, b string) {
		ca, errA := CanonicalEmail(a)
		cb, errB := CanonicalEmail(b)
		if errA != nil || errB != nil || ca != cb {
			return
		}
		if !sameModuloASCIICaseAndIDNA(t, a, b) {
			t.Fatalf("%q and %q both map to %q", a, b, ca)
		}
	})
}

// FuzzCanonicalEmail: the result is a fixed point, lower-case in ASCII,
// within RFC 5321's lengths, and free of anything that hides text.
func FuzzCanonicalEmail(f *testing.F) {
	for _, c := range Hostile {
		f.Add(c.Raw)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := CanonicalEmail(s)
		if err != nil {
			return
		}
		again, err := CanonicalEmail(got)
		if err != nil || again != got {
			t.Fatalf("not a fixed point: %q → %q → %q (%v)", s, got, again, err)
		}
		if local := got[:strings.IndexByte(got, '@')]; isASCII(local) && asciiLower(local) != local || len(got) > 254 || !utf8.ValidString(got) || strings.Count(got, "@") != 1 {
			t.Fatalf("not canonical: %q", got)
		}
		for _, r := range got {
			if hides(r) || strings.ContainsRune(`"<>()\ ,;:[]`, r) {
				t.Fatalf("%q keeps %q", got, r)
			}
		}
		if !sameModuloASCIICaseAndIDNA(t, s, got) {
			t.Fatalf("%q is not a spelling of %q", got, s)
		}
	})
}
