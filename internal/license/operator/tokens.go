// Package operator holds the vendor's (the operator's) own credential: the
// vendor API token that `gatehouse vendor token` makes and the vendor API
// checks. It is kept apart from licensing because it guards a different
// audience (the shop system, not customers) and touches only the settings
// key below; the subscription commands the vendor runs stay in package
// license, which owns the tables they change.
package operator

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// settingToken holds the hash of the vendor API token made by Create (a
// token given on the command line is never stored). The key keeps its
// original name so that tokens made before the move stay valid.
const settingToken = "license.operator_token_hash"

// Tokens makes and checks the stored vendor API token.
type Tokens struct{ db *store.DB }

// NewTokens returns the token store on db.
func NewTokens(db *store.DB) *Tokens { return &Tokens{db: db} }

// Create makes a new vendor API token, stores its hash (the previous token
// stops working) and returns it; it is shown once.
func (t *Tokens) Create(ctx context.Context, actor audit.Actor) (string, error) {
	token := "ghop_" + ids.Secret(32)
	err := t.db.InTx(ctx, func(tx *store.Tx) error {
		if err := store.SetSetting(ctx, tx, settingToken, ids.Hash(token)); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "license.operator_token_created", TargetType: "operator_token"})
	})
	if err != nil {
		return "", fmt.Errorf("create operator token: %w", err)
	}
	return token, nil
}

// Check reports whether token is the stored vendor API token.
func (t *Tokens) Check(ctx context.Context, token string) (bool, error) {
	if token == "" || len(token) > 200 {
		return false, nil
	}
	stored, err := store.Setting(ctx, t.db, settingToken)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return ids.Equal(stored, ids.Hash(token)), nil
}
