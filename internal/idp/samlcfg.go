package idp

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"
	"unicode"

	"gatehouse/internal/audit"
	"gatehouse/internal/freetext"
	"gatehouse/internal/saml"
	"gatehouse/internal/store"
)

// SPSettings are Gatehouse's SAML service-provider values for an account:
// fixed, derived from the public URL and the account id, with the
// deployment's request-signing certificate. The SAML endpoints
// (internal/saml's ACS and metadata) are served at these paths.
func (s *Service) SPSettings(accountID string) saml.SPSettings {
	base := s.Config.PublicURL + "/saml/" + accountID
	return saml.SPSettings{EntityID: base + "/metadata", ACSURL: base + "/acs", SigningCert: s.SPSigningCert}
}

// SPMetadata renders the account's SP metadata for the IdP admin (and the
// IdP). It states AuthnRequestsSigned="true" only while the account's IdP
// wants signed requests — the requests are signed exactly then — and
// always lists the signing certificate, so an IdP switched to requiring
// signatures already has it.
func (s *Service) SPMetadata(ctx context.Context, accountID string) ([]byte, error) {
	sp := s.SPSettings(accountID)
	in, err := getIntegration(ctx, s.DB, accountID)
	switch {
	case err == nil:
		sp.AuthnRequestsSigned = in.IdPWantsSignedRequests
	case !errors.Is(err, ErrNotStarted):
		return nil, err
	}
	return saml.SPMetadata(sp), nil
}

// SCIMBaseURL is the SCIM endpoint IdPs provision to.
func (s *Service) SCIMBaseURL() string { return s.Config.PublicURL + "/scim/v2" }

// IdPSettings returns the identity provider's SAML settings as configured
// in step 4, with every stored certificate (also expired ones, which the
// validator reports as such). ErrNotStarted when the account has not
// started; an error when the settings are incomplete.
func (s *Service) IdPSettings(ctx context.Context, accountID string) (saml.IdPSettings, error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if err != nil {
		return saml.IdPSettings{}, err
	}
	idp := saml.IdPSettings{EntityID: in.IdPEntityID, SSOURL: in.IdPSSOURL, SSOBinding: in.IdPSSOBinding,
		Certificates: in.certificates(), WantAuthnRequestsSigned: in.IdPWantsSignedRequests}
	if idp.SSOBinding == "" {
		idp.SSOBinding = saml.SSOBindingRedirect
	}
	if idp.EntityID == "" || idp.SSOURL == "" || len(idp.Certificates) == 0 {
		return idp, ErrSAMLIncomplete
	}
	return idp, nil
}

// Settings bundles what the SSO sign-in needs about an account (the SSO
// package's Directory.Integration).
func (s *Service) Settings(ctx context.Context, accountID string) (sp saml.SPSettings, idp saml.IdPSettings, groups Groups, active bool, err error) {
	in, err := getIntegration(ctx, s.DB, accountID)
	if err != nil {
		return sp, idp, groups, false, err
	}
	idp, err = s.IdPSettings(ctx, accountID)
	if err != nil {
		return sp, idp, groups, false, err
	}
	return s.SPSettings(accountID), idp, in.Groups, in.Active, nil
}

// SAMLInput is step 4's form: the IdP's values as the admin typed them.
type SAMLInput struct {
	EntityID     string
	SSOURL       string
	Certificates string // PEM block(s), or bare base64 DER
	// WantAuthnRequestsSigned: "The IdP requires signed authentication
	// requests" is ticked.
	WantAuthnRequestsSigned bool
}

// CertInfo describes a stored IdP certificate for the configurator.
type CertInfo struct {
	Subject     string
	Fingerprint string
	NotBefore   time.Time
	NotAfter    time.Time
	Expired     bool
	ExpiresSoon bool // within Config.CertWarning
	DaysLeft    int
}

