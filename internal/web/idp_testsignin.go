package web

import (
	"errors"
	"net/http"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/idp"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// The configurator's Test sign-in (issue 13): the admin signs in at the IdP
// in a new tab; the answer is validated and the identity-linking decision
// made exactly as for a real sign-in (sso.Service.Complete), nobody is
// signed in, and the result page below shows what a real sign-in would do.

// testSignInBlocked says why the test sign-in cannot start yet ("" when it
// can): it needs the verified domains of step 1 (they decide which
// addresses the IdP may speak for) and the IdP's SAML settings of step 4.
// It works before activation and while the integration is active.
func testSignInBlocked(o *idp.Overview) string {
	var missing []string
	if !o.Steps[0].Done {
		missing = append(missing, "step 1 (verified domains)")
	}
	if !o.Steps[3].Done {
		missing = append(missing, "step 4 (SAML single sign-on)")
	}
	switch len(missing) {
	case 0:
		return ""
	case 1:
		return "Complete " + missing[0] + " to test the sign-in."
	}
	return "Complete " + missing[0] + " and " + missing[1] + " to test the sign-in."
}

// startTest starts a test sign-in and hands the browser (the new tab the
// configurator's form opened) to the IdP.
func (p *idpPages) startTest(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	o, err := p.svc.Overview(r.Context(), acc.AccountID)
	if err != nil {
		p.fail(w, r, err, 0, nil)
		return
	}
	if p.s.sso == nil {
		p.s.notFound(w, r)
		return
	}
	if why := testSignInBlocked(o); why != "" {
		p.render(w, r, http.StatusConflict, nil, map[string]string{"test": why}, 0, "")
		return
	}
	binding := p.s.SetSSOBinding(w)
	st, _, err := p.s.sso.StartTest(r.Context(), acc.AccountID, SessionFrom(r).Person.ID, binding, ActorFrom(r))
	var se *sso.Error
	if errors.As(err, &se) {
		p.render(w, r, http.StatusConflict, nil, map[string]string{"test": se.Message}, 4, "")
		return
	} else if err != nil {
		p.s.serverError(w, r, err)
		return
	}
	p.s.SendToIdP(w, r, st)
}

// testResultView is the result page's data.
type testResultView struct {
	T      *sso.TestSignIn
	Base   string // /accounts/{id}/idp
	Advice sso.Advice
	// Groups are the integration's mapped groups, to name them.
	Groups  idp.Groups
	IdPName string
}

// Pending, Accepted and Refused report the test's state.
func (v *testResultView) Pending() bool  { return v.T.State == sso.TestPending }
func (v *testResultView) Accepted() bool { return v.T.State == sso.TestAccepted }

// NameIDFormat names a NameID format the way IdP consoles do.
func (v *testResultView) NameIDFormat() string {
	switch f := v.T.Result.NameIDFormat; f {
	case saml.NameIDFormatEmail:
		return "Email address"
	case saml.NameIDFormatPersistent:
		return "Persistent"
	case saml.NameIDFormatTransient:
		return "Transient"
	case saml.NameIDFormatUnspecified:
		return "Unspecified"
	case "":
		return "Not stated (unspecified)"
	default:
		return f
	}
}

// HowLinked says how the answer found its Gatehouse user.
func (v *testResultView) HowLinked() string {
	u := v.T.Result.User
	switch u.Link {
	case sso.LinkObjectID:
		return "Linked by the IdP's stable user ID, recorded at an earlier sign-in."
	case sso.LinkName:
		return "Linked by the login name recorded at an earlier sign-in."
	case sso.LinkAddress:
		if u.FirstLink {
			s := "Linked for the first time, by the verified email address."
			if u.EndsSessions {
				s += " This person also has a password: their other Gatehouse sessions end when they sign in with SSO."
			}
			return s
		}
		return "Linked by the verified email address."
	case sso.LinkNew:
		return "Nobody in Gatehouse has this address: a real sign-in creates the user."
	}
	return ""
}

// RoleChange describes the membership a real sign-in would leave.
func (v *testResultView) RoleChange() string {
	u := v.T.Result.User
	newRole := account.RoleLabel(u.NewRole)
	switch {
	case u.Role == "":
		return "Joins this business account as " + newRole + "."
	case u.Role == u.NewRole && v.T.Result.BackupLogin && u.Role == account.RoleAdmin && !v.T.Result.Admin:
		return "Stays Admin: this is the backup login, whose role does not depend on the IdP."
	case u.Role == u.NewRole:
		return "Stays " + newRole + "."
	}
	return "Changes from " + account.RoleLabel(u.Role) + " to " + newRole + "."
}

// GroupMeaning says what one group of the person gives in Gatehouse.
func (v *testResultView) GroupMeaning(g sso.TestGroup) string {
	var out []string
	if g.Admins {
		out = append(out, "mapped as Business Account Admins: admin rights")
	}
	if g.DesktopUsers {
		out = append(out, "mapped as Desktop Users: may activate Desktop with SSO")
	}
	if sp := v.T.Result.SeatPool; sp != nil {
		for _, m := range sp.Groups {
			if strings.EqualFold(strings.TrimSpace(m.UUID), strings.TrimSpace(g.Value)) {
				out = append(out, "mapped to the key “"+sp.KeyName+"” as “"+m.Name+"” (User Groups): the Desktop seat comes from it")
			}
		}
	}
	if len(out) == 0 {
		return "Not used by Gatehouse"
	}
	out[0] = strings.ToUpper(out[0][:1]) + out[0][1:]
	return strings.Join(out, "; ")
}

func (p *idpPages) testResult(w http.ResponseWriter, r *http.Request) {
	if p.s.sso == nil {
		p.s.notFound(w, r)
		return
	}
	acc := AccessFrom(r)
	t, err := p.s.sso.TestSignIn(r.Context(), acc.AccountID, SessionFrom(r).Person.ID, r.PathValue("test"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		p.s.notFound(w, r)
		return
	case errors.Is(err, sso.ErrTestExpired):
		p.s.renderError(w, r, http.StatusGone, "This test result has expired",
			"Test sign-in results are kept for one hour. Start a new test under IdP Integration → Test sign-in.")
		return
	case err != nil:
		p.s.serverError(w, r, err)
		return
	}
	in, err := p.svc.Integration(r.Context(), acc.AccountID)
	if err != nil && !errors.Is(err, idp.ErrNotStarted) {
		p.s.serverError(w, r, err)
		return
	}
	v := &testResultView{T: t, Base: p.base(r), Advice: sso.AdminAdvice(t.Result.Code), IdPName: "your IdP"}
	if in != nil {
		v.Groups = in.Groups
		if prov := idp.ProviderByID(in.Provider); prov != nil && prov.ID != idp.ProviderOther {
			v.IdPName = prov.Name
		}
	}
	title := "Test sign-in: waiting for the IdP"
	switch t.State {
	case sso.TestAccepted:
		title = "Test sign-in: accepted"
	case sso.TestRefused:
		title = "Test sign-in: refused"
	}
	p.s.render(w, r, http.StatusOK, "idp_test_result", &Page{Title: title, Data: v})
}
