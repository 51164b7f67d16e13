package health

import (
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exports the pgx pool's statistics at scrape time: they are counters in memory, so
// reading them costs nothing. Waits are acquires that found no idle connection (pgx's "empty
// acquires"), the sign of a starved pool.
type PoolCollector struct {
	pool *pgxpool.Pool
}

// NewPoolCollector returns a collector of pool.
func NewPoolCollector(pool *pgxpool.Pool) *PoolCollector { return &PoolCollector{pool: pool} }

var (
	poolConnsDesc = prometheus.NewDesc("wainbox_db_pool_connections",
		"Connections of the database pool by state: acquired (in use), idle, constructing.", []string{"state"}, nil)
	poolMaxDesc = prometheus.NewDesc("wainbox_db_pool_max_connections",
		"Size of the database pool (DATABASE_MAX_CONNS).", nil, nil)
	poolAcquiresDesc = prometheus.NewDesc("wainbox_db_pool_acquires_total",
		"Connections acquired from the pool.", nil, nil)
	poolWaitsDesc = prometheus.NewDesc("wainbox_db_pool_waits_total",
		"Acquires that had to wait for a connection (none was idle).", nil, nil)
	poolWaitDesc = prometheus.NewDesc("wainbox_db_pool_acquire_seconds_total",
		"Total time spent acquiring connections, waits included.", nil, nil)
	poolCanceledDesc = prometheus.NewDesc("wainbox_db_pool_canceled_acquires_total",
		"Acquires abandoned because their context ended first (a request that timed out waiting).", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolConnsDesc, poolMaxDesc, poolAcquiresDesc, poolWaitsDesc, poolWaitDesc, poolCanceledDesc} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.AcquiredConns()), "acquired")
	ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.IdleConns()), "idle")
	ch <- prometheus.MustNewConstMetric(poolConnsDesc, prometheus.GaugeValue, float64(st.ConstructingConns()), "constructing")
	ch <- prometheus.MustNewConstMetric(poolMaxDesc, prometheus.GaugeValue, float64(st.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolAcquiresDesc, prometheus.CounterValue, float64(st.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitsDesc, prometheus.CounterValue, float64(st.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitDesc, prometheus.CounterValue, st.AcquireDuration().Seconds())
	ch <- prometheus.MustNewConstMetric(poolCanceledDesc, prometheus.CounterValue, float64(st.CanceledAcquireCount()))
}
