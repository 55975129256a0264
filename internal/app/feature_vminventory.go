package app

import (
	"context"
	"errors"

	"gatehouse/internal/fleet"
	"gatehouse/internal/web"
)

func init() { features = append(features, wireInventory) }

// wireInventory mounts the Virtual Machines inventory of the Management
// Portal (spec 05). It reads what the fleet check-in stores, queues
// commands through the fleet service, and needs both wired first (Enterprise gating, license-admin scope).
func wireInventory(_ context.Context, a *App) error {
	if a.License == nil || a.Fleet == nil {
		return errors.New("wire inventory: licensing and the fleet must be wired first")
	}
	inv := &fleet.Inventory{DB: a.DB, Now: a.License.Config.Now}
	a.Web.Add(web.InventoryRoutes(a.Web, inv, a.Fleet, a.License)...)
	return nil
}
