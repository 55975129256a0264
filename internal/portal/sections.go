package portal

import (
	"context"
	"fmt"

	"gatehouse/internal/fleet"
	"gatehouse/internal/store"
)

// The check-in answer's settings sections (fleet.SectionsProvider). The
// fleet inventory's tables are read here, never written: fleet_vms says
// which VMs an installation has, their guest OS and their golden image.

// UpdateSettingsFunc returns an account's update channel and feed URL
// (the updates package's ClientSettingsFor).
type UpdateSettingsFunc func(ctx context.Context, accountID string) (channel, feedURL string, err error)

// installationVMs lists an installation's current VMs.
func installationVMs(ctx context.Context, q store.Querier, installationID string) ([]VMFacts, error) {
	rows, err := q.Query(ctx, `SELECT vm_uuid, guest_os, CASE WHEN source = 'golden_image' THEN COALESCE(golden_image_id, '') ELSE '' END
		FROM fleet_vms WHERE installation_id = ? AND gone_at IS NULL ORDER BY vm_uuid`, installationID)
	if err != nil {
		return nil, fmt.Errorf("installation VMs: %w", err)
	}
	defer rows.Close()
	var out []VMFacts
	for rows.Next() {
		var v VMFacts
		var os string
		if err := rows.Scan(&v.ID, &os, &v.SourceID); err != nil {
			return nil, err
		}
		v.OS = NormalizeOS(os)
		out = append(out, v)
	}
	return out, rows.Err()
}

