package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/csvexport"
	"gatehouse/internal/fleet"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// The Virtual Machines inventory of the Management Portal (spec 05):
// every VM of every Desktop installation of an Enterprise account, with a
// column chooser remembered per person, search, per-column filters, sort,
// pages, CSV export, the explanations of incomplete rows, and the remote
// commands (delete, lock, redownload, restart) with their confirmation.
// Everything works without JavaScript; app.js only submits a filter when a
// select changes.

type inventoryHandlers struct {
	*Server
	inv  *fleet.Inventory
	cmds *fleet.Service
	lic  *license.Service
}

// InventoryRoutes returns the Virtual Machines pages.
func InventoryRoutes(s *Server, inv *fleet.Inventory, cmds *fleet.Service, lic *license.Service) []Route {
	h := &inventoryHandlers{Server: s, inv: inv, cmds: cmds, lic: lic}
	f := func(fn http.HandlerFunc) http.Handler { return fn }
	const la = account.RoleLicenseAdmin
	return []Route{
		{Method: "GET", Path: "/accounts/{account}/vms", Access: Member, Role: la, Handler: f(h.list), Nav: "Virtual Machines", NavOrder: 73},
		{Method: "GET", Path: "/accounts/{account}/vms.csv", Access: Member, Role: la, Handler: f(h.csv)},
		{Method: "POST", Path: "/accounts/{account}/vms/columns", Access: Member, Role: la, Handler: f(h.saveColumns)},
		{Method: "POST", Path: "/accounts/{account}/vms/commands", Access: Member, Role: la, Handler: f(h.commands)},
		{Method: "POST", Path: "/accounts/{account}/vms/commands/{command}/cancel", Access: Member, Role: la, Handler: f(h.cancelCommand)},
		{Method: "GET", Path: "/accounts/{account}/vms/{vm}", Access: Member, Role: la, Handler: f(h.vmPage)},
	}
}

func (h *inventoryHandlers) vmsPath(r *http.Request, rest string) string {
	return "/accounts/" + AccessFrom(r).AccountID + "/vms" + rest
}

// enterprise reports whether the account holds an Enterprise subscription
// the caller may see (the Management Portal is an Enterprise feature; a
// trial counts). Ended subscriptions keep their inventory readable until
// they are purged.
func (h *inventoryHandlers) enterprise(r *http.Request) (bool, error) {
	subs, err := h.lic.Subscriptions(r.Context(), callerFrom(r))
	if errors.Is(err, license.ErrForbidden) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	now := nowOr(h.lic.Config.Now)
	for i := range subs {
		if subs[i].Edition == license.EditionEnterprise && subs[i].State(now) != license.StatePurged {
			return true, nil
		}
	}
	return false, nil
}

// requireEnterprise answers 403 with the reason when the account has no
// Enterprise subscription.
func (h *inventoryHandlers) requireEnterprise(w http.ResponseWriter, r *http.Request) bool {
	ok, err := h.enterprise(r)
	if err != nil {
		h.serverError(w, r, err)
		return false
	}
	if !ok {
		h.renderError(w, r, http.StatusForbidden, "Enterprise Edition only", noEnterprise)
	}
	return ok
}

const noEnterprise = "The Virtual Machines inventory is part of the Management Portal, which comes with Parallels Desktop Enterprise Edition (a trial included). Register an Enterprise license key to see the VMs of your users' Macs here."

// inventoryView is what fleet_vms.html renders.
type inventoryView struct {
	Enterprise bool
	Columns    []fleet.Column // shown, in order
	All        []fleet.Column // for the chooser
	Shown      map[string]bool
	Filter     fleet.InventoryFilter
	Rows       []inventoryRow
	Summary    string
	Sizes      []int
	Size       int
	// Hidden carries filters on columns that are not shown, so changing
	// another filter keeps them.
	Hidden   []hiddenField
	SortLink map[string]string
	SortDir  map[string]string // "ascending"/"descending" for aria-sort
	Back     string            // this page, for forms that return here
	CSV      string
	Prev     string
	Next     string
	First    string
	From, To int
	Error    string
	Stale    string // the date of "not reported since" shortcuts
}

