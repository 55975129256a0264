package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/app"
)

func init() {
	register("agent", "reference Desktop client: activate, check, deactivate, status, verify, checkin, vm", runAgent)
}

const agentUsage = `Usage: gatehouse agent <action> [flags]

The reference Desktop client. It keeps its state (a simulated Mac — random
hardware UUID, serial, computer name — its device credential and its
activation certificate) in --dir.

Actions:
  activate   --key KEY | --code CODE   activate this (simulated) computer
  activate   --sso EMAIL               activate with the company sign-in (prints the URL to open)
  check                                re-check the license, get a fresh certificate
  deactivate                           give the seat back
  status                               show the local state (no network)
  verify     [--public-key FILE]       verify the stored certificate offline
  checkin    [--trigger T]             report the Mac and its VMs, run received commands
  vm         create|start|stop|suspend|rename|delete|list   the simulated Mac's VMs
                                       (see gatehouse agent vm --help)

Flags common to all: --dir (default ./agent, GATEHOUSE_AGENT_DIR),
--server (default http://127.0.0.1:8080, GATEHOUSE_SERVER; remembered in
the state after activation).
`

// errLicense reports a license that is not (or no longer) valid; the
// command prints the reason and exits 1.
type errLicense struct{ code, message string }

func (e *errLicense) Error() string { return e.code + ": " + e.message }

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, agentUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	action, args := args[0], args[1:]
	switch action { // the simulated Mac's VMs and check-ins (agent_fleet.go)
	case "vm":
		return runAgentVM(ctx, args, stdout, stderr)
	case "checkin":
		return runAgentCheckin(ctx, args, stdout, stderr)
	}
	fs := newFlagSet("agent "+action, "agent "+action+" [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agentUsage, "\nFlags of ", action, ":\n"); fs.PrintDefaults() }
	dir := fs.String("dir", app.Env("agent-dir", "agent"), "state directory")
	server := fs.String("server", app.Env("server", ""), "Gatehouse URL (default: the one in the state, else http://127.0.0.1:8080)")
	var key, code, pubFile string
	switch action {
	case "activate":
		fs.StringVar(&key, "key", "", "license key")
		fs.StringVar(&code, "code", "", "invitation activation code")
		ssoFlags(fs) // --sso EMAIL (agent_sso.go)
	case "verify":
		fs.StringVar(&pubFile, "public-key", "", "PEM file of the activation key (default: the one fetched at activation)")
	case "check", "deactivate", "status":
	default:
		fmt.Fprintf(stderr, "gatehouse agent: unknown action %q\n\n%s", action, agentUsage)
		return errUsage
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	st, err := agent.LoadState(*dir)
	if err != nil {
		return err
	}
	if st.Fresh { // the simulated computer keeps its identity from now on
		if err := st.Save(*dir); err != nil {
			return err
		}
	}
	base := firstNonEmpty(*server, st.Server, "http://127.0.0.1:8080")
	c := agent.NewClient(base)
	now := time.Now()

	switch action {
	case "activate":
		if ssoEmail(fs) != "" && key == "" && code == "" {
			return agentActivateSSO(ctx, fs, c, st, *dir, base, stdout)
		}
		if (key == "") == (code == "") {
			fmt.Fprintln(stderr, "gatehouse agent activate: give --key, --code or --sso")
			return errUsage
		}
		act, err := c.Activate(ctx, key, code, st.Device)
		if err != nil {
			return agentErr(st, *dir, err)
		}
		st.Server = base
		st.Apply(act, now)
		st.Method = map[bool]string{true: "key", false: "invitation"}[key != ""]
		pub, err := c.FetchPublicKey(ctx)
		if err != nil {
			return fmt.Errorf("activated, but fetching the activation key failed: %w", err)
		}
		st.PublicKeyPEM = pub.PEM
		if err := verifyState(st, now); err != nil {
			return fmt.Errorf("activated, but the certificate does not verify: %w", err)
		}
		if err := st.Save(*dir); err != nil {
			return err
		}
		verb := "activated"
		if act.Reactivated {
			verb = "re-activated (this computer already held a seat)"
		}
		fmt.Fprintf(stdout, "%s %s: %s%s, valid until %s\n", st.Device.ComputerName, verb, editionName(act.License.Edition),
			trialNote(act.License.Trial), act.ValidUntil.Local().Format(time.RFC3339))
		return activationCheckIn(ctx, st, *dir, base, stdout)
	case "check":
		if st.Credential == "" {
			return errors.New("not activated (run: gatehouse agent activate --key KEY)")
		}
		act, err := c.Check(ctx, st.Credential, st.Device.AppVersion)
		if err != nil {
			return agentErr(st, *dir, err)
		}
		st.Apply(act, now)
		if err := st.Save(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "active: %s%s, valid until %s, next check after %s\n", editionName(act.License.Edition),
			trialNote(act.License.Trial), act.ValidUntil.Local().Format(time.RFC3339), act.CheckAfter.Local().Format(time.RFC3339))
		return nil
	case "deactivate":
		if st.Credential == "" {
			return errors.New("not activated")
		}
		if err := c.Deactivate(ctx, st.Credential); err != nil {
			return agentErr(st, *dir, err)
		}
		st.Status, st.Certificate, st.LastError = "deactivated", nil, ""
		if err := st.Save(*dir); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s deactivated; its seat is free again\n", st.Device.ComputerName)
		return nil
	case "status":
		fmt.Fprintf(stdout, "computer:      %s\nhardware UUID: %s\nserial:        %s\nmacOS user:    %s\nstatus:        %s\n",
			st.Device.ComputerName, st.Device.HardwareUUID, st.Device.Serial, st.Device.MacOSUser, st.Status)
		if st.Server != "" {
			fmt.Fprintf(stdout, "server:        %s\n", st.Server)
		}
		if st.ActivationID != "" {
			fmt.Fprintf(stdout, "activation:    %s\n", st.ActivationID)
		}
		if st.License != nil {
			fmt.Fprintf(stdout, "license:       %s%s (%s)\n", editionName(st.License.Edition), trialNote(st.License.Trial), strings.Join(st.License.Features, ", "))
		}
		if !st.ValidUntil.IsZero() && st.Certificate != nil {
			fmt.Fprintf(stdout, "valid until:   %s\ncheck after:   %s\n", st.ValidUntil.Local().Format(time.RFC3339), st.CheckAfter.Local().Format(time.RFC3339))
		}
		if !st.LastCheck.IsZero() {
			fmt.Fprintf(stdout, "last check:    %s\n", st.LastCheck.Local().Format(time.RFC3339))
		}
		if st.LastError != "" {
			fmt.Fprintf(stdout, "last error:    %s\n", st.LastError)
		}
		return nil
	case "verify":
		if st.Certificate == nil {
			return errors.New("no certificate stored (activate first)")
		}
		if pubFile != "" {
			b, err := os.ReadFile(pubFile)
			if err != nil {
				return err
			}
			st.PublicKeyPEM = string(b)
		}
		if err := verifyState(st, now); err != nil {
			return err
		}
		claims, _ := verifyClaims(st, now)
		fmt.Fprintf(stdout, "certificate OK: activation %s of %s on key %s, %s, valid until %s (key %s)\n", claims.ActivationID,
			claims.Device.ComputerName, claims.KeyID, editionName(claims.Edition), claims.ValidUntil.Local().Format(time.RFC3339), st.Certificate.KeyID)
		return nil
	}
	return nil
}

func verifyClaims(st *agent.State, now time.Time) (*agent.Claims, error) {
	if st.PublicKeyPEM == "" {
		return nil, errors.New("no activation key stored; pass --public-key")
	}
	pub, err := agent.ParsePublicKey(st.PublicKeyPEM)
	if err != nil {
		return nil, err
	}
	return agent.Verify(*st.Certificate, pub, st.Device.HardwareUUID, now)
}

func verifyState(st *agent.State, now time.Time) error {
	_, err := verifyClaims(st, now)
	return err
}

// agentErr records a refusal in the state (a deactivated or expired
// license changes the local status) and returns it.
func agentErr(st *agent.State, dir string, err error) error {
	var ae *agent.APIError
	if !errors.As(err, &ae) {
		return err
	}
	switch ae.Code {
	case "deactivated", "expired", "suspended", "key_deleted", "revoked":
		st.Status = ae.Code
		st.Certificate = nil
	}
	st.LastError = ae.Code + ": " + ae.Message
	if serr := st.Save(dir); serr != nil {
		return serr
	}
	return &errLicense{code: ae.Code, message: ae.Message}
}

func editionName(e string) string {
	switch e {
	case "enterprise":
		return "Enterprise Edition"
	case "business":
		return "Business Edition"
	}
	return e
}

func trialNote(trial bool) string {
	if trial {
		return " (trial)"
	}
	return ""
}
