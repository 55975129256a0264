package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"time"

	"gatehouse/internal/agent"
)

// `gatehouse agent activate --sso EMAIL`: the SSO activation of spec 04 as
// Desktop performs it. The command prints the address the person opens in
// a browser to sign in at their identity provider (or runs --open with it),
// then waits, polling the server, until the sign-in is done, refused, or
// --timeout runs out.

func ssoFlags(fs *flag.FlagSet) {
	fs.String("sso", "", "work email: activate with the company sign-in (SSO) instead of a key")
	fs.Duration("timeout", 10*time.Minute, "with --sso: how long to wait for the sign-in")
	fs.String("open", "", "with --sso: command that opens the sign-in address (e.g. xdg-open, open); default: print it")
}

func flagValue(fs *flag.FlagSet, name string) string {
	if f := fs.Lookup(name); f != nil {
		return f.Value.String()
	}
	return ""
}

func ssoEmail(fs *flag.FlagSet) string { return flagValue(fs, "sso") }

func agentActivateSSO(ctx context.Context, fs *flag.FlagSet, c *agent.Client, st *agent.State, dir, base string, stdout io.Writer) error {
	email := ssoEmail(fs)
	timeout, err := time.ParseDuration(flagValue(fs, "timeout"))
	if err != nil || timeout <= 0 {
		timeout = 10 * time.Minute
	}
	opener := flagValue(fs, "open")
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	open := func(u string) error {
		fmt.Fprintf(stdout, "Sign in with your company account to activate Desktop on %s:\n  %s\n", st.Device.ComputerName, u)
		fmt.Fprintf(stdout, "Waiting for the sign-in (up to %s)…\n", timeout)
		if f, ok := stdout.(interface{ Sync() error }); ok {
			_ = f.Sync()
		}
		if opener == "" {
			return nil
		}
		return exec.CommandContext(ctx, opener, u).Run()
	}
	act, err := c.ActivateSSO(ctx, email, st.Device, open)
	if err != nil {
		return agentErr(st, dir, err)
	}
	now := time.Now()
	st.Server = base
	st.Apply(&act.Activation, now)
	st.Method = "sso"
	pub, err := c.FetchPublicKey(ctx)
	if err != nil {
		return fmt.Errorf("activated, but fetching the activation key failed: %w", err)
	}
	st.PublicKeyPEM = pub.PEM
	if err := verifyState(st, now); err != nil {
		return fmt.Errorf("activated, but the certificate does not verify: %w", err)
	}
	if err := st.Save(dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s activated for %s with SSO: %s%s from key %q, valid until %s\n", st.Device.ComputerName, act.User,
		editionName(act.License.Edition), trialNote(act.License.Trial), act.KeyName, act.ValidUntil.Local().Format(time.RFC3339))
	return activationCheckIn(ctx, st, dir, base, stdout)
}
