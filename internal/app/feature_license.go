package app

import (
	"context"
	"time"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/clientapi"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireLicense) }

// wireLicense builds the licensing service and mounts its portal pages, the
// dashboard card, the client API and the vendor API. Registering a key from
// the personal workspace creates the business account through the account
// package, so that account rules (validation, first admin, audit) live in
// one place.
func wireLicense(_ context.Context, a *App) error {
	svc := license.New(a.DB, license.Config{PublicURL: a.Config.PublicURL})
	svc.CreateAccount = accountCreator(a.Accounts)
	a.License = svc
	a.Web.Add(web.LicenseRoutes(a.Web, svc)...)

	// The JSON API of Desktop installations and the published certificate
	// key authenticate on their own (device credentials); the vendor API
	// takes operator tokens made by `gatehouse vendor token`.
	client := clientapi.New(svc, clientapi.Config{ActivationLimit: clientapi.DefaultActivationLimit, ClientIP: web.ClientIP, Log: a.Log})
	vendor := clientapi.NewVendor(svc, clientapi.VendorConfig{Log: a.Log})
	a.Vendor = vendor
	a.Client = client
	a.Web.Add(
		web.Route{Path: clientapi.Prefix, Access: web.Machine, Handler: client},
		web.Route{Method: "GET", Path: clientapi.WellKnownPath, Access: web.Machine, Handler: client},
		web.Route{Method: "GET", Path: clientapi.WellKnownPath + ".pem", Access: web.Machine, Handler: client},
		web.Route{Path: clientapi.VendorPrefix, Access: web.Machine, Handler: vendor},
	)
	a.Web.AddDashboardCard(web.LicenseDashboardCard(svc))
	a.Jobs.Jobs = append(a.Jobs.Jobs, svc.RetentionJob(time.Hour))
	return nil
}

// accountCreator adapts account.Service.CreateBusinessAccountTx to the
// licensing service's AccountCreator.
func accountCreator(accounts *account.Service) license.AccountCreator {
	return func(ctx context.Context, tx *store.Tx, personID string, in license.NewAccount, actor audit.Actor) (string, error) {
		acc, err := accounts.CreateBusinessAccountTx(ctx, tx, personID, account.AccountInput{Name: in.Name, Country: in.Country,
			ContactName: in.ContactName, ContactEmail: in.ContactEmail, ContactPhone: in.ContactPhone}, actor)
		if err != nil {
			return "", err
		}
		return acc.ID, nil
	}
}
