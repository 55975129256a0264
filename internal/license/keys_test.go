package license

import (
	"errors"
	"strings"
	"testing"
)

func TestGenerateKeyFormat(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 2000; i++ {
		k := GenerateKey()
		if len(k) != 34 || strings.Count(k, "-") != 4 {
			t.Fatalf("key %q: want 5 groups of 6", k)
		}
		for j, g := range strings.Split(k, "-") {
			if len(g) != 6 {
				t.Fatalf("key %q group %d: %q", k, j, g)
			}
			for _, c := range g {
				if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
					t.Fatalf("key %q: character %q outside A-Z0-9", k, c)
				}
			}
		}
		n, err := NormalizeKey(k)
		if err != nil || n != k {
			t.Fatalf("NormalizeKey(%q) = %q, %v", k, n, err)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
}

func TestNormalizeKey(t *testing.T) {
	k := GenerateKey()
	raw := strings.ReplaceAll(k, "-", "")
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"canonical", k, true},
		{"lower case", strings.ToLower(k), true},
		{"no dashes", raw, true},
		{"spaces instead of dashes", strings.ReplaceAll(k, "-", " "), true},
		{"surrounding whitespace", "  " + k + "\n", true},
		{"misplaced dashes", raw[:3] + "-" + raw[3:20] + "--" + raw[20:], true},
		{"mixed case and spaces", strings.ToLower(raw[:10]) + " " + raw[10:], true},
		{"empty", "", false},
		{"too short", k[:len(k)-1], false},
		{"too long", k + "A", false},
		{"punctuation", strings.Replace(k, "-", ".", 1), false},
		{"non-ascii", strings.Replace(k, k[:1], "Ä", 1), false},
		{"fullwidth digit", "１" + k[1:], false},
		{"huge input", strings.Repeat(k, 20), false},
	}
	for _, c := range cases {
		got, err := NormalizeKey(c.in)
		if c.ok && (err != nil || got != k) {
			t.Errorf("%s: NormalizeKey(%q) = %q, %v; want %q", c.name, c.in, got, err, k)
		}
		if !c.ok && err == nil {
			t.Errorf("%s: NormalizeKey(%q) accepted as %q", c.name, c.in, got)
		}
	}
}

// Every single mistyped character and every swap of two neighbouring
// characters is caught by the check, for many random keys.
func TestKeyCheckCatchesTyposAndTranspositions(t *testing.T) {
	for n := 0; n < 300; n++ {
		k := GenerateKey()
		raw := []byte(strings.ReplaceAll(k, "-", ""))
		for i := range raw {
			orig := raw[i]
			for _, c := range []byte(keyAlphabet) {
				if c == orig {
					continue
				}
				raw[i] = c
				if _, err := NormalizeKey(string(raw)); err == nil {
					t.Fatalf("key %s: substituting %q at %d not caught", k, c, i)
				}
			}
			raw[i] = orig
		}
		for i := 0; i+1 < len(raw); i++ {
			if raw[i] == raw[i+1] {
				continue
			}
			raw[i], raw[i+1] = raw[i+1], raw[i]
			if _, err := NormalizeKey(string(raw)); err == nil {
				t.Fatalf("key %s: swapping positions %d,%d not caught", k, i, i+1)
			}
			raw[i], raw[i+1] = raw[i+1], raw[i]
		}
	}
}

func TestMaskKey(t *testing.T) {
	k := GenerateKey()
	m := MaskKey(keyLast(k))
	if !strings.HasSuffix(m, k[len(k)-6:]) || strings.Contains(m, k[:6]) {
		t.Fatalf("MaskKey = %q for %q", m, k)
	}
}

func FuzzNormalizeKey(f *testing.F) {
	f.Add(GenerateKey())
	f.Add(strings.ToLower(GenerateKey()))
	f.Add("AAAAAA-AAAAAA-AAAAAA-AAAAAA-AAAAAA")
	f.Add("")
	f.Add("ÄÖÜ-----")
	f.Fuzz(func(t *testing.T, in string) {
		n, err := NormalizeKey(in)
		if err != nil {
			return
		}
		// Whatever is accepted is canonical and stable.
		if len(n) != 34 {
			t.Fatalf("accepted %q as %q", in, n)
		}
		if again, err := NormalizeKey(n); err != nil || again != n {
			t.Fatalf("not idempotent: %q → %q → %q, %v", in, n, again, err)
		}
		if strings.ToUpper(strings.NewReplacer("-", "", " ", "", "\t", "", "\r", "", "\n", "").Replace(in)) != strings.ReplaceAll(n, "-", "") {
			t.Fatalf("%q normalized to a different key %q", in, n)
		}
	})
}

func TestParseTerm(t *testing.T) {
	good := map[string]Term{"1y": {Years: 1}, "6m": {Months: 6}, "30d": {Days: 30}, "2w": {Days: 14}, "1y6m": {Years: 1, Months: 6}, " 1Y ": {Years: 1}}
	for in, want := range good {
		if got, err := ParseTerm(in); err != nil || got != want {
			t.Errorf("ParseTerm(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "y", "1", "1x", "-1y", "0d", "99999y", "1y2"} {
		if got, err := ParseTerm(in); err == nil {
			t.Errorf("ParseTerm(%q) accepted: %v", in, got)
		}
	}
}

// A mistyped character is named by its place when the check characters
// single it out (or among at most three places), never wrongly; the
// messages are sentences that say what is wrong.
func TestKeyTypoNamesTheCharacter(t *testing.T) {
	named, total := 0, 0
	for n := 0; n < 400; n++ {
		k := GenerateKey()
		raw := []byte(strings.ReplaceAll(k, "-", ""))
		i := n % keyChars
		orig := raw[i]
		raw[i] = keyAlphabet[(strings.IndexByte(keyAlphabet, orig)+1+n%35)%len(keyAlphabet)]
		_, err := NormalizeKey(format(raw))
		if !errors.Is(err, ErrMalformedKey) {
			t.Fatalf("typo not caught: %v", err)
		}
		msg := err.Error()
		total++
		if !strings.HasPrefix(msg, "This key has a typo:") || strings.Contains(msg, "XXXXXX") {
			t.Fatalf("message %q", msg)
		}
		if strings.Contains(msg, "Compare it character by character") {
			continue
		}
		if !strings.Contains(msg, keyPlace(i)) {
			t.Fatalf("typo at %s, message %q", keyPlace(i), msg)
		}
		named++
	}
	if named*2 < total {
		t.Errorf("only %d of %d typos were located", named, total)
	}
	t.Logf("%d of %d typos located", named, total)

	k := GenerateKey()
	for in, want := range map[string]string{
		k[:len(k)-1]:                    "This has 29 letters and digits, but a license key has 30",
		k + "7":                         "This has 31 letters and digits",
		strings.Replace(k, "-", "_", 1): "but this has “_”",
		"Ä" + k[1:]:                     "but this has “Ä”",
		strings.Repeat(k, 10):           "far longer than a license key",
	} {
		if _, err := NormalizeKey(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NormalizeKey(%q) = %v, want %q", in, err, want)
		}
	}
}
