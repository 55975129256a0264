package updates

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"gatehouse/internal/audit"
	"gatehouse/internal/ids"
	"gatehouse/internal/store"
	"gatehouse/internal/updates/feed"
)

// Release states.
const (
	StateDraft     = "draft"
	StatePublished = "published"
	StateWithdrawn = "withdrawn"
)

// Release is one build of Desktop the operator manages.
type Release struct {
	ID                        string
	Major, Minor, Sub, SubSub int
	Build, Revision           int
	Locale, Vendor, Platform  string
	Codename, Name, Notes     string
	FileURL                   string // the file lives elsewhere
	BlobID                    string // or Gatehouse hosts it
	FileName                  string
	SHA256                    string
	Size                      int64
	ReleasedAt                store.Time
	State                     string
	PublishedAt               store.Time
	BusinessAt                store.Time // in the business channel from then
	WithdrawnAt               store.Time
	WithdrawReason            string
	CreatedAt, UpdatedAt      store.Time
}

// Hosted reports whether Gatehouse stores the release's file.
func (r *Release) Hosted() bool { return r.BlobID != "" }

// HasFile reports whether the release has a file to offer.
func (r *Release) HasFile() bool { return r.BlobID != "" || r.FileURL != "" }

// UUID is the release's feed uuid.
func (r *Release) UUID() string { return r.feedRelease("").UUID() }

// Version is 19.4.1 (sub-sub only when set).
func (r *Release) Version() string { return r.feedRelease("").Version() }

// Label names the release for people and audit entries.
func (r *Release) Label() string {
	return fmt.Sprintf("Desktop %s (build %d.%d) %s %s", r.Version(), r.Build, r.Revision, r.Locale, r.Platform)
}

// InChannel reports whether the release is offered on channel at now.
func (r *Release) InChannel(channel string, now time.Time) bool {
	if r.State != StatePublished {
		return false
	}
	if channel == ChannelEarly {
		return true
	}
	return !r.BusinessAt.IsZero() && !r.BusinessAt.After(now)
}

// Channels lists the channels offering the release at now.
func (r *Release) Channels(now time.Time) []string {
	var out []string
	for _, c := range []string{ChannelEarly, ChannelBusiness} {
		if r.InChannel(c, now) {
			out = append(out, c)
		}
	}
	return out
}

// feedRelease is the release as the feed writes it, with its file at fileURL.
func (r *Release) feedRelease(fileURL string) feed.Release {
	return feed.Release{Major: r.Major, Minor: r.Minor, Sub: r.Sub, SubSub: r.SubSub, Build: r.Build, Revision: r.Revision,
		Locale: r.Locale, Vendor: r.Vendor, Platform: r.Platform, Codename: r.Codename, Name: r.Name, Notes: r.Notes,
		FileURL: fileURL, Size: r.Size, ReleasedAt: r.ReleasedAt.Time}
}

// FileURLFor is where installations download the release from the vendor
// channels: its own URL, or Gatehouse's file route for hosted files.
func (s *Service) FileURLFor(r *Release) string {
	if r.FileURL != "" {
		return r.FileURL
	}
	return s.Config.PublicURL + "/updates/files/" + r.ID + "/" + url.PathEscape(r.FileName)
}

const releaseColumns = `id, major, minor, sub, subsub, build, revision, locale, vendor, platform, codename, name, notes,
	file_url, COALESCE(blob_id, ''), file_name, sha256, size_bytes, released_at, state, published_at, business_at,
	withdrawn_at, withdraw_reason, created_at, updated_at`

type scanner interface{ Scan(...any) error }