// Certificates describes the stored certificates, soonest expiry first.
func (s *Service) Certificates(in *Integration) []CertInfo {
	now := s.now()
	var out []CertInfo
	for _, c := range in.certificates() {
		ci := CertInfo{Subject: c.Subject.String(), Fingerprint: saml.Fingerprint(c), NotBefore: c.NotBefore, NotAfter: c.NotAfter}
		if ci.Subject == "" {
			ci.Subject = "(no subject)"
		}
		ci.Expired = now.After(c.NotAfter)
		ci.DaysLeft = int(c.NotAfter.Sub(now).Hours() / 24)
		ci.ExpiresSoon = !ci.Expired && c.NotAfter.Sub(now) < s.Config.CertWarning
		out = append(out, ci)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].NotAfter.Before(out[j-1].NotAfter); j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// SaveSAML validates and stores the IdP's entity ID, SSO URL and
// certificate(s). Empty fields are stored empty (the admin may fill them in
// later); anything given must be valid.
func (s *Service) SaveSAML(ctx context.Context, accountID string, in SAMLInput, actor audit.Actor) error {
	entity, ssoURL := strings.TrimSpace(in.EntityID), strings.TrimSpace(in.SSOURL)
	if entity != "" {
		if err := checkEntityID(entity); err != nil {
			return &FieldError{Field: "idp_entity_id", Message: err.Error()}
		}
	}
	if ssoURL != "" {
		if err := checkSSOURL(ssoURL); err != nil {
			return &FieldError{Field: "idp_sso_url", Message: err.Error()}
		}
	}
	pemText := ""
	if strings.TrimSpace(in.Certificates) != "" {
		if len(in.Certificates) > 256<<10 {
			return fieldErr("idp_certificate", "This is too much text for IdP certificates (at most 256 KiB).")
		}
		certs, err := saml.ParseCertificates(in.Certificates)
		if err != nil {
			return &FieldError{Field: "idp_certificate", Message: sentence(err.Error())}
		}
		pemText = encodePEM(certs)
	}
	return s.storeSAML(ctx, accountID, samlValues{entity: entity, ssoURL: ssoURL, pemText: pemText,
		wantSigned: in.WantAuthnRequestsSigned}, "idp.saml_settings_saved", actor)
}

// UploadMetadata fills step 4 from the IdP's metadata XML (entity ID, SSO
// URL and binding, every signing certificate, whether it wants signed
// AuthnRequests), replacing what was there.
func (s *Service) UploadMetadata(ctx context.Context, accountID string, xml []byte, actor audit.Actor) (saml.IdPSettings, error) {
	if len(bytes.TrimSpace(xml)) == 0 {
		return saml.IdPSettings{}, fieldErr("metadata", "Choose the metadata XML file your IdP exported.")
	}
	idp, err := saml.ParseIdPMetadata(xml)
	if err != nil {
		return idp, s.metadataRefusal(ctx, accountID, err)
	}
	if err := checkEntityID(idp.EntityID); err != nil {
		return idp, &FieldError{Field: "metadata", Message: "The metadata was not accepted: its entityID: " + err.Error()}
	}
	if err := checkSSOURL(idp.SSOURL); err != nil {
		return idp, &FieldError{Field: "metadata", Message: "The metadata was not accepted: its SingleSignOnService: " + err.Error()}
	}
	err = s.storeSAML(ctx, accountID, samlValues{entity: idp.EntityID, ssoURL: idp.SSOURL, binding: idp.SSOBinding,
		pemText: encodePEM(idp.Certificates), wantSigned: idp.WantAuthnRequestsSigned}, "idp.metadata_uploaded", actor)
	return idp, err
}

// metadataRefusal says what the admin should do about an unusable metadata
// upload; the parser's reason goes into Detail.
func (s *Service) metadataRefusal(ctx context.Context, accountID string, err error) error {
	from := providerOther.MetadataFrom
	if in, ierr := getIntegration(ctx, s.DB, accountID); ierr == nil {
		if p := ProviderByID(in.Provider); p != nil && p.MetadataFrom != "" {
			from = p.MetadataFrom
		}
	}
	msg := "This file is not usable as your IdP's metadata. " + from
	var me *saml.MetadataError
	if errors.As(err, &me) {
		switch me.Problem {
		case saml.MetadataUnreadable:
			msg = "This file is not SAML metadata. " + from + " Then upload that file."
		case saml.MetadataUnsafe:
			msg = "This file contains a document type declaration (DTD), which Gatehouse refuses for safety. " + from + " Upload it unchanged."
		case saml.MetadataTooMany:
			msg = "This file lists many identity providers (a federation list). Upload the metadata of your own IdP only. " + from
		case saml.MetadataOfSP:
			msg = "This is the metadata of a service provider — perhaps Gatehouse's own file from Download metadata — not of your IdP. " + from
		case saml.MetadataIncomplete:
			msg = "Your IdP's metadata is not usable: " + sentence(err.Error()) + " Check the Gatehouse application's SAML settings in your IdP and download the metadata again, or enter the three values by hand."
		}
	}
	return &FieldError{Field: "metadata", Message: msg, Detail: sentence(err.Error())}
}

// samlValues are step 4's stored IdP values.
type samlValues struct {
	entity, ssoURL, binding, pemText string
	wantSigned                       bool
}

func (s *Service) storeSAML(ctx context.Context, accountID string, v samlValues, action string, actor audit.Actor) error {
	if v.binding == "" {
		v.binding = saml.SSOBindingRedirect
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		old, err := getIntegration(ctx, tx, accountID)
		if err != nil {
			return err
		}
		if old.Active && (v.entity == "" || v.ssoURL == "" || v.pemText == "") {
			return fieldErr("form", "The integration is active: the IdP entity ID, SSO URL and certificate cannot be emptied. Deactivate it first to start over.")
		}
		if _, err := tx.Exec(ctx, `UPDATE idp_integrations SET idp_entity_id = ?, idp_sso_url = ?, idp_sso_binding = ?,
			idp_certificates = ?, idp_want_signed_requests = ?, updated_at = ? WHERE account_id = ?`,
			v.entity, v.ssoURL, v.binding, v.pemText, v.wantSigned, store.At(s.now()), accountID); err != nil {
			return fmt.Errorf("save SAML settings: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: action,
			TargetType: "idp_integration", TargetID: accountID, TargetLabel: "SAML settings",
			Before: samlAudit(samlValues{entity: old.IdPEntityID, ssoURL: old.IdPSSOURL, binding: old.IdPSSOBinding,
				pemText: old.IdPCertsPEM, wantSigned: old.IdPWantsSignedRequests}),
			After: samlAudit(v)})
	})
}

