package app

import (
	"context"
	"errors"
	"time"

	"gatehouse/internal/updates"
	"gatehouse/internal/updates/httpfetch"
	"gatehouse/internal/updates/mobileconfig"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireUpdates) }

// wireUpdates mounts spec 06: releases on the vendor API, the public feeds
// and files, the portal's update settings, mirrors, deploy.cfg and
// .mobileconfig pages, and the mirror job. It needs licensing wired first
// (the vendor API and the keys the deployment files carry).
func wireUpdates(_ context.Context, a *App) error {
	if a.License == nil || a.Vendor == nil {
		return errors.New("wire updates: licensing must be wired first")
	}
	svc := updates.New(a.DB, updates.Config{PublicURL: a.Config.PublicURL, BusinessDelay: a.Config.ReleaseBusinessDelay,
		Fetch: httpfetch.New(nil), Log: a.Log})
	a.Updates = svc
	if a.Fleet != nil {
		svc.SettingsChanged = bumpFleet(a)
	}
	a.Vendor.MountReleases(svc)
	a.Web.Add(web.UpdatesPublicRoutes(a.Web, svc)...)
	var signer *mobileconfig.Signer
	if a.Config.MDMSigningCert != "" {
		s, err := mobileconfig.LoadSigner(a.Config.MDMSigningCert, a.Config.MDMSigningKey)
		if err != nil {
			return err
		}
		signer = s
	}
	a.Web.Add(web.UpdatesRoutes(a.Web, svc, a.License, web.UpdatesConfig{Signer: signer})...)
	a.Web.SetInstaller(installerLookup(a, svc))
	a.Jobs.Jobs = append(a.Jobs.Jobs, svc.MirrorJob(30*time.Second))
	return nil
}

// installerLookup finds the installer /download redirects to: the current
// release of the asked channel, else of the channel the invitation's
// organisation chose, else of business.
func installerLookup(a *App, svc *updates.Service) web.InstallerFunc {
	return func(ctx context.Context, channel, code string, locales []string) (string, error) {
		if channel == "" && code != "" {
			acct, err := a.License.InvitationAccount(ctx, code)
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
