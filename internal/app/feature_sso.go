package app

import (
	"context"
	"errors"
	"fmt"

	"gatehouse/internal/idp"
	"gatehouse/internal/saml"
	"gatehouse/internal/scim"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireSSO) }

// wireSSO mounts the SCIM server and SSO sign-in. They depend on each other
// through the configurator: SSO reads the account's SAML settings and group
// mapping from the IdP integration, and SCIM's provisioning effects (ending
// sessions, dropping admin rights, revoking seats) are SSO's.
func wireSSO(ctx context.Context, a *App) error {
	if a.IdP == nil {
		return errors.New("wire SSO: the IdP integration must be wired first")
	}
	// One request-signing credential per deployment, made by the first node
	// to start and shared through the settings table. It signs the
	// AuthnRequests of IdPs that want them signed; its certificate is in
	// the SP metadata the configurator and /saml/{account}/metadata serve.
	signingKey, signingCert, err := saml.EnsureSigningCredential(ctx, a.DB)
	if err != nil {
		return fmt.Errorf("wire SSO: %w", err)
	}
	a.IdP.SPSigningCert = signingCert
	samlSvc := &saml.Service{DB: a.DB, SigningKey: signingKey, SigningCert: signingCert}
	svc := &sso.Service{DB: a.DB, SAML: samlSvc, Accounts: a.Accounts, Directory: ssoDirectory{a.IdP}, Log: a.Log}
	scimSvc := &scim.Service{DB: a.DB, BaseURL: a.Config.PublicURL + "/scim/v2", Logger: a.Log, RateLimit: a.Config.SCIMRate}
	svc.SCIM = sso.SCIMAdapter{SCIM: scimSvc}
	effects := &sso.Effects{Service: svc}
	scimSvc.Hooks = effects
	a.SCIM, a.SSO, a.SSOEffects = scimSvc, svc, effects

	scimHandler := scim.Handler(scimSvc)
	a.Web.Add(
		web.Route{Path: "/scim/", Access: web.Machine, Handler: scimHandler},
	)
	a.Web.Add(web.SSORoutes(a.Web, svc)...)
	a.Jobs.Jobs = append(a.Jobs.Jobs, samlSvc.PurgeJob(), svc.TestPurgeJob())
	return nil
}

// ssoDirectory adapts the IdP configurator to what SSO sign-in needs.
type ssoDirectory struct{ idp *idp.Service }

func (d ssoDirectory) AccountForDomain(ctx context.Context, domain string) (string, bool, error) {
	return d.idp.AccountForDomain(ctx, domain)
}

func (d ssoDirectory) Integration(ctx context.Context, accountID string) (sso.Integration, error) {
	in, err := d.idp.Integration(ctx, accountID)
	if errors.Is(err, idp.ErrNotStarted) {
		return sso.Integration{}, store.ErrNotFound
	}
	if err != nil {
		return sso.Integration{}, err
	}
	out := sso.Integration{SP: d.idp.SPSettings(accountID), Groups: sso.Groups(in.Groups),
		Active: in.Active, BackupPersonID: in.BackupPersonID}
	idpSettings, err := d.idp.IdPSettings(ctx, accountID)
	if errors.Is(err, idp.ErrSAMLIncomplete) {
		// The groups still hold: SCIM's membership effects need them
		// before SAML is filled in (sso.Directory).
		return out, fmt.Errorf("%w: %v", sso.ErrIdPIncomplete, err)
	}
	if err != nil {
		return sso.Integration{}, err
	}
	out.IdP = idpSettings
	return out, nil
}

func (d ssoDirectory) SP(accountID string) saml.SPSettings { return d.idp.SPSettings(accountID) }

func (d ssoDirectory) SPMetadata(ctx context.Context, accountID string) ([]byte, error) {
	return d.idp.SPMetadata(ctx, accountID)
}
