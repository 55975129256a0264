package clientip

import (
	"net/http"
	"testing"
)

func TestResolve(t *testing.T) {
	cases := []struct {
		xff   []string
		trust bool
		want  string
	}{
		{nil, false, "192.0.2.7"},
		{nil, true, "192.0.2.7"},
		{[]string{"203.0.113.9"}, false, "192.0.2.7"},
		{[]string{"203.0.113.9"}, true, "203.0.113.9"},
		// The client wrote the first entries; the proxy appended the last.
		{[]string{"10.9.9.9, 203.0.113.9"}, true, "203.0.113.9"},
		{[]string{"10.9.9.9", "203.0.113.9"}, true, "203.0.113.9"},
		{[]string{"2001:db8::1"}, true, "2001:db8::1"},
		{[]string{"203.0.113.9, not-an-ip"}, true, "192.0.2.7"},
		{[]string{""}, true, "192.0.2.7"},
	}
	for _, c := range cases {
		r, _ := http.NewRequest("GET", "/", nil)
		r.RemoteAddr = "192.0.2.7:41000"
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := Resolve(r, c.trust); got != c.want {
			t.Errorf("%q trust=%v: %q, want %q", c.xff, c.trust, got, c.want)
		}
		if got := From(With(r, Resolve(r, c.trust))); got != c.want {
			t.Errorf("From: %q, want %q", got, c.want)
		}
	}
	r, _ := http.NewRequest("GET", "/", nil)
	r.RemoteAddr = "192.0.2.8:1"
	if got := From(r); got != "192.0.2.8" {
		t.Errorf("From without With: %q", got)
	}
}
