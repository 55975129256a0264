package freetext

import "testing"

func TestProblem(t *testing.T) {
	for s, bad := range map[string]bool{
		"":                       false,
		"Acme GmbH":              false,
		"Müller & Söhne — 株式会社":  false,
		"tab\tand\r\nnewlines":   false,
		"nul\x00inside":          true,
		"\x00":                   true,
		"bad \xff byte":          true,
		"truncated \xe2\x82":     true,
		"overlong \xc0\xaf":      true,
		"surrogate \xed\xa0\x80": true,
	} {
		if got := Problem(s) != ""; got != bad {
			t.Errorf("Problem(%q) = %q; want bad=%v", s, Problem(s), bad)
		}
	}
}
