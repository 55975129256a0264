package updates

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/jobs"
	"gatehouse/internal/store"
)

// Mirror states.
const (
	MirrorPending = "pending"
	MirrorReady   = "ready"
	MirrorFailed  = "failed"
)

// Mirror is a release an organisation serves from its local update server.
type Mirror struct {
	Release     Release
	State       string
	Error       string
	Attempts    int
	NextAttempt store.Time
	CreatedAt   store.Time
	ReadyAt     store.Time
}

// MirrorCandidate is a release the organisation may mirror, with its
// mirror state ("" when not mirrored).
type MirrorCandidate struct {
	Release     Release
	MirrorState string
}

// MirrorCandidates lists the releases offered on the account's channel now,
// newest first, and which of them it mirrors.
func (s *Service) MirrorCandidates(ctx context.Context, accountID string) ([]MirrorCandidate, error) {
	st, err := s.Settings(ctx, accountID)
	if err != nil {
		return nil, err
	}
	rs, err := s.ListReleases(ctx, ReleaseFilter{Channel: st.Channel})
	if err != nil {
		return nil, err
	}
	mirrors, err := s.Mirrors(ctx, accountID)
	if err != nil {
		return nil, err
	}
	state := map[string]string{}
	for _, m := range mirrors {
		state[m.Release.ID] = m.State
	}
	out := make([]MirrorCandidate, len(rs))
	for i := range rs {
		out[i] = MirrorCandidate{Release: rs[i], MirrorState: state[rs[i].ID]}
	}
	return out, nil
}

// Mirrors lists the account's mirrored releases, newest version first.
func (s *Service) Mirrors(ctx context.Context, accountID string) ([]Mirror, error) {
	out, err := store.QueryAll(ctx, s.DB, func(row store.Scanner) (Mirror, error) {
		var m Mirror
		var r Release
		if err := row.Scan(&m.State, &m.Error, &m.Attempts, &m.NextAttempt, &m.CreatedAt, &m.ReadyAt,
			&r.ID, &r.Major, &r.Minor, &r.Sub, &r.SubSub, &r.Build, &r.Revision, &r.Locale, &r.Vendor, &r.Platform,
			&r.Codename, &r.Name, &r.Notes, &r.FileURL, &r.BlobID, &r.FileName, &r.SHA256, &r.Size, &r.ReleasedAt, &r.State,
			&r.PublishedAt, &r.BusinessAt, &r.WithdrawnAt, &r.WithdrawReason, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return m, err
		}
		m.Release = r
		return m, nil
	}, `SELECT m.state, m.error, m.attempts, m.next_attempt_at, m.created_at, m.ready_at, r.`+
		prefixed("r.", releaseColumns)+` FROM update_mirrors m JOIN update_releases r ON r.id = m.release_id
		WHERE m.account_id = ? ORDER BY r.major DESC, r.minor DESC, r.sub DESC, r.subsub DESC, r.build DESC, r.revision DESC, r.locale`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list mirrors: %w", err)
	}
	return out, nil
}

// prefixed qualifies the columns of releaseColumns after the first one
// (which the caller writes with its prefix).
func prefixed(p, cols string) string {
	out := ""
	for i, c := range splitColumns(cols) {
		if i > 0 {
			out += ", "
			if len(c) > 9 && c[:9] == "COALESCE(" {
				out += "COALESCE(" + p + c[9:]
				continue
			}
			out += p
		}
		out += c
	}
	return out
}

