package app

import (
	"context"
	"errors"

	"gatehouse/internal/portal"
	"gatehouse/internal/portal/linkcheck"
	"gatehouse/internal/web"
)

func init() { features = append(features, wirePortal) }

// wirePortal mounts the Management Portal (spec 05): golden images,
// policies, user groups and configuration profiles, and hooks them into
// licensing (a suspended trial unassigns its policies; the retention job
// purges them three months after the end).
func wirePortal(_ context.Context, a *App) error {
	if a.License == nil {
		return errors.New("wire portal: licensing must be wired first")
	}
	svc := portal.New(a.DB)
	a.Portal = svc
	a.License.Hooks.TrialSuspended = append(a.License.Hooks.TrialSuspended, svc.TrialSuspended)
	a.License.Hooks.PurgeEnterprise = append(a.License.Hooks.PurgeEnterprise, svc.PurgeEnterprise)
	a.Web.Add(web.PortalRoutes(a.Web, svc, web.PortalConfig{Links: &linkcheck.Checker{}, Retention: a.License.Config.Retention})...)
	return nil
}
