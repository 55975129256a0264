package fleet

import (
	"context"
	"fmt"

	"gatehouse/internal/store"
)

// What the Management Portal reads from the inventory (the app adapts these
// to the portal's hooks): VMs per golden image, and the installations of
// some keys with their VMs for a policy's effect preview.

// CountVMsByImage counts the present VMs of accountID provisioned from each
// of imageIDs (absent ids count 0).
func CountVMsByImage(ctx context.Context, q store.Querier, accountID string, imageIDs []string) (map[string]int, error) {
	out := make(map[string]int, len(imageIDs))
	if len(imageIDs) == 0 {
		return out, nil
	}
	args := append([]any{accountID}, anySlice(imageIDs)...)
	rows, err := q.Query(ctx, `SELECT golden_image_id, COUNT(*) FROM fleet_vms WHERE account_id = ? AND gone_at IS NULL
		AND golden_image_id IN (`+store.Placeholders(len(imageIDs))+`) GROUP BY golden_image_id`, args...)
	if err != nil {
		return nil, fmt.Errorf("count vms by image: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return nil, fmt.Errorf("count vms by image: %w", err)
		}
		out[id] = n
	}
	return out, rows.Err()
}

// HostVMs is one installation and its present VMs.
type HostVMs struct {
	ID    string // installation (activation) id
	KeyID string
	CPU   string
	VMs   []HostVM
}

// HostVM is a present VM as the portal's preview needs it.
type HostVM struct {
	ID            string // server id
	GuestOS       string
	GoldenImageID string
}

// HostsForKeys returns the reporting installations of accountID on keyIDs
// with their present VMs, ordered by installation.
func (s *Service) HostsForKeys(ctx context.Context, accountID string, keyIDs []string) ([]HostVMs, error) {
	if len(keyIDs) == 0 {
		return nil, nil
	}
	args := append([]any{accountID}, anySlice(keyIDs)...)
	rows, err := s.DB.Query(ctx, `SELECT h.installation_id, h.key_id, h.cpu, COALESCE(v.id, ''), COALESCE(v.guest_os, ''), COALESCE(v.golden_image_id, '')
		FROM fleet_hosts h LEFT JOIN fleet_vms v ON v.installation_id = h.installation_id AND v.gone_at IS NULL
		WHERE h.account_id = ? AND h.key_id IN (`+store.Placeholders(len(keyIDs))+`) ORDER BY h.installation_id, v.id`, args...)
	if err != nil {
		return nil, fmt.Errorf("hosts for keys: %w", err)
	}
	defer rows.Close()
	var out []HostVMs
	for rows.Next() {
		var hostID, keyID, cpu string
		var vm HostVM
		if err := rows.Scan(&hostID, &keyID, &cpu, &vm.ID, &vm.GuestOS, &vm.GoldenImageID); err != nil {
			return nil, fmt.Errorf("hosts for keys: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != hostID {
			out = append(out, HostVMs{ID: hostID, KeyID: keyID, CPU: cpu})
		}
		if vm.ID != "" {
			h := &out[len(out)-1]
			h.VMs = append(h.VMs, vm)
		}
	}
	return out, rows.Err()
}
