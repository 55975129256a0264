package web

import (
	"context"
	"errors"
	"net/http"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/portal"
	"gatehouse/internal/portal/linkcheck"
	"gatehouse/internal/store"
)

// The Management Portal of spec 05: Golden Images, Policies, User Groups
// (Enterprise; admins and license admins, for the keys they manage) and
// Configuration Profiles (account admins; Business too). Every form works
// without JavaScript; the policy form is a multi-step form whose steps
// carry each other's values as hidden fields.

// LinkChecker checks a download link (linkcheck.Checker in production).
type LinkChecker interface {
	Check(ctx context.Context, url string) (*linkcheck.Result, error)
}

// PortalConfig configures the portal pages.
type PortalConfig struct {
	Links     LinkChecker
	Retention time.Duration // how long settings are kept after the end (licensing)
	// Inventory, when set, links an image's VM count to the inventory
	// filtered by that image (the fleet issue's VM list).
	InventoryURL func(accountID, imageID string) string
	// Preview, when set, computes the effect of a policy change from the
	// inventory before it is saved.
	Preview func(ctx context.Context, c portal.Caller, policyID string, in portal.PolicyInput) (*portal.Preview, error)
}

type portalHandlers struct {
	*Server
	svc *portal.Service
	cfg PortalConfig
}

// PortalRoutes returns the Management Portal pages.
func PortalRoutes(s *Server, svc *portal.Service, cfg PortalConfig) []Route {
	if cfg.Links == nil {
		cfg.Links = &linkcheck.Checker{}
	}
	h := &portalHandlers{Server: s, svc: svc, cfg: cfg}
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	const la, ad = account.RoleLicenseAdmin, account.RoleAdmin
	return []Route{
		{Method: "GET", Path: "/accounts/{account}/golden-images", Access: Member, Role: la, Handler: f(h.imagesPage), Nav: "Golden Images", NavOrder: 70},
		{Method: "GET", Path: "/accounts/{account}/golden-images/new", Access: Member, Role: la, Handler: f(h.newImage)},
		{Method: "POST", Path: "/accounts/{account}/golden-images", Access: Member, Role: la, Handler: f(h.saveImage)},
		{Method: "POST", Path: "/accounts/{account}/golden-images/verify", Access: Member, Role: la, Handler: f(h.verifyLink)},
		{Method: "GET", Path: "/accounts/{account}/golden-images/{image}", Access: Member, Role: la, Handler: f(h.editImage)},
		{Method: "POST", Path: "/accounts/{account}/golden-images/{image}", Access: Member, Role: la, Handler: f(h.saveImage)},
		{Method: "GET", Path: "/accounts/{account}/golden-images/{image}/delete", Access: Member, Role: la, Handler: f(h.confirmDeleteImage)},
		{Method: "POST", Path: "/accounts/{account}/golden-images/{image}/delete", Access: Member, Role: la, Handler: f(h.deleteImage)},

		{Method: "GET", Path: "/accounts/{account}/policies", Access: Member, Role: la, Handler: f(h.policiesPage), Nav: "Policies", NavOrder: 71},
		{Method: "GET", Path: "/accounts/{account}/policies/new", Access: Member, Role: la, Handler: f(h.newPolicy)},
		{Method: "POST", Path: "/accounts/{account}/policies/form", Access: Member, Role: la, Handler: f(h.policyForm)},
		{Method: "GET", Path: "/accounts/{account}/policies/{policy}", Access: Member, Role: la, Handler: f(h.editPolicy)},
		{Method: "GET", Path: "/accounts/{account}/policies/{policy}/delete", Access: Member, Role: la, Handler: f(h.confirmDeletePolicy)},
		{Method: "POST", Path: "/accounts/{account}/policies/{policy}/delete", Access: Member, Role: la, Handler: f(h.deletePolicy)},

		{Method: "GET", Path: "/accounts/{account}/user-groups", Access: Member, Role: la, Handler: f(h.groupsPage), Nav: "User Groups", NavOrder: 72},

		{Method: "GET", Path: "/accounts/{account}/profiles", Access: Member, Role: ad, Handler: f(h.profilesPage), Nav: "Configuration Profiles", NavOrder: 74},
		{Method: "GET", Path: "/accounts/{account}/profiles/new", Access: Member, Role: ad, Handler: f(h.newProfile)},
		{Method: "POST", Path: "/accounts/{account}/profiles", Access: Member, Role: ad, Handler: f(h.saveProfile)},
		{Method: "POST", Path: "/accounts/{account}/profiles/apply", Access: Member, Role: ad, Handler: f(h.applyProfile)},
		{Method: "GET", Path: "/accounts/{account}/profiles/{profile}", Access: Member, Role: ad, Handler: f(h.editProfile)},
		{Method: "POST", Path: "/accounts/{account}/profiles/{profile}", Access: Member, Role: ad, Handler: f(h.saveProfile)},
		{Method: "POST", Path: "/accounts/{account}/profiles/{profile}/delete", Access: Member, Role: ad, Handler: f(h.deleteProfile)},
	}
}

func (h *portalHandlers) path(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + rest
}

func (h *portalHandlers) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, portal.ErrForbidden):
		h.forbidden(w, r, AccessFrom(r))
	case errors.Is(err, store.ErrNotFound):
		h.notFound(w, r)
	default:
		h.serverError(w, r, err)
	}
}

// enterprise answers the Enterprise pages for accounts without a running
// Enterprise subscription: an explanation instead of the page. It returns
// false when it answered.
func (h *portalHandlers) enterprise(w http.ResponseWriter, r *http.Request, title string) bool {
	st, err := h.svc.Enterprise(r.Context(), AccessFrom(r).AccountID, h.cfg.Retention)
	if err != nil {
		h.fail(w, r, err)
		return false
	}
	if st.Active {
		return true
	}
	h.render(w, r, http.StatusOK, "portal_enterprise", &Page{Title: title, Data: map[string]any{"State": st, "What": title, "KeptUntil": store.At(st.KeptUntil)}})
	return false
}
