// Package clientip is the one place that decides a request's client
// address. Every transport (web, SCIM, vendor and client APIs), the audit
// log, the access log and the rate limits read it through From, so
// --trust-proxy means the same thing everywhere.
package clientip

import (
	"context"
	"net"
	"net/http"
	"strings"
)

type ctxKey struct{}

// Resolve returns the client address of r. With trustProxy the address is
// the last X-Forwarded-For entry: the one our own reverse proxy appended
// (HAProxy's option forwardfor, nginx's $proxy_add_x_forwarded_for). The
// entries before it were written by the client and prove nothing. A last
// entry that is not an IP address falls back to the connection's address.
func Resolve(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if xffs := r.Header.Values("X-Forwarded-For"); len(xffs) > 0 {
			last := xffs[len(xffs)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip := net.ParseIP(strings.TrimSpace(last)); ip != nil {
				return ip.String()
			}
		}
	}
	return peer(r)
}

// With returns r carrying ip as its client address.
func With(r *http.Request, ip string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), ctxKey{}, ip))
}

// From returns the client address the server decided for r (Resolve, done
// once per request by the outermost handler), or the connection's address
// for a request that did not pass through it (tests of one handler).
func From(r *http.Request) string {
	if ip, _ := r.Context().Value(ctxKey{}).(string); ip != "" {
		return ip
	}
	return peer(r)
}

func peer(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
