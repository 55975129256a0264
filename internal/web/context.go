package web

import (
	"context"
	"net/http"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
)

type ctxKey int

const (
	keySession ctxKey = iota
	keyAccess
	keyRequestID
	keyAnon
)

// SessionFrom returns the signed-in session, or nil.
func SessionFrom(r *http.Request) *account.Session {
	s, _ := r.Context().Value(keySession).(*account.Session)
	return s
}

// AccessFrom returns the caller's access to the route's business account
// (Member routes only), or nil.
func AccessFrom(r *http.Request) *account.Access {
	a, _ := r.Context().Value(keyAccess).(*account.Access)
	return a
}

// RequestID returns the id given to this request (also in the logs).
func RequestID(r *http.Request) string {
	id, _ := r.Context().Value(keyRequestID).(string)
	return id
}

func withValue(r *http.Request, k ctxKey, v any) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), k, v))
}

// ActorFrom describes the signed-in person as the author of a change.
func ActorFrom(r *http.Request) audit.Actor {
	a := audit.Actor{Type: audit.ActorPerson, IP: ClientIP(r), RequestID: RequestID(r)}
	if s := SessionFrom(r); s != nil {
		a.ID, a.Label = s.Person.ID, s.Person.Email
	}
	return a
}
