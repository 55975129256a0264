package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"

	"gatehouse/internal/app"
	"gatehouse/internal/saml/devidp"
)

func init() {
	register("devidp", "run a development SAML IdP to try SSO locally (no passwords; never in production)", runDevIdP)
}

func runDevIdP(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("devidp", "devidp [--addr 127.0.0.1:8090] [--users users.json] [--data-dir data]", stderr)
	addr := fs.String("addr", app.Env("devidp-addr", "127.0.0.1:8090"), "listen address of the development IdP")
	users := fs.String("users", app.Env("devidp-users", ""), `JSON file: [{"email", "name", "objectID", "groups": [...]}, ...] (default: three sample users)`)
	dataDir := fs.String("data-dir", app.Env("data-dir", "data"), "directory where the IdP keeps its signing key")
	public := fs.Bool("i-understand-it-signs-anyone-in", false, "allow a non-loopback --addr: whoever reaches the IdP signs in as any user, without a password")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !*public && !loopbackAddr(*addr) {
		return fmt.Errorf("devidp: --addr %s is reachable from other machines, and the development IdP signs a sign-in for any user without a password "+
			"for whoever asks; listen on 127.0.0.1, or add --i-understand-it-signs-anyone-in", *addr)
	}
	return devidp.Run(ctx, *addr, *users, filepath.Join(*dataDir, "devidp"))
}

// loopbackAddr reports whether addr listens on loopback only: "localhost"
// or a loopback IP. An empty host (":8090") listens everywhere.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
