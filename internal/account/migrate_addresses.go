package account

import (
	"context"
	"fmt"
	"sort"

	"gatehouse/internal/audit"
	"gatehouse/internal/store"
)

// UnusablePrefix starts the email_norm of a person whose stored address
// CanonicalEmail refuses (written before the one canonical function
// existed). CanonicalEmail never returns a space, so no address can ever
// match such a row; it stays unique with the person id after it.
const UnusablePrefix = "unusable "

func init() {
	store.RegisterDataMigration(store.DataMigration{Version: 3, Up: migrateAddresses})
}

type legacyPerson struct {
	id, email, norm string
	operator        bool
	hasPassword     bool
	createdAt       store.Time
	verifiedAt      store.Time
	newEmail        string
	newNorm         string
}

// migrateAddresses (foundation 00003) re-derives every stored address with
// CanonicalEmail and decides who counts as having proved their address:
//
//   - email_norm becomes CanonicalEmail(email). Where the stored text is not
//     a bare address (a display-name form the old parser took apart), the
//     address the old code used (its email_norm) is kept if it is one;
//     otherwise the person's address is unusable (nobody can sign in as, be
//     invited as or be linked to it) and an audit entry says so.
//   - Verified: operators, people without a password (created by an SSO
//     sign-in of a verified domain), and people who used a password reset
//     link or accepted a member invitation sent to their address. Everyone
//     else must confirm their address at their next sign-in; their sessions
//     end now.
//   - Pending member invitations get canonical addresses; one whose address
//     is refused is revoked.
func migrateAddresses(ctx context.Context, tx *store.Tx) error {
	now := store.Now()
	people, err := loadLegacyPeople(ctx, tx)
	if err != nil {
		return err
	}
	resets, err := maxTimeBy(ctx, tx, `SELECT person_id, MAX(used_at) FROM password_resets WHERE used_at IS NOT NULL GROUP BY person_id`)
	if err != nil {
		return err
	}
	accepted, err := maxTimeBy(ctx, tx, `SELECT email_norm, MAX(accepted_at) FROM member_invites WHERE accepted_at IS NOT NULL GROUP BY email_norm`)
	if err != nil {
		return err
	}
	owners := map[string][]*legacyPerson{}
	for _, p := range people {
		p.newEmail = p.email
		canon, err := FormEmail(p.email)
		if err != nil {
			if c2, err2 := CanonicalEmail(p.norm); err2 == nil {
				canon, p.newEmail = c2, p.norm
			} else {
				canon = UnusablePrefix + p.id
			}
		}
		p.newNorm = canon
		switch {
		case p.operator || !p.hasPassword:
			p.verifiedAt = p.createdAt
		case !resets[p.id].IsZero():
			p.verifiedAt = resets[p.id]
		case !accepted[p.norm].IsZero():
			p.verifiedAt = accepted[p.norm]
		}
		owners[canon] = append(owners[canon], p)
	}
	// Two old rows that meet in one canonical address (possible only through
	// the display-name fallback): the verified, then the older, keeps it.
	for _, group := range owners {
		if len(group) < 2 {
			continue
		}
		sort.SliceStable(group, func(i, j int) bool {
			if a, b := !group[i].verifiedAt.IsZero(), !group[j].verifiedAt.IsZero(); a != b {
				return a
			}
			return group[i].createdAt.Before(group[j].createdAt.Time)
		})
		for _, p := range group[1:] {
			p.newNorm = UnusablePrefix + p.id
		}
	}
	// Move changed rows out of the way first so that no intermediate state
	// trips the unique index.
	for _, p := range people {
		if p.newNorm != p.norm {
			if _, err := tx.Exec(ctx, `UPDATE people SET email_norm = ? WHERE id = ?`, "migrating "+p.id, p.id); err != nil {
				return fmt.Errorf("canonical addresses: %w", err)
			}
		}
	}
	actor := audit.System("address-migration")
	for _, p := range people {
		var verified any
		if !p.verifiedAt.IsZero() {
			verified = p.verifiedAt
		}
		if _, err := tx.Exec(ctx, `UPDATE people SET email = ?, email_norm = ?, email_verified_at = ? WHERE id = ?`,
			p.newEmail, p.newNorm, verified, p.id); err != nil {
			return fmt.Errorf("canonical addresses: %w", err)
		}
		if p.newNorm == p.norm && p.newEmail == p.email {
			continue
		}
		action := "person.address_canonicalized"
		if len(p.newNorm) > len(UnusablePrefix) && p.newNorm[:len(UnusablePrefix)] == UnusablePrefix {
			action = "person.address_unusable"
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{Action: action, TargetType: "person", TargetID: p.id, TargetLabel: p.email,
			Before: map[string]string{"email_norm": p.norm}, After: map[string]string{"email_norm": p.newNorm}}); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE person_id IN (SELECT id FROM people WHERE email_verified_at IS NULL)`); err != nil {
		return fmt.Errorf("canonical addresses: %w", err)
	}
	return migrateInviteAddresses(ctx, tx, now)
}

func loadLegacyPeople(ctx context.Context, tx *store.Tx) ([]*legacyPerson, error) {
	out, err := store.QueryAll(ctx, tx, func(row store.Scanner) (*legacyPerson, error) {
		p := &legacyPerson{}
		if err := row.Scan(&p.id, &p.email, &p.norm, &p.operator, &p.hasPassword, &p.createdAt); err != nil {
			return p, err
		}
		return p, nil
	}, `SELECT id, email, email_norm, is_operator, password_hash <> '', created_at FROM people ORDER BY created_at, id`)
	if err != nil {
		return nil, fmt.Errorf("canonical addresses: %w", err)
	}
	return out, nil
}

func maxTimeBy(ctx context.Context, tx *store.Tx, q string) (map[string]store.Time, error) {
	rows, err := tx.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("canonical addresses: %w", err)
	}
	defer rows.Close()
	out := map[string]store.Time{}
	for rows.Next() {
		var k string
		var t store.Time
		if err := rows.Scan(&k, &t); err != nil {
			return nil, fmt.Errorf("canonical addresses: %w", err)
		}
		out[k] = t
	}
	return out, rows.Err()
}

func migrateInviteAddresses(ctx context.Context, tx *store.Tx, now store.Time) error {
	rows, err := tx.Query(ctx, `SELECT id, email, email_norm FROM member_invites WHERE accepted_at IS NULL AND revoked_at IS NULL`)
	if err != nil {
		return fmt.Errorf("canonical invitation addresses: %w", err)
	}
	type inv struct{ id, email, norm string }
	var all []inv
	for rows.Next() {
		var i inv
		if err := rows.Scan(&i.id, &i.email, &i.norm); err != nil {
			rows.Close()
			return fmt.Errorf("canonical invitation addresses: %w", err)
		}
		all = append(all, i)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("canonical invitation addresses: %w", err)
	}
	for _, i := range all {
		canon, err := FormEmail(i.email)
		if err != nil {
			if _, err := tx.Exec(ctx, `UPDATE member_invites SET revoked_at = ? WHERE id = ?`, now, i.id); err != nil {
				return fmt.Errorf("canonical invitation addresses: %w", err)
			}
			continue
		}
		if canon != i.norm {
			if _, err := tx.Exec(ctx, `UPDATE member_invites SET email_norm = ? WHERE id = ?`, canon, i.id); err != nil {
				return fmt.Errorf("canonical invitation addresses: %w", err)
			}
		}
	}
	return nil
}
