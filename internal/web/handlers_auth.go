package web

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/internal/store"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"gatehouse/internal/account"
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// Bounded: a load balancer's check must get an answer (and take the
	// node out) even when the database does not answer at all.
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Log.Error("health check", "err", err)
		w.Header().Set("Retry-After", strconv.Itoa(store.RetryAfterSeconds))
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "database unreachable")
		return
	}
	fmt.Fprintln(w, "ok")
}

func (s *Server) home(w http.ResponseWriter, r *http.Request) {
	sess := SessionFrom(r)
	if sess == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, s.landing(r, sess), http.StatusSeeOther)
}

// landing picks where a signed-in person starts: their current workspace,
// else their first business account, else the personal workspace.
func (s *Server) landing(r *http.Request, sess *account.Session) string {
	ws, err := s.Accounts.Workspaces(r.Context(), sess.Person.ID)
	if err != nil {
		return "/personal"
	}
	for _, m := range ws {
		if m.AccountID == sess.AccountID {
			return "/accounts/" + m.AccountID
		}
	}
	if len(ws) > 0 {
		return "/accounts/" + ws[0].AccountID
	}
	return "/personal"
}

// safeNext keeps only same-site paths for post-sign-in redirects ("" when
// the target is not one; see RedirectTarget).
func safeNext(next string) string { return RedirectTarget(next, "") }

func (s *Server) signInForm(w http.ResponseWriter, r *http.Request) {
	if sess := SessionFrom(r); sess != nil {
		http.Redirect(w, r, s.landing(r, sess), http.StatusSeeOther)
		return
	}
	form := url.Values{"next": {safeNext(r.URL.Query().Get("next"))}}
	s.render(w, r, http.StatusOK, "signin", &Page{Title: "Sign in", Form: form})
}

func (s *Server) signIn(w http.ResponseWriter, r *http.Request) {
	email, password := strings.TrimSpace(r.PostFormValue("email")), r.PostFormValue("password")
	form := url.Values{"email": {email}, "next": {safeNext(r.PostFormValue("next"))}}
	errs := map[string]string{}
	if email == "" {
		errs["email"] = "Enter your email address."
	}
	if password == "" {
		errs["password"] = "Enter your password."
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "signin", &Page{Title: "Sign in", Form: form, Errors: errs})
		return
	}
	p, err := s.Accounts.Authenticate(r.Context(), email, password, ClientIP(r))
	var limited *account.RateLimitedError
	var unverified *account.UnverifiedError
	switch {
	case errors.As(err, &limited):
		w.Header().Set("Retry-After", fmt.Sprint(int(limited.RetryAfter.Seconds())))
		s.render(w, r, http.StatusTooManyRequests, "signin", &Page{Title: "Sign in", Form: form,
			Errors: map[string]string{"form": "Too many failed sign-in attempts. For your security, wait " +
				strings.TrimPrefix(limited.Error(), "too many failed attempts; try again in ") + " and try again, or reset your password."}})
		return
	case errors.Is(err, account.ErrInvalidCredentials):
		s.render(w, r, http.StatusUnauthorized, "signin", &Page{Title: "Sign in", Form: form,
			Errors: map[string]string{"form": "The email or password is not correct."}})
		return
	case errors.As(err, &unverified):
		// The right password, but the address was never proved: no
		// session until the owner of the mailbox confirms it.
		if err := s.Accounts.SendConfirmation(r.Context(), unverified.Person, s.verifyBinding(w, r), ClientIP(r)); err != nil {
			s.serverError(w, r, err)
			return
		}
		s.renderCheckEmail(w, r, unverified.Person.Email, "confirm")
		return
	case err != nil:
		s.serverError(w, r, err)
		return
	}
	if err := s.startSession(w, r, account.NewSession{PersonID: p.ID, Method: account.MethodPassword}); err != nil {
		s.serverError(w, r, err)
		return
	}
	next := form.Get("next")
	if next == "" {
		next = "/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// startSession signs the browser in, replacing any session it had (so a
// session id fixed before sign-in is never reused).
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, n account.NewSession) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		_ = s.Accounts.DeleteSession(r.Context(), c.Value)
	}
	n.IP, n.UserAgent = ClientIP(r), r.UserAgent()
	token, err := s.Accounts.CreateSession(r.Context(), s.DB, n)
	if err != nil {
		return err
	}
	s.SetSessionCookie(w, token)
	return nil
}

func (s *Server) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.Accounts.DeleteSession(r.Context(), c.Value); err != nil {
			s.serverError(w, r, err)
			return
		}
	}
	s.clearCookie(w, sessionCookie)
	s.redirectFlash(w, r, "/signin", "info", "You are signed out.")
}

