package app

import (
	"context"
	"time"

	"gatehouse/internal/idp"
	"gatehouse/internal/jobs"
	"gatehouse/internal/scim"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireIdP) }

// wireIdP builds the IdP integration configurator: its service (with the
// DNS resolver of --dns-server and the SCIM server's token and switch), its
// pages, the dashboard card, the DNS re-check job, and the rule that narrows
// admin rights to SSO admins and the backup login while the integration is
// active.
func wireIdP(_ context.Context, a *App) error {
	// The configurator only uses the SCIM server's stateless admin methods
	// (tokens, on/off, activity), so its own instance over the same
	// database is equivalent to the one serving /scim/v2.
	scimSvc := &scim.Service{DB: a.DB, BaseURL: a.Config.PublicURL + "/scim/v2", Logger: a.Log}
	svc := idp.New(a.DB, idp.Config{PublicURL: a.Config.PublicURL}, scimSvc, a.Log)
	svc.Resolver = idp.NewResolver(a.Config.DNSServer)
	svc.SetLicenseCheck(func(ctx context.Context, accountID string) (bool, error) {
		var n int
		err := a.DB.QueryRow(ctx, `SELECT COUNT(*) FROM license_keys WHERE account_id = ? AND deleted_at IS NULL`, accountID).Scan(&n)
		return n > 0, err
	})
	a.IdP = svc
	a.Accounts.AdminAccess = svc.AdminAccess
	a.Web.Add(web.IdPRoutes(a.Web, svc)...)
	a.Web.AddDashboardCard(web.IdPDashboardCard(svc))
	a.Jobs.Jobs = append(a.Jobs.Jobs, jobs.Job{Name: idp.JobName, Interval: time.Minute,
		Run: func(ctx context.Context) error { return svc.RecheckDue(ctx, time.Now()) }})
	return nil
}
