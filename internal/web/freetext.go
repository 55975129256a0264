package web

import (
	"fmt"
	"net/http"
	"sort"
	"strings"

	"gatehouse/internal/freetext"
)

// textProblem is a value of a request that is not storable text.
type textProblem struct {
	where   string // "path", "query" or "form"
	field   string
	problem string // completes "the field … "
}

// badText finds the first value of the request that is not storable text
// (freetext.Problem): the path, a query parameter, or a form field. Every
// form and query of the portal passes here before its handler runs, so no
// handler can store a NUL or invalid UTF-8 (PostgreSQL refuses them with an
// error, SQLite would keep the bytes).
func badText(r *http.Request) *textProblem {
	if p := freetext.Problem(r.URL.Path); p != "" {
		return &textProblem{where: "path", problem: p}
	}
	check := func(where string, vals map[string][]string) *textProblem {
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p := freetext.Problem(k); p != "" {
				return &textProblem{where: where, field: k, problem: p}
			}
			for _, v := range vals[k] {
				if p := freetext.Problem(v); p != "" {
					return &textProblem{where: where, field: k, problem: p}
				}
			}
		}
		return nil
	}
	if tp := check("query", r.URL.Query()); tp != nil {
		return tp
	}
	if tp := check("form", r.PostForm); tp != nil {
		return tp
	}
	if r.MultipartForm != nil {
		return check("form", r.MultipartForm.Value)
	}
	return nil
}

// refuseText answers a request that carries text Gatehouse cannot store.
// Browsers never send such bytes from what a person types, so the answer is
// an error page naming the field rather than the form again.
func (s *Server) refuseText(w http.ResponseWriter, r *http.Request, tp *textProblem) {
	name := strings.ToValidUTF8(strings.ReplaceAll(tp.field, "\x00", ""), "")
	switch tp.where {
	case "form":
		s.renderError(w, r, http.StatusUnprocessableEntity, "Text that cannot be saved",
			fmt.Sprintf("Nothing was saved: the field “%s” %s. Go back, remove the character from the field and send the form again.", name, tp.problem))
	case "query":
		s.renderError(w, r, http.StatusBadRequest, "Text that cannot be used",
			fmt.Sprintf("The parameter “%s” of this address %s. Check the link and try again.", name, tp.problem))
	default:
		s.renderError(w, r, http.StatusBadRequest, "Text that cannot be used", "The address of this page "+tp.problem+". Check the link and try again.")
	}
}
