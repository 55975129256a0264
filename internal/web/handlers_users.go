package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/store"
)

func (s *Server) users(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	q := r.URL.Query()
	f := account.MemberFilter{Role: q.Get("role"), Status: q.Get("status"), Query: q.Get("q"),
		WithProductLicense: q.Get("licensed") == "1"}
	if f.Role != "" && !account.ValidRole(f.Role) {
		f.Role = ""
	}
	switch f.Status {
	case "", account.StatusActive, account.StatusInvited, account.StatusDeactivated:
	default:
		f.Status = ""
	}
	members, err := s.Accounts.Members(r.Context(), acc.AccountID, f, s.licenseHolders)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	form := url.Values{"role": {f.Role}, "status": {f.Status}, "q": {f.Query}}
	if f.WithProductLicense {
		form.Set("licensed", "1")
	}
	s.render(w, r, http.StatusOK, "users", &Page{Title: "Users", Form: form, Data: map[string]any{
		"Members": members, "Filter": f, "Self": SessionFrom(r).Person.ID}})
}

func (s *Server) usersWithError(w http.ResponseWriter, r *http.Request, status int, errs map[string]string, form url.Values) {
	acc := AccessFrom(r)
	members, err := s.Accounts.Members(r.Context(), acc.AccountID, account.MemberFilter{}, s.licenseHolders)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, status, "users", &Page{Title: "Users", Form: form, Errors: errs, Data: map[string]any{
		"Members": members, "Filter": account.MemberFilter{}, "Self": SessionFrom(r).Person.ID}})
}

func (s *Server) userInvite(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	email, role := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("role")
	err := s.Accounts.InviteMember(r.Context(), acc.AccountID, email, role, ActorFrom(r))
	if errs, ok := formErrors(err); ok {
		s.usersWithError(w, r, http.StatusUnprocessableEntity, errs, url.Values{"email": {email}, "invite_role": {role}})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	msg := "Invitation sent to " + email + "."
	if !s.Config.MailServer {
		msg = "Invitation to " + email + " created. No mail server is configured, so the email waits in the operator's outbox."
	}
	s.redirectFlash(w, r, "/accounts/"+acc.AccountID+"/users", "success", msg)
}

func (s *Server) userRole(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	err := s.Accounts.ChangeRole(r.Context(), acc.AccountID, r.PathValue("person"), r.PostFormValue("role"), ActorFrom(r))
	s.memberChangeResult(w, r, err, "The role is changed.")
}

func (s *Server) userStatus(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	status := r.PostFormValue("status")
	if status != account.StatusActive && status != account.StatusDeactivated {
		s.usersWithError(w, r, http.StatusUnprocessableEntity, map[string]string{"form": "Choose activate or deactivate."}, nil)
		return
	}
	err := s.Accounts.SetMemberStatus(r.Context(), acc.AccountID, r.PathValue("person"), status, ActorFrom(r))
	msg := "The member is deactivated and can no longer open this business account."
	if status == account.StatusActive {
		msg = "The member is active again."
	}
	s.memberChangeResult(w, r, err, msg)
}

func (s *Server) memberChangeResult(w http.ResponseWriter, r *http.Request, err error, okMsg string) {
	acc := AccessFrom(r)
	back := "/accounts/" + acc.AccountID + "/users"
	switch {
	case errors.Is(err, account.ErrLastAdmin):
		s.redirectFlash(w, r, back, "error", "Not changed: the business account must keep at least one active admin. Make someone else an admin first.")
	case errors.Is(err, store.ErrNotFound):
		s.notFound(w, r)
	case err != nil:
		if errs, ok := formErrors(err); ok {
			s.usersWithError(w, r, http.StatusUnprocessableEntity, errs, nil)
			return
		}
		s.serverError(w, r, err)
	default:
		s.redirectFlash(w, r, back, "success", okMsg)
	}
}

func (s *Server) inviteRevoke(w http.ResponseWriter, r *http.Request) {
	acc := AccessFrom(r)
	err := s.Accounts.RevokeInvite(r.Context(), acc.AccountID, r.PathValue("invite"), ActorFrom(r))
	s.memberChangeResult(w, r, err, "The invitation is revoked; its link no longer works.")
}

func (s *Server) inviteShow(w http.ResponseWriter, r *http.Request) {
	inv, err := s.Accounts.InviteByToken(r.Context(), r.PathValue("token"))
	if errors.Is(err, account.ErrInviteInvalid) {
		s.renderError(w, r, http.StatusNotFound, "Invitation not valid", sentence(err))
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	var matches bool
	if sess := SessionFrom(r); sess != nil {
		matches = account.InviteAddressMatches(&sess.Person, inv)
	}
	s.render(w, r, http.StatusOK, "invite", &Page{Title: "Join " + inv.AccountName, Data: map[string]any{
		"Invite": inv, "Next": r.URL.Path, "Matches": matches}})
}

func (s *Server) inviteAccept(w http.ResponseWriter, r *http.Request) {
	inv, err := s.Accounts.AcceptInvite(r.Context(), r.PathValue("token"), &SessionFrom(r).Person, ClientIP(r))
	switch {
	case errors.Is(err, account.ErrInviteInvalid), errors.Is(err, account.ErrInviteOtherEmail):
		s.renderError(w, r, http.StatusConflict, "Cannot accept this invitation", sentence(err))
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/accounts/"+inv.AccountID, "success", "You joined "+inv.AccountName+" as "+account.RoleLabel(inv.Role)+".")
}
