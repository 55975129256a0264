package account

import (
	"strings"
	"testing"
)

func TestPasswordHashRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	for pw, want := range map[string]bool{"correct horse battery": true, "correct horse batterY": false, "": false} {
		ok, err := CheckPassword(h, pw)
		if err != nil || ok != want {
			t.Errorf("CheckPassword(%q) = %v, %v; want %v", pw, ok, err, want)
		}
	}
	h2, _ := HashPassword("correct horse battery")
	if h == h2 {
		t.Error("two hashes of one password are equal: salt missing")
	}
	if _, err := CheckPassword("$2a$10$bcrypt", "x"); err == nil {
		t.Error("foreign hash format accepted")
	}
}

func TestPasswordProblem(t *testing.T) {
	cases := []struct {
		pw, email, want string
	}{
		{"short", "a@b.example", "at least 10"},
		{"password123", "a@b.example", "commonly used"},
		{"Password2026!", "a@b.example", "commonly used"},
		{"qwertyuiop", "a@b.example", "commonly used"},
		{"aaaaaaaaaaaa", "a@b.example", "variety"},
		{"1234567890123", "a@b.example", "sequence"},
		{"jonathan-is-here-1", "jonathan@b.example", "email"},
		{"a perfectly fine passphrase", "a@b.example", ""},
		{strings.Repeat("x1y2", 65), "a@b.example", "at most"},
	}
	for _, c := range cases {
		got := PasswordProblem(c.pw, c.email)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("PasswordProblem(%q) = %q, want containing %q", c.pw, got, c.want)
		}
	}
}

func TestAccountInputValidate(t *testing.T) {
	in := AccountInput{Name: "  Acme  ", Country: "de", ContactEmail: "Boss@Acme.example"}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	if in.Name != "Acme" || in.Country != "DE" || in.ContactEmail != "boss@acme.example" {
		t.Errorf("not normalised: %+v", in)
	}
	for _, bad := range []AccountInput{{Name: "", Country: "DE"}, {Name: "A", Country: ""}, {Name: "A", Country: "ZZ"}, {Name: "A", Country: "DE", ContactEmail: "nope"}} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Validate(%+v) accepted", bad)
		}
	}
}
