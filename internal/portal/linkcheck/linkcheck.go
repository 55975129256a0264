// Package linkcheck is the golden image form's "Verify link": a HEAD (or a
// one-byte range GET) that reports status, size and content type of a
// download URL. The server makes the request, so it must never become a
// way into the server's own network: every connection, including those of
// redirects, is checked after name resolution, at dial time (so DNS
// rebinding cannot slip past), and refused for loopback, private,
// link-local and other non-public addresses and the server's own.
package linkcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Result is what the check found.
type Result struct {
	URL         string // the URL that answered (after redirects)
	Method      string // HEAD or GET (range)
	Status      int
	StatusText  string
	Size        int64 // -1 when the server did not say
	ContentType string
	Redirects   int
}

// OK reports whether the link looks downloadable.
func (r *Result) OK() bool { return r.Status >= 200 && r.Status < 300 }

// BlockedError: a connection would have gone to a refused address.
type BlockedError struct {
	Addr   netip.Addr
	Reason string
}

func (e *BlockedError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s", e.Addr, e.Reason)
}

// Checker checks links. The zero value is ready to use.
type Checker struct {
	Timeout      time.Duration // whole check, default 10 s
	MaxRedirects int           // default 5
	// Allow lets tests reach a local test server at exactly these
	// addresses; the app never sets it.
	Allow func(netip.AddrPort) bool
	// TLS overrides the TLS configuration (tests trust their server).
	TLS *tls.Config
}

var blockedPrefixes = func() []struct {
	p      netip.Prefix
	reason string
} {
	list := []struct{ cidr, reason string }{
		{"0.0.0.0/8", "a \"this network\" address"},
		{"100.64.0.0/10", "a carrier-grade NAT address"},
		{"192.0.0.0/24", "an IETF protocol address"},
		{"192.0.2.0/24", "a documentation address"},
		{"198.18.0.0/15", "a benchmarking address"},
		{"198.51.100.0/24", "a documentation address"},
		{"203.0.113.0/24", "a documentation address"},
		{"240.0.0.0/4", "a reserved address"},
		{"64:ff9b::/96", "a NAT64 address"},
		{"64:ff9b:1::/48", "a NAT64 address"},
		{"2001:db8::/32", "a documentation address"},
		{"2002::/16", "a 6to4 address"},
		{"100::/64", "a discard address"},
	}
	out := make([]struct {
		p      netip.Prefix
		reason string
	}, len(list))
	for i, l := range list {
		out[i].p, out[i].reason = netip.MustParsePrefix(l.cidr), l.reason
	}
	return out
}()

// Refused says why a connection to a is refused ("" when it is allowed).
func Refused(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "an invalid address"
	case a.IsLoopback():
		return "a loopback address"
	case a.IsPrivate():
		return "a private address"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "a link-local address"
	case a.IsUnspecified():
		return "an unspecified address"
	case a.IsMulticast(), a.IsInterfaceLocalMulticast():
		return "a multicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return "the broadcast address"
	}
	for _, b := range blockedPrefixes {
		if b.p.Contains(a) {
			return b.reason
		}
	}
	if ownAddress(a) {
		return "an address of this server"
	}
	return ""
}

// ownAddress reports whether a is one of this machine's interface addresses.
func ownAddress(a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return true // cannot tell: refuse
	}
	for _, ad := range addrs {
		if p, err := netip.ParsePrefix(ad.String()); err == nil && p.Addr().Unmap() == a {
			return true
		}
	}
	return false
}

func (c *Checker) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("refused to connect to %q: %w", address, err)
	}
	if c.Allow != nil && c.Allow(ap) {
		return nil
	}
	if why := Refused(ap.Addr()); why != "" {
		return &BlockedError{Addr: ap.Addr().Unmap(), Reason: why}
	}
	return nil
}

func (c *Checker) client() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second, Control: c.control}
	tr := &http.Transport{
		Proxy:                 nil, // never through an environment proxy: the check is about this server's own reach
		DialContext:           d.DialContext,
		TLSClientConfig:       c.TLS,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 5 * time.Second,
		DisableKeepAlives:     true,
		ForceAttemptHTTP2:     true,
	}
	max := c.MaxRedirects
	if max <= 0 {
		max = 5
	}
	return &http.Client{Transport: tr, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if len(via) > max {
			return fmt.Errorf("more than %d redirects", max)
		}
		if req.URL.Scheme != "https" {
			return fmt.Errorf("redirected to a non-HTTPS address (%s)", req.URL.Redacted())
		}
		return nil
	}}
}

// Check requests raw (an https URL) and reports what answered. It never
// reads more than the headers of the answer.
func (c *Checker) Check(ctx context.Context, raw string) (*Result, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, errors.New("the address is not a full https:// URL")
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := c.do(ctx, http.MethodHead, u.String())
	if err == nil && (res.Status == http.StatusMethodNotAllowed || res.Status == http.StatusNotImplemented || res.Status == http.StatusForbidden) {
		// Some file hosts refuse HEAD; a one-byte range GET tells the same.
		res, err = c.do(ctx, http.MethodGet, u.String())
	}
	return res, err
}

func (c *Checker) do(ctx context.Context, method, u string) (*Result, error) {
	cl := c.client()
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", "Gatehouse link check")
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-0")
	}
	redirects := 0
	cl.CheckRedirect = wrapCount(cl.CheckRedirect, &redirects)
	resp, err := cl.Do(req)
	if err != nil {
		var be *BlockedError
		if errors.As(err, &be) {
			return nil, be
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			return nil, ue.Err
		}
		return nil, err
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 1) // at most the one byte asked for
	r := &Result{URL: resp.Request.URL.Redacted(), Method: method, Status: resp.StatusCode, StatusText: http.StatusText(resp.StatusCode),
		Size: -1, ContentType: resp.Header.Get("Content-Type"), Redirects: redirects}
	if resp.StatusCode == http.StatusPartialContent {
		// Content-Range: bytes 0-0/12345
		if cr := resp.Header.Get("Content-Range"); cr != "" {
			if i := strings.LastIndexByte(cr, '/'); i >= 0 {
				if n, err := strconv.ParseInt(cr[i+1:], 10, 64); err == nil {
					r.Size = n
				}
			}
		}
	} else if resp.ContentLength >= 0 {
		r.Size = resp.ContentLength
	}
	return r, nil
}

func wrapCount(next func(*http.Request, []*http.Request) error, n *int) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		*n = len(via)
		return next(req, via)
	}
}