func scanRelease(row scanner) (*Release, error) {
	var r Release
	err := row.Scan(&r.ID, &r.Major, &r.Minor, &r.Sub, &r.SubSub, &r.Build, &r.Revision, &r.Locale, &r.Vendor, &r.Platform,
		&r.Codename, &r.Name, &r.Notes, &r.FileURL, &r.BlobID, &r.FileName, &r.SHA256, &r.Size, &r.ReleasedAt, &r.State,
		&r.PublishedAt, &r.BusinessAt, &r.WithdrawnAt, &r.WithdrawReason, &r.CreatedAt, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

func queryReleases(ctx context.Context, q store.Querier, where string, args ...any) ([]Release, error) {
	out, err := store.QueryAll(ctx, q, func(row store.Scanner) (Release, error) {
		r, err := scanRelease(row)
		if err != nil {
			return Release{}, err
		}
		return *r, nil
	}, `SELECT `+releaseColumns+` FROM update_releases `+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list releases: %w", err)
	}
	return out, nil
}

// ReleaseInput describes a new release. Numbers are pointers so that a
// missing one is told apart from 0.
type ReleaseInput struct {
	Major, Minor, Sub, SubSub *int
	Build, Revision           *int
	Locale, Vendor, Platform  string
	Codename, Name, Notes     string
	FileURL                   string
	FileName                  string
	SHA256                    string
	Size                      int64
	ReleasedAt                string // yyyy-mm-dd hh:mm:ss (UTC), yyyy-mm-dd or RFC 3339; default now
}

var (
	localeRe = regexp.MustCompile(`^[a-z]{2,3}(_[A-Z]{2})?$`)
	tokenRe  = regexp.MustCompile(`^[a-z0-9_]{1,32}$`)
	shaRe    = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

func numberField(field string, v *int, min, max int, required bool) (int, error) {
	if v == nil {
		if required {
			return 0, fieldErr(field, "%s is required.", field)
		}
		return 0, nil
	}
	if *v < min || *v > max {
		return 0, fieldErr(field, "%s must be a whole number from %d to %d.", field, min, max)
	}
	return *v, nil
}

// ParseReleaseTime reads a release date: "2006-01-02 15:04:05" (UTC, the
// feed's own format), "2006-01-02" or RFC 3339.
func ParseReleaseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{feed.DateTimeLayout, "2006-01-02 15:04", "2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date: write 2026-05-01 14:30:00 (UTC), 2026-05-01 or an RFC 3339 time", s)
}

func cleanText(field, s string, max int, multiline bool) (string, error) {
	s = strings.TrimSpace(s)
	if !utf8.ValidString(s) {
		return "", fieldErr(field, "%s must be UTF-8 text.", field)
	}
	if utf8.RuneCountInString(s) > max {
		return "", fieldErr(field, "%s may have at most %d characters.", field, max)
	}
	for _, r := range s {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t' || r == '\r')) {
			return "", fieldErr(field, "%s contains a control character.", field)
		}
	}
	return s, nil
}

// CheckFileURL accepts https URLs (http only to the local machine, for
// development) with a host.
func CheckFileURL(field, raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil {
		return "", fieldErr(field, "%s must be an https:// URL of the file.", field)
	}
	if u.Scheme == "http" && !isLoopback(u.Hostname()) {
		return "", fieldErr(field, "%s must use https:// (http:// is only accepted for this machine, for testing).", field)
	}
	return u.String(), nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

var fileNameRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._ ()+-]{0,150}$`)

func (in *ReleaseInput) normalize(now time.Time, hosted bool) (*Release, error) {
	r := &Release{}
	var err error
	if r.Major, err = numberField("major", in.Major, 1, 9999, true); err != nil {
		return nil, err
	}
	if r.Minor, err = numberField("minor", in.Minor, 0, 9999, true); err != nil {
		return nil, err
	}
	if r.Sub, err = numberField("sub", in.Sub, 0, 9999, false); err != nil {
		return nil, err
	}
	if r.SubSub, err = numberField("subsub", in.SubSub, 0, 9999, false); err != nil {
		return nil, err
	}
	if r.Build, err = numberField("build", in.Build, 1, 999999999, true); err != nil {
		return nil, err
	}
	if r.Revision, err = numberField("revision", in.Revision, 0, 999999999, false); err != nil {
		return nil, err
	}
	r.Locale = firstNonEmpty(strings.TrimSpace(in.Locale), "en_US")
	if !localeRe.MatchString(r.Locale) {
		return nil, fieldErr("locale", "locale must look like en_US or de_DE.")
	}
	r.Vendor = firstNonEmpty(strings.TrimSpace(in.Vendor), "parallels")
	if !tokenRe.MatchString(r.Vendor) {
		return nil, fieldErr("vendor", "vendor must be lower-case letters, digits or _ (it is part of the update's uuid), e.g. parallels.")
	}
	r.Platform = firstNonEmpty(strings.TrimSpace(in.Platform), "mac")
	if !tokenRe.MatchString(r.Platform) {
		return nil, fieldErr("platform", "platform must be lower-case letters, digits or _, e.g. mac.")
	}
	if r.Codename, err = cleanText("codename", in.Codename, 64, false); err != nil {
		return nil, err
	}
	if r.Name, err = cleanText("name", in.Name, 200, false); err != nil {
		return nil, err
	}
	if r.Notes, err = cleanText("notes", in.Notes, 20000, true); err != nil {
		return nil, err
	}
	r.ReleasedAt = store.At(now)
	if strings.TrimSpace(in.ReleasedAt) != "" {
		t, err := ParseReleaseTime(in.ReleasedAt)
		if err != nil {
			return nil, fieldErr("released_at", "%s", err.Error())
		}
		r.ReleasedAt = store.At(t.Truncate(time.Second))
	}
	r.SHA256 = strings.ToLower(strings.TrimSpace(in.SHA256))
	if r.SHA256 != "" && !shaRe.MatchString(r.SHA256) {
		return nil, fieldErr("sha256", "sha256 must be 64 hexadecimal characters.")
	}
	if in.Size < 0 {
		return nil, fieldErr("size", "size must be a positive number of bytes.")
	}
	r.Size = in.Size
	switch {
	case hosted && strings.TrimSpace(in.FileURL) != "":
		return nil, fieldErr("file_url", "Give either a file URL or a file to upload, not both.")
	case hosted:
		r.FileName = strings.TrimSpace(in.FileName)
		if r.FileName == "" {
			r.FileName = fmt.Sprintf("Desktop-%s-%d.dmg", r.feedRelease("").Version(), r.Build)
		}
		r.FileName = path.Base(strings.ReplaceAll(r.FileName, `\`, "/"))
		if !fileNameRe.MatchString(r.FileName) {
			return nil, fieldErr("file_name", "file name may use letters, digits, spaces and . _ ( ) + - (at most 150).")
		}
	case strings.TrimSpace(in.FileURL) != "":
		if r.FileURL, err = CheckFileURL("file_url", in.FileURL); err != nil {
			return nil, err
		}
		if r.SHA256 == "" {
			return nil, fieldErr("sha256", "A release whose file lives elsewhere needs its sha256 (Gatehouse and local update servers verify downloads with it).")
		}
		if r.Size == 0 {
			return nil, fieldErr("size", "A release whose file lives elsewhere needs its size in bytes (the feed states it).")
		}
	}
	return r, nil
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}

func releaseAudit(r *Release) map[string]any {
	m := map[string]any{"uuid": r.UUID(), "version": r.Version(), "state": r.State, "sha256": r.SHA256, "size": r.Size}
	if r.FileURL != "" {
		m["file_url"] = r.FileURL
	}
	if !r.BusinessAt.IsZero() {
		m["business_at"] = r.BusinessAt.UTC().Format(time.RFC3339)
	}
	return m
}

// AddRelease records a draft release whose file lives at in.FileURL (or
// has none yet; UploadFile adds one). With file != nil the file is stored
// first and the release points at it.
func (s *Service) AddRelease(ctx context.Context, in ReleaseInput, file io.Reader, actor audit.Actor) (*Release, error) {
	now := s.now()
	r, err := in.normalize(now, file != nil)
	if err != nil {
		return nil, err
	}
	if file != nil {
		blob, err := s.storeBlob(ctx, file, r.SHA256, r.Size)
		if err != nil {
			return nil, s.fileError(err)
		}
		r.BlobID, r.SHA256, r.Size = blob.ID, blob.SHA256, blob.Size
	}
	r.ID, r.State, r.CreatedAt, r.UpdatedAt = ids.New(), StateDraft, store.At(now), store.At(now)
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		var blob any
		if r.BlobID != "" {
			blob = r.BlobID
		}
		_, err := tx.Exec(ctx, `INSERT INTO update_releases (id, major, minor, sub, subsub, build, revision, locale, vendor, platform,
			codename, name, notes, file_url, blob_id, file_name, sha256, size_bytes, released_at, state, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.Major, r.Minor, r.Sub, r.SubSub, r.Build, r.Revision, r.Locale, r.Vendor, r.Platform, r.Codename, r.Name, r.Notes,
			r.FileURL, blob, r.FileName, r.SHA256, r.Size, r.ReleasedAt, r.State, r.CreatedAt, r.UpdatedAt)
		if store.IsUniqueViolation(err) {
			return fieldErr("build", "A release %s already exists (same version, build, revision, locale, vendor and platform).", r.UUID())
		}
		if err != nil {
			return fmt.Errorf("add release: %w", err)
		}
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "update.release_added", TargetType: "release", TargetID: r.ID,
			TargetLabel: r.Label(), After: releaseAudit(r)})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// fileError turns a storage failure caused by the file itself into a
