package main

import (
	"context"
	"io"
	"path/filepath"

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
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	return devidp.Run(ctx, *addr, *users, filepath.Join(*dataDir, "devidp"))
}
