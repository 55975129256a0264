package invitations_test

import (
	"bytes"
	"strings"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
	"gatehouse/internal/license/invitations"
)

func TestParseInvitationCSV(t *testing.T) {
	in := "\xef\xbb\xbfEmail\n" + // BOM + header
		"ann@example.com\n" +
		"\n" + // blank: skipped
		"not-an-address\n" +
		"bob@Example.COM\n" +
		"ann@example.com\n" + // duplicate of line 2
		"cid@example.com,dan@example.com\n" + // two columns
		"\"eve@example.com\"\n" +
		"Fay <fay@example.com>\n" +
		"gus@localhost\n" +
		"  hal@example.org  \n"
	p, err := invitations.ParseInvitationCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	wantValid := []string{"ann@example.com", "bob@example.com", "eve@example.com", "hal@example.org"}
	if strings.Join(p.Valid, " ") != strings.Join(wantValid, " ") {
		t.Fatalf("valid %v, want %v", p.Valid, wantValid)
	}
	wantErrs := map[int]string{4: "needs an @", 6: "duplicate of line 2", 7: "one column", 9: "without a name", 10: "incomplete"}
	if len(p.Errors) != len(wantErrs) {
		t.Fatalf("errors %+v", p.Errors)
	}
	for _, e := range p.Errors {
		if w, ok := wantErrs[e.Line]; !ok || !strings.Contains(e.Message, w) {
			t.Errorf("line %d: %q (want %q)", e.Line, e.Message, w)
		}
	}
	// Without a header the first row is an address.
	p, _ = invitations.ParseInvitationCSV(strings.NewReader("ann@example.com\r\nbob@example.com\r\n"))
	if len(p.Valid) != 2 || len(p.Errors) != 0 {
		t.Fatalf("%+v", p)
	}
	// A broken quote stops reading and says so.
	p, _ = invitations.ParseInvitationCSV(strings.NewReader("ann@example.com\n\"bob@example.com\nx\"y\"z\n"))
	if len(p.Errors) == 0 {
		t.Fatalf("broken quotes not reported: %+v", p)
	}
	// Oversized and non-UTF-8 files are refused as a whole.
	if _, err := invitations.ParseInvitationCSV(bytes.NewReader(bytes.Repeat([]byte("a@b.cd\n"), invitations.MaxInvitationCSVBytes/7+1))); err == nil {
		t.Fatal("oversized file accepted")
	}
	if _, err := invitations.ParseInvitationCSV(strings.NewReader("ann@example.com\n\xff\xfe\n")); err == nil {
		t.Fatal("non-UTF-8 accepted")
	}
	// Typed one by one.
	p = invitations.ParseAddressList("ann@example.com, bob@example.com; ann@example.com\nnope")
	if len(p.Valid) != 2 || len(p.Errors) != 2 || p.Errors[1].Line != 2 {
		t.Fatalf("address list %+v", p)
	}
}

func FuzzParseInvitationCSV(f *testing.F) {
	f.Add("email\nann@example.com\n")
	f.Add("a@b.c,d@e.f\n\"x\ny\"\n")
	f.Add("\"unterminated\n")
	f.Fuzz(func(t *testing.T, in string) {
		p, err := invitations.ParseInvitationCSV(strings.NewReader(in))
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, v := range p.Valid {
			c, err := account.CanonicalEmail(v)
			if err != nil || seen[c] {
				t.Fatalf("invalid or duplicate address accepted: %q", v)
			}
			seen[c] = true
		}
		for _, e := range p.Errors {
			if e.Line < 1 {
				t.Fatalf("error without a line: %+v", e)
			}
		}
	})
}

func TestNormalizeCode(t *testing.T) {
	c := invitations.GenerateCode()
	if len(c) != 23 || strings.Count(c, "-") != 3 {
		t.Fatalf("code %q", c)
	}
	for _, in := range []string{c, strings.ToLower(c), strings.ReplaceAll(c, "-", ""), " " + strings.ReplaceAll(c, "-", " ") + " "} {
		if got, err := invitations.NormalizeCode(in); err != nil || got != c {
			t.Errorf("NormalizeCode(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", c[:10], c + "A", strings.Replace(c, c[:1], "0", 1), strings.Replace(c, c[:1], "I", 1), license.GenerateKey()} {
		if got, err := invitations.NormalizeCode(in); err == nil {
			t.Errorf("NormalizeCode(%q) accepted as %q", in, got)
		}
	}
}

func FuzzNormalizeCode(f *testing.F) {
	f.Add(invitations.GenerateCode())
	f.Add("abcde fghjk lmnpq rstuv")
	f.Fuzz(func(t *testing.T, in string) {
		n, err := invitations.NormalizeCode(in)
		if err != nil {
			return
		}
		if again, err := invitations.NormalizeCode(n); err != nil || again != n || len(n) != 23 {
			t.Fatalf("%q → %q → %q, %v", in, n, again, err)
		}
	})
}
