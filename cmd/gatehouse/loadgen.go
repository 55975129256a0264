package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/app"
)

func init() {
	register("loadgen", "drive many simulated Desktop installations against a server", runLoadgen)
}

const loadgenUsage = `Usage: gatehouse loadgen <scenario> [flags]

Scenarios:
  activations --server URL --key KEY --n N --concurrency C
      N distinct simulated computers activate with KEY, C at a time.
  checks --server URL --key KEY --devices D --n N --concurrency C
      D computers activate, then N license checks run round-robin over them.
  checkins --server URL --key KEY --hosts N --vms-per-host M --duration D
           [--changed F] [--concurrency C]
      N simulated Macs with M VMs each activate and send their first report;
      then for D they check in, C at a time: a fraction F (default 0.1)
      after a VM state change (a full report), the rest with nothing new
      (the cheap "unchanged" path). Commands an admin queues meanwhile are
      executed and acknowledged. The summary gives check-ins/s, latency
      p50/p95/p99 and the outcomes (unchanged, changed, commands, or the
      error code of each failure).

Prints a progress line while running, then throughput, latency percentiles
and the count of each outcome (ok or the error code, e.g. no_free_seat).
`

func runLoadgen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, loadgenUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	scenario, args := args[0], args[1:]
	if scenario != "activations" && scenario != "checks" && scenario != "checkins" {
		fmt.Fprintf(stderr, "gatehouse loadgen: unknown scenario %q\n\n%s", scenario, loadgenUsage)
		return errUsage
	}
	fs := newFlagSet("loadgen "+scenario, "loadgen "+scenario+" [flags]", stderr)
	fs.Usage = func() { fmt.Fprint(stderr, loadgenUsage, "\nFlags:\n"); fs.PrintDefaults() }
	server := fs.String("server", app.Env("server", "http://127.0.0.1:8080"), "Gatehouse URL")
	key := fs.String("key", app.Env("loadgen-key", ""), "license key the simulated computers use")
	n := fs.Int("n", envInt("loadgen-n", 1000), "number of requests")
	conc := fs.Int("concurrency", envInt("loadgen-concurrency", 50), "requests in flight at once")
	devices := fs.Int("devices", 100, "checks: number of activated computers to check with")
	conns := fs.Int("conns", 0, "HTTP connections (default: --concurrency, at most 256)")
	quiet := fs.Bool("quiet", false, "no progress line")
	hosts := fs.Int("hosts", 100, "checkins: simulated Macs")
	vmsPerHost := fs.Int("vms-per-host", 5, "checkins: VMs on each Mac")
	duration := fs.Duration("duration", 30*time.Second, "checkins: how long to drive the fleet")
	changed := fs.Float64("changed", 0.1, "checkins: fraction of check-ins after a VM state change")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if scenario == "checkins" && (*hosts < 1 || *vmsPerHost < 0 || *vmsPerHost > 200 || *duration <= 0 || *changed < 0 || *changed > 1) {
		fmt.Fprintln(stderr, "gatehouse loadgen checkins: --hosts ≥ 1, --vms-per-host 0…200, --duration > 0 and --changed 0…1 are required")
		return errUsage
	}
	if *key == "" || *n < 1 || *conc < 1 {
		fmt.Fprintln(stderr, "gatehouse loadgen: --key, --n ≥ 1 and --concurrency ≥ 1 are required")
		return errUsage
	}
	if *conns <= 0 {
		*conns = min(*conc, 256)
	}
	c := &agent.Client{BaseURL: *server, HTTP: agent.LoadHTTPClient(*conns), UserAgent: "gatehouse-loadgen"}
	opts := agent.LoadOptions{N: *n, Concurrency: *conc}
	if !*quiet {
		opts.Progress = stderr
	}
	switch scenario {
	case "checkins":
		fmt.Fprintf(stdout, "checkins: activating %d Macs with %d VMs each and sending their first reports …\n", *hosts, *vmsPerHost)
		var progress io.Writer
		if !*quiet {
			progress = stderr
		}
		fleet, err := agent.SetupFleet(ctx, c, *key, *hosts, *vmsPerHost, *conc, progress)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "checkins: %s of check-ins by %d Macs, concurrency %d, %.0f%% after a change, against %s\n",
			*duration, *hosts, min(*conc, *hosts), 100**changed, *server)
		res := fleet.Run(ctx, agent.FleetLoadOptions{Duration: *duration, Concurrency: *conc, Changed: *changed, Progress: progress})
		fmt.Fprintln(stdout, res.Summary())
		if res.Errors() > 0 {
			return fmt.Errorf("%d check-ins failed", res.Errors())
		}
	case "activations":
		devs := make([]agent.Device, *n)
		for i := range devs {
			devs[i] = agent.NewDevice()
		}
		fmt.Fprintf(stdout, "activations: %d computers, concurrency %d, against %s\n", *n, *conc, *server)
		res := agent.Run(ctx, opts, func(ctx context.Context, i int) error {
			_, err := c.Activate(ctx, *key, "", devs[i])
			return err
		})
		fmt.Fprintln(stdout, res.Summary())
	case "checks":
		fmt.Fprintf(stdout, "checks: activating %d computers …\n", *devices)
		creds := make([]string, *devices)
		setup := agent.Run(ctx, agent.LoadOptions{N: *devices, Concurrency: min(*conc, *devices)}, func(ctx context.Context, i int) error {
			act, err := c.Activate(ctx, *key, "", agent.NewDevice())
			if err == nil {
				creds[i] = act.Credential
			}
			return err
		})
		if setup.Outcomes["ok"] != *devices {
			return fmt.Errorf("activating the computers to check with: %s", setup.Summary())
		}
		fmt.Fprintf(stdout, "checks: %d license checks over %d computers, concurrency %d\n", *n, *devices, *conc)
		res := agent.Run(ctx, opts, func(ctx context.Context, i int) error {
			_, err := c.Check(ctx, creds[i%len(creds)], "")
			return err
		})
		fmt.Fprintln(stdout, res.Summary())
	}
	return nil
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(app.Env(name, "")); err == nil {
		return v
	}
	return def
}
