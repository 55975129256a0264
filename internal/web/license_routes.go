package web

import (
	"errors"
	"fmt"
	"net/http"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// licenseHandlers serve the licensing pages: Register Key, the product
// cards, Subscription Details with its license keys, Registered Computers
// and invitations. The licensing service decides what each caller may do;
// the route roles only keep plain users out early.
type licenseHandlers struct {
	*Server
	svc *license.Service
}

// LicenseRoutes returns the licensing pages.
func LicenseRoutes(s *Server, svc *license.Service) []Route {
	h := &licenseHandlers{Server: s, svc: svc}
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	const la, ad = account.RoleLicenseAdmin, account.RoleAdmin
	return []Route{
		// A person without a business account registers a key from the
		// personal workspace; the account is created on the way.
		{Method: "GET", Path: "/licenses/register", Access: Person, Handler: f(h.registerPersonalForm)},
		{Method: "POST", Path: "/licenses/register", Access: Person, Handler: f(h.registerPersonal)},

		{Method: "GET", Path: "/accounts/{account}/licenses", Access: Member, Role: la, Handler: f(h.list), Nav: "Licenses", NavOrder: 10},
		{Method: "GET", Path: "/accounts/{account}/licenses/register", Access: Member, Role: ad, Handler: f(h.registerForm)},
		{Method: "POST", Path: "/accounts/{account}/licenses/register", Access: Member, Role: ad, Handler: f(h.register)},
		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}", Access: Member, Role: la, Handler: f(h.details)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/name", Access: Member, Role: ad, Handler: f(h.rename)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/keys", Access: Member, Role: la, Handler: f(h.createKey)},

		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}/computers", Access: Member, Role: la, Handler: f(h.computers)},
		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}/computers.csv", Access: Member, Role: la, Handler: f(h.computersCSV)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/computers/deactivate", Access: Member, Role: la, Handler: f(h.deactivateComputers)},

		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}/invite", Access: Member, Role: la, Handler: f(h.inviteForm)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/invite", Access: Member, Role: la, Handler: f(h.inviteReview)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/invite/send", Access: Member, Role: la, Handler: f(h.inviteSend)},
		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}/invitations", Access: Member, Role: la, Handler: f(h.invitations)},
		{Method: "GET", Path: "/accounts/{account}/licenses/{subscription}/invitations.csv", Access: Member, Role: la, Handler: f(h.invitationsCSV)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/invitations/revoke", Access: Member, Role: la, Handler: f(h.revokeInvitations)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/invitations/{invitation}/revoke", Access: Member, Role: la, Handler: f(h.revokeInvitation)},
		{Method: "POST", Path: "/accounts/{account}/licenses/{subscription}/invitations/{invitation}/resend", Access: Member, Role: la, Handler: f(h.resendInvitation)},

		{Method: "GET", Path: "/accounts/{account}/keys/{key}", Access: Member, Role: la, Handler: f(h.keyPage)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}", Access: Member, Role: la, Handler: f(h.updateKey)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/delete", Access: Member, Role: la, Handler: f(h.deleteKey)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/reveal", Access: Member, Role: ad, Handler: f(h.revealKey)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/admins", Access: Member, Role: ad, Handler: f(h.assignKeyAdmin)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/admins/{person}/remove", Access: Member, Role: ad, Handler: f(h.unassignKeyAdmin)},
	}
}

// callerFrom builds the licensing service's view of who is asking.
func callerFrom(r *http.Request) license.Caller {
	var c license.Caller
	if s := SessionFrom(r); s != nil {
		c.PersonID = s.Person.ID
	}
	if a := AccessFrom(r); a != nil {
		c.AccountID, c.Role = a.AccountID, a.Role
	}
	return c
}

// licenseFieldErrors turns a validation error of the licensing (or account)
// service into per-field messages. Errors on fields the form does not show
// are reported for the whole form; rename maps service field names to the
// form's.
func licenseFieldErrors(err error, rename map[string]string, fields ...string) (map[string]string, bool) {
	var field, msg string
	var fe *license.FieldError
	if errors.As(err, &fe) {
		field, msg = fe.Field, fe.Message
	} else if m, ok := formErrors(err); ok {
		for k, v := range m {
			field, msg = k, v
		}
	} else {
		return nil, false
	}
	if to, ok := rename[field]; ok {
		field = to
	}
	for _, f := range fields {
		if f == field {
			return map[string]string{field: msg}, true
		}
	}
	return map[string]string{"form": msg}, true
}

// fail answers a service error that is not a validation problem.
func (h *licenseHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, license.ErrForbidden):
		h.forbidden(w, r, AccessFrom(r))
	case errors.Is(err, store.ErrNotFound):
		h.notFound(w, r)
	default:
		h.serverError(w, r, err)
	}
}

func (h *licenseHandlers) licensesPath(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + "/licenses" + rest
}

// LicenseDashboardCard summarises the seats of the licenses the viewer may
// manage on the account dashboard.
func LicenseDashboardCard(svc *license.Service) DashboardCard {
	return func(r *http.Request) (string, any, string, error) {
		acc := AccessFrom(r)
		if acc == nil || !acc.CanManageLicenses() {
			return "", nil, "", nil
		}
		subs, err := svc.Subscriptions(r.Context(), callerFrom(r))
		if errors.Is(err, license.ErrForbidden) {
			return "", nil, "", nil
		} else if err != nil {
			return "", nil, "", err
		}
		link := "/accounts/" + acc.AccountID + "/licenses"
		if len(subs) == 0 {
			if acc.IsAdmin() {
				return "Licenses", "No license is registered yet. Register your license key to start.", link + "/register", nil
			}
			return "Licenses", "No license is assigned to you yet.", "", nil
		}
		used, seats, live := 0, 0, 0
		now := svc.Config.Now
		for i := range subs {
			st := subs[i].State(nowOr(now))
			if st != license.StateActive {
				continue
			}
			live++
			used += subs[i].Used
			seats += subs[i].Seats
		}
		body := fmt.Sprintf("%d of %d seats in use across %d active %s.", used, seats, live, plural(live, "license", "licenses"))
		if ended := len(subs) - live; ended > 0 {
			body += fmt.Sprintf(" %d more %s suspended or ended.", ended, plural(ended, "is", "are"))
		}
		return "Licenses", body, link, nil
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