// FieldError; other errors pass through.
func (s *Service) fileError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	switch {
	case errors.Is(err, ErrChecksum),
		strings.Contains(msg, "larger than"), strings.Contains(msg, "declared"), strings.Contains(msg, "is empty"):
		return fieldErr("file", "%s", msg)
	}
	return err
}

// UploadFile stores the file of a draft release that has none (or replaces
// the one of a draft); a published release's file never changes.
func (s *Service) UploadFile(ctx context.Context, ref string, fileName string, file io.Reader, actor audit.Actor) (*Release, error) {
	r, err := s.Release(ctx, ref)
	if err != nil {
		return nil, err
	}
	if r.State != StateDraft {
		return nil, fieldErr("file", "The release is %s: its file can no longer change. Add a new build instead.", r.State)
	}
	if r.FileURL != "" {
		return nil, fieldErr("file", "The release's file lives at %s; a release has either a URL or a hosted file.", r.FileURL)
	}
	name := strings.TrimSpace(fileName)
	if name == "" {
		name = r.FileName
	}
	name = path.Base(strings.ReplaceAll(name, `\`, "/"))
	if name == "" || name == "." || !fileNameRe.MatchString(name) {
		name = fmt.Sprintf("Desktop-%s-%d.dmg", r.Version(), r.Build)
	}
	blob, err := s.storeBlob(ctx, file, "", 0)
	if err != nil {
		return nil, s.fileError(err)
	}
	now := s.now()
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE update_releases SET blob_id = ?, file_name = ?, sha256 = ?, size_bytes = ?, updated_at = ?
			WHERE id = ? AND state = ?`, blob.ID, name, blob.SHA256, blob.Size, store.At(now), r.ID, StateDraft)
		if err != nil {
			return fmt.Errorf("attach file: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return fieldErr("file", "The release was published meanwhile: its file can no longer change.")
		}
		r.BlobID, r.FileName, r.SHA256, r.Size, r.UpdatedAt = blob.ID, name, blob.SHA256, blob.Size, store.At(now)
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "update.release_file_uploaded", TargetType: "release", TargetID: r.ID,
			TargetLabel: r.Label(), After: map[string]any{"file_name": name, "sha256": blob.SHA256, "size": blob.Size}})
	})
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Release finds a release by id or by its feed uuid.
func (s *Service) Release(ctx context.Context, ref string) (*Release, error) {
	ref = strings.TrimSpace(ref)
	var row *sql.Row
	switch {
	case ids.Valid(ref):
		row = s.DB.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, ref)
	case strings.HasPrefix(ref, "desktop."):
		p := strings.Split(ref, ".")
		if len(p) != 8 {
			return nil, ErrNotFound
		}
		n := make([]int, 4)
		for i := range n {
			v, err := strconv.Atoi(p[i+1])
			if err != nil {
				return nil, ErrNotFound
			}
			n[i] = v
		}
		row = s.DB.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE major = ? AND minor = ? AND build = ? AND revision = ?
			AND locale = ? AND vendor = ? AND platform = ?`, n[0], n[1], n[2], n[3], p[5], p[6], p[7])
	default:
		return nil, ErrNotFound
	}
	r, err := scanRelease(row)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return r, nil
}

// ReleaseFilter narrows ListReleases.
type ReleaseFilter struct {
	State   string // draft, published, withdrawn or "" for all
	Channel string // only releases offered on this channel now
	Limit   int
}

// ListReleases returns releases, newest version first.
func (s *Service) ListReleases(ctx context.Context, f ReleaseFilter) ([]Release, error) {
	where, args := "WHERE 1 = 1", []any{}
	if f.State != "" {
		where += " AND state = ?"
		args = append(args, f.State)
	}
	switch f.Channel {
	case "":
	case ChannelEarly:
		where += " AND state = ?"
		args = append(args, StatePublished)
	case ChannelBusiness:
		where += " AND state = ? AND business_at IS NOT NULL AND business_at <= ?"
		args = append(args, StatePublished, store.At(s.now()))
	default:
		return nil, fieldErr("channel", "channel must be business or early.")
	}
	limit := f.Limit
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	return queryReleases(ctx, s.DB, where+fmt.Sprintf(` ORDER BY major DESC, minor DESC, sub DESC, subsub DESC, build DESC, revision DESC,
		locale, vendor, platform LIMIT %d`, limit), args...)
}

// Ancestry returns the uuids of the releases that precede r in its line
// (every release ever published, withdrawn ones included), newest first.
func (s *Service) Ancestry(ctx context.Context, r *Release) ([]string, error) {
	hist, err := s.history(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	return feed.Ancestors(r.feedRelease(""), hist), nil
}

func (s *Service) history(ctx context.Context, q store.Querier) ([]feed.Release, error) {
	rs, err := queryReleases(ctx, q, `WHERE published_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	out := make([]feed.Release, len(rs))
	for i := range rs {
		out[i] = rs[i].feedRelease("")
	}
	return out, nil
}

