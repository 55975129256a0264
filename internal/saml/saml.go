// Package saml is Gatehouse's SAML 2.0 service provider: SP metadata, IdP
// metadata and certificate parsing, AuthnRequests kept server-side, and a
// strict validator for the IdP's Response.
//
// The validator wraps goxmldsig (signature maths) in our own rules, the way
// dex's SAML connector does: refuse DTDs and XML that does not survive a
// round trip, require exactly one Assertion, verify the signature against
// the configured certificates only (never a certificate the sender put in
// KeyInfo), and read NameID, attributes and conditions exclusively from the
// element the signature covers, as goxmldsig re-parsed it from the
// canonical bytes that were digested.
//
// Every failed check is a *Refusal with a stable Code (for the person's
// reference page and metrics) and a precise Detail (for the admin's log).
//
// Wiring (the HTTP layer lives elsewhere):
//
//	key, cert, err := saml.EnsureSigningCredential(ctx, db) // once per deployment, shared by nodes
//	svc := &saml.Service{DB: db, SigningKey: key, SigningCert: cert}
//	// "Continue with SSO": a random cookie value binds the sign-in to this browser.
//	cookie := ids.Secret(32)
//	url, requestID, err := svc.StartLogin(ctx, accountID, sp, idp, saml.PurposePortal, attemptID, cookie)
//	// set the cookie (HttpOnly, Secure, SameSite=None: the IdP POSTs
//	// cross-site), redirect to url.
//
//	// ACS (POST, body limited to ~1 MB):
//	a, err := svc.ConsumeResponse(ctx, accountID, sp, idp, r.PostFormValue("SAMLResponse"), cookieValue)
//	var ref *saml.Refusal
//	if errors.As(err, &ref) { /* page shows ref.Code; log ref.Detail */ }
//
//	// Background: runner.Jobs = append(runner.Jobs, svc.PurgeJob())
package saml

import (
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"time"

	"gatehouse/internal/store"
)

// SAML namespaces, bindings and formats used throughout the package.
const (
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	nsDSig      = "http://www.w3.org/2000/09/xmldsig#"

	BindingRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
	BindingPOST     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"

	NameIDFormatEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDFormatEntity      = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"

	StatusSuccess = "urn:oasis:names:tc:SAML:2.0:status:Success"

	confirmationBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// SSO bindings as stored in IdPSettings.SSOBinding.
const (
	SSOBindingRedirect = "redirect"
	SSOBindingPOST     = "post"
)

// Purposes of a sign-in (saml_requests.purpose).
const (
	PurposePortal  = "portal"
	PurposeDesktop = "desktop"
	// PurposeTest is an admin's test sign-in from the configurator: the
	// response is validated like any other but signs nobody in.
	PurposeTest = "test"
)

// IdPSettings is what the SP needs to know about one identity provider.
type IdPSettings struct {
	EntityID     string
	SSOURL       string
	Certificates []*x509.Certificate // any of them may sign
	SSOBinding   string              // SSOBindingRedirect or SSOBindingPOST
	// WantAuthnRequestsSigned: the IdP requires signed AuthnRequests (its
	// metadata's IDPSSODescriptor WantAuthnRequestsSigned="true"); they are
	// then signed with Service.SigningKey.
	WantAuthnRequestsSigned bool
}

// SPSettings names our side for one business account.
type SPSettings struct {
	EntityID string
	ACSURL   string
	// SigningCert is published in the SP metadata as the key that signs
	// our AuthnRequests (KeyDescriptor use="signing"); nil publishes none.
	SigningCert *x509.Certificate
	// AuthnRequestsSigned is what the metadata states: true only when this
	// account's AuthnRequests are signed, i.e. its IdP wants them signed
	// (some IdPs, e.g. Shibboleth, require signatures from an SP whose
	// metadata says true).
	AuthnRequestsSigned bool
}

// Service stores AuthnRequests and validates Responses. All state lives in
// the database, so any node can start a sign-in and any node can finish it.
type Service struct {
	DB         *store.DB
	Now        func() time.Time // default time.Now
	ClockSkew  time.Duration    // tolerance on every time check; default 3m
	RequestTTL time.Duration    // how long an AuthnRequest may be answered; default 10m
	// SigningKey and SigningCert sign the AuthnRequests of IdPs that want
	// them signed (RSA-SHA256; see EnsureSigningCredential). Without them
	// a sign-in at such an IdP fails to start.
	SigningKey  *rsa.PrivateKey
	SigningCert *x509.Certificate
}

const (
	defaultClockSkew  = 3 * time.Minute
	defaultRequestTTL = 10 * time.Minute
)

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) skew() time.Duration {
	if s.ClockSkew > 0 {
		return s.ClockSkew
	}
	return defaultClockSkew
}

