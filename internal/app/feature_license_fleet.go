package app

import (
	"context"
	"errors"

	"gatehouse/internal/fleet"
)

// This file is named so that it runs right after feature_license.go
// (features register in init order, which follows file names): fleet needs
// the client API, and later features (the portal) set a.Fleet.Sections.
func init() { features = append(features, wireFleet) }

// wireFleet mounts the check-in (spec 07) on the client API and runs the
// per-node flusher of buffered last-seen times.
func wireFleet(_ context.Context, a *App) error {
	if a.Client == nil {
		return errors.New("wire fleet: licensing must be wired first")
	}
	svc := fleet.New(a.DB, fleet.DefaultConfig())
	svc.Log = a.Log
	a.Fleet = svc
	a.Client.MountFleet(svc)
	a.Background = append(a.Background, svc.RunFlusher)
	return nil
}