// PublishInput says where a release goes.
type PublishInput struct {
	// Channel is early (default: publish; the business channel follows
	// after BusinessAfter or the configured delay, or on promotion) or
	// business (publish if needed and promote now).
	Channel string
	// BusinessAfter overrides the configured delay for this release
	// (publishing to early only); nil keeps the configuration's.
	BusinessAfter *time.Duration
}

// Publish makes a draft release available on the early channel (and
// schedules or makes its business availability), or promotes a published
// release to the business channel now.
func (s *Service) Publish(ctx context.Context, ref string, in PublishInput, actor audit.Actor) (*Release, error) {
	channel := firstNonEmpty(strings.TrimSpace(in.Channel), ChannelEarly)
	if !ValidChannel(channel) {
		return nil, fieldErr("channel", "channel must be early or business.")
	}
	delay := s.Config.BusinessDelay
	if in.BusinessAfter != nil {
		if *in.BusinessAfter < 0 {
			return nil, fieldErr("business_after", "business_after must not be negative.")
		}
		delay = *in.BusinessAfter
	}
	now := s.now()
	var out *Release
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.releaseTx(ctx, tx, ref)
		if err != nil {
			return err
		}
		before := releaseAudit(r)
		action := "update.release_published"
		switch r.State {
		case StateWithdrawn:
			return fieldErr("state", "%s was withdrawn; a withdrawn release is not published again. Add a new build.", r.Label())
		case StateDraft:
			if !r.HasFile() {
				return fieldErr("file", "%s has no file yet: upload one or add the release with a file URL.", r.Label())
			}
			r.State, r.PublishedAt = StatePublished, store.At(now)
			switch {
			case channel == ChannelBusiness:
				r.BusinessAt = store.At(now)
			case delay > 0:
				r.BusinessAt = store.At(now.Add(delay))
			}
		case StatePublished:
			if channel != ChannelBusiness {
				return fieldErr("state", "%s is already published on the early channel; publish it to business to promote it.", r.Label())
			}
			if !r.BusinessAt.IsZero() && !r.BusinessAt.After(now) {
				return fieldErr("state", "%s is already on the business channel (since %s).", r.Label(), r.BusinessAt.UTC().Format(time.RFC3339))
			}
			r.BusinessAt = store.At(now)
			action = "update.release_promoted"
		}
		r.UpdatedAt = store.At(now)
		if _, err := tx.Exec(ctx, `UPDATE update_releases SET state = ?, published_at = ?, business_at = ?, updated_at = ? WHERE id = ?`,
			r.State, r.PublishedAt, r.BusinessAt, r.UpdatedAt, r.ID); err != nil {
			return fmt.Errorf("publish release: %w", err)
		}
		if err := bumpGeneration(ctx, tx, now); err != nil {
			return err
		}
		out = r
		return audit.Record(ctx, tx, actor, audit.Entry{Action: action, TargetType: "release", TargetID: r.ID, TargetLabel: r.Label(),
			Before: before, After: releaseAudit(r)})
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidate()
	return out, nil
}

