package license

import (
	"context"
	"gatehouse/internal/license/invitations"
)

// InvitationAccount returns the business account of the invitation that
// carries code ("" when the code is malformed or no invitation has it).
// The download link uses it to pick the organisation's update channel; the
// visitor learns nothing from it.
func (s *Service) InvitationAccount(ctx context.Context, code string) (string, error) {
	norm, err := invitations.NormalizeCode(code)
	if err != nil {
		return "", nil
	}
	return invitations.AccountOf(ctx, s.DB, invitations.Hash(norm))
}
