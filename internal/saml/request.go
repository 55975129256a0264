package saml

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/beevik/etree"
	saml2 "github.com/russellhaering/gosaml2"
	dsig "github.com/russellhaering/goxmldsig"

	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
)

// StartLogin creates an AuthnRequest for accountID, stores it server-side
// (so whichever node receives the IdP's POST can match it) and returns the
// URL to send the browser to (HTTP-Redirect binding) with the request's ID.
// When the IdP wants signed requests the URL carries SigAlg (RSA-SHA256) and
// Signature as SAML bindings §3.4.4.1 describes.
//
// attemptRef is opaque to this package (e.g. an SSO-activation attempt id)
// and comes back in the Assertion. browserBinding is a random value the
// caller also puts in a cookie on the browser: only its hash is stored, and
// ConsumeResponse requires the same value, so a response cannot be finished
// in another browser than the one that started the sign-in.
func (s *Service) StartLogin(ctx context.Context, accountID string, sp SPSettings, idp IdPSettings,
	purpose, attemptRef, browserBinding string) (redirectURL, requestID string, err error) {
	if idp.SSOBinding == SSOBindingPOST {
		return "", "", errors.New("saml: the IdP only accepts HTTP-POST AuthnRequests; use StartLoginPOST")
	}
	gsp, err := s.signingSP(idp)
	if err != nil {
		return "", "", err
	}
	doc, requestID, relayState, err := s.newRequest(ctx, accountID, sp, idp, purpose, attemptRef, browserBinding)
	if err != nil {
		return "", "", err
	}
	// When signing, gosaml2 adds SigAlg and Signature over
	// "SAMLRequest=…&RelayState=…&SigAlg=…" built from the same
	// url.QueryEscape'd values the URL carries (SAML bindings §3.4.4.1).
	redirectURL, err = gsp.BuildAuthURLRedirect(relayState, doc)
	if err != nil {
		return "", "", fmt.Errorf("saml: build redirect URL: %w", err)
	}
	if idp.WantAuthnRequestsSigned {
		if err := checkRedirectSignature(redirectURL); err != nil {
			return "", "", err
		}
	}
	return redirectURL, requestID, nil
}

// POSTForm is an AuthnRequest for an IdP that only accepts the HTTP-POST
// binding: the caller renders an auto-submitting form to Action with the
// two hidden Fields.
type POSTForm struct {
	Action string
	Fields url.Values // SAMLRequest (base64, not deflated), RelayState
}

// StartLoginPOST is StartLogin for IdPs whose metadata offers only the
// HTTP-POST binding for SingleSignOnService. When the IdP wants signed
// requests the AuthnRequest carries an enveloped XML signature.
func (s *Service) StartLoginPOST(ctx context.Context, accountID string, sp SPSettings, idp IdPSettings,
	purpose, attemptRef, browserBinding string) (form POSTForm, requestID string, err error) {
	gsp, err := s.signingSP(idp)
	if err != nil {
		return POSTForm{}, "", err
	}
	doc, requestID, relayState, err := s.newRequest(ctx, accountID, sp, idp, purpose, attemptRef, browserBinding)
	if err != nil {
		return POSTForm{}, "", err
	}
	if idp.WantAuthnRequestsSigned {
		// Signed after newRequest set the ID the signature references.
		if err := signPOST(gsp, doc); err != nil {
			return POSTForm{}, "", err
		}
	}
	xml, err := doc.WriteToBytes()
	if err != nil {
		return POSTForm{}, "", fmt.Errorf("saml: write AuthnRequest: %w", err)
	}
	return POSTForm{Action: idp.SSOURL, Fields: url.Values{
		"SAMLRequest": {base64.StdEncoding.EncodeToString(xml)},
		"RelayState":  {relayState},
	}}, requestID, nil
}

func (s *Service) newRequest(ctx context.Context, accountID string, sp SPSettings, idp IdPSettings,
	purpose, attemptRef, browserBinding string) (*etree.Document, string, string, error) {
	switch {
	case purpose != PurposePortal && purpose != PurposeDesktop && purpose != PurposeTest:
		return nil, "", "", fmt.Errorf("saml: unknown purpose %q", purpose)
	case len(browserBinding) < 16:
		return nil, "", "", errors.New("saml: a random browser binding of at least 16 characters is required")
	case sp.EntityID == "" || sp.ACSURL == "":
		return nil, "", "", errors.New("saml: SP entity ID and ACS URL are required")
	case idp.SSOURL == "":
		return nil, "", "", errors.New("saml: the IdP has no SSO URL")
	}
	if err := checkURL(idp.SSOURL); err != nil {
		return nil, "", "", fmt.Errorf("saml: IdP SSO URL %q: %w", idp.SSOURL, err)
	}
	now := s.now()
	// An XML ID must not start with a digit, and a UUIDv7 may.
	requestID := "_" + ids.New()
	gsp := &saml2.SAMLServiceProvider{
		IdentityProviderSSOURL:      idp.SSOURL,
		ServiceProviderIssuer:       sp.EntityID,
		AssertionConsumerServiceURL: sp.ACSURL,
		Clock:                       dsig.NewFakeClockAt(now),
	}
	doc, err := gsp.BuildAuthRequestDocumentNoSig()
	if err != nil {
		return nil, "", "", fmt.Errorf("saml: build AuthnRequest: %w", err)
	}
	doc.Root().CreateAttr("ID", requestID)
	doc.Root().CreateAttr("IssueInstant", now.Format("2006-01-02T15:04:05.000Z"))

	_, err = s.DB.Exec(ctx, `INSERT INTO saml_requests
		(id, account_id, purpose, attempt_ref, browser_binding, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?)`,
		requestID, accountID, purpose, attemptRef, ids.Hash(browserBinding),
		store.At(now), store.At(now.Add(s.requestTTL())))
	if err != nil {
		return nil, "", "", fmt.Errorf("saml: store AuthnRequest: %w", err)
	}
	return doc, requestID, ids.Secret(16), nil
}

// PurgeJob runs Purge hourly under the job runner's lease.
func (s *Service) PurgeJob() jobs.Job {
	return jobs.Job{Name: "saml-purge", Interval: time.Hour, Run: func(ctx context.Context) error {
		_, err := s.Purge(ctx)
		return err
	}}
}

// Purge deletes replay-cache rows and AuthnRequests that can no longer
// matter (for the job runner). Requests are kept a day past their expiry so
// that "request expired" can still be told apart from "unknown request".
func (s *Service) Purge(ctx context.Context) (int64, error) {
	now := s.now()
	res, err := s.DB.Exec(ctx, `DELETE FROM saml_replay WHERE expires_at < ?`, store.At(now))
	if err != nil {
		return 0, fmt.Errorf("saml: purge replay cache: %w", err)
	}
	n, _ := res.RowsAffected()
	res, err = s.DB.Exec(ctx, `DELETE FROM saml_requests WHERE expires_at < ?`, store.At(now.Add(-24*time.Hour)))
	if err != nil {
		return n, fmt.Errorf("saml: purge requests: %w", err)
	}
	m, _ := res.RowsAffected()
	return n + m, nil
}
