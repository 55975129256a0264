package web

import "net/http"

// Access says who may reach a route. Every route declares one; the tenant
// isolation test walks the table and checks each level is enforced.
type Access int

const (
	// Public routes need no session (sign-in, sign-up, static files, health).
	Public Access = iota
	// Person routes need a signed-in session.
	Person
	// Member routes live under /accounts/{account}/ and need an active
	// membership in that account with at least Route.Role.
	Member
	// Operator routes need a signed-in operator.
	Operator
	// Machine routes authenticate on their own (bearer tokens, device
	// credentials, SAML responses); they never use the session or CSRF token.
	Machine
)

func (a Access) String() string {
	return [...]string{"public", "person", "member", "operator", "machine"}[a]
}

// Route is one entry of the route table.
type Route struct {
	Method  string // GET, POST…; "" for a handler that dispatches methods itself (Machine only)
	Path    string // ServeMux pattern path, e.g. /accounts/{account}/users
	Access  Access
	Role    string // for Member routes: minimum role (account.RoleUser, RoleLicenseAdmin, RoleAdmin)
	Handler http.Handler
	// Nav, when set, puts the route in the account navigation under this label.
	Nav string
	// NavOrder sorts navigation entries.
	NavOrder int
}

// Pattern returns the ServeMux pattern of the route.
func (r Route) Pattern() string {
	if r.Method == "" {
		return r.Path
	}
	return r.Method + " " + r.Path
}
