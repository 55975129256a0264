package web

import (
	"errors"
	"net/http"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
)

// SSO activation of Desktop (spec 04): the browser page an installation
// opens (/sso/desktop/{attempt}), the ACS hook that grants the per-user
// seat, a key's User Groups tab, Business Profile → Users → "Users: with
// product licenses", and the download link.

// SSOActivationConfig configures the pages.
type SSOActivationConfig struct {
	// DownloadURL is where /download sends people (the installer), with
	// experience=… and code=… added; "" shows a page explaining how Desktop
	// would be installed.
	DownloadURL string
	// ReservedGroups names the configurator's admins and Desktop Users
	// groups, which cannot select a seat pool.
	ReservedGroups license.ReservedGroupsFunc
}

type ssoActivationHandlers struct {
	*Server
	svc *license.Service
	sso *sso.Service
	cfg SSOActivationConfig
}

// SSOActivationRoutes returns the routes of SSO activation and installs the
// hook that finishes a Desktop sign-in at the ACS.
func SSOActivationRoutes(s *Server, svc *license.Service, ssoSvc *sso.Service, cfg SSOActivationConfig) []Route {
	h := &ssoActivationHandlers{Server: s, svc: svc, sso: ssoSvc, cfg: cfg}
	s.SetDesktopSSO(h.complete)
	s.personActivations = svc.PersonActivations
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	const la, ad = account.RoleLicenseAdmin, account.RoleAdmin
	return []Route{
		{Method: "GET", Path: "/sso/desktop/{attempt}", Access: Public, Handler: f(h.start)},
		{Method: "GET", Path: "/download", Access: Public, Handler: f(h.download)},

		{Method: "GET", Path: "/accounts/{account}/users/licensed", Access: Member, Role: la, Handler: f(h.users)},
		{Method: "GET", Path: "/accounts/{account}/users/licensed.csv", Access: Member, Role: la, Handler: f(h.usersCSV)},
		{Method: "POST", Path: "/accounts/{account}/users/licensed/settings", Access: Member, Role: ad, Handler: f(h.saveSettings)},
		{Method: "POST", Path: "/accounts/{account}/users/licensed/{person}/revoke", Access: Member, Role: la, Handler: f(h.revoke)},

		{Method: "GET", Path: "/accounts/{account}/keys/{key}/groups", Access: Member, Role: la, Handler: f(h.groups)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/groups", Access: Member, Role: la, Handler: f(h.mapGroup)},
		{Method: "POST", Path: "/accounts/{account}/keys/{key}/groups/{group}/remove", Access: Member, Role: la, Handler: f(h.unmapGroup)},
	}
}

// fail answers a service error that is not a validation problem.
func (h *ssoActivationHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, license.ErrForbidden):
		h.forbidden(w, r, AccessFrom(r))
	case errors.Is(err, store.ErrNotFound):
		h.notFound(w, r)
	default:
		h.serverError(w, r, err)
	}
}

func (h *ssoActivationHandlers) accountPath(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + rest
}
