package agent

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Fleet is a set of simulated Macs with VMs, activated on one server, for
// the load generator and the benchmarks. Each host is used by one request
// at a time (its state is a sequence).
type Fleet struct {
	Client *Client
	Hosts  []*State
	locks  []sync.Mutex
}

// NewFleet makes a fleet of already activated hosts.
func NewFleet(c *Client, hosts []*State) *Fleet {
	return &Fleet{Client: c, Hosts: hosts, locks: make([]sync.Mutex, len(hosts))}
}

// SetupFleet activates hosts simulated Macs with key, each with vmsPerHost
// VMs, and sends each one's first full report, conc at a time.
func SetupFleet(ctx context.Context, c *Client, key string, hosts, vmsPerHost, conc int, progress io.Writer) (*Fleet, error) {
	f := &Fleet{Client: c, Hosts: make([]*State, hosts), locks: make([]sync.Mutex, hosts)}
	res := Run(ctx, LoadOptions{N: hosts, Concurrency: conc, Progress: progress}, func(ctx context.Context, i int) error {
		st := &State{Device: NewDevice(), Mac: NewMac(), Status: "inactive"}
		act, err := c.Activate(ctx, key, "", st.Device)
		if err != nil {
			return err
		}
		st.Apply(act, time.Now())
		for v := 0; v < vmsPerHost; v++ {
			st.Mac.VMs = append(st.Mac.VMs, NewVM(fmt.Sprintf("VM %d", v+1), ""))
		}
		if _, err := st.SyncCheckIn(ctx, c, TriggerActivation, time.Now, nil); err != nil {
			return err
		}
		f.Hosts[i] = st
		return nil
	})
	if res.Outcomes["ok"] != hosts {
		return nil, fmt.Errorf("setting up %d hosts: %s", hosts, res.Summary())
	}
	return f, nil
}

// FleetLoadOptions drive a fleet run: until Duration has passed (or N
// check-ins when N > 0), Concurrency in flight. Changed is the fraction of
// check-ins that follow a VM state change (a full report); the others have
// nothing new (the "unchanged" path, unless commands wait).
type FleetLoadOptions struct {
	Duration    time.Duration
	N           int
	Concurrency int
	Changed     float64
	Progress    io.Writer
	// ProgressInterval defaults to one second.
	ProgressInterval time.Duration
}

// FleetResult summarizes a fleet run. Outcomes counts each check-in by
// what the server answered ("unchanged", "changed", "commands" — a check-in
// that received commands — "report_required") or by error code.
type FleetResult struct {
	Requests  int
	Elapsed   time.Duration
	Outcomes  map[string]int
	Latencies []time.Duration // sorted
	// Executed counts commands executed; Acked those acknowledged.
	Executed, Acked int
	FirstError      error
}

// PerSecond is check-ins per second.
func (r *FleetResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Requests) / r.Elapsed.Seconds()
}

// Percentile returns the p-th percentile latency.
func (r *FleetResult) Percentile(p float64) time.Duration {
	return (&LoadResult{Latencies: r.Latencies}).Percentile(p)
}

// Errors counts the failed check-ins.
func (r *FleetResult) Errors() int {
	n := 0
	for k, v := range r.Outcomes {
		switch k {
		case "unchanged", "changed", "commands", "ok", "report_required":
		default:
			n += v
		}
	}
	return n
}

// Summary is the report printed by loadgen.
func (r *FleetResult) Summary() string {
	s := fmt.Sprintf("%d check-ins in %.1fs: %.0f/s; latency p50 %s, p95 %s, p99 %s, max %s\ncommands executed %d, acknowledged %d\noutcomes:",
		r.Requests, r.Elapsed.Seconds(), r.PerSecond(), round(r.Percentile(50)), round(r.Percentile(95)), round(r.Percentile(99)),
		round(r.Percentile(100)), r.Executed, r.Acked)
	keys := make([]string, 0, len(r.Outcomes))
	for k := range r.Outcomes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		s += fmt.Sprintf(" %s=%d", k, r.Outcomes[k])
	}
	if n := r.Errors(); n > 0 {
		s += fmt.Sprintf("\nerrors: %d (by reason above)", n)
	}
	if r.FirstError != nil {
		s += fmt.Sprintf("\nfirst unexpected error: %v", r.FirstError)
	}
	return s
}

