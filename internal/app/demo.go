package app

import (
	"context"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/license"
)

// Demo is what `serve --demo` set up.
type Demo struct {
	PersonID, AccountID string
	// Trial describes the Enterprise trial of the demo account, e.g.
	// "Enterprise Edition trial, 25 seats, until 2 Jan 2027".
	Trial string
}

// Demo trial: mixed seats so both per-device keys and SSO (per-user)
// activation work, long enough to try everything.
const (
	demoTrialSeats = 25
	demoTrialDays  = 30
)

// SeedDemo creates the demo admin and business account (once) and gives the
// account an Enterprise trial unless it holds a license already, so the
// Licenses pages and the IdP configurator are usable at once.
func (a *App) SeedDemo(ctx context.Context) (*Demo, error) {
	personID, accountID, err := a.Accounts.SeedDemo(ctx)
	if err != nil {
		return nil, err
	}
	d := &Demo{PersonID: personID, AccountID: accountID}
	if accountID == "" || a.License == nil {
		return d, nil
	}
	caller := license.Caller{PersonID: personID, AccountID: accountID, Role: license.RoleAdmin}
	subs, err := a.License.Subscriptions(ctx, caller)
	if err != nil {
		return nil, fmt.Errorf("seed demo trial: %w", err)
	}
	if len(subs) == 0 {
		_, key, err := a.License.Issue(ctx, license.IssueInput{Edition: license.EditionEnterprise, Model: license.ModelMixed,
			Seats: demoTrialSeats, Term: license.Term{Days: demoTrialDays}, Trial: true, Note: "demo trial"}, license.OperatorActor("demo seed"))
		if err != nil {
			return nil, fmt.Errorf("seed demo trial: %w", err)
		}
		if _, err := a.License.RegisterKey(ctx, caller, license.RegisterInput{Key: key, DisplayName: "Enterprise trial"},
			audit.System("demo-seed")); err != nil {
			return nil, fmt.Errorf("seed demo trial: %w", err)
		}
		if subs, err = a.License.Subscriptions(ctx, caller); err != nil {
			return nil, fmt.Errorf("seed demo trial: %w", err)
		}
	}
	for _, s := range subs {
		if s.Trial {
			d.Trial = fmt.Sprintf("%s trial, %d seats, until %s", license.EditionLabel(s.Edition), s.Seats, s.EndsAt.UTC().Format("2 Jan 2006"))
		}
	}
	return d, nil
}
