package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"gatehouse/internal/app"
)

func init() {
	register("setup-link", "print a fresh one-time link that creates the operator account (while there is none)", runSetupLink)
}

// runSetupLink makes a fresh setup token in the database the server uses,
// so the link works with a server that is running already. Run it with the
// same --data-dir / --database-url and --public-url as serve.
func runSetupLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("setup-link", "setup-link [--data-dir DIR | --database-url URL] [--public-url URL]", stderr)
	cfg := app.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	a, err := app.New(ctx, *cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return err
	}
	defer a.Close()
	link, err := a.Accounts.SetupLink(ctx)
	if err != nil {
		return err
	}
	if link == "" {
		return errors.New("the operator account exists already: sign in at " + a.Config.PublicURL + "/signin (forgot the password? " + a.Config.PublicURL + "/password/forgot)")
	}
	fmt.Fprintf(stdout, "Create the operator account at %s%s (the link works once; earlier links no longer work)\n", a.Config.PublicURL, link)
	return nil
}
