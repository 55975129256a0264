package account_test

import (
	"context"
	"testing"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

// TestAddressMigration builds a database as the release before verification
// left it (migration 00001, rows written the way its code wrote them) and
// upgrades it: addresses become canonical, people with evidence that they
// own their address are verified, the others must confirm it and lose
// their sessions, and addresses no rule can read become unusable.
func TestAddressMigration(t *testing.T) {
	testenv.EngineURLs(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		db, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.MigrateTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		now := store.Now()
		person := func(raw, norm string, password, operator bool) string {
			t.Helper()
			id := ids.New()
			hash := ""
			if password {
				hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"
			}
			if _, err := db.Exec(ctx, `INSERT INTO people (id, email, email_norm, password_hash, is_operator, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
				id, raw, norm, hash, operator, now); err != nil {
				t.Fatal(err)
			}
			if _, err := db.Exec(ctx, `INSERT INTO sessions (id_hash, person_id, auth_method, created_at, last_seen_at, expires_at) VALUES (?, ?, 'password', ?, ?, ?)`,
				ids.Hash(id), id, now, now, store.At(now.Add(time.Hour))); err != nil {
				t.Fatal(err)
			}
			return id
		}
		op := person("ops@corp.example", "ops@corp.example", true, true)
		alice := person("Alice@Example.com", "alice@example.com", true, false)
		eve := person(`"Eve" <Eve@corp.example>`, "eve@corp.example", true, false)
		ann := person("ÄNN@example.de", "änn@example.de", true, false)
		sso := person("sso@corp.example", "sso@corp.example", false, false)
		bob := person("bob@corp.example", "bob@corp.example", true, false)
		junk := person("not an address", "not an address", true, false)
		acct := ids.New()
		if _, err := db.Exec(ctx, `INSERT INTO accounts (id, name, created_at) VALUES (?, 'Corp', ?)`, acct, now); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO password_resets (token_hash, person_id, created_at, expires_at, used_at) VALUES ('h1', ?, ?, ?, ?)`,
			alice, now, now, now); err != nil {
			t.Fatal(err)
		}
		invite := func(raw, norm string, accepted bool) string {
			id := ids.New()
			var acc any
			if accepted {
				acc = now
			}
			if _, err := db.Exec(ctx, `INSERT INTO member_invites (id, account_id, email, email_norm, role, token_hash, created_at, expires_at, accepted_at)
				VALUES (?, ?, ?, ?, 'user', ?, ?, ?, ?)`, id, acct, raw, norm, ids.New(), now, store.At(now.Add(time.Hour)), acc); err != nil {
				t.Fatal(err)
			}
			return id
		}
		invite("bob@corp.example", "bob@corp.example", true)
		display := invite(`"Q" <q@corp.example>`, "q@corp.example", false)
		upper := invite("R@Corp.example", "r@corp.example", false)

		if _, err := db.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		svc, _ := newService(db)
		for _, c := range []struct {
			id, email, norm string
			verified        bool
		}{
			{op, "ops@corp.example", "ops@corp.example", true},
			{alice, "Alice@Example.com", "alice@example.com", true},
			{eve, "eve@corp.example", "eve@corp.example", false},
			{ann, "ÄNN@example.de", "ÄNN@example.de", false},
			{sso, "sso@corp.example", "sso@corp.example", true},
			{bob, "bob@corp.example", "bob@corp.example", true},
			{junk, "not an address", account.UnusablePrefix + junk, false},
		} {
			p, err := svc.PersonByID(ctx, c.id)
			if err != nil {
				t.Fatal(err)
			}
			if p.Email != c.email || p.EmailNorm != c.norm || p.Verified() != c.verified {
				t.Errorf("%s: %q %q verified %v; want %q %q %v", c.id, p.Email, p.EmailNorm, p.Verified(), c.email, c.norm, c.verified)
			}
			_, err = svc.SessionByToken(ctx, c.id) // the session secret was the id
			if (err == nil) != c.verified {
				t.Errorf("%s: session alive %v, want %v", c.email, err == nil, c.verified)
			}
		}
		var revoked store.Time
		var norm string
		if err := db.QueryRow(ctx, `SELECT revoked_at FROM member_invites WHERE id = ?`, display).Scan(&revoked); err != nil || revoked.IsZero() {
			t.Errorf("the display-name invitation is still open: %v", err)
		}
		if err := db.QueryRow(ctx, `SELECT email_norm FROM member_invites WHERE id = ? AND revoked_at IS NULL`, upper).Scan(&norm); err != nil || norm != "r@corp.example" {
			t.Errorf("invitation %q %v", norm, err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM audit_log WHERE action IN ('person.address_canonicalized', 'person.address_unusable')`).Scan(&n); err != nil || n != 3 {
			t.Errorf("%d audit entries for changed addresses, want 3 (eve, ann, junk): %v", n, err)
		}
	})
}
