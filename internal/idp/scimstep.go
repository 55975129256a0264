package idp

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/audit"
)

// errNoSCIM is returned when no SCIM server is wired.
var errNoSCIM = errors.New("no SCIM server is configured in this Gatehouse")

// SetSCIM switches SCIM provisioning on or off for the account (step 5).
// The switch belongs to the SCIM server, which records the change in the
// audit log; off makes step 5 complete (Google Workspace has no SCIM).
func (s *Service) SetSCIM(ctx context.Context, accountID string, on bool, actor audit.Actor) error {
	if s.SCIM == nil {
		return errNoSCIM
	}
	if _, err := getIntegration(ctx, s.DB, accountID); err != nil {
		return err
	}
	cur, err := s.SCIM.Enabled(ctx, accountID)
	if err != nil {
		return err
	}
	if cur == on {
		// Saving "on" when it already is still records the admin's choice
		// only if the SCIM server never stored one; its default is on.
		return nil
	}
	return s.SCIM.SetEnabled(ctx, accountID, on, actor)
}

// GenerateSCIMToken issues the account's SCIM bearer token (or a new one),
// shown in clear once. The token it replaces keeps working for overlap, so
// the admin can paste the new one into the IdP without a gap.
func (s *Service) GenerateSCIMToken(ctx context.Context, accountID string, overlap time.Duration, actor audit.Actor) (string, error) {
	if s.SCIM == nil {
		return "", errNoSCIM
	}
	if _, err := getIntegration(ctx, s.DB, accountID); err != nil {
		return "", err
	}
	valid := false
	for _, c := range overlapChoices {
		if c == overlap {
			valid = true
		}
	}
	if !valid {
		return "", fieldErr("overlap", "Choose how long the previous token keeps working from the list.")
	}
	return s.SCIM.GenerateToken(ctx, accountID, actor, overlap)
}
