package portal

import (
	"context"
	"fmt"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// DefaultProfileName is the built-in profile every key has until another
// is applied; it has no payloads.
const DefaultProfileName = "Default"

// Payload is a profile's VM payload for one Mac architecture. A disabled
// payload keeps its settings but is not sent.
type Payload struct {
	Enabled     bool
	Name        string
	Description string
	URL         string
	SHA256      string
}

// Profile is a configuration profile.
type Profile struct {
	ID                string
	AccountID         string
	Name              string
	Intel             Payload
	AppleSilicon      Payload
	UpdatesEnabled    bool
	UpdatesAllowMajor bool
	CreatedAt         store.Time
	UpdatedAt         store.Time
	Keys              []string // keys it is applied to (filled by Profiles)
}

// Payload returns the VM payload for cpu.
func (p *Profile) Payload(cpu string) Payload {
	switch cpu {
	case CPUAppleSilicon:
		return p.AppleSilicon
	case CPUIntel:
		return p.Intel
	}
	return Payload{}
}

// ProfileInput is the profile form.
type ProfileInput struct {
	Name              string
	Intel             Payload
	AppleSilicon      Payload
	UpdatesEnabled    bool
	UpdatesAllowMajor bool
}

const profileColumns = `id, account_id, name, intel_enabled, intel_name, intel_description, intel_url, intel_sha256,
	arm_enabled, arm_name, arm_description, arm_url, arm_sha256, updates_enabled, updates_allow_major, created_at, updated_at`

func scanProfile(row interface{ Scan(...any) error }) (*Profile, error) {
	var p Profile
	err := row.Scan(&p.ID, &p.AccountID, &p.Name, &p.Intel.Enabled, &p.Intel.Name, &p.Intel.Description, &p.Intel.URL, &p.Intel.SHA256,
		&p.AppleSilicon.Enabled, &p.AppleSilicon.Name, &p.AppleSilicon.Description, &p.AppleSilicon.URL, &p.AppleSilicon.SHA256,
		&p.UpdatesEnabled, &p.UpdatesAllowMajor, &p.CreatedAt, &p.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &p, nil
}

func checkPayload(prefix string, p Payload) (Payload, error) {
	var err error
	if !p.Enabled {
		return p, nil
	}
	if p.Name, err = checkName(prefix+"_name", p.Name, 100); err != nil {
		return p, err
	}
	if p.Description, err = checkDescription(prefix+"_description", p.Description); err != nil {
		return p, err
	}
	if p.URL, err = CheckDownloadURL(prefix+"_url", p.URL); err != nil {
		return p, err
	}
	if p.SHA256, err = CheckSHA256(prefix+"_sha256", p.SHA256); err != nil {
		return p, err
	}
	return p, nil
}

func (in ProfileInput) validate() (ProfileInput, error) {
	var err error
	if in.Name, err = checkName("name", in.Name, 100); err != nil {
		return in, err
	}
	if nameKey(in.Name) == nameKey(DefaultProfileName) {
		return in, fieldErr("name", "“Default” is the built-in profile; choose another name.")
	}
	if in.Intel, err = checkPayload("intel", in.Intel); err != nil {
		return in, err
	}
	if in.AppleSilicon, err = checkPayload("arm", in.AppleSilicon); err != nil {
		return in, err
	}
	// A switched-off Product Updates payload keeps "allow next major": it
	// is stored as typed and not sent.
	return in, nil
}

func adminOnly(c Caller) error {
	if c.Role != license.RoleAdmin {
		return ErrForbidden
	}
	return nil
}

func getProfile(ctx context.Context, q store.Querier, accountID, id string) (*Profile, error) {
	if !ids.Valid(id) {
		return nil, ErrNotFound
	}
	p, err := scanProfile(q.QueryRow(ctx, `SELECT `+profileColumns+` FROM portal_profiles WHERE id = ? AND account_id = ?`, id, accountID))
	if err != nil {
		return nil, store.NotFound(err)
	}
	return p, nil
}

func profileKeys(ctx context.Context, q store.Querier, accountID, profileID string) ([]string, error) {
	ids, err := store.QueryAll(ctx, q, store.ScanValue[string], `SELECT pk.key_id FROM portal_profile_keys pk JOIN license_keys k ON k.id = pk.key_id
		WHERE pk.account_id = ? AND pk.profile_id = ? AND k.deleted_at IS NULL ORDER BY pk.key_id`, accountID, profileID)
	if err != nil {
		return nil, fmt.Errorf("profile keys: %w", err)
	}
	return ids, nil
}

// Profiles lists the account's profiles (account admins only).
func (s *Service) Profiles(ctx context.Context, c Caller) ([]Profile, error) {
	if err := adminOnly(c); err != nil {
		return nil, err
	}
	rows, err := s.DB.Query(ctx, `SELECT `+profileColumns+` FROM portal_profiles WHERE account_id = ? ORDER BY name_key, id`, c.AccountID)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	var out []Profile
	for rows.Next() {
		p, err := scanProfile(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, *p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if out[i].Keys, err = profileKeys(ctx, s.DB, c.AccountID, out[i].ID); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Profile returns one profile (account admins only).
func (s *Service) Profile(ctx context.Context, c Caller, id string) (*Profile, error) {
	if err := adminOnly(c); err != nil {
		return nil, err
	}
	p, err := getProfile(ctx, s.DB, c.AccountID, id)
	if err != nil {
		return nil, err
	}
	p.Keys, err = profileKeys(ctx, s.DB, c.AccountID, id)
	return p, err
}

func profileAudit(in ProfileInput) map[string]any {
	pl := func(p Payload) map[string]any {
		return map[string]any{"enabled": p.Enabled, "name": p.Name, "description": p.Description, "url": p.URL, "sha256": p.SHA256}
	}
	return map[string]any{"name": in.Name, "vm_intel": pl(in.Intel), "vm_apple_silicon": pl(in.AppleSilicon),
		"product_updates": map[string]any{"enabled": in.UpdatesEnabled, "allow_major": in.UpdatesAllowMajor}}
}

func (p *Profile) input() ProfileInput {
	return ProfileInput{Name: p.Name, Intel: p.Intel, AppleSilicon: p.AppleSilicon, UpdatesEnabled: p.UpdatesEnabled, UpdatesAllowMajor: p.UpdatesAllowMajor}
}

// SaveProfile creates (id == "") or changes a profile.
func (s *Service) SaveProfile(ctx context.Context, c Caller, id string, in ProfileInput, actor audit.Actor) (*Profile, error) {
	if err := adminOnly(c); err != nil {
		return nil, err
	}
	in, err := in.validate()
	if err != nil {
		return nil, err
	}
	now := store.At(s.now())
	nameTaken := false
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		args := []any{in.Name, nameKey(in.Name), in.Intel.Enabled, in.Intel.Name, in.Intel.Description, in.Intel.URL, in.Intel.SHA256,
			in.AppleSilicon.Enabled, in.AppleSilicon.Name, in.AppleSilicon.Description, in.AppleSilicon.URL, in.AppleSilicon.SHA256,
			in.UpdatesEnabled, in.UpdatesAllowMajor}
		e := audit.Entry{AccountID: c.AccountID, TargetType: "profile", TargetLabel: in.Name, After: profileAudit(in)}
		var err error
		if id == "" {
			id = ids.New()
			_, err = tx.Exec(ctx, `INSERT INTO portal_profiles (name, name_key, intel_enabled, intel_name, intel_description, intel_url, intel_sha256,
				arm_enabled, arm_name, arm_description, arm_url, arm_sha256, updates_enabled, updates_allow_major, id, account_id, created_at, updated_at)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, append(args, id, c.AccountID, now, now)...)
			e.Action = "portal.profile_created"
		} else {
			old, gerr := getProfile(ctx, tx, c.AccountID, id)
			if gerr != nil {
				return gerr
			}
			_, err = tx.Exec(ctx, `UPDATE portal_profiles SET name = ?, name_key = ?, intel_enabled = ?, intel_name = ?, intel_description = ?, intel_url = ?, intel_sha256 = ?,
				arm_enabled = ?, arm_name = ?, arm_description = ?, arm_url = ?, arm_sha256 = ?, updates_enabled = ?, updates_allow_major = ?, updated_at = ?
				WHERE id = ? AND account_id = ?`, append(args, now, id, c.AccountID)...)
			e.Action, e.Before = "portal.profile_updated", profileAudit(old.input())
		}
		if store.IsUniqueViolation(err) {
			nameTaken = true
			return err
		} else if err != nil {
			return fmt.Errorf("save profile: %w", err)
		}
		e.TargetID = id
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, e)
	})
	if nameTaken {
		return nil, fieldErr("name", "Another profile is already called %q; choose another name.", in.Name)
	}
	if err != nil {
		return nil, err
	}
	return s.Profile(ctx, c, id)
}

// DeleteProfile deletes a profile; its keys fall back to Default.
func (s *Service) DeleteProfile(ctx context.Context, c Caller, id string, actor audit.Actor) error {
	if err := adminOnly(c); err != nil {
		return err
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		p, err := getProfile(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		keys, err := profileKeys(ctx, tx, c.AccountID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_profile_keys WHERE profile_id = ? AND account_id = ?`, id, c.AccountID); err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM portal_profiles WHERE id = ? AND account_id = ?`, id, c.AccountID); err != nil {
			return fmt.Errorf("delete profile: %w", err)
		}
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.profile_deleted",
			TargetType: "profile", TargetID: id, TargetLabel: p.Name, Before: profileAudit(p.input()), After: map[string]any{"keys_back_to_default": keys}})
	})
}

// ApplyProfile applies a profile ("" = the built-in Default) to a key.
// Applying it to a primary key also sets it on every existing sublicense
// of that subscription that has no profile of its own yet; sublicenses
// already set keep theirs, whatever the primary key gets later. It
// returns how many sublicenses it set.
func (s *Service) ApplyProfile(ctx context.Context, c Caller, keyID, profileID string, actor audit.Actor) (int, error) {
	if err := adminOnly(c); err != nil {
		return 0, err
	}
	propagated := 0
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		groups, err := s.groupsByID(ctx, tx, c.AccountID)
		if err != nil {
			return err
		}
		g, ok := groups[keyID]
		if !ok {
			return ErrNotFound
		}
		name := DefaultProfileName
		if profileID != "" {
			p, err := getProfile(ctx, tx, c.AccountID, profileID)
			if err == ErrNotFound {
				return fieldErr("profile", "That profile does not exist (any more).")
			} else if err != nil {
				return err
			}
			name = p.Name
		}
		now := store.At(s.now())
		if profileID == "" {
			_, err = tx.Exec(ctx, `DELETE FROM portal_profile_keys WHERE key_id = ? AND account_id = ?`, keyID, c.AccountID)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO portal_profile_keys (key_id, account_id, profile_id, created_at) VALUES (?,?,?,?)
				ON CONFLICT (key_id) DO UPDATE SET profile_id = excluded.profile_id, created_at = excluded.created_at`, keyID, c.AccountID, profileID, now)
		}
		if err != nil {
			return fmt.Errorf("apply profile: %w", err)
		}
		var set []string
		if g.Primary() && profileID != "" {
			for id, sub := range groups {
				if sub.SubscriptionID != g.SubscriptionID || sub.Primary() || sub.ProfileID != "" {
					continue
				}
				if _, err := tx.Exec(ctx, `INSERT INTO portal_profile_keys (key_id, account_id, profile_id, created_at) VALUES (?,?,?,?)`,
					id, c.AccountID, profileID, now); err != nil {
					return fmt.Errorf("apply profile to sublicense: %w", err)
				}
				set = append(set, id)
			}
		}
		propagated = len(set)
		if err := s.changed(ctx, tx, c.AccountID); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: c.AccountID, Action: "portal.profile_applied",
			TargetType: "license_key", TargetID: keyID, TargetLabel: g.Label(),
			Before: map[string]any{"profile": g.ProfileName}, After: map[string]any{"profile": name, "profile_id": profileID, "sublicenses_set": set}})
	})
	return propagated, err
}
