package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"gatehouse/internal/csvexport"
	"gatehouse/internal/license"
)

// Registered Computers of a subscription: search, filter by key, select
// several and deactivate them (their seats return at once), CSV export.

const computersPerPage = 100

func computerFilter(r *http.Request, subID string) (license.ComputerFilter, url.Values, int) {
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = url.Values{"q": {r.PostFormValue("q")}, "key": {r.PostFormValue("key")}, "all": {r.PostFormValue("all")}}
	}
	f := license.ComputerFilter{SubscriptionID: subID, KeyID: q.Get("key"), Query: q.Get("q"), IncludeDeactivated: q.Get("all") == "1"}
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	f.Limit, f.Offset = computersPerPage, (page-1)*computersPerPage
	form := url.Values{"q": {f.Query}, "key": {f.KeyID}}
	if f.IncludeDeactivated {
		form.Set("all", "1")
	}
	return f, form, page
}

func (h *licenseHandlers) computersPage(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	subID := r.PathValue("subscription")
	data, _, err := h.detailsData(r, subID)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	f, form, page := computerFilter(r, subID)
	rows, total, err := h.svc.Computers(r.Context(), callerFrom(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	views := make([]*computerView, len(rows))
	for i := range rows {
		views[i] = &computerView{rows[i]}
	}
	data["Computers"], data["Total"] = views, total
	data["Matches"] = fmt.Sprintf("%d %s %s.", total, plural(total, "computer", "computers"), plural(total, "matches", "match"))
	if !f.IncludeDeactivated {
		data["Matches"] = fmt.Sprintf("%d active %s %s.", total, plural(total, "computer", "computers"), plural(total, "matches", "match"))
	}
	// With no active computer left, say whether some were deactivated
	// (they are one tick away) rather than "none yet".
	if total == 0 && !f.IncludeDeactivated {
		all := f
		all.IncludeDeactivated, all.Limit, all.Offset = true, 1, 0
		if _, n, err := h.svc.Computers(r.Context(), callerFrom(r), all); err == nil {
			data["Deactivated"] = n
		}
	}
	base := url.Values{}
	for k, v := range form {
		if v[0] != "" {
			base.Set(k, v[0])
		}
	}
	path := h.licensesPath(r, "/"+subID+"/computers")
	data["CSV"] = path + ".csv?" + base.Encode()
	if page > 1 {
		prev := url.Values{}
		for k, v := range base {
			prev[k] = v
		}
		prev.Set("page", strconv.Itoa(page-1))
		data["Prev"] = path + "?" + prev.Encode()
	}
	if page*computersPerPage < total {
		next := url.Values{}
		for k, v := range base {
			next[k] = v
		}
		next.Set("page", strconv.Itoa(page+1))
		data["Next"] = path + "?" + next.Encode()
	}
	data["From"], data["To"] = f.Offset+1, f.Offset+len(rows)
	h.render(w, r, status, "license_computers", &Page{Title: "Registered Computers", Form: form, Errors: errs, Data: data})
}

func (h *licenseHandlers) computers(w http.ResponseWriter, r *http.Request) {
	h.computersPage(w, r, http.StatusOK, nil)
}

func (h *licenseHandlers) computersCSV(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	if _, _, err := h.detailsData(r, subID); err != nil {
		h.fail(w, r, err)
		return
	}
	f, _, _ := computerFilter(r, subID)
	f.Limit, f.Offset = 10_000, 0
	rows, _, err := h.svc.Computers(r.Context(), callerFrom(r), f)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	csvexport.Send(w, "registered-computers")
	if err := license.WriteComputersCSV(w, rows); err != nil {
		h.Log.Error("computers csv", "err", err, "request_id", RequestID(r))
	}
}

// deactivateComputers asks first (listing the chosen computers), then
// deactivates them.
func (h *licenseHandlers) deactivateComputers(w http.ResponseWriter, r *http.Request) {
	subID := r.PathValue("subscription")
	caller := callerFrom(r)
	if _, err := h.svc.Subscription(r.Context(), caller, subID); err != nil {
		h.fail(w, r, err)
		return
	}
	chosen := r.PostForm["computer"]
	if len(chosen) == 0 {
		h.computersPage(w, r, http.StatusUnprocessableEntity, map[string]string{"computers": "Select at least one computer to deactivate."})
		return
	}
	_, form, _ := computerFilter(r, subID)
	back := h.licensesPath(r, "/"+subID+"/computers")
	if q := form.Encode(); q != "" {
		back += "?" + q
	}
	if r.PostFormValue("confirm") != "1" {
		// Name what is about to happen: only computers of this subscription
		// that the caller may manage and that are still active are listed.
		rows, _, err := h.svc.Computers(r.Context(), caller, license.ComputerFilter{SubscriptionID: subID, Limit: 10_000})
		if err != nil {
			h.fail(w, r, err)
			return
		}
		want := map[string]bool{}
		for _, id := range chosen {
			want[id] = true
		}
		fields := []hiddenField{{"confirm", "1"}, {"q", form.Get("q")}, {"key", form.Get("key")}, {"all", form.Get("all")}}
		var items []string
		for _, c := range rows {
			if want[c.ID] {
				fields = append(fields, hiddenField{"computer", c.ID})
				item := c.ComputerName
				if c.Serial != "" {
					item += " (serial " + c.Serial + ")"
				}
				if c.MacOSUser != "" {
					item += " · " + c.MacOSUser
				}
				items = append(items, item)
			}
		}
		if len(items) == 0 {
			h.redirectFlash(w, r, back, "info", "The selected computers are already deactivated.")
			return
		}
		n := len(items)
		h.render(w, r, http.StatusOK, "license_confirm", &Page{Title: "Deactivate computers?", Data: &confirmView{
			Heading: fmt.Sprintf("Deactivate %d %s?", n, plural(n, "computer", "computers")),
			Message: fmt.Sprintf("Desktop on %s stops working at its next license check, and %s returned to %s pool at once. The %s can be activated again later.",
				plural(n, "this computer", "these computers"), plural(n, "its seat is", "their seats are"), plural(n, "its", "their"), plural(n, "computer", "computers")),
			Items: items, Action: h.licensesPath(r, "/"+subID+"/computers/deactivate"), Fields: fields,
			Button: "Deactivate", Danger: true, Cancel: back}})
		return
	}
	n, err := h.svc.DeactivateComputers(r.Context(), caller, chosen, ActorFrom(r))
	if errs, ok := licenseFieldErrors(err, nil, "computers"); ok {
		h.computersPage(w, r, http.StatusUnprocessableEntity, errs)
		return
	} else if err != nil {
		h.fail(w, r, err)
		return
	}
	msg := fmt.Sprintf("%d %s deactivated; %s free again.", n, plural(n, "computer is", "computers are"), plural(n, "its seat is", "their seats are"))
	if n == 0 {
		msg = "Nothing changed: the selected computers were already deactivated."
	}
	h.redirectFlash(w, r, back, "success", msg)
}
