package saml

import (
	"context"
	"testing"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/testenv"
)

func TestConsumeAccepts(t *testing.T) {
	testenv.Engines(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		for _, c := range []struct {
			name                string
			signResp, signAsser bool
		}{{"assertion signed", false, true}, {"response signed", true, false}, {"both signed", true, true}} {
			t.Run(c.name, func(t *testing.T) {
				reqID, binding := e.start(t)
				xml := goSign(t, e.resp(reqID).xml(), testKey(t, "idp"), c.signResp, c.signAsser, false)
				a, err := e.consume(t, xml, binding)
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				checkAda(t, a, reqID)
			})
		}
	})
}

func checkAda(t *testing.T, a *Assertion, reqID string) {
	t.Helper()
	if a.NameID != "ada@example.com" || a.NameIDFormat != NameIDFormatEmail {
		t.Errorf("NameID = %q (%q)", a.NameID, a.NameIDFormat)
	}
	if a.RequestID != reqID || a.Purpose != PurposePortal || a.AttemptRef != "attempt-1" {
		t.Errorf("request = %q %q %q, want %q portal attempt-1", a.RequestID, a.Purpose, a.AttemptRef, reqID)
	}
	if a.Issuer != testIdPEntity {
		t.Errorf("Issuer = %q", a.Issuer)
	}
	if a.ObjectID != "0b1c2d3e-0000-4000-8000-00000000000a" || a.Name != "ada@example.com" || a.DisplayName != "Ada Lovelace" {
		t.Errorf("ObjectID/Name/DisplayName = %q %q %q", a.ObjectID, a.Name, a.DisplayName)
	}
	if len(a.Groups) != 2 || a.Groups[0] != "11111111-1111-4111-8111-111111111111" || a.GroupsOverage {
		t.Errorf("Groups = %q overage=%v", a.Groups, a.GroupsOverage)
	}
	if a.SessionIndex == "" || a.ID == "" {
		t.Errorf("SessionIndex %q ID %q", a.SessionIndex, a.ID)
	}
}

func TestPurge(t *testing.T) {
	e := newEnv(t, testenv.SQLite(t))
	reqID, binding := e.start(t)
	if _, err := e.consume(t, goSign(t, e.resp(reqID).xml(), testKey(t, "idp"), false, true, false), binding); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if n, err := e.svc.Purge(ctx); err != nil || n != 0 {
		t.Fatalf("purge now: %d %v", n, err)
	}
	e.now = e.now.Add(48 * time.Hour)
	if n, err := e.svc.Purge(ctx); err != nil || n != 2 {
		t.Fatalf("purge later: %d %v (want the replay row and the request)", n, err)
	}
	if err := e.svc.PurgeJob().Run(ctx); err != nil {
		t.Fatal(err)
	}
}
