package app_test

import (
	"context"
	"net/http"
	"testing"

	"gatehouse/internal/app"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/scim"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// --scim-rate-limit reaches the SCIM server of a running node; without it
// the shipped default applies.
func TestSCIMRateLimitFlag(t *testing.T) {
	ctx := context.Background()
	dflt := apptest.Start(t, "sqlite://"+t.TempDir()+"/d.db")
	if got := dflt.App.Config.SCIMRate; got != scim.DefaultRateLimit {
		t.Errorf("default SCIM rate limit = %v, want %v", got, scim.DefaultRateLimit)
	}
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db", apptest.Options{Configure: func(c *app.Config) { c.SCIMRateLimit = "1/h,2" }})
	account := ids.New()
	if _, err := node.App.DB.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, ?, ?)`, account, "Rate", store.Now()); err != nil {
		t.Fatal(err)
	}
	token, err := node.App.SCIM.GenerateToken(ctx, account, audit.Actor{Type: audit.ActorPerson, ID: "admin", Label: "admin@example.com"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	get := func() *http.Response {
		req, _ := http.NewRequest("GET", node.URL+"/scim/v2/Users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res
	}
	for i := range 2 {
		if res := get(); res.StatusCode != 200 {
			t.Fatalf("request %d within the burst: %d", i+1, res.StatusCode)
		}
	}
	if res := get(); res.StatusCode != 429 || res.Header.Get("Retry-After") != "3600" {
		t.Errorf("request beyond the burst: %d, Retry-After %q; want 429 and 3600", res.StatusCode, res.Header.Get("Retry-After"))
	}
}
