package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/fleet"
)

// fleetCollector exports the node's check-in counters and its last-seen
// buffer (see docs/capacity.md for what to expect of them).
type fleetCollector struct {
	svc                                 *fleet.Service
	checkIns, pending, flushed, batches *prometheus.Desc
	flushErrors                         *prometheus.Desc
}

func newFleetCollector(svc *fleet.Service) prometheus.Collector {
	return &fleetCollector{svc: svc,
		checkIns:    prometheus.NewDesc("gatehouse_fleet_checkins_total", "Fleet check-ins by outcome (unchanged, applied, duplicate, stale, not_sent, report_required, refused, error).", []string{"outcome"}, nil),
		pending:     prometheus.NewDesc("gatehouse_fleet_last_seen_pending", "Installations whose last-seen time waits in this node's buffer.", nil, nil),
		flushed:     prometheus.NewDesc("gatehouse_fleet_last_seen_flushed_total", "Last-seen times written by this node.", nil, nil),
		batches:     prometheus.NewDesc("gatehouse_fleet_last_seen_batches_total", "Last-seen batch statements run by this node.", nil, nil),
		flushErrors: prometheus.NewDesc("gatehouse_fleet_last_seen_flush_errors_total", "Failed last-seen flushes (their times are retried).", nil, nil),
	}
}

func (c *fleetCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.checkIns, c.pending, c.flushed, c.batches, c.flushErrors} {
		ch <- d
	}
}

func (c *fleetCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.svc.Stats()
	for outcome, n := range st.CheckIns {
		ch <- prometheus.MustNewConstMetric(c.checkIns, prometheus.CounterValue, float64(n), outcome)
	}
	ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(st.LastSeenPending))
	ch <- prometheus.MustNewConstMetric(c.flushed, prometheus.CounterValue, float64(st.LastSeenFlushed))
	ch <- prometheus.MustNewConstMetric(c.batches, prometheus.CounterValue, float64(st.LastSeenBatches))
	ch <- prometheus.MustNewConstMetric(c.flushErrors, prometheus.CounterValue, float64(st.LastSeenFlushErrors))
}
