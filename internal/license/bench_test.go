package license

import (
	"context"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// BenchmarkCheck measures one license check (lookup + certificate) without
// HTTP, per engine.
func BenchmarkCheck(b *testing.B) {
	for _, e := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			s := newService(db)
			ctx := context.Background()
			a := newAccount(&testing.T{}, db)
			_, key, _ := s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 10, Term: Term{Years: 1}}, OperatorActor("b"))
			if _, err := s.RegisterKey(ctx, a, RegisterInput{Key: key}, testActor); err != nil {
				b.Fatal(err)
			}
			act, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)})
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Check(ctx, act.Credential, CheckInput{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// BenchmarkActivate measures activations of distinct devices on one key
// (grouped seat transactions), without HTTP, per engine.
func BenchmarkActivate(b *testing.B) {
	for _, e := range []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}} {
		b.Run(e.name, func(b *testing.B) {
			db := e.open(b)
			s := newService(db)
			ctx := context.Background()
			a := newAccount(&testing.T{}, db)
			_, key, _ := s.Issue(ctx, IssueInput{Edition: "business", Model: "per-device", Seats: 1_000_000, Term: Term{Years: 1}}, OperatorActor("b"))
			if _, err := s.RegisterKey(ctx, a, RegisterInput{Key: key}, testActor); err != nil {
				b.Fatal(err)
			}
			b.SetParallelism(16)
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
		})
	}
}

// cpuTime is the CPU time this process has used (user + system), which,
// unlike wall-clock time, the other processes of a shared machine do not
// inflate. PostgreSQL's own CPU is not in it.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
