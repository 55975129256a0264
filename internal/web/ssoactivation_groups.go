package web

import (
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/license"
)

// A key's User Groups tab: the IdP groups (UUID and display name) whose
// members take their per-user seat from this key.

func (h *ssoActivationHandlers) groups(w http.ResponseWriter, r *http.Request) {
	h.groupsPage(w, r, http.StatusOK, nil, nil)
}

func (h *ssoActivationHandlers) groupsPage(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string) {
	caller := callerFrom(r)
	k, err := h.svc.Key(r.Context(), caller, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d, err := h.svc.Subscription(r.Context(), caller, k.SubscriptionID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	groups, err := h.svc.KeyGroups(r.Context(), caller, k.ID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	seats, err := h.svc.UserSeats(r.Context(), caller, license.UserSeatFilter{KeyID: k.ID})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	conflicts, err := h.svc.GroupConflicts(r.Context(), caller)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kv := &keyView{Key: *k}
	h.render(w, r, status, "ssoactivation_groups", &Page{Title: "User Groups of " + kv.DisplayName(), Form: form, Errors: errs,
		Data: map[string]any{"Key": kv, "Sub": newSubView(d.Subscription, nowOr(h.svc.Config.Now)), "Groups": groups,
			"Seats": len(seats), "Conflicts": conflicts,
			"PerUser": d.Model == license.ModelPerUser || d.Model == license.ModelMixed}})
}

func (h *ssoActivationHandlers) keyGroupsPath(r *http.Request) string {
	return h.accountPath(r, "/keys/"+r.PathValue("key")+"/groups")
}

func (h *ssoActivationHandlers) mapGroup(w http.ResponseWriter, r *http.Request) {
	uuid, name := strings.TrimSpace(r.PostFormValue("uuid")), strings.TrimSpace(r.PostFormValue("name"))
	_, err := h.svc.MapGroup(r.Context(), callerFrom(r), r.PathValue("key"), uuid, name, h.cfg.ReservedGroups, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, nil, "uuid", "name"); ok {
		h.groupsPage(w, r, http.StatusUnprocessableEntity, url.Values{"uuid": {uuid}, "name": {name}}, errs)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.keyGroupsPath(r), "success", "The group “"+name+"” is mapped: its members take their seat from this key when they activate Desktop with SSO.")
}

func (h *ssoActivationHandlers) unmapGroup(w http.ResponseWriter, r *http.Request) {
	err := h.svc.UnmapGroup(r.Context(), callerFrom(r), r.PathValue("key"), r.PathValue("group"), ActorFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.keyGroupsPath(r), "success", "The group is no longer mapped. Its members keep their seats until their next SSO activation, which takes the seat from their new pool.")
}
