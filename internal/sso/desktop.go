package sso

import (
	"context"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/saml"
)

// DesktopRefusal is a refusal of the shared SSO sign-in that ends a
// Desktop SSO activation, worded for the person at the installation.
type DesktopRefusal struct{ Code, Message, Detail, Reference string }

// DesktopInactiveMessage tells a Desktop user that SSO was switched off
// during their activation.
const DesktopInactiveMessage = "Single sign-on was switched off for your organization while you were signing in. Ask your IT admin."

// DesktopRefusalSince finds why a Desktop SSO activation for email that
// started at since will never complete: the newest refusal of this
// person's answer at the ACS (purpose desktop) after since, with the
// reference the person saw. Codes for which recordedElsewhere is true are
// skipped (the licensing service records those on the attempt itself).
// Nil when there is none.
func (s *Service) DesktopRefusalSince(ctx context.Context, accountID, email string, since time.Time, recordedElsewhere func(code string) bool) (*DesktopRefusal, error) {
	fails, err := s.RecentFailures(ctx, accountID, 50)
	if err != nil {
		return nil, err
	}
	for _, f := range fails {
		// The failure's subject is what the IdP sent; it is this
		// attempt's only when it is the same canonical address.
		subject, err := account.CanonicalEmail(f.Subject)
		if f.Purpose != saml.PurposeDesktop || f.At.Before(since) || err != nil || subject != email || recordedElsewhere(f.Code) {
			continue
		}
		r := &DesktopRefusal{Code: f.Code, Detail: f.Detail, Reference: f.Reference}
		switch f.Code {
		case ReasonIntegrationInactive:
			r.Message = DesktopInactiveMessage
		case ReasonUserDeactivated:
			r.Message = "Your user is deactivated in your organization's identity provider. Ask your IT admin."
		case ReasonMemberDeactivated:
			r.Message = "An admin of your organization deactivated your access. Ask your IT admin."
		case ReasonNoEmail:
			r.Message = "Your identity provider did not send an email address for you. Ask your IT admin."
		default:
			r.Code = "saml_refused"
			r.Message = "Your organization's sign-in answer could not be accepted. Your IT admin can see the exact reason under the reference."
		}
		return r, nil
	}
	return nil, nil
}
