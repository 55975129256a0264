package saml

import (
	"context"
	"sync"
	"testing"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestTwoNodes runs two Services on two connection pools to the same
// PostgreSQL database, as two `serve` processes behind a load balancer.
func TestTwoNodes(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresURL(t)
	open := func() *store.DB {
		db, err := store.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}
	dbA, dbB := open(), open()
	if _, err := dbA.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	a := newEnv(t, dbA)
	b := *a
	b.svc = &Service{DB: dbB, Now: a.svc.Now}
	k := testKey(t, "idp")

	reqID, binding := a.start(t)
	xml := goSign(t, a.resp(reqID).xml(), k, false, true, false)
	if _, err := b.consume(t, xml, binding); err != nil {
		t.Fatalf("node B refused a request node A started: %v", err)
	}
	if _, err := a.consume(t, xml, binding); refusalCode(err) != CodeReplay {
		t.Fatalf("replay on node A: got %v, want %s", err, CodeReplay)
	}

	// The same response posted to both nodes at once is accepted once.
	for round := 0; round < 5; round++ {
		reqID, binding := a.start(t)
		xml := goSign(t, a.resp(reqID).xml(), k, false, true, false)
		var wg sync.WaitGroup
		codes := make([]string, 8)
		for i := range codes {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				node := a
				if i%2 == 1 {
					node = &b
				}
				_, err := node.consume(t, xml, binding)
				codes[i] = refusalCode(err)
			}(i)
		}
		wg.Wait()
		accepted := 0
		for _, c := range codes {
			switch c {
			case "accepted":
				accepted++
			case CodeReplay:
			default:
				t.Errorf("unexpected outcome %s", c)
			}
		}
		if accepted != 1 {
			t.Fatalf("round %d: accepted %d times: %v", round, accepted, codes)
		}
	}
}
