package web

import (
	"net/url"
	"path"
	"strings"
	"unicode/utf8"
)

// maxRedirectTarget bounds a user-supplied redirect target; longer ones are
// not links Gatehouse made.
const maxRedirectTarget = 2048

// RedirectTarget is the one gate every user-supplied redirect target (the
// "next" of sign-in and sign-up, the workspace switcher's "go", the
// "back" of list actions) passes before it reaches a Location header. It
// returns the target as a clean same-site path, or fallback when the target
// could lead anywhere else.
//
// Browsers are lenient where Go is strict: they treat "\" like "/", drop
// tabs and newlines from URLs, resolve "/./" and "/../", and some proxies
// decode "%2F" and "%5C" once more. So the target is refused when, in its raw
// form or after up to three rounds of percent-decoding, it holds a
// backslash or a control character; when it has a scheme, a host or user
// info; when its path holds an encoded slash, a percent sign after decoding
// (double encoding) or anything outside printable ASCII (fullwidth and other
// look-alike slashes); and when, after path cleaning, it does not start
// with exactly one "/". The path of what is returned is already clean, so
// http.Redirect's own cleaning cannot turn it into something else.
func RedirectTarget(raw, fallback string) string {
	if raw == "" || len(raw) > maxRedirectTarget || raw[0] != '/' || strings.HasPrefix(raw, "//") {
		return fallback
	}
	// Raw: printable ASCII only (a browser sends non-ASCII percent-encoded).
	for i := 0; i < len(raw); i++ {
		if c := raw[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return fallback
		}
	}
	// Decoded layers: no backslash or control character hides behind one
	// or more rounds of percent-encoding (%5C, %255C, %09, %0A, …).
	layer := raw
	for range 3 {
		dec, err := url.PathUnescape(layer)
		if err != nil || dec == layer {
			break
		}
		if strings.ContainsFunc(dec, func(r rune) bool { return r == '\\' || r < ' ' || r == 0x7f || r == utf8.RuneError }) {
			return fallback
		}
		layer = dec
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	escaped := u.EscapedPath()
	if strings.Contains(strings.ToLower(escaped), "%2f") {
		return fallback
	}
	for _, r := range u.Path {
		if r == '%' || r < ' ' || r >= 0x7f {
			return fallback
		}
	}
	clean := path.Clean(u.Path)
	if strings.HasSuffix(u.Path, "/") && !strings.HasSuffix(clean, "/") {
		clean += "/"
	}
	if !strings.HasPrefix(clean, "/") || strings.HasPrefix(clean, "//") {
		return fallback
	}
	out := (&url.URL{Path: clean}).EscapedPath()
	if strings.HasPrefix(out, "//") || !strings.HasPrefix(out, "/") {
		return fallback
	}
	if u.RawQuery != "" || u.ForceQuery {
		out += "?" + u.RawQuery
	}
	if u.Fragment != "" {
		out += "#" + u.EscapedFragment()
	}
	return out
}
