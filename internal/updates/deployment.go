package updates

import (
	"context"

	"gatehouse/internal/audit"
)

// DeploymentFile describes a generated deploy.cfg or .mobileconfig for the
// audit log: which key, which experience, and what it set.
type DeploymentFile struct {
	AccountID  string
	Kind       string // deploy.cfg or mobileconfig
	KeyID      string
	KeyLabel   string
	Experience string // sso or key
	// Settings are the variables or options that went into it (never the
	// license key itself).
	Settings map[string]any
}

// RecordDeploymentFile audits that an admin downloaded a deployment file.
// Files that carry the license key are also recorded by the licensing
// service as a key reveal.
func (s *Service) RecordDeploymentFile(ctx context.Context, f DeploymentFile, actor audit.Actor) error {
	after := map[string]any{"experience": f.Experience}
	for k, v := range f.Settings {
		after[k] = v
	}
	return audit.Record(ctx, s.DB, actor, audit.Entry{AccountID: f.AccountID, Action: "update." + map[string]string{
		"deploy.cfg": "deploycfg_generated", "mobileconfig": "mobileconfig_generated"}[f.Kind],
		TargetType: "license_key", TargetID: f.KeyID, TargetLabel: f.KeyLabel, After: after})
}