func (s *Server) signUpForm(w http.ResponseWriter, r *http.Request) {
	if sess := SessionFrom(r); sess != nil {
		http.Redirect(w, r, s.landing(r, sess), http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "signup", &Page{Title: "Create your account",
		Form: url.Values{"next": {safeNext(r.URL.Query().Get("next"))}, "email": {r.URL.Query().Get("email")}}})
}

func (s *Server) signUp(w http.ResponseWriter, r *http.Request) {
	form := url.Values{"email": {r.PostFormValue("email")}, "display_name": {r.PostFormValue("display_name")}, "next": {safeNext(r.PostFormValue("next"))}}
	in := account.SignUpInput{Email: r.PostFormValue("email"), Password: r.PostFormValue("password"),
		DisplayName: r.PostFormValue("display_name"), Next: form.Get("next")}
	if in.Password != r.PostFormValue("password_confirm") {
		s.render(w, r, http.StatusUnprocessableEntity, "signup", &Page{Title: "Create your account", Form: form,
			Errors: map[string]string{"password_confirm": "The two passwords are not the same."}})
		return
	}
	in.Binding = s.verifyBinding(w, r)
	err := s.Accounts.SignUp(r.Context(), in, ClientIP(r))
	var limited *account.RateLimitedError
	if errors.As(err, &limited) {
		w.Header().Set("Retry-After", fmt.Sprint(int(limited.RetryAfter.Seconds())))
		s.render(w, r, http.StatusTooManyRequests, "signup", &Page{Title: "Create your account", Form: form,
			Errors: map[string]string{"form": "Too many sign-up attempts. Wait " + strings.TrimPrefix(limited.Error(), "too many failed attempts; try again in ") + " and try again."}})
		return
	}
	if errs, ok := formErrors(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "signup", &Page{Title: "Create your account", Form: form, Errors: errs})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	// The same answer whether or not the address has an account: the
	// email says which.
	http.Redirect(w, r, "/verify/sent?email="+url.QueryEscape(strings.TrimSpace(in.Email)), http.StatusSeeOther)
}

func (s *Server) forgotForm(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "forgot", &Page{Title: "Reset your password"})
}

func (s *Server) forgot(w http.ResponseWriter, r *http.Request) {
	email := strings.TrimSpace(r.PostFormValue("email"))
	if email == "" {
		s.render(w, r, http.StatusUnprocessableEntity, "forgot", &Page{Title: "Reset your password",
			Errors: map[string]string{"email": "Enter your email address."}})
		return
	}
	err := s.Accounts.RequestPasswordReset(r.Context(), email, ClientIP(r))
	var limited *account.RateLimitedError
	if errors.As(err, &limited) {
		s.render(w, r, http.StatusTooManyRequests, "forgot", &Page{Title: "Reset your password", Form: url.Values{"email": {email}},
			Errors: map[string]string{"form": "Too many reset requests from your network. Try again later."}})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/signin", "info", "If an account with a password exists for "+email+
		", we have sent it a link to choose a new password. The link works for one hour.")
}

func (s *Server) resetForm(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.CheckResetToken(r.Context(), r.PathValue("token")); err != nil {
		s.renderError(w, r, http.StatusNotFound, "Link not valid", "This password reset link is invalid, was already used, or has expired. Ask for a new one from the sign-in page.")
		return
	}
	s.render(w, r, http.StatusOK, "reset", &Page{Title: "Choose a new password"})
}

func (s *Server) reset(w http.ResponseWriter, r *http.Request) {
	pw := r.PostFormValue("password")
	if pw != r.PostFormValue("password_confirm") {
		s.render(w, r, http.StatusUnprocessableEntity, "reset", &Page{Title: "Choose a new password",
			Errors: map[string]string{"password_confirm": "The two passwords are not the same."}})
		return
	}
	err := s.Accounts.ResetPassword(r.Context(), r.PathValue("token"), pw, ClientIP(r))
	if errors.Is(err, account.ErrResetLinkInvalid) {
		s.renderError(w, r, http.StatusNotFound, "Link not valid", "This password reset link is invalid, was already used, or has expired. Ask for a new one from the sign-in page.")
		return
	}
	if errs, ok := formErrors(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "reset", &Page{Title: "Choose a new password", Errors: errs})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/signin", "success", "Your password is changed and you were signed out everywhere. Sign in with the new password.")
}

func (s *Server) setupForm(w http.ResponseWriter, r *http.Request) {
	if err := s.Accounts.CheckSetupToken(r.Context(), r.PathValue("token")); err != nil {
		s.renderError(w, r, http.StatusNotFound, "Setup is done", sentence(err))
		return
	}
	s.render(w, r, http.StatusOK, "setup", &Page{Title: "Create the first account"})
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	in := account.SignUpInput{Email: r.PostFormValue("email"), Password: r.PostFormValue("password"), DisplayName: r.PostFormValue("display_name")}
	form := url.Values{"email": {in.Email}, "display_name": {in.DisplayName}}
	if in.Password != r.PostFormValue("password_confirm") {
		s.render(w, r, http.StatusUnprocessableEntity, "setup", &Page{Title: "Create the first account", Form: form,
			Errors: map[string]string{"password_confirm": "The two passwords are not the same."}})
		return
	}
	p, err := s.Accounts.CompleteSetup(r.Context(), r.PathValue("token"), in, ClientIP(r))
	if errors.Is(err, account.ErrSetupDone) {
		s.renderError(w, r, http.StatusNotFound, "Setup is done", sentence(err))
		return
	}
	if errs, ok := formErrors(err); ok {
		s.render(w, r, http.StatusUnprocessableEntity, "setup", &Page{Title: "Create the first account", Form: form, Errors: errs})
		return
	} else if err != nil {
		s.serverError(w, r, err)
		return
	}
	if err := s.startSession(w, r, account.NewSession{PersonID: p.ID, Method: account.MethodPassword}); err != nil {
		s.serverError(w, r, err)
		return
	}
	s.redirectFlash(w, r, "/personal", "success", "Your operator account is ready. Create a business account or register a license key to begin.")
}
