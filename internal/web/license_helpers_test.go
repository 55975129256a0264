package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/internal/apptest"
	"gatehouse/internal/license"
)

// issue has the vendor sell a subscription and returns its primary key.
func issue(t *testing.T, node *apptest.Node, edition, model string, seats int, trial bool) string {
	t.Helper()
	_, key, err := node.App.License.Issue(context.Background(), license.IssueInput{Edition: edition, Model: model, Seats: seats,
		Term: license.Term{Years: 1}, Trial: trial, Note: "test order"}, license.OperatorActor("test vendor"))
	if err != nil {
		t.Fatalf("issue %s subscription: %v", edition, err)
	}
	return key
}

// registerKey registers key into acct through the Register Key form and
// returns the subscription id.
func registerKey(t *testing.T, c *apptest.Client, acct, key, name string) string {
	t.Helper()
	r := c.Post("/accounts/"+acct+"/licenses/register", url.Values{"key": {key}, "display_name": {name}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("register key: status %d: %s %s", r.Status, r.Text(".error-text"), r.Text(".flash"))
	}
	return subscriptionFromLocation(t, r.Location)
}

func subscriptionFromLocation(t *testing.T, loc string) string {
	t.Helper()
	i := strings.Index(loc, "/licenses/")
	if i < 0 {
		t.Fatalf("unexpected redirect %q", loc)
	}
	id := loc[i+len("/licenses/"):]
	if j := strings.IndexAny(id, "/?"); j >= 0 {
		id = id[:j]
	}
	return id
}

// addMember invites email with role into acct and has them join; returns
// their signed-in client and person id.
func addMember(t *testing.T, node *apptest.Node, admin *apptest.Client, acct, email, role string) (*apptest.Client, string) {
	t.Helper()
	admin.Post("/accounts/"+acct+"/users/invite", url.Values{"email": {email}, "role": {role}}).Expect(t, http.StatusSeeOther)
	link := outboxLink(t, node.App.DB, email, "/invites/")
	c := apptest.NewClient(t, node.URL)
	c.SignUp(email, pw, strings.Split(email, "@")[0])
	c.Post(link, nil).Expect(t, http.StatusSeeOther)
	page := admin.Get("/accounts/"+acct+"/users?q="+url.QueryEscape(email)).Expect(t, http.StatusOK)
	action, _ := page.Doc.Find(`form[action$="/role"]`).First().Attr("action")
	person := between(action, "/users/", "/role")
	if person == "" {
		t.Fatalf("no person id for %s", email)
	}
	return c, person
}

// keyID returns the id of the License Keys row named name ("" if none).
func keyID(page *apptest.Response, name string) string {
	id := ""
	page.Doc.Find("table.keys tbody tr").Each(func(_ int, row *goquery.Selection) {
		if strings.TrimSpace(row.Find("td").First().Text()) == name {
			id = strings.TrimPrefix(row.AttrOr("id", ""), "key-")
		}
	})
	return id
}

// keyNames lists the names in the License Keys table.
func keyNames(page *apptest.Response) []string {
	var out []string
	page.Doc.Find("table.keys tbody tr").Each(func(_ int, row *goquery.Selection) {
		out = append(out, strings.TrimSpace(row.Find("td").First().Text()))
	})
	return out
}

type goquerySelection = goquery.Selection

func goqueryDoc(html string) (*goquery.Document, error) {
	return goquery.NewDocumentFromReader(strings.NewReader(html))
}

// licenseIsolationFixture puts licensing objects into account A for the
// tenant-isolation walk: a subscription and a sublicense key named after
// the account's secret name, and an invitation to pending@alpha.example.
// It returns the objects by path parameter name and a check that they are
// untouched after the walk.
func licenseIsolationFixture(t *testing.T, node *apptest.Node, alice *apptest.Client, acct, secret string) (map[string]string, func()) {
	t.Helper()
	sub := registerKey(t, alice, acct, issue(t, node, license.EditionBusiness, license.ModelPerDevice, 10, false), secret+" license")
	subPath := "/accounts/" + acct + "/licenses/" + sub
	alice.Post(subPath+"/keys", url.Values{"key_name": {secret + " team"}, "kind": {"reserved"}, "seats": {"3"}}).Expect(t, http.StatusSeeOther)
	key := keyID(alice.Get(subPath), secret+" team")
	r := postMultipart(t, alice, subPath+"/invite", url.Values{"key": {key}, "language": {"en"}, "expires": {"7"},
		"emails": {"pending@alpha.example"}}, "", "").Expect(t, http.StatusOK)
	action, form := hiddenForm(r, `form[action$="/invite/send"]`)
	alice.PostRaw(action, form).Expect(t, http.StatusSeeOther)
	invitation := ""
	alice.Get(subPath + "/invitations").Doc.Find("table.invitations tbody tr").Each(func(_ int, s *goquerySelection) {
		invitation = strings.TrimPrefix(s.AttrOr("id", ""), "inv-")
	})
	if sub == "" || key == "" || invitation == "" {
		t.Fatalf("licensing fixture incomplete: %q %q %q", sub, key, invitation)
	}
	check := func() {
		t.Helper()
		page := alice.Get(subPath).Expect(t, http.StatusOK)
		if names := keyNames(page); len(names) != 2 || names[1] != secret+" team" {
			t.Errorf("account A's keys changed: %v", names)
		}
		apptest.MustContain(t, page.Text("h1"), secret+" license")
		apptest.MustContain(t, alice.Get(subPath+"/invitations?status=pending").Text("tbody"), "pending@alpha.example")
	}
	return map[string]string{"subscription": sub, "key": key, "invitation": invitation}, check
}