func splitColumns(cols string) []string {
	var out []string
	depth, start := 0, 0
	for i, ch := range cols {
		switch ch {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, trimSpace(cols[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, trimSpace(cols[start:]))
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\n' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\n' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func bumpOrg(ctx context.Context, q store.Querier, accountID string, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE update_settings SET feed_generation = feed_generation + 1, feed_changed_at = ? WHERE account_id = ?`,
		store.At(now), accountID); err != nil {
		return fmt.Errorf("bump local feed: %w", err)
	}
	return nil
}

// AddMirror makes the account mirror a release offered on its channel.
// The file is fetched (or, when Gatehouse hosts it, verified) by the mirror
// job; the release joins the local feed once its SHA-256 checked out.
func (s *Service) AddMirror(ctx context.Context, accountID, releaseID string, actor audit.Actor) error {
	st, err := s.Settings(ctx, accountID)
	if err != nil {
		return err
	}
	if !ids.Valid(releaseID) {
		return ErrNotFound
	}
	now := s.now()
	return s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := scanReleaseNotFound(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, releaseID))
		if err != nil {
			return err
		}
		if !r.InChannel(st.Channel, now) {
			return fieldErr("release", "%s is not offered on your %s channel.", r.Label(), st.Channel)
		}
		res, err := tx.Exec(ctx, `INSERT INTO update_mirrors (account_id, release_id, state, next_attempt_at, created_at)
			VALUES (?, ?, ?, ?, ?) ON CONFLICT (account_id, release_id) DO NOTHING`,
			accountID, r.ID, MirrorPending, store.At(now), store.At(now))
		if err != nil {
			return fmt.Errorf("add mirror: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fieldErr("release", "%s is already mirrored.", r.Label())
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "update.mirror_added", TargetType: "release",
			TargetID: r.ID, TargetLabel: r.Label(), After: map[string]any{"uuid": r.UUID(), "sha256": r.SHA256}})
	})
}

// RemoveMirror stops mirroring a release; its stored copy is dropped by
// the next garbage collection unless something else uses it.
func (s *Service) RemoveMirror(ctx context.Context, accountID, releaseID string, actor audit.Actor) error {
	if !ids.Valid(releaseID) {
		return ErrNotFound
	}
	now := s.now()
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := scanReleaseNotFound(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, releaseID))
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM update_mirrors WHERE account_id = ? AND release_id = ?`, accountID, releaseID)
		if err != nil {
			return fmt.Errorf("remove mirror: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		if err := bumpOrg(ctx, tx, accountID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "update.mirror_removed", TargetType: "release",
			TargetID: r.ID, TargetLabel: r.Label()})
	})
	if err != nil {
		return err
	}
	s.cache.invalidate()
	return nil
}

// MirrorFile opens a mirrored file for an organisation's installations:
// the mirror is ready (stored, SHA-256 verified) and the release still
// published.
func (s *Service) MirrorFile(ctx context.Context, token, releaseID, name string) (*Release, *BlobReader, error) {
	if !validToken(token) || !ids.Valid(releaseID) {
		return nil, nil, ErrNotFound
	}
	var blobID string
	r, err := func() (*Release, error) {
		row := s.DB.QueryRow(ctx, `SELECT COALESCE(m.blob_id, ''), r.`+prefixed("r.", releaseColumns)+`
			FROM update_settings st JOIN update_mirrors m ON m.account_id = st.account_id JOIN update_releases r ON r.id = m.release_id
			WHERE st.feed_token = ? AND m.release_id = ? AND m.state = ? AND r.state = ?`, token, releaseID, MirrorReady, StatePublished)
		var r Release
		if err := row.Scan(&blobID, &r.ID, &r.Major, &r.Minor, &r.Sub, &r.SubSub, &r.Build, &r.Revision, &r.Locale, &r.Vendor, &r.Platform,
			&r.Codename, &r.Name, &r.Notes, &r.FileURL, &r.BlobID, &r.FileName, &r.SHA256, &r.Size, &r.ReleasedAt, &r.State,
			&r.PublishedAt, &r.BusinessAt, &r.WithdrawnAt, &r.WithdrawReason, &r.CreatedAt, &r.UpdatedAt); err != nil {
			return nil, store.NotFound(err)
		}
		return &r, nil
	}()
	if err != nil {
		return nil, nil, err
	}
	if r.DownloadName() != name || blobID == "" {
		return nil, nil, ErrNotFound
	}
	b, err := blobByID(ctx, s.DB, blobID)
	if err != nil {
		return nil, nil, err
	}
	if b.SHA256 != r.SHA256 {
		return nil, nil, fmt.Errorf("%w: mirror of %s holds %s", ErrChecksum, r.UUID(), b.SHA256)
	}
	return r, s.openBlob(ctx, b), nil
}

// MirrorJob fetches and verifies mirrored files and drops unused files.
func (s *Service) MirrorJob(interval time.Duration) jobs.Job {
	return jobs.Job{Name: "update-mirrors", Interval: interval, Run: func(ctx context.Context) error {
		if _, err := s.RunMirrors(ctx); err != nil {
			return err
		}
		_, err := s.collectGarbage(ctx)
		return err
	}}
}

// claimTime is how long a node owns a mirror it works on; a node that dies
// mid-download leaves it to be retried after that.
const claimTime = time.Hour

// RunMirrors processes the mirrors that are due (at most 10) and returns
// how many became ready.
func (s *Service) RunMirrors(ctx context.Context) (int, error) {
	now := s.now()
	rows, err := s.DB.Query(ctx, `SELECT account_id, release_id, next_attempt_at FROM update_mirrors
		WHERE state IN (?, ?) AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT 10`, MirrorPending, MirrorFailed, store.At(now))
	if err != nil {
		return 0, fmt.Errorf("due mirrors: %w", err)
	}
	type due struct {
		account, release string
		at               store.Time
	}
	var list []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.account, &d.release, &d.at); err != nil {
			rows.Close()
			return 0, err
		}
		list = append(list, d)
	}
	rows.Close()
	ready := 0
	for _, d := range list {
		// Claim it, so another node (after this job's lease ran out on a
		// long download) does not fetch the same file at the same time.
		res, err := s.DB.Exec(ctx, `UPDATE update_mirrors SET next_attempt_at = ? WHERE account_id = ? AND release_id = ? AND next_attempt_at = ?`,
			store.At(now.Add(claimTime)), d.account, d.release, d.at)
		if err != nil {
			return ready, fmt.Errorf("claim mirror: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			continue
		}
		ok, err := s.runMirror(ctx, d.account, d.release)
		if err != nil {
			return ready, err
		}
		if ok {
			ready++
		}
	}
	return ready, nil
}

