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
