package app

import (
	"context"
	"errors"
	"net/url"
	"time"

	"gatehouse/internal/fleet"
	"gatehouse/internal/portal"
	"gatehouse/internal/portal/linkcheck"
	"gatehouse/internal/store"
	"gatehouse/internal/web"
)

func init() { features = append(features, wirePortal) }

// wirePortal mounts the Management Portal (spec 05): golden images,
// policies, user groups and configuration profiles; hooks them into
// licensing (a suspended trial unassigns its policies; the retention job
// purges them three months after the end); and makes them the settings
// sections of the fleet check-in answer.
func wirePortal(_ context.Context, a *App) error {
	if a.License == nil || a.Fleet == nil {
		return errors.New("wire portal: licensing and fleet must be wired first")
	}
	svc := portal.New(a.DB)
	a.Portal = svc
	svc.Changed = bumpFleet(a)
	svc.CountVMs = portal.FleetVMCounts
	svc.Hosts = portal.FleetHosts(a.DB)
	// The updates feature is wired after this one; read it when asked.
	svc.UpdateSettings = func(ctx context.Context, accountID string) (string, string, error) {
		if a.Updates == nil {
			return "", "", nil
		}
		cs, err := a.Updates.ClientSettingsFor(ctx, accountID)
		return cs.Channel, cs.FeedURL, err
	}
	a.Fleet.Sections = svc
	a.License.Hooks.TrialSuspended = append(a.License.Hooks.TrialSuspended, svc.TrialSuspended)
	a.License.Hooks.PurgeEnterprise = append(a.License.Hooks.PurgeEnterprise, svc.PurgeEnterprise)
	a.Web.Add(web.PortalRoutes(a.Web, svc, web.PortalConfig{Links: &linkcheck.Checker{}, Retention: a.License.Config.Retention,
		Preview: svc.PreviewPolicy,
		InventoryURL: func(accountID, imageID string) string {
			return "/accounts/" + accountID + "/vms?" + url.Values{"f_source": {"golden_image"}}.Encode()
		}})...)
	return nil
}

// bumpFleet makes every installation of an account get a full answer at
// its next check-in (a change of what they receive happened in tx).
func bumpFleet(a *App) func(ctx context.Context, tx *store.Tx, accountID string) error {
	return func(ctx context.Context, tx *store.Tx, accountID string) error {
		return fleet.BumpSettings(ctx, tx, accountID, time.Now())
	}
}
