// Package accounttest creates people for tests the way people are created:
// the sign-up form's service call, then the confirmation link from the email
// it queued (read from the outbox, the mail the sender would deliver), used
// in the browser that asked. No row is written behind the service's back.
package accounttest

import (
	"context"
	"fmt"
	"regexp"
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
