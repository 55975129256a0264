package web

import (
	"net/http"

	"gatehouse/internal/account"
)

func (s *Server) foundationRoutes() []Route {
	h := func(f http.HandlerFunc) http.Handler { return f }
	return []Route{
		{Method: "GET", Path: "/static/{hash}/{file}", Access: Public, Handler: s.staticHandler()},
		{Method: "GET", Path: "/healthz", Access: Machine, Handler: h(s.healthz)},
		{Method: "GET", Path: "/{$}", Access: Public, Handler: h(s.home)},

		{Method: "GET", Path: "/signin", Access: Public, Handler: h(s.signInForm)},
		{Method: "POST", Path: "/signin", Access: Public, Handler: h(s.signIn)},
		{Method: "POST", Path: "/signout", Access: Public, Handler: h(s.signOut)},
		{Method: "GET", Path: "/signup", Access: Public, Handler: h(s.signUpForm)},
		{Method: "POST", Path: "/signup", Access: Public, Handler: h(s.signUp)},
		{Method: "GET", Path: "/password/forgot", Access: Public, Handler: h(s.forgotForm)},
		{Method: "POST", Path: "/password/forgot", Access: Public, Handler: h(s.forgot)},
		{Method: "GET", Path: "/password/reset/{token}", Access: Public, Handler: h(s.resetForm)},
		{Method: "POST", Path: "/password/reset/{token}", Access: Public, Handler: h(s.reset)},
		{Method: "GET", Path: "/verify/sent", Access: Public, Handler: h(s.verifySent)},
		{Method: "POST", Path: "/verify/resend", Access: Public, Handler: h(s.verifyResend)},
		{Method: "GET", Path: "/verify/{token}", Access: Public, Handler: h(s.verifyForm)},
		{Method: "POST", Path: "/verify/{token}", Access: Public, Handler: h(s.verify)},
		{Method: "GET", Path: "/me", Access: Person, Handler: h(s.me)},
		{Method: "POST", Path: "/me/email", Access: Person, Handler: h(s.meEmail)},
		{Method: "GET", Path: "/setup/{token}", Access: Public, Handler: h(s.setupForm)},
		{Method: "POST", Path: "/setup/{token}", Access: Public, Handler: h(s.setup)},

		{Method: "GET", Path: "/personal", Access: Person, Handler: h(s.personal)},
		{Method: "GET", Path: "/workspace", Access: Person, Handler: h(s.switchWorkspace)},
		{Method: "GET", Path: "/accounts/new", Access: Person, Handler: h(s.newAccountForm)},
		{Method: "POST", Path: "/accounts/new", Access: Person, Handler: h(s.newAccount)},
		{Method: "GET", Path: "/invites/{token}", Access: Public, Handler: h(s.inviteShow)},
		{Method: "POST", Path: "/invites/{token}", Access: Person, Handler: h(s.inviteAccept)},

		{Method: "GET", Path: "/accounts/{account}", Access: Member, Handler: h(s.dashboard), Nav: "Dashboard", NavOrder: 0},
		{Method: "GET", Path: "/accounts/{account}/profile", Access: Member, Handler: h(s.profileForm)},
		{Method: "POST", Path: "/accounts/{account}/profile", Access: Member, Role: account.RoleAdmin, Handler: h(s.profileSave)},
		{Method: "GET", Path: "/accounts/{account}/users", Access: Member, Role: account.RoleLicenseAdmin, Handler: h(s.users), Nav: "Users", NavOrder: 20},
		{Method: "POST", Path: "/accounts/{account}/users/invite", Access: Member, Role: account.RoleAdmin, Handler: h(s.userInvite)},
		{Method: "POST", Path: "/accounts/{account}/users/{person}/role", Access: Member, Role: account.RoleAdmin, Handler: h(s.userRole)},
		{Method: "POST", Path: "/accounts/{account}/users/{person}/status", Access: Member, Role: account.RoleAdmin, Handler: h(s.userStatus)},
		{Method: "POST", Path: "/accounts/{account}/invites/{invite}/revoke", Access: Member, Role: account.RoleAdmin, Handler: h(s.inviteRevoke)},
		{Method: "GET", Path: "/accounts/{account}/audit", Access: Member, Role: account.RoleAdmin, Handler: h(s.auditLog), Nav: "Audit log", NavOrder: 90},
		{Method: "GET", Path: "/accounts/{account}/audit.csv", Access: Member, Role: account.RoleAdmin, Handler: h(s.auditCSV)},

		{Method: "GET", Path: "/operator/outbox", Access: Operator, Handler: h(s.outbox)},
	}
}
