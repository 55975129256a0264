package web

import (
	"errors"
	"net/http"

	"gatehouse/internal/license"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// ssoResult is what the person reads in the browser at the end (or the
// refusal) of a Desktop SSO activation.
type ssoResult struct {
	OK        bool
	Heading   string
	Message   string
	Code      string
	Reference string
	Computer  string
	Email     string
	// Organization and Product say whose license the person now uses.
	Organization string
	Product      string
}

func (h *ssoActivationHandlers) result(w http.ResponseWriter, r *http.Request, status int, res *ssoResult) {
	h.render(w, r, status, "ssoactivation_result", &Page{Title: res.Heading, Data: res})
}

func (h *ssoActivationHandlers) refused(w http.ResponseWriter, r *http.Request, a *license.SSOAttempt, rf *license.SSORefusal) {
	res := &ssoResult{Heading: "Desktop could not be activated", Message: rf.Message, Code: rf.Code, Reference: rf.Reference}
	if a != nil {
		res.Computer, res.Email = a.Device.ComputerName, a.Email
	}
	h.result(w, r, http.StatusForbidden, res)
}

// start is the address the installation opened in the person's browser:
// it binds the browser to a SAML request for this attempt and sends the
// person to their IdP.
func (h *ssoActivationHandlers) start(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, err := h.svc.SSOAttempt(ctx, r.PathValue("attempt"))
	if errors.Is(err, store.ErrNotFound) {
		h.result(w, r, http.StatusNotFound, &ssoResult{Heading: "This activation link is not valid",
			Message: "Start the activation again in Desktop: choose “Continue with SSO” and enter your work email.", Code: license.CodeAttemptNotFound})
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	// Nobody has signed in on this page yet: it names no computer or
	// person, only what happened.
	switch a.State {
	case license.AttemptRefused:
		h.refused(w, r, nil, a.Refusal)
		return
	case license.AttemptCompleted, license.AttemptRedeemed:
		h.result(w, r, http.StatusOK, &ssoResult{OK: true, Heading: "Desktop is activated",
			Message: "This activation is finished. Return to Desktop."})
		return
	}
	if a.Expired(nowOr(h.svc.Config.Now)) {
		rf, err := h.svc.RefuseSSOAttempt(ctx, a, &license.SSORefusal{Code: license.CodeAttemptExpired,
			Message: "This activation link has expired. Start the activation again in Desktop.",
			Detail:  "the activation link was opened after the attempt expired"}, ClientIP(r))
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.refused(w, r, nil, rf)
		return
	}
	binding := h.SetSSOBinding(w)
	st, err := h.sso.Begin(ctx, a.Email, saml.PurposeDesktop, a.ID, binding, ClientIP(r))
	var se *sso.Error
	if errors.As(err, &se) {
		rf, err := h.svc.RefuseSSOAttempt(ctx, a, &license.SSORefusal{Code: se.Code, Message: se.Message, Detail: se.Detail,
			Reference: se.Reference}, ClientIP(r))
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		h.refused(w, r, nil, rf)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.SendToIdP(w, r, st)
}

// complete runs at the ACS once the IdP's answer for a Desktop activation
// was accepted and the person resolved: eligibility, seat pool, seat,
// device, attempt — then the page that sends the person back to Desktop.
func (h *ssoActivationHandlers) complete(w http.ResponseWriter, r *http.Request, id *sso.Identity) {
	in := license.SSOCompleteInput{AttemptID: id.Assertion.AttemptRef, AccountID: id.AccountID, Email: id.Email,
		Groups: id.Groups, InDesktopUsers: id.InDesktopUsers, IP: ClientIP(r), Link: id.Link}
	if id.Person != nil {
		in.PersonID = id.Person.ID
	}
	c, err := h.svc.CompleteSSOActivation(r.Context(), in)
	var rf *license.SSORefusal
	var se *sso.Error
	if errors.As(err, &rf) {
		a, _ := h.svc.SSOAttempt(r.Context(), id.Assertion.AttemptRef)
		h.refused(w, r, a, rf)
		return
	} else if errors.As(err, &se) {
		// The linking decision changed between the ACS and the grant
		// (a concurrent change to the person): refused, nothing kept.
		h.SSORefused(w, r, se)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	msg := "Return to Desktop: it picks up its license by itself in a moment. You can close this window."
	if c.Reactivated {
		msg = "This computer was already activated for you; Desktop receives a fresh license. Return to Desktop. You can close this window."
	}
	h.result(w, r, http.StatusOK, &ssoResult{OK: true, Heading: "Desktop is activated", Message: msg,
		Computer: c.Attempt.Device.ComputerName, Email: id.Email, Organization: c.AccountName, Product: c.Product})
}
