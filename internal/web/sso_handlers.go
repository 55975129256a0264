package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/ids"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// DesktopSSO finishes a Desktop SSO activation after the IdP's response was
// accepted (the SSO activation feature provides it).
type DesktopSSO func(w http.ResponseWriter, r *http.Request, id *sso.Identity)

type ssoHandlers struct {
	*Server
	svc *sso.Service
}

const ssoBindingCookie = "gh_sso_binding"

// SetDesktopSSO installs what finishes a Desktop SSO activation once the
// IdP's response for it was accepted at the ACS.
func (s *Server) SetDesktopSSO(f DesktopSSO) { s.desktopSSO = f }

// SSORoutes are the routes of SSO sign-in: the "Continue with SSO" form, the
// SAML ACS and the SP metadata of each account.
func SSORoutes(s *Server, svc *sso.Service) []Route {
	h := &ssoHandlers{Server: s, svc: svc}
	s.ssoFailures = svc.RecentFailures
	s.sso = svc
	return []Route{
		{Method: "GET", Path: "/sso", Access: Public, Handler: http.HandlerFunc(h.form)},
		{Method: "POST", Path: "/sso", Access: Public, Handler: http.HandlerFunc(h.begin)},
		{Method: "POST", Path: "/saml/{account}/acs", Access: Machine, Handler: http.HandlerFunc(h.acs)},
		{Method: "GET", Path: "/saml/{account}/metadata", Access: Machine, Handler: http.HandlerFunc(h.metadata)},
		{Method: "GET", Path: "/saml/{account}/acs", Access: Public, Handler: http.HandlerFunc(h.acsGet)},
	}
}

func (h *ssoHandlers) form(w http.ResponseWriter, r *http.Request) {
	h.render(w, r, http.StatusOK, "sso", &Page{Title: "Sign in with SSO", Form: url.Values{"email": {r.URL.Query().Get("email")}}})
}

// SetSSOBinding gives the browser the random value its SAML request is
// bound to. The IdP's POST back to the ACS is a cross-site request, so on
// https the cookie must be SameSite=None to come along.
func (s *Server) SetSSOBinding(w http.ResponseWriter) string {
	v := ids.Secret(24)
	c := &http.Cookie{Name: ssoBindingCookie, Value: v, Path: "/saml/", HttpOnly: true, MaxAge: 900, SameSite: http.SameSiteLaxMode}
	if s.secureCookies() {
		c.Secure, c.SameSite = true, http.SameSiteNoneMode
	}
	http.SetCookie(w, c)
	return v
}

// SendToIdP starts the sign-in at the IdP. For POST-binding IdPs it is an
// auto-submitting form whose page allows posting to the IdP's SSO URL (CSP
// form-action). For the HTTP-Redirect binding a GET is redirected; the
// answer to a form (POST /sso) is a page that moves on by itself (a
// Refresh header, with a link as fallback) instead of a 303, because
// browsers hold a redirect that follows a form submission to the form
// page's form-action, which allows this site only.
func (s *Server) SendToIdP(w http.ResponseWriter, r *http.Request, st *sso.Start) {
	if st.POST != nil {
		s.render(w, r, http.StatusOK, "sso_post", &Page{Title: "Continue to your identity provider", Data: st.POST,
			FormTargets: []string{st.POST.Action}})
		return
	}
	if r.Method == http.MethodGet {
		http.Redirect(w, r, st.RedirectURL, http.StatusSeeOther)
		return
	}
	if u, err := url.Parse(st.RedirectURL); err != nil || u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		s.serverError(w, r, fmt.Errorf("IdP sign-in URL %q is not an http(s) URL", st.RedirectURL))
		return
	}
	w.Header().Set("Refresh", "0; url="+st.RedirectURL)
	s.render(w, r, http.StatusOK, "sso_redirect", &Page{Title: "Continue to your identity provider", Data: st.RedirectURL})
}

func (h *ssoHandlers) begin(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	form := url.Values{"email": {email}}
	if email == "" {
		h.render(w, r, http.StatusUnprocessableEntity, "sso", &Page{Title: "Sign in with SSO", Form: form,
			Errors: map[string]string{"email": "Enter your work email address."}})
		return
	}
	binding := h.SetSSOBinding(w)
	st, err := h.svc.Begin(r.Context(), email, saml.PurposePortal, "", binding, ClientIP(r))
	var se *sso.Error
	if errors.As(err, &se) {
		h.render(w, r, http.StatusUnprocessableEntity, "sso", &Page{Title: "Sign in with SSO", Form: form,
			Errors: map[string]string{"email": se.Message}})
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.SendToIdP(w, r, st)
}

func (h *ssoHandlers) acsGet(w http.ResponseWriter, r *http.Request) {
	h.renderError(w, r, http.StatusMethodNotAllowed, "Start at Gatehouse",
		"This address only receives sign-in answers from your identity provider. To sign in, open the Gatehouse sign-in page and choose “Continue with SSO”.")
}

func (h *ssoHandlers) acs(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, h.Config.MaxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.renderError(w, r, http.StatusBadRequest, "Sign-in failed", "The sign-in answer could not be read. Start again from the Gatehouse sign-in page.")
		return
	}
	accountID := r.PathValue("account")
	if !ids.Valid(accountID) {
		h.notFound(w, r)
		return
	}
	var binding string
	if c, err := r.Cookie(ssoBindingCookie); err == nil {
		binding = c.Value
	}
	out, err := h.svc.Complete(r.Context(), accountID, r.PostFormValue("SAMLResponse"), binding, ClientIP(r))
	var se *sso.Error
	if errors.As(err, &se) {
		h.SSORefused(w, r, se)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: ssoBindingCookie, Value: "", Path: "/saml/", MaxAge: -1, HttpOnly: true})
	if out.TestID != "" {
		// An admin's test sign-in: nobody is signed in; the result page
		// shows what happened (to the admin who started it only).
		http.Redirect(w, r, "/accounts/"+accountID+"/idp/tests/"+out.TestID, http.StatusSeeOther)
		return
	}
	id := out.Identity
	if id.Assertion.Purpose == saml.PurposeDesktop {
		if h.desktopSSO == nil {
			h.serverError(w, r, errors.New("desktop SSO response but no desktop activation is wired"))
			return
		}
		h.desktopSSO(w, r, id)
		return
	}
	if err := h.startSession(w, r, account.NewSession{PersonID: id.Person.ID, Method: account.MethodSSO,
		SSOAccount: accountID, SSOAdmin: id.IsAdmin, AccountID: accountID}); err != nil {
		h.serverError(w, r, err)
		return
	}
	if err := h.Accounts.TouchSignIn(r.Context(), id.Person.ID, accountID); err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectFlash(w, r, "/accounts/"+accountID, "success", "Signed in with single sign-on as "+id.Person.Email+".")
}

// SSORefused shows a person why SSO failed, with the reference admins look up.
func (s *Server) SSORefused(w http.ResponseWriter, r *http.Request, se *sso.Error) {
	s.render(w, r, http.StatusForbidden, "sso_error", &Page{Title: "Single sign-on did not work", Data: se})
}

func (h *ssoHandlers) metadata(w http.ResponseWriter, r *http.Request) {
	accountID := r.PathValue("account")
	if _, err := h.Accounts.AccountByID(r.Context(), accountID); errors.Is(err, store.ErrNotFound) || !ids.Valid(accountID) {
		http.NotFound(w, r)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	md, err := h.svc.Directory.SPMetadata(r.Context(), accountID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	_, _ = w.Write(md)
}
