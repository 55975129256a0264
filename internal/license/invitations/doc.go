// Package invitations owns the email invitations of licensing: the tables
// license_invitations and license_invitation_batches (every write to them
// is here), the single-use activation codes, the address-list parser and
// the invitation emails. The licensing service (package license) decides
// who may invite for which key and redeems codes at activation; it changes
// invitations only through this package's functions, inside its own
// transaction.
package invitations

import "errors"

// FieldError is an unusable upload or form field, with a message for the
// admin.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// IsFieldError reports whether err is a *FieldError and returns it.
func IsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}
