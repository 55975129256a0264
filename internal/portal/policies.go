package portal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// Policy is a set of security controls and VM settings applied to groups.
type Policy struct {
	ID          string
	AccountID   string
	Name        string
	Description string
	ImageID     string // "" when none
	ImageName   string
	Controls    Controls
	GoldenImage SettingSet // VMs from the policy's golden image
	Other       SettingSet // VMs from other sources
	Groups      []string   // key ids, sorted
	CreatedBy   string
	CreatedAt   store.Time
	UpdatedAt   store.Time
}

// PolicyInput is the policy form.
type PolicyInput struct {
	Name, Description string
	ImageID           string
	Groups            []string
	Controls          Controls
	GoldenImage       SettingSet
	Other             SettingSet
}

const policyColumns = `p.id, p.account_id, p.name, p.description, COALESCE(p.image_id, ''), COALESCE(i.name, ''),
	p.provisioned_only, p.one_vm_per_user, p.no_remove_vms, p.no_major_upgrade, p.no_edit_prefs, p.license_bound,
	p.settings_gi, p.settings_other, p.created_by, p.created_at, p.updated_at`

const policyFrom = ` FROM portal_policies p LEFT JOIN portal_images i ON i.id = p.image_id `

func scanPolicy(row interface{ Scan(...any) error }) (*Policy, error) {
	var p Policy
	var gi, other string
	c := &p.Controls
	if err := row.Scan(&p.ID, &p.AccountID, &p.Name, &p.Description, &p.ImageID, &p.ImageName,
		&c.ProvisionedOnly, &c.OneVMPerUser, &c.NoRemoveVMs, &c.NoMajorUpgrade, &c.NoEditPrefs, &c.LicenseBound,
		&gi, &other, &p.CreatedBy, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(gi), &p.GoldenImage); err != nil {
		return nil, fmt.Errorf("policy %s: golden image settings: %w", p.ID, err)
	}
	if err := json.Unmarshal([]byte(other), &p.Other); err != nil {
		return nil, fmt.Errorf("policy %s: other settings: %w", p.ID, err)
	}
	return &p, nil
}

func nameKey(name string) string { return strings.ToLower(strings.Join(strings.Fields(name), " ")) }

func (in PolicyInput) validate() (PolicyInput, error) {
	var err error
	if in.Name, err = checkName("name", in.Name, 100); err != nil {
		return in, err
	}
	if in.Description, err = checkDescription("description", in.Description); err != nil {
		return in, err
	}
	if in.ImageID != "" && !ids.Valid(in.ImageID) {
		return in, fieldErr("image", "Choose a golden image from the list.")
	}
	seen := map[string]bool{}
	var groups []string
	for _, g := range in.Groups {
		if g == "" || seen[g] {
			continue
		}
		if !ids.Valid(g) {
			return in, fieldErr("groups", "Choose groups from the list.")
		}
		seen[g] = true
		groups = append(groups, g)
	}
	sort.Strings(groups)
	in.Groups = groups
	for _, s := range []*SettingSet{&in.GoldenImage, &in.Other} {
		if s.Values == nil {
			s.Values = map[string]string{}
		}
		for _, d := range Settings {
			if _, ok := s.Values[d.Key]; !ok {
				s.Values[d.Key] = d.Default
			}
		}
	}
	if err := in.GoldenImage.validate("gi_"); err != nil {
		return in, err
	}
	if err := in.Other.validate("other_"); err != nil {
		return in, err
	}
	return in, nil
}

func policyGroups(ctx context.Context, q store.Querier, accountID, policyID string) ([]string, error) {
	ids, err := store.QueryAll(ctx, q, store.ScanValue[string], `SELECT g.key_id FROM portal_policy_groups g JOIN license_keys k ON k.id = g.key_id
		WHERE g.account_id = ? AND g.policy_id = ? AND k.deleted_at IS NULL ORDER BY g.key_id`, accountID, policyID)
	if err != nil {
		return nil, fmt.Errorf("policy groups: %w", err)
	}
	return ids, nil
}

func getPolicy(ctx context.Context, q store.Querier, accountID, id string) (*Policy, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	p, err := scanPolicy(q.QueryRow(ctx, `SELECT `+policyColumns+policyFrom+`WHERE p.id = ? AND p.account_id = ?`, id, accountID))
	if err != nil {
		return nil, store.NotFound(err)
	}
	if p.Groups, err = policyGroups(ctx, q, accountID, id); err != nil {
		return nil, err
	}
	return p, nil
}

