package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestProvisioningBenchmark measures SCIM provisioning as shipped: it builds
// the gatehouse binary, runs `gatehouse serve` with its default settings
// (rate limit included) on SQLite and on PostgreSQL, and drives it over
// loopback HTTP with a generic IdP-like client: POST /Users one by one, 8
// requests in flight, honouring Retry-After on 429. The same client drives
// an in-memory scimmy server (testdata/scimmy) in the same run as the
// baseline. It only runs with GATEHOUSE_BENCH_SCIM=1 (scripts/bench scim):
//
//  1. 10,000 users + 100 groups × 100 members, on scimmy and on each engine:
//     requests/s and the ratio to scimmy (target ≥ 1.5×).
//  2. 100,000 users + 1,000 groups × 100 members on each engine (target
//     ≤ 70 s on SQLite), then userName eq lookups with 8 concurrent clients
//     (target p95 ≤ 5 ms on both engines) and the other requests IdPs make.
//
// Sizes: GATEHOUSE_BENCH_SCIM_USERS (100000), _GROUPS (1000), _MEMBERS (100),
// _SMALL_USERS (10000), _SMALL_GROUPS (100), _CONCURRENCY (8);
// _ENGINES=sqlite|postgres (default both); _PHASES=small|large (default
// both); _BINARY=path measures another build (e.g. an older commit's) with
// this harness. The test prints; it does not assert timing.
func TestProvisioningBenchmark(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_SCIM") != "1" {
		t.Skip("set GATEHOUSE_BENCH_SCIM=1 to run the SCIM provisioning benchmark")
	}
	nUsers := envInt("GATEHOUSE_BENCH_SCIM_USERS", 100000)
	nGroups := envInt("GATEHOUSE_BENCH_SCIM_GROUPS", 1000)
	nMembers := envInt("GATEHOUSE_BENCH_SCIM_MEMBERS", 100)
	smallUsers := envInt("GATEHOUSE_BENCH_SCIM_SMALL_USERS", 10000)
	smallGroups := envInt("GATEHOUSE_BENCH_SCIM_SMALL_GROUPS", 100)
	conc := envInt("GATEHOUSE_BENCH_SCIM_CONCURRENCY", 8)
	engines := os.Getenv("GATEHOUSE_BENCH_SCIM_ENGINES")
	phases := os.Getenv("GATEHOUSE_BENCH_SCIM_PHASES")
	bin := os.Getenv("GATEHOUSE_BENCH_SCIM_BINARY")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "gatehouse")
		build := exec.Command("go", "build", "-o", bin, "gatehouse/cmd/gatehouse")
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("build gatehouse: %v\n%s", err, out)
		}
	}
	engineOK := func(name string) bool { return engines == "" || engines == name }
	fmt.Printf("\n== SCIM provisioning as shipped (%s), IdP-like client: %d in flight, honours Retry-After\n", bin, conc)

	if phases == "" || phases == "small" {
		fmt.Printf("\n-- %d users + %d groups × %d members  (%s)\n", smallUsers, smallGroups, nMembers, loadavg())
		sc := startScimmy(t)
		ref := provision(t, &idpClient{base: sc.base, token: sc.token, conc: conc}, smallUsers, smallGroups, nMembers)
		ref.print("scimmy (in memory)", 0)
		for _, engine := range []string{"sqlite", "postgres"} {
			if !engineOK(engine) {
				continue
			}
			n := startNode(t, bin, engine)
			r := provision(t, n.client(conc), smallUsers, smallGroups, nMembers)
			r.print("gatehouse "+engine, ref.rate())
		}
		fmt.Printf("   target: gatehouse ≥ 1.5× scimmy's requests/s  (%s)\n", loadavg())
	}
	if phases == "" || phases == "large" {
		for _, engine := range []string{"sqlite", "postgres"} {
			if !engineOK(engine) {
				continue
			}
			fmt.Printf("\n-- %s: %d users + %d groups × %d members  (%s)\n", engine, nUsers, nGroups, nMembers, loadavg())
			n := startNode(t, bin, engine)
			c := n.client(conc)
			r := provision(t, c, nUsers, nGroups, nMembers)
			r.print("gatehouse "+engine, 0)
			fmt.Printf("   target on SQLite: ≤ 70 s  (%s)\n", loadavg())
			lookups(t, c, r, nUsers, conc)
			fmt.Printf("   (%s)\n", loadavg())
		}
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load average unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

// node is a `gatehouse serve` process with one account and its SCIM token.
type node struct {
	base, token string
}

func (n *node) client(conc int) *idpClient {
	return &idpClient{base: n.base, token: n.token, conc: conc}
}

// startNode migrates a fresh database with the binary, creates an account
// and a SCIM token the way the configurator does (scim.Service), and starts
// `gatehouse serve` on it with default flags.
func startNode(t *testing.T, bin, engine string) *node {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	dbURL := "sqlite://" + filepath.Join(dir, "gatehouse.db")
	if engine == "postgres" {
		dbURL = testenv.PostgresURL(t)
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	migrate := exec.Command(bin, "migrate", "--database-url", dbURL)
	migrate.Env = env
	if out, err := migrate.CombinedOutput(); err != nil {
		t.Fatalf("gatehouse migrate: %v\n%s", err, out)
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	account := newAccount(t, db, "Bench")
	token, err := (&Service{DB: db}).GenerateToken(ctx, account, admin, 0)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	logs, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--database-url", dbURL, "--data-dir", dir)
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("start gatehouse serve: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		logs.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("gatehouse serve did not answer /healthz within 60 s (log: %s)", logs.Name())
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, not timing
	}
	return &node{base: "http://" + addr + "/scim/v2", token: token}
}

// idpClient is a generic IdP-like SCIM client: conc requests in flight, and
// on 429 it waits for Retry-After (1 s when absent) and sends the request
// again, as Entra, Okta and the others do.
type idpClient struct {
	base, token string
	conc        int
	once        sync.Once
	http        *http.Client
	throttled   atomic.Int64 // 429s received
	waited      atomic.Int64 // ns spent waiting for Retry-After
}

func (c *idpClient) do(t testing.TB, method, path string, body any) (int, []byte, time.Duration) {
	c.once.Do(func() {
		c.http = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c.conc * 2, MaxConnsPerHost: c.conc * 2}}
	})
	var js []byte
	if body != nil {
		js, _ = json.Marshal(body)
	}
	for {
		req, _ := http.NewRequest(method, c.base+path, bytes.NewReader(js))
		req.Header.Set("Authorization", "Bearer "+c.token)
		req.Header.Set("Content-Type", "application/scim+json")
		start := time.Now()
		res, err := c.http.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		took := time.Since(start)
		if res.StatusCode != http.StatusTooManyRequests {
			return res.StatusCode, b, took
		}
		c.throttled.Add(1)
		wait := time.Second
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s > 0 {
			wait = time.Duration(s) * time.Second
		}
		c.waited.Add(int64(wait))
		time.Sleep(wait) // honouring Retry-After is the behaviour under test
	}
}

// provisioned is what provision did and how long it took.
type provisioned struct {
	requests  int
	took      time.Duration
	throttled int64
	waited    time.Duration
	userIDs   []string
	members   [][]string
	users     latencies
	groups    latencies
	patches   latencies
	client    *idpClient
}

func (p *provisioned) rate() float64 { return float64(p.requests) / p.took.Seconds() }

func (p *provisioned) print(label string, ref float64) {
	ratio := ""
	if ref > 0 {
		ratio = fmt.Sprintf("  %.2f× scimmy", p.rate()/ref)
	}
	fmt.Printf("   %-20s %7d requests in %8v  %6.0f req/s%s  429s %d (waited %v)\n", label, p.requests,
		p.took.Round(time.Millisecond), p.rate(), ratio, p.throttled, p.waited)
	fmt.Printf("   %-20s POST /Users %s\n", "", p.users.summary())
	fmt.Printf("   %-20s POST /Groups %s; PATCH members %s\n", "", p.groups.summary(), p.patches.summary())
}

// provision creates nUsers users one by one, then nGroups groups, each with
// nMembers members added in one PATCH (as Entra batches member adds).
func provision(t *testing.T, c *idpClient, nUsers, nGroups, nMembers int) *provisioned {
	t.Helper()
	p := &provisioned{userIDs: make([]string, nUsers), members: make([][]string, nGroups), client: c}
	throttled0, waited0 := c.throttled.Load(), c.waited.Load()
	start := time.Now()
	parallel(nUsers, c.conc, func(i int) {
		st, b, d := c.do(t, "POST", "/Users", map[string]any{
			"schemas":     []any{URNUser, URNEnterprise},
			"externalId":  fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"userName":    fmt.Sprintf("user%06d@contoso.example", i),
			"active":      true,
			"displayName": fmt.Sprintf("User %06d", i),
			"emails":      []any{map[string]any{"primary": true, "type": "work", "value": fmt.Sprintf("user%06d@contoso.example", i)}},
			"name":        map[string]any{"givenName": "User", "familyName": fmt.Sprintf("N%06d", i), "formatted": "User " + strconv.Itoa(i)},
			"title":       "Engineer",
			URNEnterprise: map[string]any{"department": fmt.Sprintf("Dept %d", i%50), "employeeNumber": strconv.Itoa(i)},
		})
		if st != 201 {
			t.Fatalf("create user %d: %d %s", i, st, b)
		}
		var m struct{ ID string }
		_ = json.Unmarshal(b, &m)
		p.userIDs[i] = m.ID
		p.users.add(d)
	})
	rng := rand.New(rand.NewPCG(1, 2))
	for g := range p.members {
		for _, k := range rng.Perm(nUsers)[:min(nMembers, nUsers)] {
			p.members[g] = append(p.members[g], p.userIDs[k])
		}
	}
	parallel(nGroups, c.conc, func(g int) {
		st, b, d := c.do(t, "POST", "/Groups", map[string]any{
			"schemas":     []any{URNGroup},
			"externalId":  fmt.Sprintf("10000000-0000-4000-8000-%012d", g),
			"displayName": fmt.Sprintf("Group %04d", g),
		})
		if st != 201 {
			t.Fatalf("create group %d: %d %s", g, st, b)
		}
		p.groups.add(d)
		var m struct{ ID string }
		_ = json.Unmarshal(b, &m)
		values := make([]any, len(p.members[g]))
		for i, id := range p.members[g] {
			values[i] = map[string]any{"value": id}
		}
		st, b, d = c.do(t, "PATCH", "/Groups/"+m.ID, map[string]any{
			"schemas":    []any{URNPatchOp},
			"Operations": []any{map[string]any{"op": "add", "path": "members", "value": values}},
		})
		if st != 200 && st != 204 {
			t.Fatalf("add members %d: %d %s", g, st, b)
		}
		p.patches.add(d)
	})
	p.took = time.Since(start)
	p.requests = nUsers + 2*nGroups
	p.throttled = c.throttled.Load() - throttled0
	p.waited = time.Duration(c.waited.Load() - waited0)
	return p
}

// lookups times userName eq (what every IdP sends before creating a user)
// sequentially and with conc concurrent clients, and the other requests
// IdPs make.
func lookups(t *testing.T, c *idpClient, p *provisioned, nUsers, conc int) {
	t.Helper()
	throttled0 := c.throttled.Load()
	rng := rand.New(rand.NewPCG(3, 4))
	lookup := func(lat *latencies, i int) {
		f := url.QueryEscape(fmt.Sprintf(`userName eq "USER%06d@contoso.example"`, i))
		st, b, d := c.do(t, "GET", "/Users?filter="+f, nil)
		if st != 200 || !bytes.Contains(b, []byte(`"totalResults":1`)) {
			t.Fatalf("lookup %d: %d %s", i, st, b)
		}
		lat.add(d)
	}
	var seqLat, parLat latencies
	for range 1000 {
		lookup(&seqLat, rng.IntN(nUsers))
	}
	fmt.Printf("   userName eq, sequential (1000):    %s\n", seqLat.summary())
	picks := make([]int, 8000)
	for i := range picks {
		picks[i] = rng.IntN(nUsers)
	}
	parallel(len(picks), conc, func(i int) { lookup(&parLat, picks[i]) })
	fmt.Printf("   userName eq, %d concurrent (8000): %s  (target p95 ≤ 5 ms)\n", conc, parLat.summary())

	timeIt := func(label, path string, n int) {
		var l latencies
		for range n {
			st, b, d := c.do(t, "GET", path, nil)
			if st != 200 {
				t.Fatalf("%s: %d %s", label, st, b)
			}
			l.add(d)
		}
		fmt.Printf("   %-42s %s\n", label+":", l.summary())
	}
	var gid string
	{
		_, b, _ := c.do(t, "GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Group 0000"`), nil)
		var lr struct{ Resources []struct{ ID string } }
		_ = json.Unmarshal(b, &lr)
		if len(lr.Resources) != 1 {
			t.Fatalf("Group 0000 not found: %s", b)
		}
		gid = lr.Resources[0].ID
	}
	timeIt("GET /Users/{id}", "/Users/"+p.userIDs[nUsers/2], 200)
	timeIt("externalId eq", "/Users?filter="+url.QueryEscape(`externalId eq "00000000-0000-4000-8000-000000000042"`), 200)
	timeIt("Groups displayName eq, excl. members", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Group 0500"`), 200)
	timeIt("Entra membership check", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`id eq "`+gid+`" and members[value eq "`+p.members[0][0]+`"]`), 200)
	timeIt("GET /Groups/{id} with members", "/Groups/"+gid, 50)
	timeIt("page startIndex=50000 count=100", "/Users?startIndex=50000&count=100", 20)
	timeIt("full scan: title co \"gin\" count=10", "/Users?count=10&filter="+url.QueryEscape(`title co "gin"`), 3)
	fmt.Printf("   429s during the lookups: %d\n", c.throttled.Load()-throttled0)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// latencies collects request durations.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return "-"
	}
	s := slices.Clone(l.d)
	slices.Sort(s)
	p := func(q float64) time.Duration { return s[min(len(s)-1, int(q*float64(len(s))))] }
	return fmt.Sprintf("p50 %v  p95 %v  p99 %v  max %v", p(0.50).Round(10*time.Microsecond),
		p(0.95).Round(10*time.Microsecond), p(0.99).Round(10*time.Microsecond), s[len(s)-1].Round(time.Microsecond))
}

// parallel runs fn(i) for i in [0,n) on conc workers.
func parallel(n, conc int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}