// Withdraw takes a release off every channel (and every organisation's
// local feed). It stays an ancestor of later releases: installations may
// run it.
func (s *Service) Withdraw(ctx context.Context, ref, reason string, actor audit.Actor) (*Release, error) {
	reason, err := cleanText("reason", reason, 500, false)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out *Release
	err = s.DB.InTx(ctx, func(tx *store.Tx) error {
		r, err := s.releaseTx(ctx, tx, ref)
		if err != nil {
			return err
		}
		if r.State == StateWithdrawn {
			return fieldErr("state", "%s is already withdrawn.", r.Label())
		}
		before := releaseAudit(r)
		r.State, r.WithdrawnAt, r.WithdrawReason, r.UpdatedAt = StateWithdrawn, store.At(now), reason, store.At(now)
		if _, err := tx.Exec(ctx, `UPDATE update_releases SET state = ?, withdrawn_at = ?, withdraw_reason = ?, updated_at = ? WHERE id = ?`,
			r.State, r.WithdrawnAt, r.WithdrawReason, r.UpdatedAt, r.ID); err != nil {
			return fmt.Errorf("withdraw release: %w", err)
		}
		if err := bumpGeneration(ctx, tx, now); err != nil {
			return err
		}
		out = r
		after := releaseAudit(r)
		after["reason"] = reason
		return audit.Record(ctx, tx, actor, audit.Entry{Action: "update.release_withdrawn", TargetType: "release", TargetID: r.ID,
			TargetLabel: r.Label(), Before: before, After: after})
	})
	if err != nil {
		return nil, err
	}
	s.cache.invalidate()
	return out, nil
}

