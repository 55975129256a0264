package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"gatehouse/internal/store"
)

// dbCollector exports the connection pool statistics of both pools.
type dbCollector struct {
	db                              *store.DB
	open, inUse, idle, waits, waitS *prometheus.Desc
}

func newDBCollector(db *store.DB) prometheus.Collector {
	l := []string{"pool"}
	return &dbCollector{db: db,
		open:  prometheus.NewDesc("gatehouse_db_open_connections", "Open database connections.", l, nil),
		inUse: prometheus.NewDesc("gatehouse_db_in_use_connections", "Database connections in use.", l, nil),
		idle:  prometheus.NewDesc("gatehouse_db_idle_connections", "Idle database connections.", l, nil),
		waits: prometheus.NewDesc("gatehouse_db_wait_count_total", "Times a request waited for a database connection.", l, nil),
		waitS: prometheus.NewDesc("gatehouse_db_wait_seconds_total", "Time spent waiting for a database connection.", l, nil),
	}
}

func (c *dbCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.open, c.inUse, c.idle, c.waits, c.waitS} {
		ch <- d
	}
}

func (c *dbCollector) Collect(ch chan<- prometheus.Metric) {
	w, r := c.db.Stats()
	pools := map[string]any{"write": w}
	if c.db.Dialect() == store.SQLite {
		pools["read"] = r
	}
	for name, st := range map[string]struct {
		Open, InUse, Idle int
		Waits             int64
		WaitS             float64
	}{
		"write": {w.OpenConnections, w.InUse, w.Idle, w.WaitCount, w.WaitDuration.Seconds()},
		"read":  {r.OpenConnections, r.InUse, r.Idle, r.WaitCount, r.WaitDuration.Seconds()},
	} {
		if _, ok := pools[name]; !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, float64(st.Open), name)
		ch <- prometheus.MustNewConstMetric(c.inUse, prometheus.GaugeValue, float64(st.InUse), name)
		ch <- prometheus.MustNewConstMetric(c.idle, prometheus.GaugeValue, float64(st.Idle), name)
		ch <- prometheus.MustNewConstMetric(c.waits, prometheus.CounterValue, float64(st.Waits), name)
		ch <- prometheus.MustNewConstMetric(c.waitS, prometheus.CounterValue, st.WaitS, name)
	}
}
