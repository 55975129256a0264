package app

import (
	"context"
	"time"

	"gatehouse/internal/fleet"
	"gatehouse/internal/portal"
	"gatehouse/internal/store"
)

// portalWithFleet builds the portal service connected to the fleet: a
// portal change that alters what installations receive bumps the
// account's fleet settings version (so check-ins stop answering
// "unchanged"), and the portal reads VMs per golden image and the hosts of
// a policy's groups from the fleet inventory.
func portalWithFleet(db *store.DB, f *fleet.Service) *portal.Service {
	p := portal.New(db)
	p.Changed = func(ctx context.Context, tx *store.Tx, accountID string) error {
		return fleet.BumpSettings(ctx, tx, accountID, time.Now())
	}
	p.CountVMs = fleet.CountVMsByImage
	p.Hosts = func(ctx context.Context, accountID string, keyIDs []string) ([]portal.HostFacts, error) {
		hosts, err := f.HostsForKeys(ctx, accountID, keyIDs)
		if err != nil {
			return nil, err
		}
		out := make([]portal.HostFacts, len(hosts))
		for i, h := range hosts {
			out[i] = portal.HostFacts{ID: h.ID, KeyID: h.KeyID, CPU: h.CPU}
			for _, v := range h.VMs {
				out[i].VMs = append(out[i].VMs, portal.VMFacts{ID: v.ID, OS: portal.NormalizeOS(v.GuestOS), SourceID: v.GoldenImageID})
			}
		}
		return out, nil
	}
	return p
}
