// Package accounttest creates people for tests the way people are created:
// the sign-up form's service call, then the confirmation link from the email
// it queued (read from the outbox, the mail the sender would deliver), used
// in the browser that asked. No row is written behind the service's back.
package accounttest

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

var seq atomic.Int64

var linkRe = regexp.MustCompile(`/verify/([A-Za-z0-9_-]{20,})`)

// SignUp signs up in and confirms the address with the link mailed to it,
// and returns the person.
func SignUp(t testing.TB, svc *account.Service, in account.SignUpInput) *account.Person {
	t.Helper()
	ctx := context.Background()
	n := seq.Add(1)
	// Each call is its own "browser" on its own source address, so the
	// sign-up rate limits never decide a test's outcome.
	ip := fmt.Sprintf("198.51.100.%d", n%250+1)
	if in.Binding == "" {
		in.Binding = fmt.Sprintf("accounttest-browser-binding-%08d", n)
	}
	if err := svc.SignUp(ctx, in, ip); err != nil {
		t.Fatalf("sign up %s: %v", in.Email, err)
	}
	token := VerifyToken(t, svc.DB, in.Email)
	res, err := svc.UseVerification(ctx, token, in.Binding, "", nil, ip)
	if err != nil {
		t.Fatalf("confirm %s: %v", in.Email, err)
	}
	return res.Person
}

// VerifyToken returns the token of the newest confirmation link mailed to
// addr (compared as canonical addresses).
func VerifyToken(t testing.TB, db *store.DB, addr string) string {
	t.Helper()
	want, err := account.FormEmail(addr)
	if err != nil {
		t.Fatalf("%q: %v", addr, err)
	}
	rows, err := db.Query(context.Background(), `SELECT to_addr, body_text FROM outbox ORDER BY created_at DESC, id DESC LIMIT 500`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var to, text string
		if err := rows.Scan(&to, &text); err != nil {
			t.Fatal(err)
		}
		if c, err := account.CanonicalEmail(to); err != nil || c != want {
			continue
		}
		if m := linkRe.FindStringSubmatch(text); m != nil {
			return m[1]
		}
	}
	t.Fatalf("no confirmation link mailed to %s", addr)
	return ""
}

// Hostile is the table of address forms an attacker (a stranger signing up,
// an IdP user editing their own address, an IdP administrator) can send
// when admin@corp.example.test, sam@corp.example.test,
// kelvin@corp.example.test and ann@xn--bcher-kva.example exist. Want is the
// canonical result ("" = refused). None of them may be an existing person
// except the plain ASCII-case variant. Other packages' tests run the same
// table through their entry points (SAML, SCIM, sign-up, invitations).
var Hostile = []struct {
	Name, Raw, Want string
}{
	{"display name quoted", `"alice@corp.example.test" <admin@corp.example.test>`, ""},
	{"display name bare", `Alice <admin@corp.example.test>`, ""},
	{"angle brackets only", `<admin@corp.example.test>`, ""},
	{"comment after", `admin@corp.example.test(Admin)`, ""},
	{"comment inside", `admin(x)@corp.example.test`, ""},
	{"quoted local part", `"admin"@corp.example.test`, ""},
	{"quoted whole", `"admin@corp.example.test"`, ""},
	{"quoted with at", `"admin@corp.example.test"@evil.example`, ""},
	{"capital I with dot", "admİn@corp.example.test", "admİn@corp.example.test"},
	{"dotless i", "admın@corp.example.test", "admın@corp.example.test"},
	{"long s", "ſam@corp.example.test", "ſam@corp.example.test"},
	{"Kelvin sign", "\u212Aelvin@corp.example.test", ""},
	{"decomposed e acute", "jose\u0301@corp.example.test", ""},
	{"Cyrillic a", "аdmin@corp.example.test", "аdmin@corp.example.test"},
	{"full-width at", "admin＠corp.example.test", ""},
	{"full-width domain", "admin@ｃｏｒｐ.example.test", "admin@corp.example.test"},
	{"NUL after", "admin@corp.example.test\x00", ""},
	{"NUL inside", "adm\x00in@corp.example.test", ""},
	{"newline", "admin@corp.example.test\n", ""},
	{"tab before", "\tadmin@corp.example.test", ""},
	{"leading space", " admin@corp.example.test", ""},
	{"no-break space", "\u00a0admin@corp.example.test", ""},
	{"zero-width space", "ad\u200bmin@corp.example.test", ""},
	{"bidi override", "\u202eadmin@corp.example.test", ""},
	{"DEL", "admin\x7f@corp.example.test", ""},
	{"C1 control", "admin\u0085@corp.example.test", ""},
	{"trailing dot", "admin@corp.example.test.", ""},
	{"local trailing dot", "admin.@corp.example.test", ""},
	{"two dots", "ad..min@corp.example.test", ""},
	{"two ats", "admin@corp.example.test@evil.example", ""},
	{"address literal", "admin@[127.0.0.1]", ""},
	{"empty label", "admin@corp..example.test", ""},
	{"single label", "admin@localhost", ""},
	{"backslash", `adm\in@corp.example.test`, ""},
	{"comma list", "admin@corp.example.test,evil@evil.example", ""},
	{"invalid UTF-8", "adm\xffin@corp.example.test", ""},
	{"IDN Unicode form", "ann@bücher.example", "ann@xn--bcher-kva.example"},
	{"IDN ASCII form", "ann@xn--bcher-kva.example", "ann@xn--bcher-kva.example"},
	{"IDN upper ASCII form", "ANN@XN--BCHER-KVA.EXAMPLE", "ann@xn--bcher-kva.example"},
	{"percent hack", "admin%corp.example.test@evil.example", "admin%corp.example.test@evil.example"},
	{"encoded word", "=?utf-8?q?admin?=@corp.example.test", "=?utf-8?q?admin?=@corp.example.test"},
	{"local too long", strings.Repeat("a", 65) + "@corp.example.test", ""},
	{"ASCII case (the same person)", "ADMIN@Corp.Example.TEST", "admin@corp.example.test"},
}
