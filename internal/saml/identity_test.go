package saml

import (
	"fmt"
	"strings"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestNestedStatusUnderSuccessRefused: a top-level Success whose nested
// StatusCode says otherwise is contradictory and refused with its own code.
func TestNestedStatusUnderSuccessRefused(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, c := range []struct{ nested, want string }{
			{"urn:oasis:names:tc:SAML:2.0:status:AuthnFailed", CodeStatusContradictory},
			{"urn:oasis:names:tc:SAML:2.0:status:NoPassive", CodeStatusContradictory},
			{StatusSuccess, "accepted"},
		} {
			reqID, binding := e.start(t)
			xml := e.resp(reqID).xml()
			xml = strings.Replace(xml, `<samlp:StatusCode Value="`+StatusSuccess+`"/>`,
				`<samlp:StatusCode Value="`+StatusSuccess+`"><samlp:StatusCode Value="`+c.nested+`"/></samlp:StatusCode>`, 1)
			for _, signResp := range []bool{true, false} {
				signed := goSign(t, xml, testKey(t, "idp"), signResp, !signResp, false)
				_, err := e.consume(t, signed, binding)
				if got := refusalCode(err); got != c.want {
					t.Errorf("nested %s (response signed %v): %s, want %s", c.nested, signResp, got, c.want)
				}
				if c.want == "accepted" {
					break // the request is used now
				}
			}
		}
	})
}

// TestLargeAssertion: Okta and Entra send a few hundred group values. The
// XML-signature library (goxmldsig) walks at most 1,000 elements of a
// signed element and has no option to raise that; above the limit the
// response is refused with too_many_elements and a message that tells the
// admin to filter groups, never as "malformed".
func TestLargeAssertion(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		groups := func(n int) []string {
			out := make([]string, n)
			for i := range out {
				out[i] = fmt.Sprintf("group-%04d", i)
			}
			return out
		}
		for _, c := range []struct {
			n        int
			signResp bool
			want     string
		}{
			{300, false, "accepted"}, {300, true, "accepted"},
			{900, false, "accepted"},
			{1500, false, CodeTooManyElements}, {1500, true, CodeTooManyElements},
		} {
			reqID, binding := e.start(t)
			r := e.resp(reqID)
			r.Attrs = append(r.Attrs[:3:3], attribute{"groups", groups(c.n)})
			signed := goSign(t, r.xml(), testKey(t, "idp"), c.signResp, !c.signResp, false)
			a, err := e.consume(t, signed, binding)
			if got := refusalCode(err); got != c.want {
				t.Fatalf("%d groups (response signed %v): %s, want %s", c.n, c.signResp, got, c.want)
			}
			if err == nil && len(a.Groups) != c.n {
				t.Fatalf("%d groups read, want %d", len(a.Groups), c.n)
			}
			if err != nil && !strings.Contains(err.Error(), "filter the groups claim") {
				t.Fatalf("the refusal does not tell the admin what to do: %v", err)
			}
		}
		// The boundary is the library's: exactly maxSignedElements elements
		// in the signed Assertion verify, one more is too_many_elements.
		for _, extra := range []int{0, 1} {
			reqID, binding := e.start(t)
			r := e.resp(reqID)
			r.Attrs = append(r.Attrs[:3:3], attribute{"groups", groups(900)})
			count := countElements(mustDoc(t, goSign(t, r.xml(), testKey(t, "idp"), false, true, false)).Root().SelectElement("Assertion"), 1<<20)
			r.Attrs[3].Values = groups(900 + maxSignedElements - count + extra)
			_, err := e.consume(t, goSign(t, r.xml(), testKey(t, "idp"), false, true, false), binding)
			want := map[int]string{0: "accepted", 1: CodeTooManyElements}[extra]
			if got := refusalCode(err); got != want {
				t.Fatalf("%d elements in the signed Assertion: %s, want %s", maxSignedElements+extra, got, want)
			}
		}
	})
}
