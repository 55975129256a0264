package license

import (
	"context"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// settingOperatorToken holds the hash of the vendor API token made by
// CreateOperatorToken (a token given on the command line is never stored).
const settingOperatorToken = "license.operator_token_hash"

// CreateOperatorToken makes a new vendor API token, stores its hash (the
// previous token stops working) and returns it; it is shown once.
func (s *Service) CreateOperatorToken(ctx context.Context, actor audit.Actor) (string, error) {
	token := "ghop_" + ids.Secret(32)
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, settingOperatorToken, ids.Hash(token)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "license.operator_token_created", TargetType: "operator_token"})
	})
	if err != nil {
		return "", fmt.Errorf("create operator token: %w", err)
	}
	return token, nil
}

// CheckOperatorToken reports whether token is the stored vendor API token.
func (s *Service) CheckOperatorToken(ctx context.Context, token string) (bool, error) {
	if token == "" || len(token) > 200 {
		return false, nil
	}
	stored, err := store.Setting(ctx, s.DB, settingOperatorToken)
	if err == store.ErrNotFound {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return ids.Equal(stored, ids.Hash(token)), nil
}
