package scim

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestProvisioningBenchmark provisions an Entra-sized tenant through the
// HTTP handler (real HTTP on loopback, 4 concurrent clients) and prints the
// figures. It only runs with GATEHOUSE_BENCH_SCIM=1:
//
//	GATEHOUSE_BENCH_SCIM=1 go test -run TestProvisioningBenchmark -v -timeout 30m ./internal/scim
//
// Sizes: GATEHOUSE_BENCH_SCIM_USERS (100000), _GROUPS (1000), _MEMBERS
// (100 per group on average), _CONCURRENCY (4). Targets (2 cores, SQLite):
// provisioning ≤ 120 s, userName eq lookup p95 ≤ 5 ms at 100k users. The
// test prints; it does not assert timing.
func TestProvisioningBenchmark(t *testing.T) {
	if os.Getenv("GATEHOUSE_BENCH_SCIM") != "1" {
		t.Skip("set GATEHOUSE_BENCH_SCIM=1 to run the SCIM provisioning benchmark")
	}
	nUsers := envInt("GATEHOUSE_BENCH_SCIM_USERS", 100000)
	nGroups := envInt("GATEHOUSE_BENCH_SCIM_GROUPS", 1000)
	nMembers := envInt("GATEHOUSE_BENCH_SCIM_MEMBERS", 100)
	conc := envInt("GATEHOUSE_BENCH_SCIM_CONCURRENCY", 4)
	engines := os.Getenv("GATEHOUSE_BENCH_SCIM_ENGINES") // "sqlite", "postgres" or both (default)
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		if engines != "" && engines != string(db.Dialect()) {
			t.Skipf("GATEHOUSE_BENCH_SCIM_ENGINES=%s", engines)
		}
		runProvisioningBenchmark(t, db, nUsers, nGroups, nMembers, conc)
	})
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

type benchClient struct {
	t      testing.TB
	base   string
	token  string
	client *http.Client
}

