package clientapi

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"gatehouse/internal/agent"
	"gatehouse/internal/license"
	"gatehouse/internal/ratelimit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// 10,000 simultaneous activations of distinct computers against a key with
// 1,000 free seats grant exactly 1,000 and refuse 9,000 with no_free_seat —
// on SQLite, on PostgreSQL, and on PostgreSQL with two server nodes sharing
// the database (requests alternate between them).
func TestConcurrentActivations(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { seatRace(t, testenv.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { seatRace(t, testenv.Postgres(t)) })
	t.Run("postgres-two-nodes", func(t *testing.T) {
		url := testenv.PostgresURL(t)
		ctx := context.Background()
		var dbs []*store.DB
		for i := 0; i < 2; i++ {
			db, err := store.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			dbs = append(dbs, db)
		}
		seatRace(t, dbs...)
	})
}

func seatRace(t *testing.T, dbs ...*store.DB) {
	n, free := 10_000, 1_000
	if testing.Short() {
		n, free = 1_000, 100
	}
	ctx := context.Background()
	limit := ratelimit.Limit{Max: 10 * n, Window: time.Minute}
	var svcs []*license.Service
	var urls []string
	for _, db := range dbs {
		svc := license.New(db, license.Config{PublicURL: "https://gatehouse.test"})
		srv := httptest.NewServer(New(svc, Config{ActivationLimit: limit}))
		t.Cleanup(srv.Close)
		svcs = append(svcs, svc)
		urls = append(urls, srv.URL)
	}
	svc, db := svcs[0], dbs[0]
	caller := newAccount(t, db)
	// 1,200 seats, 200 reserved by another key: the shared pool has 1,000,
	// and the dynamic key under test may take up to 1,000 of it — both
	// counters bind at once.
	sub, _ := issue(t, svc, caller, license.IssueInput{Seats: free + free/5})
	if _, _, err := svc.CreateSublicense(ctx, caller, sub.ID, license.KeyInput{Name: "Reserved", Kind: "reserved", Seats: free / 5}, testActor); err != nil {
		t.Fatal(err)
	}
	k, key, err := svc.CreateSublicense(ctx, caller, sub.ID, license.KeyInput{Name: "Everyone", Kind: "dynamic", Seats: free}, testActor)
	if err != nil {
		t.Fatal(err)
	}
	clients := make([]*agent.Client, len(urls))
	for i, u := range urls {
		clients[i] = &agent.Client{BaseURL: u, HTTP: agent.LoadHTTPClient(64)}
	}
	devices := make([]agent.Device, n)
	for i := range devices {
		devices[i] = agent.NewDevice()
	}
	res := agent.Run(ctx, agent.LoadOptions{N: n, Concurrency: n}, func(ctx context.Context, i int) error {
		_, err := clients[i%len(clients)].Activate(ctx, key, "", devices[i])
		return err
	})
	t.Logf("%d activations on %d node(s): %s", n, len(dbs), res.Summary())
	if res.Outcomes["ok"] != free || res.Outcomes["no_free_seat"] != n-free || len(res.Outcomes) != 2 {
		t.Fatalf("outcomes %v, want ok=%d no_free_seat=%d (first error: %v)", res.Outcomes, free, n-free, res.FirstError)
	}
	var used, active, shared, reserved int
	q := db.Writer()
	if err := q.QueryRow(ctx, `SELECT used FROM license_keys WHERE id = ?`, k.ID).Scan(&used); err != nil {
		t.Fatal(err)
	}
	if err := q.QueryRow(ctx, `SELECT COUNT(*) FROM license_activations WHERE key_id = ? AND status = 'active'`, k.ID).Scan(&active); err != nil {
		t.Fatal(err)
	}
	if err := q.QueryRow(ctx, `SELECT shared_used, reserved FROM subscriptions WHERE id = ?`, sub.ID).Scan(&shared, &reserved); err != nil {
		t.Fatal(err)
	}
	if used != free || active != free || shared != free || reserved != free/5 {
		t.Fatalf("key used %d, active rows %d, shared_used %d, reserved %d; want %d, %d, %d, %d", used, active, shared, reserved, free, free, free, free/5)
	}
}
