package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
	"gatehouse/internal/portal"
	"gatehouse/internal/testenv"
)

var loadgenRe = regexp.MustCompile(`(\d+) check-ins in [\d.]+s: (\d+)/s; latency p50 (\S+), p95 (\S+),`)

// BenchmarkCheckinsWithPortal measures, in one run against one node (the
// built binary's `loadgen checkins` over real HTTP, SQLite), the unchanged
// check-in path before and after the account gets a golden image, a
// policy and a profile on the key the simulated Macs use, and prints the
// ratio. GATEHOUSE_BENCH_DURATION sets each phase's length (default 20s).
func BenchmarkCheckinsWithPortal(b *testing.B) {
	bin := filepath.Join(b.TempDir(), "gatehouse")
	build := exec.Command("go", "build", "-o", bin, "./cmd/gatehouse")
	build.Dir = testenv.RepoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		b.Fatalf("build: %v\n%s", err, out)
	}
	dur := os.Getenv("GATEHOUSE_BENCH_DURATION")
	if dur == "" {
		dur = "20s"
	}
	ctx := context.Background()
	node := apptest.Start(b, "sqlite://"+filepath.Join(b.TempDir(), "gh.db"))
	admin := apptest.NewClient(b, node.URL)
	admin.SignUp("bench@portal.example", pw, "Bench")
	acct := admin.CreateAccount("Bench Corp")
	_, key, err := node.App.License.Issue(ctx, license.IssueInput{Edition: license.EditionEnterprise, Model: license.ModelMixed, Seats: 5000,
		Term: license.Term{Years: 1}}, license.OperatorActor("bench"))
	if err != nil {
		b.Fatal(err)
	}
	r := admin.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key}, "display_name": {"Bench"}})
	if r.Status != http.StatusSeeOther {
		b.Fatalf("register: %d", r.Status)
	}
	phase := func(name string) (perSec float64, p95 string) {
		out, err := exec.Command(bin, "loadgen", "checkins", "--server", node.URL, "--key", key, "--hosts", "200", "--vms-per-host", "3",
			"--duration", dur, "--changed", "0", "--concurrency", "20", "--quiet").CombinedOutput()
		m := loadgenRe.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			b.Fatalf("loadgen %s: %v\n%s", name, err, out)
		}
		fmt.Sscan(m[2], &perSec)
		fmt.Printf("%s: %s check-ins, %s/s, p50 %s, p95 %s\n", name, m[1], m[2], m[3], m[4])
		return perSec, m[4]
	}
	b.ResetTimer()
	base, _ := phase("unchanged check-ins, no portal settings")
	// The Macs activate with the primary key: give it a policy with an
	// image and both VM-settings sets, and a profile.
	svc := node.App.Portal
	caller := portal.Caller{AccountID: acct, Role: license.RoleAdmin}
	var primary string
	if err := node.App.DB.QueryRow(ctx, `SELECT id FROM license_keys WHERE account_id = ? AND kind = 'primary'`, acct).Scan(&primary); err != nil {
		b.Fatal(err)
	}
	img, err := svc.SaveImage(ctx, caller, "", portal.ImageInput{Name: "Bench image",
		AppleSilicon: portal.Arch{Enabled: true, URL: "https://images.example.com/a.pvmp", SHA256: strings.Repeat("a", 64)},
		Intel:        portal.Arch{Enabled: true, URL: "https://images.example.com/i.pvmp", SHA256: strings.Repeat("b", 64)}}, operatorActor)
	if err != nil {
		b.Fatal(err)
	}
	gi, other := portal.DefaultSet(), portal.DefaultSet()
	gi.On, other.On = true, true
	if _, err := svc.SavePolicy(ctx, caller, "", portal.PolicyInput{Name: "Bench", ImageID: img.ID, Groups: []string{primary},
		Controls: portal.Controls{LicenseBound: true, NoMajorUpgrade: true}, GoldenImage: gi, Other: other}, operatorActor); err != nil {
		b.Fatal(err)
	}
	prof, err := svc.SaveProfile(ctx, caller, "", portal.ProfileInput{Name: "Bench", UpdatesEnabled: true,
		Intel: portal.Payload{Enabled: true, Name: "Lab", URL: "https://images.example.com/lab.pvmp", SHA256: strings.Repeat("c", 64)}}, operatorActor)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := svc.ApplyProfile(ctx, caller, primary, prof.ID, operatorActor); err != nil {
		b.Fatal(err)
	}
	with, _ := phase("unchanged check-ins, policy + image + profile")
	b.StopTimer()
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Printf("ratio with/without portal settings: %.2f (loadavg %s, %s)\n", with/base, strings.TrimSpace(string(load[:14])), time.Now().UTC().Format(time.RFC3339))
	b.ReportMetric(with/base, "ratio")
}
