package license

import (
	"context"
	"testing"

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
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Check(ctx, act.Credential, CheckInput{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
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
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.Activate(ctx, ActivateInput{Key: key, Device: device(0)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
