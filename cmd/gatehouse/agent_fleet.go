package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/app"
)

const agentVMUsage = `Usage: gatehouse agent vm <action> [flags] [VM]

The simulated Mac's VMs (kept in --dir with the rest of the agent's state).
After each change an activated agent checks in with the matching trigger
(vm_created, vm_state_changed, vm_settings_changed); --offline skips it.

Actions:
  create --name NAME [--os "Windows 11"] [--golden-image ID] [--encryption none|custom_password|license_bound]
  start VM | stop VM | suspend VM       change the VM's state
  rename VM --name NEW                  change a setting (trigger vm_settings_changed)
  delete VM                             remove the VM
  list                                  show the VMs
VM is a name or a VM ID.
`

// runAgentVM is `gatehouse agent vm …`.
func runAgentVM(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, agentVMUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("agent vm "+sub, "agent vm "+sub+" [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agentVMUsage, "\nFlags:\n"); fs.PrintDefaults() }
	dir := fs.String("dir", app.Env("agent-dir", "agent"), "state directory")
	server := fs.String("server", app.Env("server", ""), "Gatehouse URL (default: the one in the state)")
	offline := fs.Bool("offline", false, "do not check in after the change")
	name := fs.String("name", "", "create/rename: the VM's name")
	guestOS := fs.String("os", "", "create: guest OS (default: a random one)")
	image := fs.String("golden-image", "", "create: the golden image id the VM comes from")
	encryption := fs.String("encryption", "none", "create: none, custom_password or license_bound")
	// The VM reference may come before or after the flags.
	var ref string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		ref, args = args[0], args[1:]
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if ref == "" && fs.NArg() > 0 {
		ref = fs.Arg(0)
	}
	st, err := agent.LoadState(*dir)
	if err != nil {
		return err
	}
	m := st.Mac
	now := time.Now()
	trigger := ""
	switch sub {
	case "list":
		tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tVM ID\tSTATE\tGUEST OS\tSOURCE\tENCRYPTION\tLAST USED")
		for _, v := range m.VMs {
			used := "-"
			if v.LastUsedAt != nil {
				used = v.LastUsedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", v.Name, v.ID, v.State, strings.TrimSpace(v.GuestOS+" "+v.OSEdition), v.Source, v.Encryption, used)
		}
		return tw.Flush()
	case "create":
		if strings.TrimSpace(*name) == "" {
			fmt.Fprintln(stderr, "gatehouse agent vm create: --name is required")
			return errUsage
		}
		if m.FindVM(*name) >= 0 {
			return fmt.Errorf("a VM named %q exists already", *name)
		}
		if !slices.Contains([]string{"none", "custom_password", "license_bound"}, *encryption) {
			fmt.Fprintln(stderr, "gatehouse agent vm create: --encryption is none, custom_password or license_bound")
			return errUsage
		}
		v := agent.NewVM(strings.TrimSpace(*name), *guestOS)
		v.Encryption = *encryption
		if *image != "" {
			v.Source, v.GoldenImageID = "golden_image", *image
		}
		m.VMs = append(m.VMs, v)
		trigger = agent.TriggerVMCreated
		fmt.Fprintf(stdout, "created %s (%s, %s)\n", v.Name, v.ID, v.GuestOS)
	case "start", "stop", "suspend":
		state := map[string]string{"start": "running", "stop": "stopped", "suspend": "suspended"}[sub]
		if err := m.SetState(ref, state, now); err != nil {
			return err
		}
		trigger = agent.TriggerVMStateChanged
		fmt.Fprintf(stdout, "%s is %s\n", m.VMs[m.FindVM(ref)].Name, state)
	case "rename":
		i := m.FindVM(ref)
		if i < 0 {
			return fmt.Errorf("no VM %q", ref)
		}
		if strings.TrimSpace(*name) == "" {
			fmt.Fprintln(stderr, "gatehouse agent vm rename: --name is required")
			return errUsage
		}
		m.VMs[i].Name = strings.TrimSpace(*name)
		trigger = agent.TriggerVMSettingsChanged
		fmt.Fprintf(stdout, "renamed to %s\n", m.VMs[i].Name)
	case "delete":
		i := m.FindVM(ref)
		if i < 0 {
			return fmt.Errorf("no VM %q", ref)
		}
		fmt.Fprintf(stdout, "deleted %s\n", m.VMs[i].Name)
		m.VMs = slices.Delete(m.VMs, i, i+1)
		trigger = agent.TriggerVMStateChanged
	default:
		fmt.Fprintf(stderr, "gatehouse agent vm: unknown action %q\n\n%s", sub, agentVMUsage)
		return errUsage
	}
	if err := st.Save(*dir); err != nil {
		return err
	}
	if *offline || st.Credential == "" || st.Status != "active" {
		return nil
	}
	return agentCheckIn(ctx, st, *dir, firstNonEmpty(*server, st.Server, "http://127.0.0.1:8080"), trigger, stdout)
}

const agentCheckinUsage = `Usage: gatehouse agent checkin [--trigger T] [flags]

Checks in: reports the simulated Mac and its VMs (or, when nothing changed,
only the hashes of the last answer), receives what applies now, executes
the commands it receives (each command id once) and acknowledges them in a
follow-up check-in. Triggers: launch (default), activation, vm_created,
vm_state_changed, vm_settings_changed, network_up, daily.
`

// runAgentCheckin is `gatehouse agent checkin`.
func runAgentCheckin(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent checkin", "agent checkin [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, agentCheckinUsage, "\nFlags:\n"); fs.PrintDefaults() }
	dir := fs.String("dir", app.Env("agent-dir", "agent"), "state directory")
	server := fs.String("server", app.Env("server", ""), "Gatehouse URL (default: the one in the state)")
	trigger := fs.String("trigger", agent.TriggerLaunch, "why the client checks in: "+strings.Join(agent.Triggers, ", "))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !slices.Contains(agent.Triggers, *trigger) {
		fmt.Fprintf(stderr, "gatehouse agent checkin: --trigger is one of %s\n", strings.Join(agent.Triggers, ", "))
		return errUsage
	}
	st, err := agent.LoadState(*dir)
	if err != nil {
		return err
	}
	if st.Credential == "" {
		return errors.New("not activated (run: gatehouse agent activate --key KEY)")
	}
	return agentCheckIn(ctx, st, *dir, firstNonEmpty(*server, st.Server, "http://127.0.0.1:8080"), *trigger, stdout)
}

// agentCheckIn checks in with trigger and prints what happened; the state
// is saved after every round, so an executed command is on disk before it
// is acknowledged.
func agentCheckIn(ctx context.Context, st *agent.State, dir, base, trigger string, stdout io.Writer) error {
	c := agent.NewClient(base)
	out, err := st.SyncCheckIn(ctx, c, trigger, time.Now, func() error { return st.Save(dir) })
	if err != nil {
		if serr := st.Save(dir); serr != nil {
			return serr
		}
		return agentErr(st, dir, err)
	}
	for i, a := range out.Answers {
		t := trigger
		if i > 0 {
			t = "follow-up"
		}
		fmt.Fprintf(stdout, "check-in (%s): %s, report %s, %d command(s), next check-in in %s\n", t, a.Status, a.Report,
			len(a.Commands), (time.Duration(a.NextCheckinAfter) * time.Second).Round(time.Second))
		for _, cmd := range a.Commands {
			fmt.Fprintf(stdout, "  command %s: %s VM %s\n", cmd.ID, cmd.Kind, cmd.VMID)
		}
	}
	for _, r := range out.Executed {
		if r.Result == "done" {
			fmt.Fprintf(stdout, "  executed %s: done\n", r.ID)
		} else {
			fmt.Fprintf(stdout, "  executed %s: failed (%s)\n", r.ID, r.Reason)
		}
	}
	return st.Save(dir)
}

// activationCheckIn is the check-in spec 07 asks for right after an
// activation. The activation stands even when it fails (the next trigger
// checks in again), so its failure is reported, not returned.
func activationCheckIn(ctx context.Context, st *agent.State, dir, base string, stdout io.Writer) error {
	c := agent.NewClient(base)
	if _, err := st.SyncCheckIn(ctx, c, agent.TriggerActivation, time.Now, func() error { return st.Save(dir) }); err != nil {
		fmt.Fprintf(stdout, "check-in after activation failed (the next check-in reports again): %v\n", err)
		return st.Save(dir)
	}
	fmt.Fprintf(stdout, "checked in: %d VM(s) reported\n", len(st.Mac.VMs))
	return st.Save(dir)
}
