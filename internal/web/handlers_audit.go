package web

import (
	"net/http"
	"net/url"
	"sort"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/csvexport"
	"gatehouse/internal/mail"
)

// auditFilter reads the filter form; dates are whole days in the viewer's zone.
func (s *Server) auditFilter(r *http.Request) (account.AuditFilter, url.Values, map[string]string) {
	q := r.URL.Query()
	f := account.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action")}
	zone := time.UTC
	if c, err := r.Cookie("gh_tz"); err == nil {
		if name, err := url.QueryUnescape(c.Value); err == nil {
			if loc, err := time.LoadLocation(name); err == nil {
				zone = loc
			}
		}
	}
	errs := map[string]string{}
	if v := q.Get("from"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, zone)
		if err != nil {
			errs["from"] = "Use a date like 2026-01-31."
		}
		f.From = t
	}
	if v := q.Get("to"); v != "" {
		t, err := time.ParseInLocation("2006-01-02", v, zone)
		if err != nil {
			errs["to"] = "Use a date like 2026-01-31."
		}
		f.To = t.AddDate(0, 0, 1)
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		errs["to"] = "The end date must not be before the start date."
	}
	form := url.Values{"actor": {f.Actor}, "action": {f.Action}, "from": {q.Get("from")}, "to": {q.Get("to")}}
	return f, form, errs
}

func (s *Server) auditLog(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	f, form, errs := s.auditFilter(r)
	status := http.StatusOK
	var entries []account.AuditEntry
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	} else {
		f.Limit = 201
		f.Before = r.URL.Query().Get("before")
		var err error
		if entries, err = s.Accounts.AuditLog(r.Context(), acc.AccountID, f); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	more := ""
	if len(entries) == 201 {
		entries = entries[:200]
		next := r.URL.Query()
		next.Set("before", entries[199].ID)
		more = r.URL.Path + "?" + next.Encode()
	}
	actions, err := s.Accounts.AuditActions(r.Context(), acc.AccountID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The filter lists actions by their labels.
	sort.SliceStable(actions, func(i, j int) bool { return audit.Label(actions[i]) < audit.Label(actions[j]) })
	csvQuery := url.Values{}
	for k, v := range form {
		if v[0] != "" {
			csvQuery.Set(k, v[0])
		}
	}
	s.render(w, r, status, "audit", &Page{Title: "Audit log", Form: form, Errors: errs, Data: map[string]any{
		"Entries": entries, "Actions": actions, "More": more, "CSV": r.URL.Path + ".csv?" + csvQuery.Encode()}})
}

func (s *Server) auditCSV(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	f, _, errs := s.auditFilter(r)
	if len(errs) > 0 {
		s.renderError(w, r, http.StatusBadRequest, "Invalid filter", "The date filter is not valid. Use dates like 2026-01-31.")
		return
	}
	entries, err := s.Accounts.AuditLog(r.Context(), acc.AccountID, f)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	csvexport.Send(w, "audit-log")
	if err := account.WriteAuditCSV(w, entries); err != nil {
		s.Log.Error("audit csv", "err", err, "request_id", RequestID(r))
	}
}

func (s *Server) outbox(w http.ResponseWriter, r *http.Request) {
	msgs, err := mail.List(r.Context(), s.DB, 200)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "outbox", &Page{Title: "Outbox", Data: msgs})
}
