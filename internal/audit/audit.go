// Package audit records every change made to a business account, by a person,
// an IdP token, the operator or a background job, in an append-only log.
package audit

import (
	"context"
	"encoding/json"
	"fmt"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Actor types.
const (
	ActorPerson   = "person"
	ActorToken    = "scim_token"
	ActorSystem   = "system"
	ActorOperator = "operator"
	ActorDevice   = "device"
)

// Actor is who made a change.
type Actor struct {
	Type  string // one of the Actor* constants
	ID    string // person id, token id, job name…
	Label string // what admins read: an email, "SCIM token …abcd", "job: dns-recheck"
	IP    string // source address, when the change came over the network
	// RequestID ties the entry to the request log line.
	RequestID string
}

// System returns the actor for a background job.
func System(job string) Actor { return Actor{Type: ActorSystem, ID: job, Label: "system: " + job} }

// Entry is one change.
type Entry struct {
	AccountID   string // "" for changes outside any business account
	Action      string // dotted verb, e.g. "member.role_changed", "license.key_registered"
	TargetType  string
	TargetID    string
	TargetLabel string
	Before      any // marshalled to JSON when non-nil
	After       any
}

// Record appends e made by actor. Call it inside the transaction that makes
// the change, so that the change and its record commit or fail together.
func Record(ctx context.Context, q store.Querier, actor Actor, e Entry) error {
	before, err := marshal(e.Before)
	if err != nil {
		return err
	}
	after, err := marshal(e.After)
	if err != nil {
		return err
	}
	var account any
	if e.AccountID != "" {
		account = e.AccountID
	}
	_, err = q.Exec(ctx, `INSERT INTO audit_log (id, account_id, at, actor_type, actor_id, actor_label, action,
		target_type, target_id, target_label, before_json, after_json, source_ip, request_id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ids.New(), account, store.Now(), actor.Type, actor.ID, actor.Label, e.Action,
		e.TargetType, e.TargetID, e.TargetLabel, before, after, actor.IP, actor.RequestID)
	if err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}

func marshal(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("audit: marshal: %w", err)
	}
	return string(b), nil
}
