package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"gatehouse/internal/account/accounttest"
	"gatehouse/internal/agent"
	"gatehouse/internal/apptest"
	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/ids"
)

// TestNoSecretReachesTheLogs issues every kind of secret Gatehouse hands
// out and uses each over its real transport, with the node logging at
// debug level, then looks for each in everything logged (issue 12 item 3).
// Journeys 1 and 2 with the shipped binary and its own log are checked the
// same way by TestREADMETryOut.
func TestNoSecretReachesTheLogs(t *testing.T) {
	ctx := context.Background()
	logs := &syncBuffer{}
	node := apptest.Start(t, "sqlite://"+t.TempDir()+"/gh.db", apptest.Options{Logs: logs})
	secrets := map[string]string{}
	base, _ := url.Parse(node.URL)
	cookies := func(who string, c *apptest.Client) {
		for _, ck := range c.HTTP.Jar.Cookies(base) {
			if len(ck.Value) >= 16 {
				secrets[who+" cookie "+ck.Name] = ck.Value
			}
		}
	}
	last := func(link string) string { return link[strings.LastIndex(link, "/")+1:] }

	// Sign-up confirmation, session, member invitation, password reset.
	c := apptest.NewClient(t, node.URL)
	c.SignUp("sid@example.com", pw, "Sid")
	secrets["sign-up confirmation"] = accounttest.VerifyToken(t, node.App.DB, "sid@example.com")
	acct := c.CreateAccount("Secret Corp")
	cookies("admin", c)
	c.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {"ivy@example.com"}, "role": {"user"}}).Expect(t, http.StatusSeeOther)
	invite := outboxLink(t, node.App.DB, "ivy@example.com", "/invites/")
	secrets["member invitation"] = last(invite)
	apptest.NewClient(t, node.URL).Get(invite).Expect(t, http.StatusOK)
	anon := apptest.NewClient(t, node.URL)
	anon.Post("/password/forgot", url.Values{"email": {"sid@example.com"}}).Expect(t, http.StatusSeeOther)
	reset := resetLinks(t, node, "sid@example.com")[0]
	secrets["password reset"] = last(reset)
	anon.Get(reset).Expect(t, http.StatusOK)

	// Operator token and the vendor API: a subscription and its key.
	opToken, err := node.App.License.CreateOperatorToken(ctx, audit.System("test"))
	if err != nil {
		t.Fatal(err)
	}
	secrets["operator token"] = opToken
	req, _ := http.NewRequest("POST", node.URL+clientapi.VendorPrefix+"subscriptions",
		strings.NewReader(`{"edition":"business","model":"per-device","seats":5,"term":"1y"}`))
	req.Header.Set("Authorization", "Bearer "+opToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var issued struct{ Key string }
	err = json.NewDecoder(resp.Body).Decode(&issued)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusCreated || issued.Key == "" {
		t.Fatalf("vendor issue: %d %v", resp.StatusCode, err)
	}
	secrets["license key"] = issued.Key
	sub := c.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {issued.Key}}).Expect(t, http.StatusSeeOther).Location
	if i := strings.IndexAny(sub, "?#"); i >= 0 {
		sub = sub[:i]
	}

	// A license invitation's activation code, used by a Mac; its device
	// credential, used to check and deactivate.
	c.Post(sub+"/keys", url.Values{"key_name": {"Team"}, "kind": {"reserved"}, "seats": {"3"}}).Expect(t, http.StatusSeeOther)
	r := postMultipart(t, c, sub+"/invite", url.Values{"key": {keyID(c.Get(sub), "Team")}, "language": {"en"}, "expires": {"7"},
		"emails": {"mac@example.org"}}, "", "").Expect(t, http.StatusOK)
	action, form := hiddenForm(r, `form[action$="/invite/send"]`)
	c.PostRaw(action, form).Expect(t, http.StatusSeeOther)
	var body string
	if err := node.App.DB.QueryRow(ctx, `SELECT body_text FROM outbox WHERE to_addr = ? ORDER BY created_at DESC LIMIT 1`, "mac@example.org").Scan(&body); err != nil {
		t.Fatal(err)
	}
	code := regexp.MustCompile(`[A-Z2-9]{5}(-[A-Z2-9]{5}){3}`).FindString(body)
	secrets["activation code"] = code
	apptest.NewClient(t, node.URL).Get("/download?code="+url.QueryEscape(code)).Expect(t, http.StatusOK)
	ag := agent.NewClient(node.URL)
	act, err := ag.Activate(ctx, "", code, agent.NewDevice())
	if err != nil {
		t.Fatal(err)
	}
	secrets["device credential"] = act.Credential
	if _, err := ag.Check(ctx, act.Credential, "1.0"); err != nil {
		t.Fatal(err)
	}
	keyAct, err := ag.Activate(ctx, issued.Key, "", agent.NewDevice())
	if err != nil {
		t.Fatal(err)
	}
	secrets["device credential (key)"] = keyAct.Credential
	if err := ag.Deactivate(ctx, keyAct.Credential); err != nil {
		t.Fatal(err)
	}

	// SCIM token, used by the IdP.
	scimToken, err := node.App.SCIM.GenerateToken(ctx, acct, audit.System("test"), 0)
	if err != nil {
		t.Fatal(err)
	}
	secrets["SCIM token"] = scimToken
	req, _ = http.NewRequest("GET", node.URL+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "x@example.org"`), nil)
	req.Header.Set("Authorization", "Bearer "+scimToken)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SCIM: %v %v", resp, err)
	}
	resp.Body.Close()

	// An organisation's local update feed is named by a token.
	feed := ids.Secret(24)
	secrets["local feed token"] = feed
	apptest.NewClient(t, node.URL).Get("/updates/local/" + feed + "/updates.xml")

	out := logs.String()
	for _, want := range []string{"path=/invites/{token}", "path=/password/reset/{token}", "path=/verify/{token}", "path=/updates/local/{token}/updates.xml"} {
		apptest.MustContain(t, out, want)
	}
	for name, secret := range secrets {
		if secret == "" {
			t.Errorf("no %s was issued", name)
		} else if strings.Contains(out, secret) {
			t.Errorf("the log holds the %s", name)
		}
	}
}
