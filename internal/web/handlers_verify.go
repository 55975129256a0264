package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"gatehouse/internal/account"
	"gatehouse/internal/ids"
)

// verifyCookie ties a verification link to the browser that asked for it:
// there the link completes with one click, anywhere else it asks for the
// password (docs/security.md, "Identity and addresses").
const verifyCookie = "gh_verify"

// verifyBinding returns the browser's verification cookie, setting one when
// it has none (the same value for every link the browser asks for).
func (s *Server) verifyBinding(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(verifyCookie); err == nil && len(c.Value) >= 20 && len(c.Value) <= 100 {
		return c.Value
	}
	v := ids.Secret(32)
	http.SetCookie(w, &http.Cookie{Name: verifyCookie, Value: v, Path: "/", HttpOnly: true, MaxAge: 7 * 24 * 3600,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	return v
}

func verifyCookieValue(r *http.Request) string {
	if c, err := r.Cookie(verifyCookie); err == nil {
		return c.Value
	}
	return ""
}

// renderCheckEmail is the "check your email" page after a sign-up, a resend
// or a sign-in that needs the address confirmed first.
func (s *Server) renderCheckEmail(w http.ResponseWriter, r *http.Request, email, why string) {
	s.render(w, r, http.StatusOK, "check_email", &Page{Title: "Check your email",
		Form: url.Values{"email": {email}}, Data: map[string]any{"Email": email, "Why": why}})
}

func (s *Server) verifySent(w http.ResponseWriter, r *http.Request) {
	email := r.URL.Query().Get("email")
	if len(email) > 300 {
		email = ""
	}
	s.renderCheckEmail(w, r, email, "signup")
}

func (s *Server) verifyResend(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	err := s.Accounts.ResendSignUp(r.Context(), email, s.verifyBinding(w, r), ClientIP(r))
	var limited *account.RateLimitedError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", fmt.Sprint(int(limited.RetryAfter.Seconds())))
		s.render(w, r, http.StatusTooManyRequests, "check_email", &Page{Title: "Check your email", Form: url.Values{"email": {email}},
			Data:   map[string]any{"Email": email, "Why": "signup"},
			Errors: map[string]string{"form": "Too many links asked for this address or from your network. Wait a while and try again."}})
		return
	}
	if errs, ok := formErrors(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "check_email", &Page{Title: "Check your email", Form: url.Values{"email": {email}},
			Data: map[string]any{"Email": email, "Why": "signup"}, Errors: errs})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/verify/sent?email="+url.QueryEscape(email), "info",
		"If a sign-up for "+email+" is waiting for its confirmation, a new link is on its way.")
}

func (s *Server) verifyLinkInvalid(w http.ResponseWriter, r *http.Request) {
	s.renderError(w, r, http.StatusNotFound, "Link not valid",
		"This confirmation link is invalid, was already used, or has expired. Sign up again, sign in, or ask for a new link from your account page.")
}

func (s *Server) verifyForm(w http.ResponseWriter, r *http.Request) {
	v, err := s.Accounts.VerificationByToken(r.Context(), r.PathValue("token"), verifyCookieValue(r))
	if err != nil {
		s.verifyLinkInvalid(w, r)
		return
	}
	s.render(w, r, http.StatusOK, "verify", &Page{Title: "Confirm your email address", Data: map[string]any{"V": v}})
}

func (s *Server) verify(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	res, err := s.Accounts.UseVerification(r.Context(), token, verifyCookieValue(r), r.PostFormValue("password"), SessionFrom(r), ClientIP(r))
	var limited *account.RateLimitedError
	switch {
	case errors.Is(err, account.ErrVerifyLinkInvalid):
		s.verifyLinkInvalid(w, r)
		return
	case errors.Is(err, account.ErrAddressTaken):
		s.renderError(w, r, http.StatusConflict, "Address in use",
			"An account with this email address exists already, so this link cannot create or move one. Sign in, or reset the password from the sign-in page.")
		return
	case errors.Is(err, account.ErrVerifyWrongPerson):
		s.renderError(w, r, http.StatusForbidden, "Sign in first", err.Error()+".")
		return
	case errors.As(err, &limited):
		s.renderError(w, r, http.StatusTooManyRequests, "Too many attempts", "Too many wrong passwords for this link. Wait a while and try again.")
		return
	}
	if errs, ok := formErrors(err); ok {
		v, verr := s.Accounts.VerificationByToken(r.Context(), token, verifyCookieValue(r))
		if verr != nil {
			s.verifyLinkInvalid(w, r)
			return
		}
		s.render(w, r, http.StatusUnprocessableEntity, "verify", &Page{Title: "Confirm your email address", Errors: errs, Data: map[string]any{"V": v}})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	switch res.Purpose {
	case account.VerifyChange:
		s.redirectFlash(w, r, "/me", "success", "Your address is now "+res.Person.Email+". You were signed out everywhere else.")
		return
	}
	if res.SignIn {
		if err := s.startSession(w, r, account.NewSession{PersonID: res.Person.ID, Method: account.MethodPassword}); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	next := safeNext(res.Next)
	if next == "" {
		next = "/"
	}
	msg := "Your address is confirmed. Welcome to Gatehouse."
	if res.Purpose == account.VerifyConfirm {
		msg = "Your address is confirmed. Thank you."
	}
	s.redirectFlash(w, r, next, "success", msg)
}

// me is the person's own page: their address, whether it is confirmed, and
// changing it.
func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	pending, err := s.Accounts.PendingAddressChange(r.Context(), sess.Person.ID)
	if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "me", &Page{Title: "Your sign-in", Data: map[string]any{"Pending": pending}})
}

func (s *Server) meEmail(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	email := r.PostFormValue("email")
	err := s.Accounts.RequestAddressChange(r.Context(), &sess.Person, email, r.PostFormValue("current_password"), ClientIP(r))
	var limited *account.RateLimitedError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", fmt.Sprint(int(limited.RetryAfter.Seconds())))
		err = &account.FieldError{Field: "form", Message: "Too many attempts. Wait a while and try again."}
	}
	if errs, ok := formErrors(err); ok {
		pending, _ := s.Accounts.PendingAddressChange(r.Context(), sess.Person.ID)
		s.render(w, r, http.StatusUnprocessableEntity, "me", &Page{Title: "Your sign-in", Form: url.Values{"email": {email}},
			Errors: errs, Data: map[string]any{"Pending": pending}})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/me", "success", "We sent a link to "+strings.TrimSpace(email)+". Open it while signed in here to switch to that address; until then your address stays "+sess.Person.Email+".")
}
