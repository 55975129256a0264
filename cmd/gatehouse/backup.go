package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"gatehouse/internal/app"
	"gatehouse/internal/store"
)

func init() {
	register("backup", "write a consistent copy of the database to a file while serving", runBackup)
	register("restore", "load a backup into a new, empty database", runRestore)
}

func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("backup", "backup --out FILE [--database-url URL | --data-dir DIR]", stderr)
	cfg := app.Flags(fs)
	out := fs.String("out", "", "file to write the backup to (must not exist)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" {
		fmt.Fprintln(stderr, "gatehouse backup: --out FILE is required")
		return errUsage
	}
	if err := cfg.Normalize(); err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backed up %s to %s\n", db.Redacted(), *out)
	return nil
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("restore", "restore --in FILE [--database-url URL | --data-dir DIR]", stderr)
	cfg := app.Flags(fs)
	in := fs.String("in", "", "backup file written by `gatehouse backup`")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *in == "" {
		fmt.Fprintln(stderr, "gatehouse restore: --in FILE is required")
		return errUsage
	}
	if err := cfg.Normalize(); err != nil {
		return err
	}
	if err := store.Restore(ctx, cfg.DatabaseURL, *in); err != nil {
		return err
	}
	// A backup of an older release is brought up to this one's schema.
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return errors.Join(errors.New("restored, but migrating the restored database failed"), err)
	}
	fmt.Fprintf(stdout, "restored %s into %s (%d migrations applied after it)\n", *in, db.Redacted(), len(applied))
	return nil
}
