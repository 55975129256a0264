package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"testing"

	"gatehouse/internal/apptest"
)

// updatesIsolationFixture mirrors a release into account A for the
// tenant-isolation walk and returns the path parameters that reach it:
// the release, its file name, A's local feed token and a channel. (A's
// license comes from the licensing fixture.)
func updatesIsolationFixture(t *testing.T, node *apptest.Node, alice *apptest.Client, acct string) map[string]string {
	t.Helper()
	rel := publishHosted(t, node, 9, 59001, bytes.Repeat([]byte("x"), 5000))
	alice.Post("/accounts/"+acct+"/updates/mirrors", url.Values{"release": {rel.ID}}).Expect(t, http.StatusSeeOther)
	if n, err := node.App.Updates.RunMirrors(context.Background()); err != nil || n != 1 {
		t.Fatalf("mirror: %d %v", n, err)
	}
	st, err := node.App.Updates.Settings(context.Background(), acct)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"release": rel.ID, "name": rel.FileName, "token": st.FeedToken, "channel": "business"}
}
