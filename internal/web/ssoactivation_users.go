package web

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"gatehouse/internal/csvexport"
	"gatehouse/internal/license"
)

// Business Profile → Users → "Users: with product licenses": everyone
// holding a per-user (SSO) seat, with key, devices, activated at and last
// check; revoke; CSV export; the account's per-user settings (device cap,
// inactivity revocation) and the warning about people in groups mapped to
// several keys.

func (h *ssoActivationHandlers) users(w http.ResponseWriter, r *http.Request) {
	h.usersPage(w, r, http.StatusOK, nil, nil)
}

func (h *ssoActivationHandlers) usersPage(w http.ResponseWriter, r *http.Request, status int, form url.Values, errs map[string]string) {
	caller := callerFrom(r)
	q := r.URL.Query()
	f := license.UserSeatFilter{KeyID: q.Get("key"), Query: q.Get("q")}
	all, err := h.svc.UserSeats(r.Context(), caller, license.UserSeatFilter{})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	keys := map[string]string{}
	for _, u := range all {
		keys[u.KeyID] = u.KeyLabel()
	}
	seats, err := h.svc.UserSeats(r.Context(), caller, f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	conflicts, err := h.svc.GroupConflicts(r.Context(), caller)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	settings, err := h.svc.SSOSettings(r.Context(), caller.AccountID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if form == nil {
		form = url.Values{"q": {f.Query}, "key": {f.KeyID}, "device_cap": {strconv.Itoa(settings.DeviceCap)},
			"inactivity_days": {strconv.Itoa(settings.InactivityDays)}}
	}
	type keyOpt struct{ ID, Label string }
	var opts []keyOpt
	for id, l := range keys {
		opts = append(opts, keyOpt{id, l})
	}
	sort.Slice(opts, func(i, j int) bool { return opts[i].Label < opts[j].Label })
	csvURL := h.accountPath(r, "/users/licensed.csv")
	if enc := (url.Values{"q": {f.Query}, "key": {f.KeyID}}).Encode(); f.Query != "" || f.KeyID != "" {
		csvURL += "?" + enc
	}
	h.render(w, r, status, "ssoactivation_users", &Page{Title: "Users with product licenses", Form: form, Errors: errs, Data: map[string]any{
		"Seats": seats, "Total": len(all), "Keys": opts, "Conflicts": conflicts, "Settings": settings, "CSV": csvURL}})
}

func (h *ssoActivationHandlers) usersCSV(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	seats, err := h.svc.UserSeats(r.Context(), callerFrom(r), license.UserSeatFilter{KeyID: q.Get("key"), Query: q.Get("q")})
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var buf bytes.Buffer
	if err := license.WriteUserSeatsCSV(&buf, seats); err != nil {
		h.serverError(w, r, err)
		return
	}
	csvexport.Send(w, "users-with-product-licenses")
	_, _ = buf.WriteTo(w)
}

func (h *ssoActivationHandlers) revoke(w http.ResponseWriter, r *http.Request) {
	n, err := h.svc.RevokeUserSeat(r.Context(), callerFrom(r), r.PathValue("person"), ActorFrom(r))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirectFlash(w, r, h.accountPath(r, "/users/licensed"), "success",
		fmt.Sprintf("The seat is revoked and back in its pool; %d %s will fail %s next license check.", n,
			plural(n, "computer", "computers"), plural(n, "its", "their")))
}

func (h *ssoActivationHandlers) saveSettings(w http.ResponseWriter, r *http.Request) {
	form := url.Values{"device_cap": {strings.TrimSpace(r.PostFormValue("device_cap"))},
		"inactivity_days": {strings.TrimSpace(r.PostFormValue("inactivity_days"))}}
	errs := map[string]string{}
	capN, err := strconv.Atoi(form.Get("device_cap"))
	if err != nil {
		errs["device_cap"] = "Enter a whole number of devices, from 1 to 100."
	}
	days := 0
	if v := form.Get("inactivity_days"); v != "" {
		if days, err = strconv.Atoi(v); err != nil {
			errs["inactivity_days"] = "Enter a whole number of days, or 0 to never revoke unused seats."
		}
	}
	if len(errs) == 0 {
		err = h.svc.SetSSOSettings(r.Context(), callerFrom(r), license.SSOSettings{DeviceCap: capN, InactivityDays: days}, ActorFrom(r))
		if fe, ok := license.IsFieldError(err); ok {
			errs[fe.Field] = fe.Message
		} else if err != nil {
			h.fail(w, r, err)
			return
		}
	}
	if len(errs) > 0 {
		h.usersPage(w, r, http.StatusUnprocessableEntity, form, errs)
		return
	}
	h.redirectFlash(w, r, h.accountPath(r, "/users/licensed"), "success", "The per-user license settings are saved.")
}