type inventoryRow struct {
	fleet.InventoryRow
	Cells []inventoryCell
	Notes []string
	Link  string
}

type inventoryCell struct {
	Key, Text string
}

func (h *inventoryHandlers) list(w http.ResponseWriter, r *http.Request) {
	ok, err := h.enterprise(r)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	if !ok {
		h.render(w, r, http.StatusOK, "fleet_vms", &Page{Title: "Virtual Machines", Data: &inventoryView{}})
		return
	}
	caller := callerFrom(r)
	prefs, err := h.inv.Prefs(r.Context(), caller)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	status := http.StatusOK
	v := &inventoryView{Enterprise: true, All: fleet.Columns, Shown: map[string]bool{}, Sizes: fleet.PageSizes}
	f, ferr := fleet.ParseFilter(r.URL.Query(), prefs.PageSize)
	if ferr != nil {
		// An unusable filter (a hand-edited link) is named, and the page
		// shows the inventory without it rather than an error page.
		status, v.Error = http.StatusBadRequest, ferr.Error()
		var fe *fleet.FilterError
		if errors.As(ferr, &fe) {
			v.Error = fe.Message
		}
		f, _ = fleet.ParseFilter(url.Values{}, prefs.PageSize)
	}
	v.Filter, v.Size = f, f.Size
	for _, k := range prefs.Columns {
		c, _ := fleet.ColumnByKey(k)
		v.Columns = append(v.Columns, c)
		v.Shown[k] = true
	}
	for _, c := range fleet.Columns {
		if x := f.By[c.Key]; x != "" && !v.Shown[c.Key] {
			v.Hidden = append(v.Hidden, hiddenField{"f_" + c.Key, x})
		}
	}
	page, err := h.inv.List(r.Context(), caller, f)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	now := nowOr(h.inv.Now)
	for _, m := range page.VMs {
		row := inventoryRow{InventoryRow: m, Notes: m.Notes(now), Link: h.vmsPath(r, "/"+m.ID)}
		for _, c := range v.Columns {
			row.Cells = append(row.Cells, inventoryCell{c.Key, m.Cell(c.Key)})
		}
		v.Rows = append(v.Rows, row)
	}
	base := f.Values()
	link := func(mod func(url.Values)) string {
		q := url.Values{}
		for k, x := range base {
			q[k] = x
		}
		mod(q)
		return h.vmsPath(r, "") + "?" + q.Encode()
	}
	v.Back = link(func(q url.Values) {
		if f.Page > 1 {
			q.Set("page", strconv.Itoa(f.Page))
		}
	})
	v.CSV = h.vmsPath(r, ".csv") + "?" + base.Encode()
	v.SortLink, v.SortDir = map[string]string{}, map[string]string{}
	for _, c := range fleet.Columns {
		dir := "asc"
		if c.Key == f.Sort {
			v.SortDir[c.Key] = "ascending"
			if f.Desc {
				v.SortDir[c.Key] = "descending"
			} else {
				dir = "desc"
			}
		} else if c.Kind == fleet.KindTime {
			dir = "desc" // newest first is the useful first click on a date
		}
		v.SortLink[c.Key] = link(func(q url.Values) { q.Set("sort", c.Key); q.Set("dir", dir) })
	}
	if f.Page > 1 {
		v.Prev = link(func(q url.Values) { q.Set("page", strconv.Itoa(f.Page-1)) })
		v.First = link(func(url.Values) {})
	}
	if page.More {
		v.Next = link(func(q url.Values) { q.Set("page", strconv.Itoa(f.Page+1)) })
	}
	v.From, v.To = (f.Page-1)*f.Size+1, (f.Page-1)*f.Size+len(page.VMs)
	total := fmt.Sprintf("%d", page.Total)
	if page.Capped {
		total = fmt.Sprintf("more than %d", fleet.CountCap)
	}
	what := "VM"
	if page.Total != 1 || page.Capped {
		what = "VMs"
	}
	switch {
	case len(page.VMs) == 0 && f.Page > 1:
		v.Summary = "No VMs on this page: the list is shorter now."
	case len(page.VMs) == 0:
		v.Summary = ""
	case f.IncludeGone:
		v.Summary = fmt.Sprintf("%d–%d of %s %s (gone VMs included).", v.From, v.To, total, what)
	default:
		v.Summary = fmt.Sprintf("%d–%d of %s %s.", v.From, v.To, total, what)
	}
	v.Stale = now.Add(-fleet.StaleAfter).UTC().Format("2006-01-02")
	form := r.URL.Query()
	h.render(w, r, status, "fleet_vms", &Page{Title: "Virtual Machines", Form: form, Data: v})
}

