package fleet

import "sync/atomic"

// Check-in outcomes counted for /metrics.
var outcomes = []string{"unchanged", "applied", "duplicate", "stale", "not_sent", "report_required", "refused", "error"}

const (
	outUnchanged = iota
	outApplied
	outDuplicate
	outStale
	outNotSent
	outReportRequired
	outRefused
	outError
)

type counters struct {
	checkIns     [8]atomic.Int64
	flushedRows  atomic.Int64
	flushErrors  atomic.Int64
	flushBatches atomic.Int64
}

// Stats are this node's fleet counters since it started.
type Stats struct {
	// CheckIns counts check-ins by outcome: unchanged, applied (a report
	// taken), duplicate, stale, not_sent (a full answer without a report),
	// report_required, refused (4xx), error (5xx).
	CheckIns map[string]int64
	// LastSeenPending is how many installations wait in the last-seen
	// buffer; LastSeenFlushed how many were written, in LastSeenBatches
	// statements; LastSeenFlushErrors how many flushes failed.
	LastSeenPending     int
	LastSeenFlushed     int64
	LastSeenBatches     int64
	LastSeenFlushErrors int64
}

// Stats returns the node's counters.
func (s *Service) Stats() Stats {
	st := Stats{CheckIns: make(map[string]int64, len(outcomes)), LastSeenPending: s.PendingLastSeen(),
		LastSeenFlushed: s.stats.flushedRows.Load(), LastSeenBatches: s.stats.flushBatches.Load(), LastSeenFlushErrors: s.stats.flushErrors.Load()}
	for i, name := range outcomes {
		st.CheckIns[name] = s.stats.checkIns[i].Load()
	}
	return st
}

func (s *Service) countAnswer(a *Answer) {
	switch {
	case a.Status == AnswerUnchanged:
		s.stats.checkIns[outUnchanged].Add(1)
	case a.Status == AnswerReportRequired:
		s.stats.checkIns[outReportRequired].Add(1)
	case a.Report == ReportApplied:
		s.stats.checkIns[outApplied].Add(1)
	case a.Report == ReportDuplicate:
		s.stats.checkIns[outDuplicate].Add(1)
	case a.Report == ReportStale:
		s.stats.checkIns[outStale].Add(1)
	default:
		s.stats.checkIns[outNotSent].Add(1)
	}
}