// Run drives the fleet: each check-in picks a random idle host; with
// probability Changed one of its VMs changes state first. Commands the
// server delivers are executed (once per id) and acknowledged in that
// host's next check-in.
func (f *Fleet) Run(ctx context.Context, o FleetLoadOptions) *FleetResult {
	// A host serves one request at a time, so more workers than hosts
	// would only wait.
	o.Concurrency = max(1, min(o.Concurrency, len(f.Hosts)))
	if o.ProgressInterval <= 0 {
		o.ProgressInterval = time.Second
	}
	if o.Duration <= 0 && o.N <= 0 {
		o.N = len(f.Hosts)
	}
	var deadline time.Time
	start := time.Now()
	if o.Duration > 0 {
		deadline = start.Add(o.Duration)
	}
	var issued, done, failed atomic.Int64
	type workerOut struct {
		lat             []time.Duration
		outcomes        map[string]int
		executed, acked int
		firstErr        error
	}
	outs := make([]workerOut, o.Concurrency)
	stop := make(chan struct{})
	var pw sync.WaitGroup
	if o.Progress != nil {
		pw.Add(1)
		go func() {
			defer pw.Done()
			t := time.NewTicker(o.ProgressInterval)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					el := time.Since(start).Seconds()
					fmt.Fprintf(o.Progress, "\r%5.0fs  %d check-ins  %.0f/s  errors %d   ", el, done.Load(), float64(done.Load())/el, failed.Load())
				}
			}
		}()
	}
	var wg sync.WaitGroup
	for w := 0; w < o.Concurrency; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			out := &outs[w]
			out.outcomes = map[string]int{}
			rng := rand.New(rand.NewPCG(uint64(w)+1, uint64(start.UnixNano())))
			for ctx.Err() == nil {
				if o.N > 0 && issued.Add(1) > int64(o.N) {
					return
				}
				if !deadline.IsZero() && time.Now().After(deadline) {
					return
				}
				// A random host that no other worker is using.
				var h int
				for {
					h = rng.IntN(len(f.Hosts))
					if f.locks[h].TryLock() {
						break
					}
				}
				st := f.Hosts[h]
				trigger := TriggerDaily
				if rng.Float64() < o.Changed && len(st.Mac.VMs) > 0 {
					v := &st.Mac.VMs[rng.IntN(len(st.Mac.VMs))]
					next := map[string]string{"running": "suspended", "suspended": "stopped", "stopped": "running"}[v.State]
					if next == "" {
						next = "running"
					}
					_ = st.Mac.SetState(v.ID, next, time.Now())
					trigger = TriggerVMStateChanged
				} else if len(st.Mac.Results) > 0 {
					trigger = TriggerCommandResult
				}
				req := st.NextCheckIn(trigger, false)
				t0 := time.Now()
				resp, err := f.Client.CheckIn(ctx, st.Credential, req)
				out.lat = append(out.lat, time.Since(t0))
				if err != nil {
					code := ErrorCode(err)
					if code == "" {
						code = "transport"
						if out.firstErr == nil {
							out.firstErr = err
						}
					}
					out.outcomes[code]++
					failed.Add(1)
					// The sequence number was spent; the report was not
					// taken, so the next check-in sends it again.
					st.Mac.SentHash = ""
				} else {
					before := st.Mac.Executions
					out.acked += len(req.CommandResults)
					st.ApplyAnswer(req, resp, time.Now())
					out.executed += st.Mac.Executions - before
					switch {
					case len(resp.Commands) > 0:
						out.outcomes["commands"]++
					case resp.Status == "unchanged":
						out.outcomes["unchanged"]++
					case resp.Status == "report_required":
						out.outcomes["report_required"]++
					default:
						out.outcomes["changed"]++
					}
				}
				f.locks[h].Unlock()
				done.Add(1)
			}
		}(w)
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	pw.Wait()
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "\r%5.0fs  %d check-ins  %.0f/s  errors %d   \n", elapsed.Seconds(), done.Load(), float64(done.Load())/elapsed.Seconds(), failed.Load())
	}
	res := &FleetResult{Elapsed: elapsed, Outcomes: map[string]int{}}
	for _, out := range outs {
		res.Latencies = append(res.Latencies, out.lat...)
		for k, v := range out.outcomes {
			res.Outcomes[k] += v
		}
		res.Executed += out.executed
		res.Acked += out.acked
		if res.FirstError == nil {
			res.FirstError = out.firstErr
		}
	}
	res.Requests = len(res.Latencies)
	slices.Sort(res.Latencies)
	return res
}