// runMirror stores and verifies one mirrored file. Failures of the file
// (unreachable, wrong SHA-256) are recorded on the mirror and retried with
// back-off; only database errors are returned.
func (s *Service) runMirror(ctx context.Context, accountID, releaseID string) (bool, error) {
	r, err := scanReleaseNotFound(s.DB.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, releaseID))
	if err != nil {
		return false, err
	}
	blob, ferr := s.mirrorBlob(ctx, r)
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	now := s.now()
	actor := audit.System("update-mirrors")
	if ferr != nil {
		var attempts int
		var state string
		err := s.DB.InTx(ctx, func(tx *store.Tx) error {
			if err := tx.QueryRow(ctx, `SELECT attempts, state FROM update_mirrors WHERE account_id = ? AND release_id = ?`, accountID, releaseID).
				Scan(&attempts, &state); err != nil {
				return store.NotFound(err)
			}
			attempts++
			backoff := min(time.Minute<<min(attempts-1, 10), 6*time.Hour)
			if _, err := tx.Exec(ctx, `UPDATE update_mirrors SET state = ?, error = ?, attempts = ?, next_attempt_at = ? WHERE account_id = ? AND release_id = ?`,
				MirrorFailed, ferr.Error(), attempts, store.At(now.Add(backoff)), accountID, releaseID); err != nil {
				return fmt.Errorf("record mirror failure: %w", err)
			}
			if state == MirrorFailed {
				return nil // already reported
			}
			return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "update.mirror_failed", TargetType: "release",
				TargetID: r.ID, TargetLabel: r.Label(), After: map[string]any{"error": ferr.Error()}})
		})
		if errors.Is(err, store.ErrNotFound) {
			return false, nil // removed meanwhile
		}
		s.Config.Log.Warn("mirror failed", "account_id", accountID, "release", r.UUID(), "err", ferr)
		return false, err
	}
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE update_mirrors SET state = ?, blob_id = ?, error = '', ready_at = ? WHERE account_id = ? AND release_id = ?`,
			MirrorReady, blob.ID, store.At(now), accountID, releaseID)
		if err != nil {
			return fmt.Errorf("mirror ready: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if err := bumpOrg(ctx, tx, accountID, now); err != nil {
			return err
		}
		return audit.Record(ctx, tx, actor, audit.Entry{AccountID: accountID, Action: "update.mirror_ready", TargetType: "release",
			TargetID: r.ID, TargetLabel: r.Label(), After: map[string]any{"sha256": blob.SHA256, "size": blob.Size}})
	})
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	s.cache.invalidate()
	return true, nil
}

// mirrorBlob returns a stored, verified copy of the release's file: its
// hosted file, a copy another organisation already stored, or a new
// download checked against the release's SHA-256 and size.
func (s *Service) mirrorBlob(ctx context.Context, r *Release) (*Blob, error) {
	var b *Blob
	var err error
	switch {
	case r.BlobID != "":
		b, err = blobByID(ctx, s.DB, r.BlobID)
	default:
		b, err = completeBlobBySHA(ctx, s.DB, r.SHA256)
		if errors.Is(err, store.ErrNotFound) {
			if s.Config.Fetch == nil {
				return nil, errors.New("this node cannot download files (no fetcher configured)")
			}
			body, ferr := s.Config.Fetch(ctx, r.FileURL)
			if ferr != nil {
				return nil, ferr
			}
			defer body.Close()
			return s.storeBlob(ctx, body, r.SHA256, r.Size)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("stored file of %s: %w", r.UUID(), err)
	}
	if b.SHA256 != r.SHA256 {
		return nil, fmt.Errorf("%w: the stored file of %s has SHA-256 %s, the release says %s", ErrChecksum, r.UUID(), b.SHA256, r.SHA256)
	}
	if err := s.verifyBlob(ctx, b); err != nil {
		return nil, err
	}
	return b, nil
}
