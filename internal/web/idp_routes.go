package web

import (
	"errors"
	"html"
	"html/template"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/idp"
)

// idpPages serves the IdP Integration configurator (Business Profile → IdP
// Integration): the choice of IdP, the seven steps, activation.
type idpPages struct {
	s   *Server
	svc *idp.Service
}

// IdPRoutes returns the configurator's routes. Every route is for admins of
// the business account in the path.
func IdPRoutes(s *Server, svc *idp.Service) []Route {
	p := &idpPages{s: s, svc: svc}
	h := func(f http.HandlerFunc) http.Handler { return f }
	admin := func(method, path string, f http.HandlerFunc) Route {
		return Route{Method: method, Path: "/accounts/{account}/idp" + path, Access: Member, Role: account.RoleAdmin, Handler: h(f)}
	}
	show := admin("GET", "", p.show)
	show.Nav, show.NavOrder = "IdP Integration", 80
	return []Route{
		show,
		admin("POST", "/start", p.start),
		admin("POST", "/provider", p.provider),
		admin("POST", "/domains", p.addDomain),
		admin("POST", "/domains/{domain}/verify", p.verifyDomain),
		admin("POST", "/domains/{domain}/remove", p.removeDomain),
		admin("POST", "/steps/{step}", p.stepDone),
		admin("POST", "/groups/{group}", p.group),
		admin("POST", "/saml", p.saveSAML),
		admin("POST", "/saml/metadata", p.uploadMetadata),
		admin("GET", "/sp-metadata.xml", p.spMetadata),
		admin("POST", "/scim", p.scimSwitch),
		admin("POST", "/scim/token", p.scimToken),
		admin("POST", "/backup", p.backup),
		admin("POST", "/activate", p.activate),
		admin("POST", "/deactivate", p.deactivate),
		admin("POST", "/test", p.startTest),
		admin("GET", "/tests/{test}", p.testResult),
	}
}

// IdPDashboardCard shows admins where the integration stands.
func IdPDashboardCard(svc *idp.Service) DashboardCard {
	return func(r *http.Request) (string, any, string, error) {
		acc := AccessFrom(r)
		if acc == nil || !acc.IsAdmin() {
			return "", nil, "", nil
		}
		link := "/accounts/" + acc.AccountID + "/idp"
		o, err := svc.Overview(r.Context(), acc.AccountID)
		switch {
		case errors.Is(err, idp.ErrNotStarted):
			return "IdP Integration", "Not configured. Connect your identity provider for single sign-on.", link, nil
		case err != nil:
			return "", nil, "", err
		case o.Integration.Active:
			through := o.Provider.Name
			if o.Provider.ID == idp.ProviderOther {
				through = "your IdP"
			}
			return "IdP Integration", "Active: people of your verified domains sign in with SSO through " + through + ".", link, nil
		default:
			return "IdP Integration", o.Provider.Name + ": " + strconv.Itoa(o.DoneCount) + " of 7 steps complete.", link, nil
		}
	}
}

// guideView is an idp.Guide with its marks rendered.
type guideView struct {
	Intro template.HTML
	Items []template.HTML
	Note  template.HTML
}

var (
	markBold = regexp.MustCompile(`\*\*(.+?)\*\*`)
	markCode = regexp.MustCompile("`([^`]+)`")
)

// markup renders instruction text: escaped, with **names** in bold and
// `values` as code. Escaping comes first, so the text cannot inject HTML.
func markup(s string) template.HTML {
	out := html.EscapeString(s)
	out = markCode.ReplaceAllString(out, "<code>$1</code>")
	out = markBold.ReplaceAllString(out, "<strong>$1</strong>")
	return template.HTML(out) // #nosec G203 -- escaped above; only our own tags added
}

func guideOf(g idp.Guide) guideView {
	v := guideView{Intro: markup(g.Intro), Note: markup(g.Note)}
	for _, it := range g.Items {
		v.Items = append(v.Items, markup(it))
	}
	return v
}

// overlapOption is one choice of how long a replaced SCIM token keeps working.
type overlapOption struct {
	Value    string
	Label    string
	Selected bool
}

func overlapOptions(def time.Duration) []overlapOption {
	label := map[time.Duration]string{0: "Stop the old token now", 15 * time.Minute: "15 minutes",
		time.Hour: "1 hour", 24 * time.Hour: "24 hours", 72 * time.Hour: "72 hours"}
	var out []overlapOption
	for _, d := range idp.OverlapChoices() {
		l := label[d]
		if l == "" {
			l = d.String()
		}
		if d == def {
			l += " (default)"
		}
		out = append(out, overlapOption{Value: d.String(), Label: l, Selected: d == def})
	}
	return out
}