func (s *Service) requestTTL() time.Duration {
	if s.RequestTTL > 0 {
		return s.RequestTTL
	}
	return defaultRequestTTL
}

// Assertion is a verified assertion: every field comes from the element the
// IdP's signature covers.
type Assertion struct {
	ID           string
	Issuer       string
	NameID       string
	NameIDFormat string
	SessionIndex string
	RequestID    string // the AuthnRequest it answers (consumed)
	Purpose      string // of that request: PurposePortal, PurposeDesktop or PurposeTest
	AttemptRef   string // as given to StartLogin
	// Attributes by normalised name: the lower-cased last path segment of
	// the attribute Name, so Entra's
	// http://schemas.microsoft.com/identity/claims/objectidentifier is
	// "objectidentifier".
	Attributes map[string][]string
	// AttributeList is every attribute as the IdP named it, in document
	// order (for the admin's test sign-in page).
	AttributeList []Attribute
	ObjectID      string   // "objectidentifier"
	Name          string   // "name" (login / email)
	DisplayName   string   // "displayname"
	Groups        []string // "groups"
	GroupsOverage bool     // Entra sent "groups.link" instead of the groups
	NotOnOrAfter  time.Time
}

// Attribute is one SAML attribute as received.
type Attribute struct {
	Name   string   // the Name as sent, e.g. http://schemas.microsoft.com/identity/claims/objectidentifier
	Key    string   // its key in Assertion.Attributes
	Values []string // xsi:nil values left out
}

// Refusal codes. They are stable: the web layer shows them as a reference
// and the configurator groups recent failures by them.
const (
	CodeMalformed            = "malformed"
	CodeDTDForbidden         = "dtd_forbidden"
	CodeStatusNotSuccess     = "status_not_success"
	CodeStatusContradictory  = "status_contradictory"
	CodeTooManyElements      = "too_many_elements"
	CodeMultipleAssertions   = "multiple_assertions"
	CodeDuplicateID          = "duplicate_id"
	CodeEncryptedAssertion   = "encrypted_assertion"
	CodeSignatureMissing     = "signature_missing"
	CodeSignatureInvalid     = "signature_invalid"
	CodeUnknownCertificate   = "unknown_certificate"
	CodeCertificateExpired   = "certificate_expired"
	CodeWeakAlgorithm        = "weak_algorithm"
	CodeIssuerMismatch       = "issuer_mismatch"
	CodeAudienceMismatch     = "audience_mismatch"
	CodeDestinationMismatch  = "destination_mismatch"
	CodeRecipientMismatch    = "recipient_mismatch"
	CodeInResponseToMissing  = "in_response_to_missing"
	CodeInResponseToUnknown  = "in_response_to_unknown"
	CodeRequestExpired       = "request_expired"
	CodeRequestUsed          = "request_used"
	CodeBrowserMismatch      = "browser_mismatch"
	CodeWrongAccount         = "wrong_account"
	CodeNotYetValid          = "not_yet_valid"
	CodeExpired              = "expired"
	CodeReplay               = "replay"
	CodeUnsupportedCondition = "unsupported_condition"
)

// Refusal is returned (as an error) by ConsumeResponse when any check fails.
type Refusal struct {
	Code   string // one of the Code… constants
	Detail string // which check, expected vs got — for the admin, not the person
}

func (r *Refusal) Error() string { return "saml response refused: " + r.Code + ": " + r.Detail }

func refuse(code, format string, args ...any) *Refusal {
	return &Refusal{Code: code, Detail: fmt.Sprintf(format, args...)}
}
