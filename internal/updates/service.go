// Package updates is the update side of spec 06: the releases the operator
// publishes (early channel at once, business channel when promoted or after
// a delay), the files Gatehouse hosts for them, the channel feeds served
// from a cache, organisations' update settings and their local update
// server (releases they mirror, served from their own feed URL). The
// deploy.cfg linter/generator and the .mobileconfig writer live in the
// sub-packages deploycfg and mobileconfig; the XML itself in feed.
//
// Like every domain package it does not import net/http: transport packages
// call the Service and render.
package updates

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"gatehouse/internal/store"
	"gatehouse/internal/updates/feed"
)

// Channels.
const (
	ChannelBusiness = "business"
	ChannelEarly    = "early"
)

// ValidChannel reports whether c names a channel.
func ValidChannel(c string) bool { return c == ChannelBusiness || c == ChannelEarly }

// Config tunes the service.
type Config struct {
	// PublicURL is where installations reach Gatehouse (file URLs in feeds).
	PublicURL string
	// BusinessDelay, when positive, promotes a published release to the
	// business channel this long after publication unless the operator
	// promotes it earlier. Zero: only an explicit promotion does.
	BusinessDelay time.Duration
	// ProductName is the feed's ProductName (feed.DefaultProductName).
	ProductName string
	// MaxFileSize bounds uploaded and mirrored files (default 8 GiB).
	MaxFileSize int64
	// Recheck is how long a node serves a cached feed before it asks the
	// database whether releases changed on another node (default 1 s).
	// Changes made through this node are seen at once.
	Recheck time.Duration
	// Fetch downloads a release file for a mirror (package httpfetch has
	// the HTTP one the app wires in). Without it mirrors of releases whose
	// file lives elsewhere stay pending with a reason.
	Fetch Fetcher
	Log   *slog.Logger
	Now   func() time.Time
}

// Fetcher opens the body of a file URL; it fails for anything but a
// complete, successful answer.
type Fetcher func(ctx context.Context, url string) (io.ReadCloser, error)

// Service enforces the rules of releases, feeds, settings and mirrors.
type Service struct {
	DB     *store.DB
	Config Config
	// SettingsChanged runs inside the transaction that changes an
	// account's update settings (the app wires the fleet's settings bump,
	// so that installations get the change at their next check-in).
	SettingsChanged func(ctx context.Context, tx *store.Tx, accountID string) error
	cache           feedCache
}

// New returns the service.
func New(db *store.DB, cfg Config) *Service {
	cfg.PublicURL = strings.TrimRight(cfg.PublicURL, "/")
	if cfg.ProductName == "" {
		cfg.ProductName = feed.DefaultProductName
	}
	if cfg.MaxFileSize <= 0 {
		cfg.MaxFileSize = 8 << 30
	}
	if cfg.Recheck <= 0 {
		cfg.Recheck = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Service{DB: db, Config: cfg, cache: feedCache{entries: map[string]*feedEntry{}}}
}

func (s *Service) now() time.Time {
	if s.Config.Now != nil {
		return s.Config.Now().UTC().Truncate(time.Millisecond)
	}
	return time.Now().UTC().Truncate(time.Millisecond)
}

// FieldError is a validation problem a person must read, tied to a field.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Message: fmt.Sprintf(format, args...)}
}

// IsFieldError returns the validation error inside err.
func IsFieldError(err error) (*FieldError, bool) {
	var fe *FieldError
	ok := errors.As(err, &fe)
	return fe, ok
}

// ErrNotFound is returned for a missing release, mirror or file, and for
// one of another account.
var ErrNotFound = store.ErrNotFound

// ErrChecksum is returned when stored bytes do not have the SHA-256 they
// must have.
var ErrChecksum = errors.New("SHA-256 mismatch")

// bumpGeneration marks that what feeds may contain changed; every node's
// cache compares it before serving (see feedCache).
func bumpGeneration(ctx context.Context, q store.Querier, now time.Time) error {
	if _, err := q.Exec(ctx, `UPDATE update_feed_state SET generation = generation + 1, changed_at = ? WHERE id = 1`, store.At(now)); err != nil {
		return fmt.Errorf("bump feed generation: %w", err)
	}
	return nil
}
