package operator

import (
	"context"
	"strings"
	"testing"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestTokens: a new token replaces the previous one, and only the stored
// token is accepted.
func TestTokens(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		tokens := NewTokens(db)
		if ok, err := tokens.Check(ctx, "ghop_anything"); err != nil || ok {
			t.Fatalf("before any token: Check = %v, %v", ok, err)
		}
		actor := audit.Actor{Type: audit.ActorOperator, ID: "operator", Label: "test"}
		first, err := tokens.Create(ctx, actor)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(first, "ghop_") {
			t.Errorf("token %q lacks its prefix", first)
		}
		if ok, err := tokens.Check(ctx, first); err != nil || !ok {
			t.Fatalf("the stored token was refused: %v, %v", ok, err)
		}
		second, err := tokens.Create(ctx, actor)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			token string
			want  bool
		}{{second, true}, {first, false}, {"", false}, {second + strings.Repeat("x", 200), false}} {
			if ok, err := tokens.Check(ctx, tc.token); err != nil || ok != tc.want {
				t.Errorf("Check(%.12q…) = %v, %v; want %v", tc.token, ok, err, tc.want)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action = 'license.operator_token_created'`).Scan(&n); err != nil || n != 2 {
			t.Errorf("audit entries for the two tokens: %d, %v", n, err)
		}
	})
}
