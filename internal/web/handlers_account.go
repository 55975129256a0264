package web

import (
	"net/http"
	"net/url"

	"gatehouse/internal/account"
)

func (s *Server) personal(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	if sess.AccountID != "" {
		if err := s.Accounts.SetWorkspace(r.Context(), sess, ""); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "personal", &Page{Title: "Personal workspace"})
}

func accountForm(r *http.Request) (account.AccountInput, url.Values) {
	in := account.AccountInput{Name: r.PostFormValue("name"), Country: r.PostFormValue("country"),
		ContactName: r.PostFormValue("contact_name"), ContactEmail: r.PostFormValue("contact_email"),
		ContactPhone: r.PostFormValue("contact_phone")}
	return in, url.Values{"name": {in.Name}, "country": {in.Country}, "contact_name": {in.ContactName},
		"contact_email": {in.ContactEmail}, "contact_phone": {in.ContactPhone}}
}

func (s *Server) newAccountForm(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	form := url.Values{"contact_name": {sess.Person.DisplayName}, "contact_email": {sess.Person.Email}}
	s.render(w, r, http.StatusOK, "account_new", &Page{Title: "Create a business account", Form: form, Data: account.Countries})
}

func (s *Server) newAccount(w http.ResponseWriter, r *http.Request) {
	in, form := accountForm(r)
	a, err := s.Accounts.CreateBusinessAccount(r.Context(), SessionFrom(r).Person.ID, in, ActorFrom(r))
	if errs, ok := formErrors(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "account_new", &Page{Title: "Create a business account", Form: form, Errors: errs, Data: account.Countries})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/accounts/"+a.ID, "success", "The business account "+a.Name+" is created. You are its admin.")
}

func (s *Server) dashboard(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	a, err := s.Accounts.AccountByID(r.Context(), acc.AccountID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	type card struct {
		Title string
		Body  any
		Link  string
	}
	var cards []card
	for _, c := range s.dashboardCards {
		title, body, link, err := c(r)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		if title != "" {
			cards = append(cards, card{title, body, link})
		}
	}
	var members []account.Member
	if acc.CanManageLicenses() {
		if members, err = s.Accounts.Members(r.Context(), acc.AccountID, account.MemberFilter{}, nil); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	data := map[string]any{"Account": a, "Cards": cards, "MemberCount": len(members)}
	// Everyone sees their own Desktop activations (SSO seats), how to free
	// one and where to download Desktop; for plain users that is the page.
	if s.personActivations != nil {
		mine, err := s.personActivations(r.Context(), acc.AccountID, SessionFrom(r).Person.ID)
		if err != nil {
			s.serverError(w, r, err)
			return
		}
		data["Desktop"], data["ShowDesktop"] = mine, len(mine) > 0 || acc.Role == account.RoleUser
	}
	s.render(w, r, http.StatusOK, "dashboard", &Page{Title: a.Name, Data: data})
}

func (s *Server) profileForm(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	a, err := s.Accounts.AccountByID(r.Context(), acc.AccountID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	form := url.Values{"name": {a.Name}, "country": {a.Country}, "contact_name": {a.ContactName},
		"contact_email": {a.ContactEmail}, "contact_phone": {a.ContactPhone}}
	s.render(w, r, http.StatusOK, "profile", &Page{Title: "Business Profile", Form: form, Data: map[string]any{"Account": a, "Countries": account.Countries}})
}

func (s *Server) profileSave(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	in, form := accountForm(r)
	err := s.Accounts.UpdateProfile(r.Context(), acc.AccountID, in, ActorFrom(r))
	if errs, ok := formErrors(err); ok {
		a, _ := s.Accounts.AccountByID(r.Context(), acc.AccountID)
		s.render(w, r, http.StatusUnprocessableEntity, "profile", &Page{Title: "Business Profile", Form: form, Errors: errs,
			Data: map[string]any{"Account": a, "Countries": account.Countries}})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/accounts/"+acc.AccountID+"/profile", "success", "The business profile is saved.")
}

// switchWorkspace is the no-JavaScript path of the workspace switcher.
func (s *Server) switchWorkspace(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, RedirectTarget(r.URL.Query().Get("go"), "/personal"), http.StatusSeeOther)
}
