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
// The matching AuthnRequest is consumed and the assertion ID recorded
// atomically, with a conditional UPDATE, so a response is accepted at most
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
	purpose, attemptRef, err := s.consume(ctx, accountID, a.ID, v.inResponseTo, ids.Hash(browserBinding), v.replayUntil, now)
	if err != nil {
		return nil, err
	}
	a.RequestID, a.Purpose, a.AttemptRef = v.inResponseTo, purpose, attemptRef
	return &a, nil
}

// consumeQuery consumes the request and records the assertion id in one
// PostgreSQL statement (one round trip, one commit instead of five round
// trips for BEGIN, three statements and COMMIT): the INSERT only runs for
// the row the UPDATE consumed, and a replayed assertion id fails the whole
// statement with a unique violation, so nothing is half done.
const consumeQuery = `WITH u AS (
		UPDATE saml_requests SET consumed_at = ?
		WHERE id = ? AND account_id = ? AND consumed_at IS NULL AND expires_at > ? AND browser_binding = ?
		RETURNING purpose, attempt_ref),
	r AS (INSERT INTO saml_replay (account_id, assertion_id, expires_at)
		SELECT CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT) FROM u RETURNING 1)
	SELECT purpose, attempt_ref, (SELECT COUNT(*) FROM r) FROM u`

// consume marks the AuthnRequest requestID answered and records the
// assertion id, atomically, or refuses. The fast path is one conditional
// write: the request is consumed only if it belongs to accountID, is
// unconsumed, unexpired and was started in this browser (bindingHash), and
// the assertion id is recorded only with it. When that matches nothing,
// diagnose says why, reading only.
func (s *Service) consume(ctx context.Context, accountID, assertionID, requestID, bindingHash string, replayUntil, now time.Time) (purpose, attemptRef string, err error) {
	at := store.At(now)
	if s.DB.Dialect() == store.Postgres {
		var recorded int
		err = s.DB.QueryRowWrite(ctx, consumeQuery, at, requestID, accountID, at, bindingHash,
			accountID, assertionID, store.At(replayUntil)).Scan(&purpose, &attemptRef, &recorded)
		if err == nil && recorded != 1 {
			err = fmt.Errorf("saml: consume request: assertion id not recorded")
		}
	} else {
		// SQLite has no writing CTEs; its transaction costs no round trips.
		err = s.DB.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, `UPDATE saml_requests SET consumed_at = ?
				WHERE id = ? AND account_id = ? AND consumed_at IS NULL AND expires_at > ? AND browser_binding = ?
				RETURNING purpose, attempt_ref`, at, requestID, accountID, at, bindingHash).Scan(&purpose, &attemptRef); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO saml_replay (account_id, assertion_id, expires_at) VALUES (?, ?, ?)`,
				accountID, assertionID, store.At(replayUntil))
			return err
		})
	}
	switch {
	case err == nil:
		return purpose, attemptRef, nil
	case store.IsUniqueViolation(err):
		return "", "", refuse(CodeReplay, "assertion %q was already accepted", assertionID)
	case errors.Is(err, sql.ErrNoRows):
		return "", "", s.diagnose(ctx, accountID, assertionID, requestID, bindingHash, now)
	default:
		return "", "", fmt.Errorf("saml: consume request: %w", err)
	}
}

// diagnose explains why a response could not consume its request. A replay
// comes first: a second use of a valid response must be reported as a
// replay, not as "request already used".
func (s *Service) diagnose(ctx context.Context, accountID, assertionID, requestID, bindingHash string, now time.Time) error {
	var one int
	err := s.DB.Writer().QueryRow(ctx, `SELECT 1 FROM saml_replay WHERE account_id = ? AND assertion_id = ?`, accountID, assertionID).Scan(&one)
	if err == nil {
		return refuse(CodeReplay, "assertion %q was already accepted", assertionID)
	} else if !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("saml: check replay: %w", err)
	}
	var (
		owner, binding    string
		expires, consumed store.Time
	)
	// Looked up by id alone (unlike every other tenant query) so that a
	// request of another account is refused as wrong_account in the admin's
	// log; the conditional UPDATE filtered on account_id.
	err = s.DB.Writer().QueryRow(ctx, `SELECT account_id, browser_binding, expires_at, consumed_at
		FROM saml_requests WHERE id = ?`, requestID).Scan(&owner, &binding, &expires, &consumed)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return refuse(CodeInResponseToUnknown, "InResponseTo %q matches no AuthnRequest Gatehouse sent", requestID)
	case err != nil:
		return fmt.Errorf("saml: load request: %w", err)
	case owner != accountID:
		return refuse(CodeWrongAccount, "AuthnRequest %q was started for another business account than the ACS it was posted to", requestID)
	case !consumed.IsZero():
		return refuse(CodeRequestUsed, "AuthnRequest %q was already answered at %s", requestID, consumed.Format(time.RFC3339))
	case !now.Before(expires.Time):
		return refuse(CodeRequestExpired, "AuthnRequest %q expired at %s (sign-ins must finish within %s)", requestID, expires.Format(time.RFC3339), s.requestTTL())
	case !ids.Equal(bindingHash, binding):
		return refuse(CodeBrowserMismatch, "the response for AuthnRequest %q arrived in another browser than the one that started the sign-in", requestID)
	}
	return refuse(CodeRequestUsed, "AuthnRequest %q was answered concurrently", requestID)
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