// keySettings loads what applies to a key: its policy with the policy's
// image, and its profile (nil: Default).
func keySettings(ctx context.Context, q store.Querier, accountID, keyID string) (*Policy, *Image, *Profile, error) {
	var policyID, profileID string
	err := q.QueryRow(ctx, `SELECT COALESCE((SELECT policy_id FROM portal_policy_groups WHERE key_id = ? AND account_id = ?), ''),
		COALESCE((SELECT profile_id FROM portal_profile_keys WHERE key_id = ? AND account_id = ?), '')`,
		keyID, accountID, keyID, accountID).Scan(&policyID, &profileID)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("key settings: %w", err)
	}
	var pol *Policy
	var img *Image
	var prof *Profile
	if policyID != "" {
		if pol, err = getPolicy(ctx, q, accountID, policyID); err != nil {
			return nil, nil, nil, err
		}
		if pol.ImageID != "" {
			if img, err = getImage(ctx, q, accountID, pol.ImageID); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	if profileID != "" {
		if prof, err = getProfile(ctx, q, accountID, profileID); err != nil {
			return nil, nil, nil, err
		}
	}
	return pol, img, prof, nil
}

// EffectiveFor computes an installation's effective settings from the
// database (inside the check-in's transaction q).
func (s *Service) EffectiveFor(ctx context.Context, q store.Querier, inst fleet.Installation) (EffectiveSettings, error) {
	pol, img, prof, err := keySettings(ctx, q, inst.AccountID, inst.KeyID)
	if err != nil {
		return EffectiveSettings{}, err
	}
	var vms []VMFacts
	if inst.VMCount > 0 {
		if vms, err = installationVMs(ctx, q, inst.ID); err != nil {
			return EffectiveSettings{}, err
		}
	}
	return Effective(EffectiveInput{Enterprise: inst.Edition == "enterprise", KeyID: inst.KeyID, CPU: inst.CPU,
		Policy: pol, Image: img, Profile: prof, VMs: vms}), nil
}

// Sections builds the settings sections of an installation's check-in
// answer: the policy's controls and the VM settings per VM, the image to
// offer (the first image for its CPU from which it has no VM, so that
// deleting the golden-image VM makes the image offered again), the
// profile's enabled payloads and the update settings.
func (s *Service) Sections(ctx context.Context, q store.Querier, inst fleet.Installation) (fleet.Sections, error) {
	eff, err := s.EffectiveFor(ctx, q, inst)
	if err != nil {
		return fleet.Sections{}, err
	}
	return s.sectionsOf(ctx, inst, eff)
}

func (s *Service) sectionsOf(ctx context.Context, inst fleet.Installation, eff EffectiveSettings) (fleet.Sections, error) {
	var out fleet.Sections
	if eff.PolicyID != "" {
		c := eff.Controls
		out.EffectiveSettings.Policy = map[string]any{"id": eff.PolicyID, "name": eff.PolicyName, "security_controls": map[string]any{
			"provisioned_only": c.ProvisionedOnly, "one_vm_per_user": c.OneVMPerUser, "no_remove_vms": c.NoRemoveVMs,
			"no_major_upgrade": c.NoMajorUpgrade, "no_edit_prefs": c.NoEditPrefs, "license_bound": c.LicenseBound}}
		vms := map[string]any{}
		for _, v := range eff.VMs {
			if v.Set == "" {
				continue
			}
			entry := map[string]any{"set": v.Set, "settings": v.Applied}
			if len(v.Ignored) > 0 {
				entry["not_applicable"] = v.Ignored
			}
			vms[v.VMID] = entry
		}
		out.EffectiveSettings.VMSettings = vms
	}
	for _, o := range eff.Images {
		switch o.Source {
		case "policy":
			// Offered until a VM from it exists, and again once none is left.
			if !hasImageVM(eff, o.ImageID) {
				out.ImageOffer = &fleet.ImageOffer{ID: o.ImageID, Name: o.Name, Description: o.Description, Architecture: inst.CPU, URL: o.URL, SHA256: o.SHA256}
			}
		case "profile":
			key := "vm_intel"
			if inst.CPU == CPUAppleSilicon {
				key = "vm_apple_silicon"
			}
			out.ProfilePayloads = append(out.ProfilePayloads, fleet.ProfilePayload{Type: key, Settings: map[string]any{
				"name": o.Name, "description": o.Description, "url": o.URL, "sha256": o.SHA256}})
		}
	}
	if eff.Updates != nil {
		out.ProfilePayloads = append(out.ProfilePayloads, fleet.ProfilePayload{Type: "product_updates", Settings: map[string]any{
			"managed": eff.Updates.Managed, "allow_major": eff.Updates.AllowMajor}})
		out.UpdateSettings.Managed = true
		out.UpdateSettings.AllowMajorUpgrade = eff.Updates.AllowMajor
	}
	if s.UpdateSettings != nil {
		ch, feed, err := s.UpdateSettings(ctx, inst.AccountID)
		if err != nil {
			return fleet.Sections{}, err
		}
		out.UpdateSettings.Channel, out.UpdateSettings.UpdateURL = ch, feed
	}
	return out, nil
}

func hasImageVM(eff EffectiveSettings, imageID string) bool {
	for _, v := range eff.VMs {
		if v.SourceID == imageID {
			return true
		}
	}
	return false
}

// FleetVMCounts counts the inventory's current VMs per golden image
// (wired as Service.CountVMs).
func FleetVMCounts(ctx context.Context, q store.Querier, accountID string, imageIDs []string) (map[string]int, error) {
	out := map[string]int{}
	if len(imageIDs) == 0 {
		return out, nil
	}
	args := []any{accountID}
	marks := ""
	for i, id := range imageIDs {
		if i > 0 {
			marks += ", "
		}
		marks += "?"
		args = append(args, id)
	}
	rows, err := q.Query(ctx, `SELECT golden_image_id, COUNT(*) FROM fleet_vms WHERE account_id = ? AND gone_at IS NULL
		AND source = 'golden_image' AND golden_image_id IN (`+marks+`) GROUP BY golden_image_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("count golden-image VMs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, err
		}
		out[id] = n
	}
	return out, rows.Err()
}

// FleetHosts loads the inventory's installations of the given keys with
// their current VMs, for the effect preview (wired as Service.Hosts).
func FleetHosts(db *store.DB) HostLoader {
	return func(ctx context.Context, accountID string, keyIDs []string) ([]HostFacts, error) {
		args := []any{accountID}
		marks := ""
		for i, id := range keyIDs {
			if i > 0 {
				marks += ", "
			}
			marks += "?"
			args = append(args, id)
		}
		rows, err := db.Query(ctx, `SELECT h.installation_id, h.key_id, h.cpu, COALESCE(v.vm_uuid, ''), COALESCE(v.guest_os, ''),
				CASE WHEN v.source = 'golden_image' THEN COALESCE(v.golden_image_id, '') ELSE '' END
			FROM fleet_hosts h LEFT JOIN fleet_vms v ON v.installation_id = h.installation_id AND v.gone_at IS NULL
			JOIN license_activations a ON a.id = h.installation_id AND a.status = 'active'
			WHERE h.account_id = ? AND h.key_id IN (`+marks+`) ORDER BY h.installation_id`, args...)
		if err != nil {
			return nil, fmt.Errorf("preview inventory: %w", err)
		}
		defer rows.Close()
		var out []HostFacts
		for rows.Next() {
			var id, key, cpu, vm, os, src string
			if err := rows.Scan(&id, &key, &cpu, &vm, &os, &src); err != nil {
				return nil, err
			}
			if len(out) == 0 || out[len(out)-1].ID != id {
				out = append(out, HostFacts{ID: id, KeyID: key, CPU: cpu})
			}
			if vm != "" {
				h := &out[len(out)-1]
				h.VMs = append(h.VMs, VMFacts{ID: vm, OS: NormalizeOS(os), SourceID: src})
			}
		}
		return out, rows.Err()
	}
}
