package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"gatehouse/internal/account"
	"gatehouse/internal/license"
)

// One license key's settings: name, type and seat allotment, the license
// admins assigned to it, reveal and delete.

func (h *licenseHandlers) keyPage(w http.ResponseWriter, r *http.Request) {
	h.keyPageWith(w, r, http.StatusOK, nil, nil, "")
}

func (h *licenseHandlers) keyPageWith(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string, revealed string) {
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
	kv := &keyView{Key: *k, Revealed: revealed}
	data := map[string]any{"Key": kv, "Sub": newSubView(d.Subscription, nowOr(h.svc.Config.Now)), "CanManage": d.CanManage}
	if caller.Role == license.RoleAdmin {
		admins, err := h.svc.KeyAdmins(r.Context(), caller, k.ID)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		assigned := map[string]bool{}
		for _, a := range admins {
			assigned[a.PersonID] = true
		}
		members, err := h.Accounts.Members(r.Context(), caller.AccountID, account.MemberFilter{Role: account.RoleLicenseAdmin, Status: account.StatusActive}, nil)
		if err != nil {
			h.serverError(w, r, err)
			return
		}
		var candidates []account.Member
		for _, m := range members {
			if m.PersonID != "" && !assigned[m.PersonID] {
				candidates = append(candidates, m)
			}
		}
		data["Admins"], data["Candidates"] = admins, candidates
	}
	if form == nil {
		form = url.Values{"name": {k.Name}, "kind": {k.Kind}, "seats": {strconv.Itoa(k.Seats)}}
	}
	h.render(w, r, status, "license_key", &Page{Title: kv.DisplayName(), Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) keyPath(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + "/keys/" + r.PathValue("key") + rest
}

func (h *licenseHandlers) updateKey(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r)
	k, err := h.svc.Key(r.Context(), caller, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	in, form, seatsErr := keyInput(r, "name")
	if k.Kind == license.KindPrimary {
		// Only the name of the primary key can change.
		in.Kind, in.Seats, seatsErr = k.Kind, 0, ""
		form.Set("kind", k.Kind)
	}
	if seatsErr != "" {
		h.keyPageWith(w, r, http.StatusUnprocessableEntity, form, map[string]string{"seats": seatsErr}, "")
		return
	}
	_, err = h.svc.UpdateKey(r.Context(), caller, k.ID, in, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, nil, "name", "kind", "seats"); ok {
		h.keyPageWith(w, r, http.StatusUnprocessableEntity, form, errs, "")
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.keyPath(r, ""), "success", "The key's settings are saved.")
}

func (h *licenseHandlers) deleteKey(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r)
	k, err := h.svc.Key(r.Context(), caller, r.PathValue("key"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	kv := &keyView{Key: *k}
	n, err := h.svc.DeleteKey(r.Context(), caller, k.ID, r.PostFormValue("confirm") == "1", ActorFrom(r))
	var ce *license.ConfirmationError
	if errors.As(err, &ce) {
		h.render(w, r, http.StatusOK, "license_confirm", &Page{Title: "Delete " + kv.DisplayName() + "?", Data: &confirmView{
			Heading: "Delete the key " + kv.DisplayName() + "?", Message: ce.Message, Action: h.keyPath(r, "/delete"),
			Fields: []hiddenField{{"confirm", "1"}}, Button: "Delete the key", Danger: true, Cancel: h.keyPath(r, "")}})
		return
	}
	if errs, ok := licenseFieldErrors(err, nil); ok {
		h.redirectFlash(w, r, h.keyPath(r, ""), "error", errs["form"])
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("The key %s is deleted. %d %s deactivated and %s seats returned; its pending invitations no longer work.",
		kv.DisplayName(), n, plural(n, "computer was", "computers were"), plural(n, "its", "their"))
	if n == 0 {
		msg = fmt.Sprintf("The key %s is deleted; its seats are returned and its pending invitations no longer work.", kv.DisplayName())
	}
	h.redirectFlash(w, r, h.licensesPath(r, "/"+k.SubscriptionID), "success", msg)
}

// revealKey shows an admin the whole key (audited) on the page they came
// from. The answer is the page itself, not a redirect, so the key never
// travels in a cookie.
func (h *licenseHandlers) revealKey(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r)
	keyID := r.PathValue("key")
	k, err := h.svc.Key(r.Context(), caller, keyID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	full, err := h.svc.RevealKey(r.Context(), caller, keyID, ActorFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if r.PostFormValue("back") == "key" {
		h.keyPageWith(w, r, http.StatusOK, nil, nil, full)
		return
	}
	h.detailsPage(w, r, k.SubscriptionID, http.StatusOK, nil, nil, map[string]string{k.ID: full})
}

func (h *licenseHandlers) assignKeyAdmin(w http.ResponseWriter, r *http.Request) {
	caller := callerFrom(r)
	person := r.PostFormValue("person")
	err := h.svc.AssignKeyAdmin(r.Context(), caller, r.PathValue("key"), person, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, nil, "person"); ok {
		if person == "" {
			errs = map[string]string{"person": "Choose a license admin."}
		}
		h.keyPageWith(w, r, http.StatusUnprocessableEntity, nil, errs, "")
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.keyPath(r, ""), "success", "The license admin is assigned to this key.")
}

func (h *licenseHandlers) unassignKeyAdmin(w http.ResponseWriter, r *http.Request) {
	err := h.svc.UnassignKeyAdmin(r.Context(), callerFrom(r), r.PathValue("key"), r.PathValue("person"), ActorFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.keyPath(r, ""), "success", "The license admin no longer manages this key.")
}