// inScope: admins see every policy; license admins the policies whose
// groups are all keys they manage (and the unassigned ones they created).
func (s *Service) inScope(sc scope, c Caller, p *Policy) bool {
	if sc.all {
		return true
	}
	if len(p.Groups) == 0 {
		return p.CreatedBy == c.PersonID
	}
	for _, g := range p.Groups {
		if !sc.has(g) {
			return false
		}
	}
	return true
}

func (s *Service) policyInScope(ctx context.Context, q store.Querier, sc scope, c Caller, id string) (bool, error) {
	if sc.all {
		return true, nil
	}
	p, err := getPolicy(ctx, q, c.AccountID, id)
	if err != nil {
		return false, err
	}
	return s.inScope(sc, c, p), nil
}

// Policies lists the policies the caller may see.
func (s *Service) Policies(ctx context.Context, c Caller) ([]Policy, error) {
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT `+policyColumns+policyFrom+`WHERE p.account_id = ? ORDER BY p.name_key, p.id`, c.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list policies: %w", err)
	}
	var all []Policy
	for rows.Next() {
		p, err := scanPolicy(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		all = append(all, *p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var out []Policy
	for i := range all {
		if all[i].Groups, err = policyGroups(ctx, s.DB, c.AccountID, all[i].ID); err != nil {
			return nil, err
		}
		if s.inScope(sc, c, &all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

// Policy returns one policy the caller may see.
func (s *Service) Policy(ctx context.Context, c Caller, id string) (*Policy, error) {
	sc, err := s.scopeOf(ctx, s.DB, c)
	if err != nil {
		return nil, err
	}
	p, err := getPolicy(ctx, s.DB, c.AccountID, id)
	if err != nil {
		return nil, err
	}
	if !s.inScope(sc, c, p) {
		return nil, ErrNotFound
	}
	return p, nil
}

// errGroupTaken and errNameTaken carry a unique violation out of the
// transaction (PostgreSQL aborts it), to be explained after the rollback.
var (
	errGroupTaken = errors.New("group taken")
	errNameTaken  = errors.New("name taken")
)

func policyAudit(in PolicyInput) map[string]any {
	return map[string]any{"name": in.Name, "description": in.Description, "image_id": in.ImageID, "groups": in.Groups,
		"security_controls": in.Controls, "vm_settings_golden_image": in.GoldenImage, "vm_settings_other": in.Other}
}

func (p *Policy) input() PolicyInput {
	return PolicyInput{Name: p.Name, Description: p.Description, ImageID: p.ImageID, Groups: p.Groups, Controls: p.Controls,
		GoldenImage: p.GoldenImage, Other: p.Other}
}

// SavePolicy creates (id == "") or changes a policy. Each group has at
// most one policy, enforced by the database: of two admins adding the same
// group at once one wins, the other gets a field error naming the policy
// that has the group now.
func (s *Service) SavePolicy(ctx context.Context, c Caller, id string, in PolicyInput, actor audit.Actor) (*Policy, error) {
	in, err := in.validate()
	if err != nil {
		return nil, err
	}
	gi, err := json.Marshal(in.GoldenImage)
	if err != nil {
		return nil, err
	}
	other, err := json.Marshal(in.Other)
	if err != nil {
		return nil, err
	}
	now := store.At(s.now())
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		sc, err := s.scopeOf(ctx, tx, c)
		if err != nil {
			return err
		}
		if in.ImageID != "" {
			img, err := getImage(ctx, tx, c.AccountID, in.ImageID)
			if err == ErrNotFound {
				return fieldErr("image", "That golden image does not exist (any more).")
			} else if err != nil {
				return err
			}
			if ok, err := s.imageVisible(ctx, tx, sc, c, img); err != nil || !ok {
				if err == nil {
					err = fieldErr("image", "That golden image does not exist (any more).")
				}
				return err
			}
		}
		groups, err := s.groupsByID(ctx, tx, c.AccountID)
		if err != nil {
			return err
		}
		for _, g := range in.Groups {
			grp, ok := groups[g]
			if !ok || !sc.has(g) {
				return fieldErr("groups", "One of the chosen groups does not exist (any more).")
			}
			if !grp.Enterprise {
				return fieldErr("groups", "%s belongs to a Business subscription: policies apply to groups of the Enterprise subscription.", grp.Label())
			}
		}
		var before *Policy
		if id == "" {
			id = ids.New()
			_, err := tx.Exec(ctx, `INSERT INTO portal_policies (id, account_id, name, name_key, description, image_id,
				provisioned_only, one_vm_per_user, no_remove_vms, no_major_upgrade, no_edit_prefs, license_bound,
				settings_gi, settings_other, created_by, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
				id, c.AccountID, in.Name, nameKey(in.Name), in.Description, nullable(in.ImageID),
				in.Controls.ProvisionedOnly, in.Controls.OneVMPerUser, in.Controls.NoRemoveVMs, in.Controls.NoMajorUpgrade, in.Controls.NoEditPrefs, in.Controls.LicenseBound,
				string(gi), string(other), c.PersonID, now, now)
			if store.IsUniqueViolation(err) {
				return errNameTaken
			} else if err != nil {
				return fmt.Errorf("create policy: %w", err)
			}
		} else {
			if before, err = getPolicy(ctx, tx, c.AccountID, id); err != nil {
				return err
			}
			if !s.inScope(sc, c, before) {
				return ErrNotFound
			}
			_, err := tx.Exec(ctx, `UPDATE portal_policies SET name = ?, name_key = ?, description = ?, image_id = ?,
				provisioned_only = ?, one_vm_per_user = ?, no_remove_vms = ?, no_major_upgrade = ?, no_edit_prefs = ?, license_bound = ?,
				settings_gi = ?, settings_other = ?, updated_at = ? WHERE id = ? AND account_id = ?`,
				in.Name, nameKey(in.Name), in.Description, nullable(in.ImageID),
				in.Controls.ProvisionedOnly, in.Controls.OneVMPerUser, in.Controls.NoRemoveVMs, in.Controls.NoMajorUpgrade, in.Controls.NoEditPrefs, in.Controls.LicenseBound,
				string(gi), string(other), now, id, c.AccountID)
			if store.IsUniqueViolation(err) {
				return errNameTaken
			} else if err != nil {
				return fmt.Errorf("update policy: %w", err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM portal_policy_groups WHERE policy_id = ? AND account_id = ?`, id, c.AccountID); err != nil {
				return fmt.Errorf("update policy groups: %w", err)
			}
		}
		for _, g := range in.Groups {
			_, err := tx.Exec(ctx, `INSERT INTO portal_policy_groups (key_id, account_id, policy_id, created_at) VALUES (?,?,?,?)`, g, c.AccountID, id, now)
			if store.IsUniqueViolation(err) {
				return errGroupTaken
			} else if err != nil {
				return fmt.Errorf("policy groups: %w", err)
			}
		}
		e := audit.Entry{AccountID: c.AccountID, Action: "portal.policy_created", TargetType: "policy", TargetID: id, TargetLabel: in.Name, After: policyAudit(in)}
		if before != nil {
			e.Action, e.Before = "portal.policy_updated", policyAudit(before.input())
		}
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, e)
	})
	switch {
	case errors.Is(err, errNameTaken):
		return nil, fieldErr("name", "Another policy is already called %q; choose another name.", in.Name)
	case errors.Is(err, errGroupTaken):
		return nil, s.groupTakenError(ctx, c.AccountID, id, in.Groups)
	case err != nil:
		return nil, err
	}
	return getPolicy(ctx, s.DB, c.AccountID, id)
}

// groupTakenError names the groups another policy holds.
func (s *Service) groupTakenError(ctx context.Context, accountID, policyID string, groups []string) error {
	all, err := s.groupsByID(ctx, s.DB, accountID)
	if err != nil {
		return err
	}
	var parts []string
	for _, g := range groups {
		var other string
		err := s.DB.QueryRow(ctx, `SELECT p.name FROM portal_policy_groups g JOIN portal_policies p ON p.id = g.policy_id
			WHERE g.key_id = ? AND g.account_id = ? AND g.policy_id <> ?`, g, accountID, policyID).Scan(&other)
		if err == nil {
			parts = append(parts, fmt.Sprintf("%s already has the policy %q", all[g].Label(), other))
		}
	}
	if len(parts) == 0 {
		return fieldErr("groups", "Another policy took one of these groups meanwhile; each group has at most one policy. Check the groups and save again.")
	}
	return fieldErr("groups", "%s. Each group has at most one policy: remove it from that policy first.", strings.Join(parts, "; "))
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// DeletePolicy deletes a policy. Clients keep its VM settings, unlocked.
func (s *Service) DeletePolicy(ctx context.Context, c Caller, id string, actor audit.Actor) error {
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		sc, err := s.scopeOf(ctx, tx, c)
		if err != nil {
			return err
		}
		p, err := getPolicy(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		if !s.inScope(sc, c, p) {
			return ErrNotFound
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_policy_groups WHERE policy_id = ? AND account_id = ?`, id, c.AccountID); err != nil {
			return fmt.Errorf("delete policy: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_policies WHERE id = ? AND account_id = ?`, id, c.AccountID); err != nil {
			return fmt.Errorf("delete policy: %w", err)
		}
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.policy_deleted",
			TargetType: "policy", TargetID: id, TargetLabel: p.Name, Before: policyAudit(p.input())})
	})
}
