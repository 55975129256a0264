package web_test

import (
	"context"
	"gatehouse/internal/license/peruser"
	"net/http"
	"testing"

	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
)

// ssoActivationIsolationFixture puts SSO activation objects into account A
// for the tenant-isolation walk: a per-user license with a sublicense key
// and a mapped IdP group, an activation attempt, and a per-user seat held
// by alice. Keyed by the routes' path parameter names.
func ssoActivationIsolationFixture(t *testing.T, node *apptest.Node, alice *apptest.Client, acct, aliceID, secret string) map[string]string {
	t.Helper()
	ctx := context.Background()
	svc := node.App.License
	sub := registerKey(t, alice, acct, issue(t, node, license.EditionBusiness, license.ModelPerUser, 5, false), secret+" SSO license")
	caller := license.Caller{PersonID: aliceID, AccountID: acct, Role: license.RoleAdmin}
	k, _, err := svc.CreateSublicense(ctx, caller, sub, license.KeyInput{Name: secret + " SSO team", Kind: license.KindReserved, Seats: 2}, adminActor(aliceID))
	if err != nil {
		t.Fatal(err)
	}
	g, err := svc.MapGroup(ctx, caller, k.ID, "grp-"+ids.New(), secret+" group", nil, adminActor(aliceID))
	if err != nil {
		t.Fatal(err)
	}
	verifier := ids.Secret(40)
	a, err := svc.StartSSOActivation(ctx, license.SSOStartInput{AccountID: acct, Email: "alice@alpha.example",
		Device:        license.Device{HardwareUUID: ids.New(), ComputerName: secret + " Mac", AppVersion: "26.1.0"},
		CodeChallenge: peruser.ChallengeOf(verifier), ChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CompleteSSOActivation(ctx, license.SSOCompleteInput{AttemptID: a.ID, AccountID: acct, PersonID: aliceID,
		Email: "alice@alpha.example", InDesktopUsers: true}); err != nil {
		t.Fatal(err)
	}
	other, err := svc.StartSSOActivation(ctx, license.SSOStartInput{AccountID: acct, Email: "alice@alpha.example",
		Device:        license.Device{HardwareUUID: ids.New(), ComputerName: secret + " Mac 2", AppVersion: "26.1.0"},
		CodeChallenge: peruser.ChallengeOf(verifier), ChallengeMethod: "S256"})
	if err != nil {
		t.Fatal(err)
	}
	page := alice.Get("/accounts/"+acct+"/users/licensed").Expect(t, http.StatusOK)
	if !page.Has("#seat-" + aliceID) {
		t.Fatal("alice's seat is not listed")
	}
	alice.Get("/accounts/"+acct+"/keys/"+k.ID+"/groups").Expect(t, http.StatusOK)
	return map[string]string{"attempt": other.ID, "group": g.ID, "sso_key": k.ID}
}

func adminActor(personID string) audit.Actor {
	return audit.Actor{Type: audit.ActorPerson, ID: personID, Label: "admin"}
}
