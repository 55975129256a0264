package saml

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// BenchmarkConsumeResponse measures validated responses per second:
//
//   - verify/1-core: document checks + signature only, one goroutine (the
//     same work samlify's parseLoginResponse does, on one core like Node);
//
//   - verify/parallel: the same on every core;
//
//   - consume/<engine>: the full ConsumeResponse (plus the replay insert
//     and the conditional request UPDATE), on every core;
//
//   - samlify/1-core/…: samlify 2.13.1 validating the very document of
//     verify/1-core in Node (its own timed loop), with and without its XSD
//     schema validation, with the ratio.
func BenchmarkConsumeResponse(b *testing.B) {
	k := testKey(b, "idp")
	var single float64
	var sampleXML string
	var sampleEnv *env

	b.Run("verify/1-core", func(b *testing.B) {
		e := newEnv(b, testenv.SQLite(b))
		raw := []byte(goSign(b, e.resp("_bench").xml(), k, false, true, false))
		sampleXML, sampleEnv = string(raw), e
		b.ReportAllocs()
		b.ResetTimer()
		cpu0 := cpuTime()
		for i := 0; i < b.N; i++ {
			if _, r := verifyResponse(raw, e.sp, e.idp, e.now, defaultClockSkew); r != nil {
				b.Fatal(r)
			}
		}
		single = float64(b.N) / b.Elapsed().Seconds()
		b.ReportMetric(single, "responses/s")
		reportCPU(b, cpu0)
	})
	b.Run("verify/parallel", func(b *testing.B) {
		e := newEnv(b, testenv.SQLite(b))
		raw := []byte(goSign(b, e.resp("_bench").xml(), k, false, true, false))
		b.ResetTimer()
		cpu0 := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, r := verifyResponse(raw, e.sp, e.idp, e.now, defaultClockSkew); r != nil {
					b.Error(r)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
		reportCPU(b, cpu0)
	})
	engines := []struct {
		name string
		open func(testing.TB) *store.DB
	}{{"sqlite", testenv.SQLite}, {"postgres", testenv.Postgres}}
	for _, eng := range engines {
		b.Run("consume/"+eng.name, func(b *testing.B) {
			e := newEnv(b, eng.open(b))
			type item struct{ b64, binding string }
			items := make(chan item, b.N)
			for i := 0; i < b.N; i++ {
				reqID, binding := e.start(b)
				items <- item{base64.StdEncoding.EncodeToString([]byte(goSign(b, e.resp(reqID).xml(), k, false, true, false))), binding}
			}
			close(items)
			ctx := context.Background()
			b.ResetTimer()
			cpu0, db0 := cpuTime(), testenv.PostgresCPU(ctx, e.svc.DB)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					it := <-items
					if _, err := e.svc.ConsumeResponse(ctx, e.account, e.sp, e.idp, it.b64, it.binding); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "responses/s")
			reportCPU(b, cpu0)
			if db := testenv.PostgresCPU(ctx, e.svc.DB) - db0; db > 0 {
				// PostgreSQL's own CPU per response, to add to cpu-µs/op.
				b.ReportMetric(float64(db.Microseconds())/float64(b.N), "db-cpu-µs/op")
			}
		})
	}

	for _, schema := range []bool{true, false} {
		bname := "samlify/1-core/schema-validation"
		n := 200
		if !schema {
			bname, n = "samlify/1-core/no-schema-validation", 1000
		}
		b.Run(bname, func(b *testing.B) {
			if sampleXML == "" || single == 0 {
				b.Skip("run together with verify/1-core")
			}
			dir, _ := filepath.Abs("testdata/node")
			if _, err := os.Stat(filepath.Join(dir, "node_modules", "samlify")); err != nil {
				b.Skipf("samlify not installed in %s: no comparison", dir)
			}
			if _, err := exec.LookPath("node"); err != nil {
				b.Skip("node not installed: no comparison")
			}
			in, _ := json.Marshal(map[string]any{
				"idpEntityID": testIdPEntity, "idpCertPEM": k.certPEM,
				"spMetadata":   string(SPMetadata(sampleEnv.sp)),
				"samlResponse": base64.StdEncoding.EncodeToString([]byte(sampleXML)),
				"n":            n,
				"schema":       schema,
			})
			cmd := exec.Command("node", "bench.js")
			cmd.Dir = dir
			cmd.Stdin = strings.NewReader(string(in))
			var stderr strings.Builder
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				b.Fatalf("samlify benchmark failed: %v\n%s", err, stderr.String())
			}
			var res struct {
				N         int     `json:"n"`
				Seconds   float64 `json:"seconds"`
				PerSecond float64 `json:"perSecond"`
			}
			if err := json.Unmarshal(out, &res); err != nil {
				b.Fatalf("samlify output %q: %v", out, err)
			}
			// Node runs its own timed loop of n validations (after start-up and
			// warm-up, which are not counted); report its figure as this
			// benchmark's result.
			b.ReportMetric(res.Seconds*1e9/float64(res.N), "ns/op")
			b.ReportMetric(res.PerSecond, "responses/s")
			b.Logf("same document, one core each: gatehouse %.0f responses/s, samlify 2.13.1 %.0f responses/s (%d in %.2fs) — gatehouse/samlify = %.1fx",
				single, res.PerSecond, res.N, res.Seconds, single/res.PerSecond)
		})

	}
}

// cpuTime is the CPU time this process has used (all threads, GC included).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds CPU-µs per response: on a machine shared with other work
// (the benchmark's wall-clock figures swing with the load) this is the
// stable number; a core gives 1e6/(cpu-µs/op) responses per second.
func reportCPU(b *testing.B, start time.Duration) {
	used := cpuTime() - start
	if used <= 0 || b.N == 0 {
		return
	}
	b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/op")
}