func (s *Service) releaseTx(ctx context.Context, tx *store.Tx, ref string) (*Release, error) {
	r, err := s.Release(ctx, ref)
	if err != nil {
		return nil, err
	}
	// Re-read inside the transaction so the state checks see the truth.
	return scanReleaseNotFound(tx.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, r.ID))
}

func scanReleaseNotFound(row scanner) (*Release, error) {
	r, err := scanRelease(row)
	if err != nil {
		return nil, store.NotFound(err)
	}
	return r, nil
}

// ReleaseFile opens the hosted file of a release offered on some channel
// (drafts and withdrawn releases are not served).
func (s *Service) ReleaseFile(ctx context.Context, releaseID, name string) (*Release, *BlobReader, error) {
	if !ids.Valid(releaseID) {
		return nil, nil, ErrNotFound
	}
	r, err := scanReleaseNotFound(s.DB.QueryRow(ctx, `SELECT `+releaseColumns+` FROM update_releases WHERE id = ?`, releaseID))
	if err != nil {
		return nil, nil, err
	}
	if r.State != StatePublished || !r.Hosted() || r.FileName != name {
		return nil, nil, ErrNotFound
	}
	b, err := blobByID(ctx, s.DB, r.BlobID)
	if err != nil {
		return nil, nil, err
	}
	return r, s.openBlob(ctx, b), nil
}

// CurrentInstaller returns the newest release offered on channel, in the
// first of the visitor's locales it exists in (a language alone matches
// any of its regions), else en_US, else any; nil when the channel offers
// none. Only the mac platform has installers.
func (s *Service) CurrentInstaller(ctx context.Context, channel string, locales []string) (*Release, error) {
	if !ValidChannel(channel) {
		return nil, fieldErr("channel", "channel must be business or early.")
	}
	rs, err := s.ListReleases(ctx, ReleaseFilter{Channel: channel})
	if err != nil {
		return nil, err
	}
	var mac []Release
	for _, r := range rs {
		if r.Platform == "mac" {
			mac = append(mac, r)
		}
	}
	if len(mac) == 0 {
		return nil, nil
	}
	// rs is newest first, so the first match of a preference is the newest.
	for _, want := range append(locales, "en_US") {
		for i := range mac {
			l := mac[i].Locale
			if strings.EqualFold(l, want) || (!strings.Contains(want, "_") && strings.HasPrefix(strings.ToLower(l), strings.ToLower(want)+"_")) {
				return &mac[i], nil
			}
		}
	}
	return &mac[0], nil
}
