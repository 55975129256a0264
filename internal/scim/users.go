package scim

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"

	"gatehouse/internal/account"
	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
)

// maxUpdateAttempts bounds the optimistic-concurrency retries of an update
// (two IdP requests changing the same resource at once on PostgreSQL).
const maxUpdateAttempts = 5

var errConcurrent = errors.New("resource changed concurrently")

// userNameKey is the column userName is unique and found by: the account
// package's IdentityKey (the canonical address when it is an address,
// otherwise the name lower-cased in ASCII only). Unicode case folding is
// never used for it: "ſam@corp.example" is not "sam@corp.example". A
// userName it refuses (a display-name form, a comment, a quoted local
// part, whitespace or control characters) is a 400.
func userNameKey(userName string) (string, error) {
	key, err := account.IdentityKey(userName)
	if err != nil {
		return "", badRequest(ErrInvalidValue, "userName %q is not accepted: %s", userName, err.Error())
	}
	return key, nil
}

// checkEmails holds every emails[].value to the canonical address rules
// (an IdP that sends "Ann <ann@corp.example>" or "ann@corp.example." is
// told so instead of Gatehouse storing a second spelling).
func checkEmails(data map[string]any) error {
	list, _ := data["emails"].([]any)
	for i, e := range list {
		m, _ := e.(map[string]any)
		v, ok := m["value"].(string)
		if !ok {
			continue
		}
		if _, err := account.CanonicalEmail(v); err != nil {
			return badRequest(ErrInvalidValue, "emails[%d].value %q is not accepted: %s", i, v, err.Error())
		}
	}
	return nil
}

// userColumns derives the indexed columns from a canonical user.
func userColumns(data map[string]any) (userName, externalID, displayName string, active bool) {
	userName, _ = data["userName"].(string)
	externalID, _ = data["externalId"].(string)
	displayName, _ = data["displayName"].(string)
	active = true
	if b, ok := data["active"].(bool); ok {
		active = b
	}
	return
}

// prepareUser validates a canonical user and fills defaults.
func prepareUser(data map[string]any) error {
	if err := checkRequired(userType, data); err != nil {
		return err
	}
	if _, ok := data["active"]; !ok {
		data["active"] = true // an unassigned "active" means active
	}
	return nil
}

func (s *Service) createUser(ctx context.Context, accountID string, actor audit.Actor, body map[string]any) (*record, error) {
	if err := checkSchemas(userType, body); err != nil {
		return nil, err
	}
	data, err := normalizeResource(userType, body)
	if err != nil {
		return nil, err
	}
	if err := prepareUser(data); err != nil {
		return nil, err
	}
	now := store.At(s.now())
	rec := &record{id: ids.New(), data: data, created: now.Time, modified: now.Time, version: 1}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := insertUser(ctx, tx, accountID, rec); err != nil {
			return err
		}
		u := rec.user()
		if err := audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: "scim.user_created",
			TargetType: "scim_user", TargetID: rec.id, TargetLabel: u.UserName,
			After: data,
		}); err != nil {
			return err
		}
		return s.hooks().UserChanged(ctx, tx, accountID, u)
	})
	if err != nil {
		return nil, err
	}
	return rec, nil
}

func insertUser(ctx context.Context, tx *store.Tx, accountID string, rec *record) error {
	js, err := encodeData(rec.data)
	if err != nil {
		return err
	}
	userName, externalID, displayName, active := userColumns(rec.data)
	key, err := userNameKey(userName)
	if err != nil {
		return err
	}
	if err := checkEmails(rec.data); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO scim_users (id, account_id, user_name, user_name_norm, external_id,
		display_name, display_name_norm, active, data, created, last_modified, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.id, accountID, userName, key, nullable(externalID), displayName, fold(displayName), active,
		js, store.At(rec.created), store.At(rec.modified), rec.version)
	if store.IsUniqueViolation(err) {
		return errf(http.StatusConflict, ErrUniqueness, "userName %q is already taken in this account", userName)
	}
	return err
}

func (s *Service) getUser(ctx context.Context, accountID, id string) (*record, error) {
	if !ids.Valid(id) {
		return nil, errNotFound
	}
	r, err := loadRecord(ctx, s.DB, usersTable, accountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound
	}
	return r, err
}

// updateUser runs change on the current user and writes the result: the
// common path of PUT and PATCH.
func (s *Service) updateUser(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string,
	change func(cur *record) (map[string]any, error)) (*record, error) {
	return s.updateRecord(ctx, usersTable, accountID, id, ifMatch, func(tx *store.Tx, cur *record) (*record, error) {
		data, err := change(cur)
		if err != nil {
			return nil, err
		}
		if err := prepareUser(data); err != nil {
			return nil, err
		}
		if valueEqual(nil, data, cur.data) {
			return cur, nil // nothing changed: no write, no new version
		}
		now := store.At(s.now())
		next := &record{id: id, data: data, created: cur.created, modified: now.Time, version: cur.version + 1}
		if err := writeUser(ctx, tx, accountID, next, cur.version); err != nil {
			return nil, err
		}
		before, after := diffTop(cur.data, data)
		old, neu := cur.user(), next.user()
		action := "scim.user_updated"
		switch {
		case old.Active && !neu.Active:
			action = "scim.user_deactivated"
		case !old.Active && neu.Active:
			action = "scim.user_reactivated"
		}
		if err := audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: action,
			TargetType: "scim_user", TargetID: id, TargetLabel: neu.UserName,
			Before: before, After: after,
		}); err != nil {
			return nil, err
		}
		if err := s.hooks().UserChanged(ctx, tx, accountID, neu); err != nil {
			return nil, err
		}
		if old.Active && !neu.Active {
			if err := s.hooks().UserDeactivated(ctx, tx, accountID, neu); err != nil {
				return nil, err
			}
		}
		return next, nil
	})
}

