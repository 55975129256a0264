package linkcheck

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// fileServer is a local HTTPS server standing in for a file host; the
// checker may reach exactly its address (Allow), nothing else local.
func fileServer(t *testing.T, h http.HandlerFunc) (*httptest.Server, *Checker) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	allowed := netip.MustParseAddrPort(srv.Listener.Addr().String())
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	return srv, &Checker{Allow: func(ap netip.AddrPort) bool { return ap == allowed }, TLS: &tls.Config{RootCAs: pool}}
}

func TestCheckReportsStatusSizeType(t *testing.T) {
	srv, c := fileServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/image.pvmp":
			w.Header().Set("Content-Type", "application/octet-stream")
			w.Header().Set("Content-Length", "123456")
			if r.Method == http.MethodGet {
				t.Errorf("a HEAD sufficed, but the checker sent GET")
			}
		case "/nohead.pvmp":
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusMethodNotAllowed)
				return
			}
			if r.Header.Get("Range") != "bytes=0-0" {
				t.Errorf("range GET asked for %q, want one byte", r.Header.Get("Range"))
			}
			w.Header().Set("Content-Type", "application/x-pvmp")
			w.Header().Set("Content-Range", "bytes 0-0/987654321")
			w.WriteHeader(http.StatusPartialContent)
			_, _ = w.Write([]byte{0})
		case "/moved":
			http.Redirect(w, r, "/image.pvmp", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	})
	ctx := context.Background()
	r, err := c.Check(ctx, srv.URL+"/image.pvmp")
	if err != nil || r.Status != 200 || r.Size != 123456 || r.ContentType != "application/octet-stream" || r.Method != "HEAD" {
		t.Fatalf("HEAD check: %+v, %v", r, err)
	}
	r, err = c.Check(ctx, srv.URL+"/nohead.pvmp")
	if err != nil || r.Status != 206 || r.Size != 987654321 || r.ContentType != "application/x-pvmp" || r.Method != "GET" {
		t.Fatalf("range GET check: %+v, %v", r, err)
	}
	r, err = c.Check(ctx, srv.URL+"/moved")
	if err != nil || r.Status != 200 || r.Redirects != 1 || !strings.HasSuffix(r.URL, "/image.pvmp") {
		t.Fatalf("redirected check: %+v, %v", r, err)
	}
	r, err = c.Check(ctx, srv.URL+"/missing")
	if err != nil || r.Status != 404 || r.OK() {
		t.Fatalf("missing file: %+v, %v", r, err)
	}
}

// TestCheckNeverReachesLocalOrPrivateAddresses: a file host that redirects
// to the server's loopback or to a private address gets no connection
// there; neither does a URL naming such an address directly.
func TestCheckNeverReachesLocalOrPrivateAddresses(t *testing.T) {
	var hits atomic.Int32
	internal := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Length", "42")
	}))
	defer internal.Close()
	internalURL := "https://" + internal.Listener.Addr().String() // 127.0.0.1:port
	localhostURL := strings.Replace(internalURL, "127.0.0.1", "localhost", 1)

	targets := map[string]string{
		"/to-loopback":   internalURL + "/secret",
		"/to-localhost":  localhostURL + "/secret",
		"/to-private":    "https://10.20.30.40/secret",
		"/to-private-v6": "https://[fd00::1]/secret",
		"/to-metadata":   "https://169.254.169.254/latest/meta-data/",
		"/to-mapped":     "https://[::ffff:127.0.0.1]:" + strings.TrimPrefix(internal.Listener.Addr().String(), "127.0.0.1:") + "/secret",
	}
	srv, c := fileServer(t, func(w http.ResponseWriter, r *http.Request) {
		if to, ok := targets[r.URL.Path]; ok {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		http.NotFound(w, r)
	})
	ctx := context.Background()
	want := map[string]string{
		"/to-loopback": "a loopback address", "/to-localhost": "a loopback address", "/to-private": "a private address",
		"/to-private-v6": "a private address", "/to-metadata": "a link-local address", "/to-mapped": "a loopback address",
	}
	for path, reason := range want {
		r, err := c.Check(ctx, srv.URL+path)
		var be *BlockedError
		if !errors.As(err, &be) || be.Reason != reason {
			t.Errorf("%s: result %+v, error %v; want refused as %s", path, r, err, reason)
		}
	}
	// Named directly, without a redirect.
	for _, u := range []string{internalURL + "/secret", localhostURL + "/secret", "https://192.168.1.1/x", "https://[::1]/x"} {
		if _, err := (&Checker{}).Check(ctx, u); !errors.As(err, new(*BlockedError)) {
			t.Errorf("%s: %v, want refused", u, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the internal server was reached %d times", n)
	}
}

func TestRefused(t *testing.T) {
	for addr, want := range map[string]string{
		"127.0.0.1": "a loopback address", "10.0.0.1": "a private address", "172.16.5.4": "a private address",
		"192.168.0.10": "a private address", "169.254.169.254": "a link-local address", "0.0.0.0": "an unspecified address",
		"100.64.1.1": "a carrier-grade NAT address", "::1": "a loopback address", "fe80::1": "a link-local address",
		"::ffff:10.0.0.1": "a private address", "239.1.2.3": "a multicast address", "8.8.8.8": "", "2606:4700::1111": "",
	} {
		if got := Refused(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Refused(%s) = %q, want %q", addr, got, want)
		}
	}
}
