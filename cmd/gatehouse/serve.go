package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"

	"gatehouse/internal/account"
	"gatehouse/internal/app"
	"gatehouse/internal/store"
)

func init() {
	register("serve", "run the Gatehouse server (SQLite in ./data by default)", runServe)
	register("migrate", "apply database migrations and exit", runMigrate)
	register("version", "print the version", runVersion)
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [flags]", stderr)
	cfg := app.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	log := app.NewLogger(stderr, cfg.LogFormat, cfg.LogLevel)
	a, err := app.New(ctx, *cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	setup, err := a.Accounts.SetupLink(ctx)
	if err != nil {
		return err
	}
	var demo string
	if cfg.Demo {
		d, err := a.SeedDemo(ctx)
		if err != nil {
			return err
		}
		demo = fmt.Sprintf("Demo sign-in: %s / %s\n", account.DemoEmail, account.DemoPassword)
		if d.Trial != "" {
			demo += fmt.Sprintf("The demo business account holds an %s: Licenses and IdP Integration work at once.\n", d.Trial)
		}
	}
	return a.Serve(ctx, func(addr string) {
		fmt.Fprintf(stdout, "Gatehouse %s is running at %s (listening on %s, database %s)\n", version(), a.Config.PublicURL, addr, a.DB.Redacted())
		if setup != "" {
			fmt.Fprintf(stdout, "No operator yet: create the operator account at %s%s (the link works once; `gatehouse setup-link` prints a fresh one)\n", a.Config.PublicURL, setup)
			fmt.Fprintf(stdout, "Email waits in the operator's outbox at %s/operator/outbox unless --smtp-url is set\n", a.Config.PublicURL)
		}
		fmt.Fprint(stdout, demo)
	})
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [--database-url URL]", stderr)
	cfg := app.Flags(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if err := cfg.Normalize(); err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	for _, a := range applied {
		fmt.Fprintf(stdout, "applied %s\n", a)
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s is at schema version %d (%d migrations applied now)\n", db.Redacted(), v, len(applied))
	return nil
}

func runVersion(_ context.Context, _ []string, stdout, _ io.Writer) error {
	fmt.Fprintf(stdout, "gatehouse %s\n", version())
	return nil
}

func version() string {
	if v := os.Getenv("GATEHOUSE_VERSION_OVERRIDE"); v != "" {
		return v
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
