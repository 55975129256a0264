package license

import (
	"context"
	"fmt"
)

// InvitationAccount returns the business account of the invitation that
// carries code ("" when the code is malformed or no invitation has it).
// The download link uses it to pick the organisation's update channel; the
// visitor learns nothing from it.
func (s *Service) InvitationAccount(ctx context.Context, code string) (string, error) {
	norm, err := NormalizeCode(code)
	if err != nil {
		return "", nil
	}
	var acct string
	err = s.DB.QueryRow(ctx, `SELECT account_id FROM license_invitations WHERE code_hash = ?`, codeHash(norm)).Scan(&acct)
	if isNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("invitation account: %w", err)
	}
	return acct, nil
}
