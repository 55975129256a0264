package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"gatehouse/internal/store"
)

// lastSeen buffers the last-seen times of "unchanged" check-ins so that the
// cheap path stays a read: the times are written in batches by Flush (every
// Config.LastSeenFlush by RunFlusher, and on shutdown). A crash loses at most
// one interval of last-seen times, never a report: reports are written in
// their own transaction before they are answered. See docs/decisions.md.
type lastSeen struct {
	mu      sync.Mutex
	pending map[string]int64 // installation id → epoch ms
}

func newLastSeen() *lastSeen { return &lastSeen{pending: map[string]int64{}} }

func (l *lastSeen) note(installationID string, at time.Time) {
	ms := store.Millis(at)
	l.mu.Lock()
	if ms > l.pending[installationID] {
		l.pending[installationID] = ms
	}
	l.mu.Unlock()
}

func (l *lastSeen) take() map[string]int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	out := l.pending
	l.pending = make(map[string]int64, len(out))
	return out
}

// putBack returns entries a failed flush could not write, keeping newer
// times noted meanwhile.
func (l *lastSeen) putBack(m map[string]int64) {
	l.mu.Lock()
	for id, ms := range m {
		if ms > l.pending[id] {
			l.pending[id] = ms
		}
	}
	l.mu.Unlock()
}

// PendingLastSeen is how many installations have a buffered last-seen time.
func (s *Service) PendingLastSeen() int {
	s.seen.mu.Lock()
	defer s.seen.mu.Unlock()
	return len(s.seen.pending)
}

// Flush writes the buffered last-seen times into fleet_seen (one narrow row
// per installation; the hosts' and VMs' rows are not touched), in
// statements of at most Config.LastSeenBatch installations. A time never
// moves backwards. On failure the entries go back to the buffer.
func (s *Service) Flush(ctx context.Context) error {
	m := s.seen.take()
	if len(m) == 0 {
		return nil
	}
	type entry struct {
		id string
		ms int64
	}
	entries := make([]entry, 0, len(m))
	for id, ms := range m {
		entries = append(entries, entry{id, ms})
	}
	// One order for every node: two nodes flushing overlapping batches
	// then lock fleet_seen rows in the same order and cannot deadlock.
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.id, b.id) })
	for start := 0; start < len(entries); start += s.Config.LastSeenBatch {
		batch := entries[start:min(start+s.Config.LastSeenBatch, len(entries))]
		var values strings.Builder
		args := make([]any, 0, 2*len(batch))
		for i, e := range batch {
			if i > 0 {
				values.WriteString(", ")
			}
			values.WriteString("(?, CAST(? AS BIGINT))")
			args = append(args, e.id, e.ms)
		}
		// Joined with fleet_hosts so that an installation removed meanwhile
		// (its activation purged) is skipped instead of failing the batch.
		// "WHERE 1 = 1" keeps SQLite from reading ON CONFLICT as a join.
		_, err := s.DB.Exec(ctx, `WITH seen(id, at) AS (VALUES `+values.String()+`)
			INSERT INTO fleet_seen (installation_id, account_id, last_seen_at)
			SELECT h.installation_id, h.account_id, seen.at FROM seen JOIN fleet_hosts h ON h.installation_id = seen.id WHERE 1 = 1
			ON CONFLICT (installation_id) DO UPDATE SET last_seen_at = excluded.last_seen_at
			WHERE fleet_seen.last_seen_at < excluded.last_seen_at`, args...)
		if err != nil {
			s.stats.flushErrors.Add(1)
			rest := map[string]int64{}
			for _, e := range entries[start:] {
				rest[e.id] = e.ms
			}
			s.seen.putBack(rest)
			return fmt.Errorf("flush last seen: %w", err)
		}
		s.stats.flushBatches.Add(1)
		s.stats.flushedRows.Add(int64(len(batch)))
	}
	return nil
}

// RunFlusher flushes buffered last-seen times every Config.LastSeenFlush
// until ctx ends, then once more (with a fresh deadline) so that a graceful
// shutdown loses nothing.
func (s *Service) RunFlusher(ctx context.Context) {
	t := time.NewTicker(s.Config.LastSeenFlush)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := s.Flush(fctx); err != nil {
				s.Log.Error("fleet: final last-seen flush", "err", err)
			}
			cancel()
			return
		case <-t.C:
			if err := s.Flush(ctx); err != nil && ctx.Err() == nil {
				s.Log.Warn("fleet: last-seen flush", "err", err)
			}
		}
	}
}
