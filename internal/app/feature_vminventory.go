package app

import (
	"context"
	"errors"

	"gatehouse/internal/fleet"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireInventory) }

// wireInventory mounts the Virtual Machines inventory of the Management
// Portal (spec 05). It reads what the fleet check-in stores and needs
// licensing wired first (Enterprise gating, license-admin scope).
func wireInventory(_ context.Context, a *App) error {
	if a.License == nil {
		return errors.New("wire inventory: licensing must be wired first")
	}
	inv := &fleet.Inventory{DB: a.DB, Now: a.License.Config.Now}
	// The fleet service queues and cancels commands (audited); it only
	// touches the database, so this instance and the check-in's agree.
	cmds := fleet.New(a.DB, fleet.Config{})
	cmds.Now = a.License.Config.Now
	a.Web.Add(web.InventoryRoutes(a.Web, inv, cmds, a.License)...)
	return nil
}
