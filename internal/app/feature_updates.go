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
	a.Jobs.Jobs = append(a.Jobs.Jobs, svc.MirrorJob(30*time.Second))
	return nil
}
