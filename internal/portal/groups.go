package portal

import (
	"context"
	"fmt"
	"sort"

	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// Group is a license key seen as a group of installations: the primary key
// or a sublicense key, with the IdP groups mapped to it.
type Group struct {
	KeyID          string
	SubscriptionID string
	Subscription   string // the subscription's name for people
	Enterprise     bool   // of a running Enterprise subscription
	Kind           string // primary, reserved, dynamic
	Name           string
	Masked         string
	Seats          int // allotted: reserved allotment, dynamic cap, or the shared pool for the primary key
	Used           int
	IdPGroups      []string
	PolicyID       string
	PolicyName     string
	ImageID        string
	ImageName      string
	ProfileID      string // "" for the built-in Default profile
	ProfileName    string
}

// Label names the group for people.
func (g Group) Label() string {
	if g.Kind == license.KindPrimary {
		if g.Name != "" {
			return "Primary key “" + g.Name + "”"
		}
		return "Primary key " + g.Masked
	}
	if g.Name != "" {
		return "“" + g.Name + "”"
	}
	return "Sublicense " + g.Masked
}

// Primary reports whether the group is a subscription's primary key.
func (g Group) Primary() bool { return g.Kind == license.KindPrimary }

// groupsByID loads every live key of the account's registered
// subscriptions (not purged) with its policy, image, profile and IdP groups.
func (s *Service) groupsByID(ctx context.Context, q store.Querier, accountID string) (map[string]*Group, error) {
	now := store.At(s.now())
	rows, err := q.Query(ctx, `SELECT k.id, k.subscription_id, s.name, s.edition = 'enterprise' AND s.status = 'active' AND s.ends_at > ?,
			k.kind, k.name, k.key_last, CASE WHEN k.kind = 'primary' THEN s.seats - s.reserved ELSE k.seats END, k.used,
			COALESCE(p.id, ''), COALESCE(p.name, ''), COALESCE(i.id, ''), COALESCE(i.name, ''), COALESCE(pr.id, ''), COALESCE(pr.name, '')
		FROM license_keys k JOIN subscriptions s ON s.id = k.subscription_id
		LEFT JOIN portal_policy_groups g ON g.key_id = k.id
		LEFT JOIN portal_policies p ON p.id = g.policy_id
		LEFT JOIN portal_images i ON i.id = p.image_id
		LEFT JOIN portal_profile_keys pk ON pk.key_id = k.id
		LEFT JOIN portal_profiles pr ON pr.id = pk.profile_id
		WHERE k.account_id = ? AND k.deleted_at IS NULL AND s.purged_at IS NULL`, now, accountID)
	if err != nil {
		return nil, fmt.Errorf("groups: %w", err)
	}
	out := map[string]*Group{}
	for rows.Next() {
		var g Group
		var last string
		if err := rows.Scan(&g.KeyID, &g.SubscriptionID, &g.Subscription, &g.Enterprise, &g.Kind, &g.Name, &last, &g.Seats, &g.Used,
			&g.PolicyID, &g.PolicyName, &g.ImageID, &g.ImageName, &g.ProfileID, &g.ProfileName); err != nil {
			rows.Close()
			return nil, fmt.Errorf("groups: %w", err)
		}
		g.Masked = license.MaskKey(last)
		if g.ProfileID == "" {
			g.ProfileName = DefaultProfileName
		}
		out[g.KeyID] = &g
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	mapped, err := q.Query(ctx, `SELECT key_id, display_name FROM license_key_groups WHERE account_id = ? ORDER BY display_name, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("groups: idp groups: %w", err)
	}
	defer mapped.Close()
	for mapped.Next() {
		var key, name string
		if err := mapped.Scan(&key, &name); err != nil {
			return nil, err
		}
		if g := out[key]; g != nil {
			g.IdPGroups = append(g.IdPGroups, name)
		}
	}
	return out, mapped.Err()
}

func sortGroups(gs []Group) {
	sort.Slice(gs, func(i, j int) bool {
		a, b := gs[i], gs[j]
		if a.Subscription != b.Subscription {
			return a.Subscription < b.Subscription
		}
		if a.SubscriptionID != b.SubscriptionID {
			return a.SubscriptionID < b.SubscriptionID
		}
		if a.Primary() != b.Primary() {
			return a.Primary()
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.KeyID < b.KeyID
	})
}

// Groups lists the groups the caller manages (primary key first, then the
// sublicenses, per subscription). enterpriseOnly keeps the groups policies
// may apply to.
func (s *Service) Groups(ctx context.Context, c Caller, enterpriseOnly bool) ([]Group, error) {
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	all, err := s.groupsByID(ctx, s.DB, c.AccountID)
	if err != nil {
		return nil, err
	}
	var out []Group
	for id, g := range all {
		if sc.has(id) && (!enterpriseOnly || g.Enterprise) {
			out = append(out, *g)
		}
	}
	sortGroups(out)
	return out, nil
}
