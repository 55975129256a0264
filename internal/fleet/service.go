package fleet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"gatehouse/internal/license"
	"gatehouse/internal/store"
)

// Config tunes check-ins.
type Config struct {
	// MaxVMs is the most VMs one report may list.
	MaxVMs int
	// Interval is when an installation with nothing going on comes back
	// (spec 07: once a day); ChangedInterval after a report that changed
	// something; CommandInterval while commands wait for its result. Each
	// gets ±Jitter (a fraction) so that a fleet spreads out.
	Interval        time.Duration
	ChangedInterval time.Duration
	CommandInterval time.Duration
	Jitter          float64
	// CommandLease is how long a delivered command is not handed out again
	// (to any check-in of the installation) while its result is awaited.
	CommandLease time.Duration
	// LastSeenFlush is how often buffered last-seen times are written;
	// LastSeenBatch the most written in one statement.
	LastSeenFlush time.Duration
	LastSeenBatch int
	// Log receives flush failures (default: discarded).
	Log *slog.Logger
}

// DefaultConfig is what serve uses.
func DefaultConfig() Config {
	return Config{MaxVMs: 200, Interval: 24 * time.Hour, ChangedInterval: 6 * time.Hour, CommandInterval: 60 * time.Second,
		Jitter: 0.2, CommandLease: 2 * time.Minute, LastSeenFlush: 5 * time.Second, LastSeenBatch: 500}
}

// Service is the fleet's rules.
type Service struct {
	DB     *store.DB
	Config Config
	// Sections builds the settings parts of the answer (effective settings,
	// image offer, profile payloads, update settings). Nil: all empty.
	Sections SectionsProvider
	Log      *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time

	seen     *lastSeen
	prepared atomic.Bool
	stats    counters
}

// New returns a service with cfg (zero fields take DefaultConfig's).
func New(db *store.DB, cfg Config) *Service {
	def := DefaultConfig()
	if cfg.MaxVMs <= 0 {
		cfg.MaxVMs = def.MaxVMs
	}
	if cfg.Interval <= 0 {
		cfg.Interval = def.Interval
	}
	if cfg.ChangedInterval <= 0 {
		cfg.ChangedInterval = def.ChangedInterval
	}
	if cfg.CommandInterval <= 0 {
		cfg.CommandInterval = def.CommandInterval
	}
	if cfg.Jitter <= 0 || cfg.Jitter >= 1 {
		cfg.Jitter = def.Jitter
	}
	if cfg.CommandLease <= 0 {
		cfg.CommandLease = def.CommandLease
	}
	if cfg.LastSeenFlush <= 0 {
		cfg.LastSeenFlush = def.LastSeenFlush
	}
	if cfg.LastSeenBatch <= 0 {
		cfg.LastSeenBatch = def.LastSeenBatch
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Service{DB: db, Config: cfg, Log: log}
	s.seen = newLastSeen()
	return s
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

// jittered returns d ± Jitter·d, uniformly.
func (s *Service) jittered(d time.Duration) time.Duration {
	j := s.Config.Jitter
	return time.Duration(float64(d) * (1 - j + 2*j*rand.Float64()))
}

// Error is a refusal with a machine-readable code, for the client API
// (Status is the HTTP status) and for people (Message).
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Refusal codes.
const (
	CodeInvalidReport      = "invalid_report"
	CodeTooManyVMs         = "too_many_vms"
	CodeDuplicateVM        = "duplicate_vm_id"
	CodeUnknownCommand     = "unknown_command"
	CodeSequenceReused     = "sequence_reused"
	CodeReportRequired     = "report_required"
	CodeNotFound           = "not_found"
	CodeCommandNotOpen     = "command_not_pending"
	CodeVMGone             = "vm_gone"
	CodeNothingSelected    = "nothing_selected"
	CodeDesktopDeactivated = "desktop_deactivated"
)

// ErrForbidden is returned when the caller's role may not see the fleet.
var ErrForbidden = license.ErrForbidden

// IsError returns the *Error in err, if any.
func IsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// BumpSettings records that something every installation of accountID
// receives has changed (a policy, golden image, profile or update setting),
// so that their next check-in gets a full answer instead of "unchanged".
// Call it in the transaction that makes the change.
func BumpSettings(ctx context.Context, q store.Querier, accountID string, now time.Time) error {
	_, err := q.Exec(ctx, `INSERT INTO fleet_accounts (account_id, settings_version, updated_at) VALUES (?, 2, ?)
		ON CONFLICT (account_id) DO UPDATE SET settings_version = fleet_accounts.settings_version + 1, updated_at = excluded.updated_at`,
		accountID, store.At(now))
	if err != nil {
		return fmt.Errorf("bump fleet settings: %w", err)
	}
	return nil
}
