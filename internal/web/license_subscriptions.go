package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/license"
)

// The Licenses page (product cards) and Subscription Details with its
// License Keys table.

func (h *licenseHandlers) list(w http.ResponseWriter, r *http.Request) {
	subs, err := h.svc.Subscriptions(r.Context(), callerFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := nowOr(h.svc.Config.Now)
	cards := make([]*subView, len(subs))
	for i := range subs {
		cards[i] = newSubView(subs[i], now)
	}
	h.render(w, r, http.StatusOK, "license_list", &Page{Title: "Licenses", Data: map[string]any{"Subscriptions": cards}})
}

// detailsData loads what Subscription Details shows.
func (h *licenseHandlers) detailsData(r *http.Request, subscriptionID string) (map[string]any, *license.SubscriptionDetails, error) {
	d, err := h.svc.Subscription(r.Context(), callerFrom(r), subscriptionID)
	if err != nil {
		return nil, nil, err
	}
	sub := newSubView(d.Subscription, nowOr(h.svc.Config.Now))
	sub.State = d.State
	return map[string]any{"Sub": sub, "Keys": keyViews(d.Keys), "CanManage": d.CanManage}, d, nil
}

func (h *licenseHandlers) detailsPage(w http.ResponseWriter, r *http.Request, subID string, status int, form url.Values, errs map[string]string, revealed map[string]string) {
	data, d, err := h.detailsData(r, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	for _, k := range data["Keys"].([]*keyView) {
		k.Revealed = revealed[k.ID]
	}
	if form == nil {
		form = url.Values{"sub_name": {d.Name}, "kind": {license.KindReserved}}
	}
	if form.Get("sub_name") == "" && errs["sub_name"] == "" {
		form.Set("sub_name", d.Name)
	}
	title := data["Sub"].(*subView).Title()
	h.render(w, r, status, "license_subscription", &Page{Title: title, Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) details(w http.ResponseWriter, r *http.Request) {
	h.detailsPage(w, r, r.PathValue("subscription"), http.StatusOK, nil, nil, nil)
}

func (h *licenseHandlers) rename(w http.ResponseWriter, r *http.Request) {
	name := r.PostFormValue("sub_name")
	subID := r.PathValue("subscription")
	err := h.svc.RenameSubscription(r.Context(), callerFrom(r), subID, name, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, map[string]string{"name": "sub_name"}, "sub_name"); ok {
		h.detailsPage(w, r, subID, http.StatusUnprocessableEntity, url.Values{"sub_name": {name}, "kind": {license.KindReserved}}, errs, nil)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := "The license is renamed."
	if strings.TrimSpace(name) == "" {
		msg = "The license's name is removed; it is shown by its edition."
	}
	h.redirectFlash(w, r, h.licensesPath(r, "/"+subID), "success", msg)
}

// keyInput reads the Create License Key / key settings form; nameField is
// the name input's name ("key_name" on Subscription Details, where the page
// has another name field).
func keyInput(r *http.Request, nameField string) (license.KeyInput, url.Values, string) {
	in := license.KeyInput{Name: r.PostFormValue(nameField), Kind: r.PostFormValue("kind")}
	raw := strings.TrimSpace(r.PostFormValue("seats"))
	form := url.Values{nameField: {in.Name}, "kind": {in.Kind}, "seats": {raw}}
	seatsErr := ""
	if raw == "" {
		seatsErr = "Enter the number of seats."
	} else if n, err := strconv.Atoi(raw); err != nil {
		seatsErr = "Enter a whole number of seats, e.g. 10."
	} else {
		in.Seats = n
	}
	return in, form, seatsErr
}

func (h *licenseHandlers) createKey(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	caller := callerFrom(r)
	// Resolve the subscription first: another account's id is a 404 before
	// any form checking.
	d, err := h.svc.Subscription(r.Context(), caller, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if !d.CanManage {
		h.fail(w, r, license.ErrForbidden)
		return
	}
	in, form, seatsErr := keyInput(r, "key_name")
	form.Set("sub_name", d.Name)
	if seatsErr != "" {
		h.detailsPage(w, r, subID, http.StatusUnprocessableEntity, form, map[string]string{"seats": seatsErr}, nil)
		return
	}
	// A key is named after the group that uses it; two keys of one
	// subscription with one name are a mistake (typically a form sent twice).
	for _, k := range d.Keys {
		if strings.EqualFold(strings.TrimSpace(k.Name), strings.TrimSpace(in.Name)) && in.Name != "" {
			h.detailsPage(w, r, subID, http.StatusUnprocessableEntity, form, map[string]string{
				"key_name": "This subscription already has a key named " + k.Name + "; choose another name."}, nil)
			return
		}
	}
	k, _, err := h.svc.CreateSublicense(r.Context(), caller, subID, in, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, map[string]string{"name": "key_name"}, "key_name", "kind", "seats"); ok {
		h.detailsPage(w, r, subID, http.StatusUnprocessableEntity, form, errs, nil)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := "The " + strings.ToLower(license.KindLabel(k.Kind)) + " sublicense key " + k.Name + " is created with " +
		strconv.Itoa(k.Seats) + " seats. Hand it out, or invite users with it."
	if AccessFrom(r).IsAdmin() {
		msg += " Use Reveal to see the whole key."
	}
	h.redirectFlash(w, r, h.licensesPath(r, "/"+subID), "success", msg)
}
