package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"gatehouse/internal/idp"
	"gatehouse/internal/license"
	"gatehouse/internal/saml"
	"gatehouse/internal/sso"
	"gatehouse/internal/store"
	"gatehouse/internal/updates"
	"gatehouse/internal/web"
)

// Adapters between features: each turns one service's answer into the
// shape another service's config asks for, so neither imports the other.
// They hold no rules of their own.

// seatPoolPreview shows the IdP configurator's test sign-in which key a
// Desktop user would take their per-user seat from.
func seatPoolPreview(svc *license.Service) sso.SeatPoolFunc {
	return func(ctx context.Context, accountID string, groups []string) (*sso.SeatPool, error) {
		p, err := svc.PreviewSeatPool(ctx, accountID, groups)
		if err != nil {
			return nil, err
		}
		out := &sso.SeatPool{KeyName: p.KeyName, Kind: p.Kind, Conflict: p.Conflict, Code: p.Code, Message: p.Message}
		for _, g := range p.Groups {
			out.Groups = append(out.Groups, sso.SeatPoolGroup{UUID: g.UUID, Name: g.Name})
		}
		return out, nil
	}
}

// reservedGroups names the configurator's two mapped groups, which cannot
// also select a seat pool.
func reservedGroups(svc *idp.Service) license.ReservedGroupsFunc {
	return func(ctx context.Context, accountID string) (map[string]string, error) {
		g, err := svc.Groups(ctx, accountID)
		if errors.Is(err, idp.ErrNotStarted) || errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		out := map[string]string{}
		if g.AdminsUUID != "" {
			out[strings.ToLower(g.AdminsUUID)] = idp.GroupLabel(idp.GroupAdmins)
		}
		if g.DesktopUsersUUID != "" {
			out[strings.ToLower(g.DesktopUsersUUID)] = idp.GroupLabel(idp.GroupDesktopUsers)
		}
		return out, nil
	}
}

// pendingRefusal finds why a pending attempt will never complete, so the
// installation hears it: the integration was switched off (the
// configurator's answer), or the shared SSO sign-in refused this person's
// answer at the ACS after the attempt started (sso.DesktopRefusalSince).
func pendingRefusal(idpSvc *idp.Service, ssoSvc *sso.Service, log *slog.Logger) func(ctx context.Context, at *license.SSOAttempt) *license.SSORefusal {
	return func(ctx context.Context, at *license.SSOAttempt) *license.SSORefusal {
		if active, err := idpSvc.IsActive(ctx, at.AccountID); err == nil && !active {
			return &license.SSORefusal{Code: license.CodeIntegrationInactive, Message: sso.DesktopInactiveMessage,
				Detail: "the IdP integration was deactivated during the activation of " + at.Device.ComputerName}
		}
		r, err := ssoSvc.DesktopRefusalSince(ctx, at.AccountID, at.Email, at.CreatedAt.Time, license.RecordedOnAttempt)
		if err != nil {
			log.Error("sso activation: recent failures", "err", err)
			return nil
		}
		if r == nil {
			return nil
		}
		return &license.SSORefusal{Code: r.Code, Message: r.Message, Detail: r.Detail, Reference: r.Reference}
	}
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

// installerLookup finds the installer /download redirects to: the current
// release of the asked channel, else of the channel the invitation's
// organisation chose, else of business.
func installerLookup(lic *license.Service, svc *updates.Service) web.InstallerFunc {
	return func(ctx context.Context, channel, code string, locales []string) (string, error) {
		if channel == "" && code != "" {
			acct, err := lic.InvitationAccount(ctx, code)
			if err != nil {
				return "", err
			}
			if acct != "" {
				cs, err := svc.ClientSettingsFor(ctx, acct)
				if err != nil {
					return "", err
				}
				channel = cs.Channel
			}
		}
		if channel == "" {
			channel = updates.ChannelBusiness
		}
		r, err := svc.CurrentInstaller(ctx, channel, locales)
		if err != nil || r == nil {
			return "", err
		}
		return svc.FileURLFor(r), nil
	}
}