// updateRecord is the optimistic update shared by users and groups: inside a
// transaction it loads the resource, checks If-Match, and lets change write
// the new version (or return cur when nothing changed). A concurrent writer
// (errConcurrent from the conditional UPDATE) makes it start over, a few
// times, before answering 409.
func (s *Service) updateRecord(ctx context.Context, t *table, accountID, id, ifMatch string,
	change func(tx *store.Tx, cur *record) (*record, error)) (*record, error) {
	if !ids.Valid(id) {
		return nil, errNotFound
	}
	for attempt := 0; ; attempt++ {
		var out *record
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			cur, err := loadForChange(ctx, tx, t, accountID, id, ifMatch)
			if err != nil {
				return err
			}
			out, err = change(tx, cur)
			return err
		})
		if errors.Is(err, errConcurrent) && attempt < maxUpdateAttempts {
			continue
		}
		if errors.Is(err, errConcurrent) {
			return nil, errf(http.StatusConflict, "", "the resource is being changed concurrently; retry")
		}
		return out, err
	}
}

// loadForChange loads a resource about to be changed or deleted and checks
// the request's If-Match against its version.
func loadForChange(ctx context.Context, tx *store.Tx, t *table, accountID, id, ifMatch string) (*record, error) {
	cur, err := loadRecord(ctx, tx, t, accountID, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	if !matchesETag(ifMatch, cur.version) {
		return nil, errf(http.StatusPreconditionFailed, "", "the resource is at version %s, not %s", etag(cur.version), ifMatch)
	}
	return cur, nil
}

// writeUser updates the row if it is still at version prev.
func writeUser(ctx context.Context, tx *store.Tx, accountID string, rec *record, prev int64) error {
	js, err := encodeData(rec.data)
	if err != nil {
		return err
	}
	userName, externalID, displayName, active := userColumns(rec.data)
	key, err := userNameKey(userName)
	if err != nil {
		return err
	}
	if err := checkEmails(rec.data); err != nil {
		return err
	}
	res, err := tx.Exec(ctx, `UPDATE scim_users SET user_name = ?, user_name_norm = ?, external_id = ?,
		display_name = ?, display_name_norm = ?, active = ?, data = ?, last_modified = ?, version = ?
		WHERE account_id = ? AND id = ? AND version = ?`,
		userName, key, nullable(externalID), displayName, fold(displayName), active, js,
		store.At(rec.modified), rec.version, accountID, rec.id, prev)
	if store.IsUniqueViolation(err) {
		return errf(http.StatusConflict, ErrUniqueness, "userName %q is already taken in this account", userName)
	}
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return errConcurrent
	}
	return nil
}

func (s *Service) replaceUser(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string, body map[string]any) (*record, error) {
	if err := checkSchemas(userType, body); err != nil {
		return nil, err
	}
	data, err := normalizeResource(userType, body)
	if err != nil {
		return nil, err
	}
	return s.updateUser(ctx, accountID, actor, id, ifMatch, func(cur *record) (map[string]any, error) {
		return deepCopy(data).(map[string]any), nil
	})
}

func (s *Service) patchUser(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string, ops []patchOp) (*record, error) {
	return s.updateUser(ctx, accountID, actor, id, ifMatch, func(cur *record) (map[string]any, error) {
		p := &patcher{rt: userType, res: deepCopy(cur.data).(map[string]any)}
		for i, op := range ops {
			if err := p.apply(op); err != nil {
				if e, ok := asError(err); ok {
					return nil, &Error{Status: e.Status, ScimType: e.ScimType, Detail: fmt.Sprintf("Operations[%d]: %s", i, e.Detail)}
				}
				return nil, err
			}
		}
		return p.res, nil
	})
}

func (s *Service) deleteUser(ctx context.Context, accountID string, actor audit.Actor, id, ifMatch string) error {
	if !ids.Valid(id) {
		return errNotFound
	}
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		cur, err := loadForChange(ctx, tx, usersTable, accountID, id, ifMatch)
		if err != nil {
			return err
		}
		groups, err := groupsOfUsers(ctx, tx, accountID, []string{id})
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_users WHERE account_id = ? AND id = ?`, accountID, id); err != nil {
			return err
		}
		u := cur.user()
		if err := audit.Record(ctx, tx, actor, audit.Entry{
			AccountID: accountID, Action: "scim.user_deleted",
			TargetType: "scim_user", TargetID: id, TargetLabel: u.UserName,
			Before: cur.data,
		}); err != nil {
			return err
		}
		now := store.At(s.now())
		for _, g := range groups[id] {
			if _, err := tx.Exec(ctx, `UPDATE scim_groups SET version = version + 1, last_modified = ? WHERE account_id = ? AND id = ?`,
				now, accountID, g.id); err != nil {
				return err
			}
			if err := s.hooks().MembershipChanged(ctx, tx, accountID, g.id, nil, []string{id}); err != nil {
				return err
			}
		}
		return s.hooks().UserDeactivated(ctx, tx, accountID, u)
	})
}

// diffTop returns the top-level attributes that differ, before and after,
// for the audit log.
func diffTop(before, after map[string]any) (map[string]any, map[string]any) {
	b, a := map[string]any{}, map[string]any{}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		bv, bok := before[k]
		av, aok := after[k]
		if bok && aok && valueEqual(nil, bv, av) {
			continue
		}
		if bok {
			b[k] = bv
		}
		if aok {
			a[k] = av
		}
	}
	return b, a
}