// csv streams every VM of the current filter, all columns, in the page's
// order: rows are written as they are read, so memory stays flat for a
// million VMs.
func (h *inventoryHandlers) csv(w http.ResponseWriter, r *http.Request) {
	if !h.requireEnterprise(w, r) {
		return
	}
	f, err := fleet.ParseFilter(r.URL.Query(), 40)
	if err != nil {
		var fe *fleet.FilterError
		msg := err.Error()
		if errors.As(err, &fe) {
			msg = fe.Message
		}
		h.renderError(w, r, http.StatusBadRequest, "Unusable filter", msg)
		return
	}
	csvexport.Send(w, "virtual-machines")
	cw, err := fleet.NewCSVWriter(w, nowOr(h.inv.Now))
	if err == nil {
		err = h.inv.Each(r.Context(), callerFrom(r), f, cw.Write)
	}
	if err == nil {
		err = cw.Close()
	}
	if err != nil {
		// The header is sent: the client sees a cut-off file; the log
		// says why.
		h.Log.Error("vms csv", "err", err, "request_id", RequestID(r))
	}
}

// back is where a form of the inventory returns to: the page it was sent
// from (with its filter), never anywhere outside the inventory.
func (h *inventoryHandlers) back(r *http.Request) string {
	home := h.vmsPath(r, "")
	to := RedirectTarget(r.PostFormValue("back"), home)
	if to != home && !strings.HasPrefix(to, home+"?") && !strings.HasPrefix(to, home+"/") {
		return home
	}
	return to
}

// saveColumns remembers the columns and page length the person picked.
func (h *inventoryHandlers) saveColumns(w http.ResponseWriter, r *http.Request) {
	if !h.requireEnterprise(w, r) {
		return
	}
	back := h.back(r)
	size, _ := strconv.Atoi(r.PostFormValue("size"))
	_, err := h.inv.SavePrefs(r.Context(), callerFrom(r), r.PostForm["column"], size)
	var fe *fleet.FilterError
	if errors.As(err, &fe) {
		h.redirectFlash(w, r, back, "error", fe.Message)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	h.redirectFlash(w, r, back, "success", "Your columns are saved.")
}

// vmView is what fleet_vm.html renders.
type vmView struct {
	VM       *fleet.InventoryRow
	Commands []fleet.Command
	Here     string
	Notes    []string
	Cells    []inventoryCell
	Back     string
}

func (h *inventoryHandlers) vmPage(w http.ResponseWriter, r *http.Request) {
	if !h.requireEnterprise(w, r) {
		return
	}
	m, err := h.inv.Row(r.Context(), callerFrom(r), r.PathValue("vm"))
	if errors.Is(err, store.ErrNotFound) {
		h.notFound(w, r)
		return
	} else if err != nil {
		h.serverError(w, r, err)
		return
	}
	cmds, err := h.cmds.Commands(r.Context(), callerFrom(r), m.ID)
	if err != nil {
		h.serverError(w, r, err)
		return
	}
	v := &vmView{VM: m, Commands: cmds, Notes: m.Notes(nowOr(h.inv.Now)), Back: h.vmsPath(r, ""), Here: h.vmsPath(r, "/"+m.ID)}
	for _, c := range fleet.Columns {
		v.Cells = append(v.Cells, inventoryCell{c.Label, m.Cell(c.Key)})
	}
	title := m.Name
	if title == "" {
		title = "VM " + m.VMReport.ID
	}
	h.render(w, r, http.StatusOK, "fleet_vm", &Page{Title: title, Data: v})
}