func samlAudit(v samlValues) map[string]any {
	certs, _ := parsePEMCertificates(v.pemText)
	var fps []string
	for _, c := range certs {
		fps = append(fps, saml.Fingerprint(c))
	}
	return map[string]any{"entity_id": v.entity, "sso_url": v.ssoURL, "binding": v.binding, "certificates": fps,
		"signed_requests": v.wantSigned}
}

func checkEntityID(v string) error {
	if len(v) > 1024 {
		return errors.New("the IdP entity ID is longer than 1024 characters")
	}
	for _, r := range v {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return errors.New("the IdP entity ID cannot contain spaces or line breaks; copy it again from your IdP")
		}
	}
	return nil
}

// checkSSOURL requires an absolute https URL (http only for the local
// machine, for testing).
func checkSSOURL(v string) error {
	u, err := url.Parse(v)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return fmt.Errorf("%q is not a web address: the IdP SSO URL starts with https://", freetext.Shorten(v, 100))
	}
	if u.Scheme == "http" {
		host := u.Hostname()
		ip := net.ParseIP(host)
		if host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return errors.New("the IdP SSO URL must use https:// (sign-ins carry passwords and assertions)")
		}
	}
	if u.User != nil {
		return errors.New("the IdP SSO URL must not contain a user name or password")
	}
	if len(v) > 2048 {
		return errors.New("the IdP SSO URL is longer than 2048 characters")
	}
	return nil
}

// sentence capitalises a library message for display.
func sentence(s string) string {
	if s == "" {
		return s
	}
	r := []rune(s)
	r[0] = unicode.ToUpper(r[0])
	out := string(r)
	if !strings.HasSuffix(out, ".") {
		out += "."
	}
	return out
}

func encodePEM(certs []*x509.Certificate) string {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.String()
}

// parsePEMCertificates reads stored PEM blocks without any time check.
func parsePEMCertificates(text string) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	rest := []byte(text)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	return out, nil
}
