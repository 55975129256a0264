package portal

import (
	"context"
	"fmt"
	"strings"

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

// osFamilySQL classifies fleet_vms.guest_os like NormalizeOS does (for
// ASCII text, which is what clients report); TestOSFamilySQL keeps the two
// in step on both engines.
const osFamilySQL = `CASE
	WHEN LOWER(TRIM(v.guest_os)) LIKE 'mac%' OR LOWER(TRIM(v.guest_os)) LIKE 'os x%' OR LOWER(TRIM(v.guest_os)) LIKE 'osx%' THEN 'macos'
	WHEN LOWER(TRIM(v.guest_os)) LIKE 'win%' THEN 'windows'
	WHEN TRIM(v.guest_os) = '' THEN 'other'
	WHEN LOWER(v.guest_os) LIKE '%linux%' OR LOWER(v.guest_os) LIKE '%ubuntu%' OR LOWER(v.guest_os) LIKE '%debian%'
		OR LOWER(v.guest_os) LIKE '%fedora%' OR LOWER(v.guest_os) LIKE '%centos%' OR LOWER(v.guest_os) LIKE '%red hat%'
		OR LOWER(v.guest_os) LIKE '%rhel%' OR LOWER(v.guest_os) LIKE '%suse%' OR LOWER(v.guest_os) LIKE '%kali%'
		OR LOWER(v.guest_os) LIKE '%mint%' THEN 'linux'
	ELSE 'other' END`

var previewOSes = []string{OSMacOS, OSWindows, OSLinux, OSOther}

// FleetHosts loads, for the effect preview, the inventory's installations
// of the given keys, aggregated in the database: installations of the
// same key and CPU whose VMs fall in the same classes (guest OS family ×
// provisioned from imageIDs[0], imageIDs[1] or elsewhere) are one row
// with counts, which is all the preview depends on. One pass over the
// VMs, a small answer, exact.
func FleetHosts(db *store.DB) HostLoader {
	return func(ctx context.Context, accountID string, keyIDs, imageIDs []string) ([]HostFacts, error) {
		if len(keyIDs) == 0 {
			return nil, nil
		}
		srcs := []string{""} // "" = any other source
		for _, id := range imageIDs {
			if id != "" && id != srcs[len(srcs)-1] {
				srcs = append(srcs, id)
			}
		}
		type class struct{ os, src string }
		var classes []class
		for _, os := range previewOSes {
			for _, src := range srcs {
				classes = append(classes, class{os, src})
			}
		}
		// Each VM's class is computed once: family index × len(srcs) +
		// source index.
		fam := osFamilySQL
		for i, os := range previewOSes {
			fam = strings.ReplaceAll(fam, "'"+os+"'", fmt.Sprint(i))
		}
		var args []any
		src := "0"
		if len(srcs) > 1 {
			src = "CASE"
			for i, id := range srcs[1:] {
				src += fmt.Sprintf(" WHEN v.source = 'golden_image' AND v.golden_image_id = ? THEN %d", i+1)
				args = append(args, id)
			}
			src += " ELSE 0 END"
		}
		var inner, outer, group []string
		for n := range classes {
			inner = append(inner, fmt.Sprintf("SUM(CASE WHEN c = %d THEN 1 ELSE 0 END) AS n%d", n, n))
			outer = append(outer, fmt.Sprintf("SUM(n%d)", n))
			group = append(group, fmt.Sprintf("CASE WHEN n%d > 0 THEN 1 ELSE 0 END", n))
		}
		args = append(args, accountID)
		for _, k := range keyIDs {
			args = append(args, k)
		}
		// Each VM's class is computed once (a materialized CTE: no engine
		// may inline the expression into every sum), the VMs reached
		// through their installation's index, then grouped per
		// installation and by key, CPU and classes present.
		q := `WITH r AS MATERIALIZED (
				SELECT h.installation_id, h.key_id, h.cpu,
					CASE WHEN v.vm_uuid IS NULL THEN -1 ELSE (` + fam + `) * ` + fmt.Sprint(len(srcs)) + ` + (` + src + `) END AS c
				FROM fleet_hosts h JOIN license_activations a ON a.id = h.installation_id AND a.status = 'active'
				LEFT JOIN fleet_vms v ON v.installation_id = h.installation_id AND v.gone_at IS NULL
				WHERE h.account_id = ? AND h.key_id IN (` + strings.TrimSuffix(strings.Repeat("?, ", len(keyIDs)), ", ") + `)),
			per AS MATERIALIZED (SELECT installation_id, key_id, cpu, ` + strings.Join(inner, ", ") + ` FROM r GROUP BY installation_id, key_id, cpu)
			SELECT key_id, cpu, COUNT(*), ` + strings.Join(outer, ", ") + ` FROM per
			GROUP BY key_id, cpu, ` + strings.Join(group, ", ")
		rows, err := db.Query(ctx, q, args...)
		if err != nil {
			return nil, fmt.Errorf("preview inventory: %w", err)
		}
		defer rows.Close()
		var out []HostFacts
		for rows.Next() {
			var h HostFacts
			counts := make([]int64, len(classes))
			dest := []any{&h.KeyID, &h.CPU, &h.Count}
			for i := range counts {
				dest = append(dest, &counts[i])
			}
			if err := rows.Scan(dest...); err != nil {
				return nil, err
			}
			h.ID = fmt.Sprintf("%s/%s/%d", h.KeyID, h.CPU, len(out))
			for i, n := range counts {
				if n > 0 {
					h.VMs = append(h.VMs, VMFacts{ID: fmt.Sprintf("c%02d", i), OS: classes[i].os, SourceID: classes[i].src, Count: int(n)})
				}
			}
			out = append(out, h)
		}
		return out, rows.Err()
	}
}