func (c *benchClient) do(method, path string, body any) (int, []byte, time.Duration) {
	var rd io.Reader
	if body != nil {
		js, _ := json.Marshal(body)
		rd = bytes.NewReader(js)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/scim+json")
	start := time.Now()
	res, err := c.client.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	return res.StatusCode, b, time.Since(start)
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

func runProvisioningBenchmark(t *testing.T, db *store.DB, nUsers, nGroups, nMembers, conc int) {
	ctx := context.Background()
	// The rate limiter stays in the path (its database write is part of
	// every request's cost), with a budget the benchmark cannot exhaust.
	svc := &Service{DB: db, RateLimit: ratelimit.Limit{Max: 1 << 30, Window: time.Hour}}
	srv := httptest.NewServer(Handler(svc))
	defer srv.Close()
	account := newAccount(t, db, "Bench")
	token, err := svc.GenerateToken(ctx, account, admin, 0)
	if err != nil {
		t.Fatal(err)
	}
	c := &benchClient{t: t, base: srv.URL + "/scim/v2", token: token, client: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: conc * 2, MaxConnsPerHost: conc * 2},
	}}
	fmt.Printf("\n== SCIM provisioning benchmark on %s: %d users, %d groups × %d members, concurrency %d\n",
		db.Dialect(), nUsers, nGroups, nMembers, conc)

	// Users, as Entra ID creates them.
	ids := make([]string, nUsers)
	var createLat latencies
	start := time.Now()
	parallel(nUsers, conc, func(i int) {
		st, b, d := c.do("POST", "/Users", map[string]any{
			"schemas":     []any{URNUser, URNEnterprise},
			"externalId":  fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
			"userName":    fmt.Sprintf("user%06d@contoso.example", i),
			"active":      true,
			"displayName": fmt.Sprintf("User %06d", i),
			"emails":      []any{map[string]any{"primary": true, "type": "work", "value": fmt.Sprintf("user%06d@contoso.example", i)}},
			"name":        map[string]any{"givenName": "User", "familyName": fmt.Sprintf("N%06d", i), "formatted": "User " + strconv.Itoa(i)},
			"title":       "Engineer",
			URNEnterprise: map[string]any{"department": fmt.Sprintf("Dept %d", i%50), "employeeNumber": strconv.Itoa(i)},
			"meta":        map[string]any{"resourceType": "User"},
		})
		if st != 201 {
			t.Fatalf("create user %d: %d %s", i, st, b)
		}
		var m struct{ ID string }
		_ = json.Unmarshal(b, &m)
		ids[i] = m.ID
		createLat.add(d)
	})
	usersTook := time.Since(start)
	fmt.Printf("users:   %d created in %v (%.0f/s)  %s\n", nUsers, usersTook.Round(time.Millisecond),
		float64(nUsers)/usersTook.Seconds(), createLat.summary())

	// Groups: create, then add members in one PATCH (Entra batches member adds).
	rng := rand.New(rand.NewPCG(1, 2))
	memberSets := make([][]string, nGroups)
	totalMembers := 0
	for g := range memberSets {
		n := rng.IntN(2*nMembers) + 1 // average ≈ nMembers
		n = min(n, nUsers)
		set := make([]string, 0, n)
		for _, k := range rng.Perm(nUsers)[:n] {
			set = append(set, ids[k])
		}
		memberSets[g] = set
		totalMembers += n
	}
	var groupLat, memberLat latencies
	start = time.Now()
	parallel(nGroups, conc, func(g int) {
		st, b, d := c.do("POST", "/Groups", map[string]any{
			"schemas":     []any{URNGroup},
			"externalId":  fmt.Sprintf("10000000-0000-4000-8000-%012d", g),
			"displayName": fmt.Sprintf("Group %04d", g),
		})
		if st != 201 {
			t.Fatalf("create group %d: %d %s", g, st, b)
		}
		groupLat.add(d)
		var m struct{ ID string }
		_ = json.Unmarshal(b, &m)
		values := make([]any, len(memberSets[g]))
		for i, id := range memberSets[g] {
			values[i] = map[string]any{"value": id}
		}
		st, b, d = c.do("PATCH", "/Groups/"+m.ID+"?excludedAttributes=members", map[string]any{
			"schemas":    []any{URNPatchOp},
			"Operations": []any{map[string]any{"op": "Add", "path": "members", "value": values}},
		})
		if st != 200 {
			t.Fatalf("add members %d: %d %s", g, st, b)
		}
		memberLat.add(d)
	})
	groupsTook := time.Since(start)
	fmt.Printf("groups:  %d created + %d memberships in %v  create %s\n", nGroups, totalMembers, groupsTook.Round(time.Millisecond), groupLat.summary())
	fmt.Printf("         member PATCH %s\n", memberLat.summary())
	fmt.Printf("TOTAL provisioning: %v (target ≤ 120 s on SQLite, 2 cores)\n", (usersTook + groupsTook).Round(time.Millisecond))

	// userName eq lookups, sequential (one IdP worker) and concurrent.
	lookup := func(lat *latencies, i int) {
		f := url.QueryEscape(fmt.Sprintf(`userName eq "USER%06d@contoso.example"`, i))
		st, b, d := c.do("GET", "/Users?filter="+f, nil)
		if st != 200 || !bytes.Contains(b, []byte(`"totalResults":1`)) {
			t.Fatalf("lookup %d: %d %s", i, st, b)
		}
		lat.add(d)
	}
	var seqLat, parLat latencies
	for range 2000 {
		lookup(&seqLat, rng.IntN(nUsers))
	}
	fmt.Printf("lookup userName eq (sequential, 2000): %s (target p95 ≤ 5 ms)\n", seqLat.summary())
	picks := make([]int, 4000)
	for i := range picks {
		picks[i] = rng.IntN(nUsers)
	}
	parallel(len(picks), conc, func(i int) { lookup(&parLat, picks[i]) })
	fmt.Printf("lookup userName eq (concurrency %d, 4000): %s\n", conc, parLat.summary())

	// Other requests an IdP makes, timed once or a few times.
	timeIt := func(label, path string, n int) {
		var l latencies
		for range n {
			st, b, d := c.do("GET", path, nil)
			if st != 200 {
				t.Fatalf("%s: %d %s", label, st, b)
			}
			l.add(d)
		}
		fmt.Printf("%-42s %s\n", label+":", l.summary())
	}
	g0 := memberSets[0][0]
	var gid string
	{
		_, b, _ := c.do("GET", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Group 0000"`), nil)
		var lr struct{ Resources []struct{ ID string } }
		_ = json.Unmarshal(b, &lr)
		gid = lr.Resources[0].ID
	}
	timeIt("GET /Users/{id}", "/Users/"+ids[nUsers/2], 200)
	timeIt("externalId eq", "/Users?filter="+url.QueryEscape(`externalId eq "00000000-0000-4000-8000-000000000042"`), 200)
	timeIt("Groups displayName eq, excl. members", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`displayName eq "Group 0500"`), 200)
	timeIt("Entra membership check", "/Groups?excludedAttributes=members&filter="+url.QueryEscape(`id eq "`+gid+`" and members[value eq "`+g0+`"]`), 200)
	timeIt("GET /Groups/{id} with members", "/Groups/"+gid, 50)
	timeIt("page startIndex=50000 count=100", "/Users?startIndex=50000&count=100", 20)
	timeIt("full scan: title co \"gin\" count=10", "/Users?count=10&filter="+url.QueryEscape(`title co "gin"`), 3)
	timeIt("full scan: emails[...] sortBy=name.familyName", "/Users?count=10&sortBy=name.familyName&filter="+url.QueryEscape(`emails[type eq "work" and value ew "7@contoso.example"]`), 3)

	act, err := svc.Activity(ctx, account)
	if err != nil || act.Users != nUsers || act.Groups != nGroups {
		t.Errorf("activity after the benchmark: %+v %v", act, err)
	}
}
