package license

import (
	"context"
	"errors"
	"fmt"
)

// SeatPoolPreview says where a person with some IdP groups would take their
// per-user seat at their next SSO activation of Desktop, without granting
// anything. The IdP configurator's test sign-in shows it.
type SeatPoolPreview struct {
	KeyID   string
	KeyName string // the key's name, or its masked value
	Kind    string // KindPrimary, KindReserved or KindDynamic
	// Groups are the person's groups mapped to the key (its User Groups
	// tab) that chose it; empty when no group of the person is mapped and
	// the primary key of the oldest live per-user subscription is the
	// pool.
	Groups []KeyGroup
	// Conflict names every key the person's groups map to, the chosen one
	// first, when there is more than one (a mapping the admins must fix).
	Conflict []string
	// Code and Message say why no seat can be taken at all (no per-user
	// license, expired, suspended); the fields above are then empty.
	Code, Message string
}

// PreviewSeatPool runs the seat-pool choice of an SSO activation (pickPool,
// the same function CompleteSSOActivation uses) for a person with groups,
// reading only.
func (s *Service) PreviewSeatPool(ctx context.Context, accountID string, groups []string) (*SeatPoolPreview, error) {
	p, err := pickPool(ctx, s.DB, accountID, groups, s.now())
	var de *DeviceError
	if errors.As(err, &de) {
		return &SeatPoolPreview{Code: de.Code, Message: de.Message}, nil
	} else if err != nil {
		return nil, err
	}
	out := &SeatPoolPreview{KeyID: p.keyID, KeyName: keyDisplay(p.keyName, p.keyLast), Kind: p.keyKind}
	if len(p.candidates) == 0 {
		return out, nil
	}
	have := map[string]bool{}
	for _, g := range groups {
		have[groupNorm(g)] = true
	}
	mapped, err := keyGroups(ctx, s.DB, accountID, "key_id = ?", p.keyID)
	if err != nil {
		return nil, err
	}
	for _, g := range mapped {
		if have[groupNorm(g.UUID)] {
			out.Groups = append(out.Groups, g)
		}
	}
	if len(p.candidates) > 1 {
		for _, id := range p.candidates {
			var name, last string
			if err := s.DB.QueryRow(ctx, `SELECT name, key_last FROM license_keys WHERE account_id = ? AND id = ?`, accountID, id).
				Scan(&name, &last); err != nil {
				return nil, fmt.Errorf("preview seat pool: %w", err)
			}
			out.Conflict = append(out.Conflict, keyDisplay(name, last))
		}
	}
	return out, nil
}
