package saml

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// ConsumeResponse validates the base64 SAMLResponse posted to the ACS of
// accountID and returns the verified assertion. browserBinding is the value
// from the cookie set when the sign-in started.
//
// The matching AuthnRequest is consumed and the assertion ID recorded in one
// transaction, with a conditional UPDATE, so a response is accepted at most
// once even when several nodes receive it at the same moment. Any failed
// check returns a *Refusal (use errors.As); other errors are infrastructure
// failures.
func (s *Service) ConsumeResponse(ctx context.Context, accountID string, sp SPSettings, idp IdPSettings,
	samlResponse string, browserBinding string) (*Assertion, error) {
	raw, r := decodeResponse(samlResponse)
	if r != nil {
		return nil, r
	}
	now := s.now()
	v, r := verifyResponse(raw, sp, idp, now, s.skew())
	if r != nil {
		return nil, r
	}
	a := v.assertion
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		// Replay first: a second use of a valid response must be reported
		// as a replay, not as "request already used".
		if _, err := tx.Exec(ctx, `INSERT INTO saml_replay (account_id, assertion_id, expires_at) VALUES (?, ?, ?)`,
			accountID, a.ID, store.At(v.replayUntil)); err != nil {
			if store.IsUniqueViolation(err) {
				return refuse(CodeReplay, "assertion %q was already accepted", a.ID)
			}
			return fmt.Errorf("saml: record assertion id: %w", err)
		}
		var (
			owner, purpose, attemptRef, binding string
			expires, consumed                   store.Time
		)
		// Looked up by id alone (unlike every other tenant query) so that a
		// request of another account is refused as wrong_account in the
		// admin's log; the conditional UPDATE below filters on account_id.
		err := tx.QueryRow(ctx, `SELECT account_id, purpose, attempt_ref, browser_binding, expires_at, consumed_at
			FROM saml_requests WHERE id = ?`, v.inResponseTo).
			Scan(&owner, &purpose, &attemptRef, &binding, &expires, &consumed)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return refuse(CodeInResponseToUnknown, "InResponseTo %q matches no AuthnRequest Gatehouse sent", v.inResponseTo)
		case err != nil:
			return fmt.Errorf("saml: load request: %w", err)
		case owner != accountID:
			return refuse(CodeWrongAccount, "AuthnRequest %q was started for another business account than the ACS it was posted to", v.inResponseTo)
		case !consumed.IsZero():
			return refuse(CodeRequestUsed, "AuthnRequest %q was already answered at %s", v.inResponseTo, consumed.Format(time.RFC3339))
		case !now.Before(expires.Time):
			return refuse(CodeRequestExpired, "AuthnRequest %q expired at %s (sign-ins must finish within %s)", v.inResponseTo, expires.Format(time.RFC3339), s.requestTTL())
		case !ids.Equal(ids.Hash(browserBinding), binding):
			return refuse(CodeBrowserMismatch, "the response for AuthnRequest %q arrived in another browser than the one that started the sign-in", v.inResponseTo)
		}
		res, err := tx.Exec(ctx, `UPDATE saml_requests SET consumed_at = ?
			WHERE id = ? AND account_id = ? AND consumed_at IS NULL AND expires_at > ?`,
			store.At(now), v.inResponseTo, accountID, store.At(now))
		if err != nil {
			return fmt.Errorf("saml: consume request: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return fmt.Errorf("saml: consume request: %w", err)
		} else if n != 1 {
			return refuse(CodeRequestUsed, "AuthnRequest %q was answered concurrently", v.inResponseTo)
		}
		a.RequestID, a.Purpose, a.AttemptRef = v.inResponseTo, purpose, attemptRef
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &a, nil
}

// UnverifiedRequestID returns the ID of the AuthnRequest a response says it
// answers (the Response's InResponseTo, else the first one a
// SubjectConfirmationData carries), read without verifying anything, from
// XML the strict parser accepts; "" when there is none or the response
// cannot be read. It decides only where a refusal is reported (an admin's
// test sign-in or the ordinary list), never whether anything is accepted.
func UnverifiedRequestID(samlResponse string) string {
	raw, r := decodeResponse(samlResponse)
	if r != nil {
		return ""
	}
	doc, r := parseXML(raw, false)
	if r != nil {
		return ""
	}
	root := doc.Root()
	if v := attr(root, "InResponseTo"); v != "" {
		return v
	}
	for _, scd := range descendants(root, nsAssertion, "SubjectConfirmationData") {
		if v := attr(scd, "InResponseTo"); v != "" {
			return v
		}
	}
	return ""
}
