package realtime

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the fan-out's Prometheus series. Their names are listed in docs/realtime.md; the
// benchmark reads them to count deliveries and losses.
type Metrics struct {
	Sockets           prometheus.Gauge
	EventsRead        prometheus.Counter
	EventsDelivered   prometheus.Counter
	EventsReplayed    prometheus.Counter
	EventsDropped     prometheus.Counter
	Resets            prometheus.Counter
	SlowConsumers     prometheus.Counter
	WriteTimeouts     prometheus.Counter
	Closes            *prometheus.CounterVec
	Refused           prometheus.Counter
	ListenerConnected prometheus.Gauge
	ListenerLag       prometheus.Gauge
	ListenerReconnect prometheus.Counter
	DispatchDelay     prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Sockets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wainbox_realtime_sockets",
			Help: "WebSocket connections open on this instance, authenticated or not.",
		}),
		EventsRead: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_events_read_total",
			Help: "Events the listener read from the events table and handed to the hub.",
		}),
		EventsDelivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_events_delivered_total",
			Help: "Live event messages written to WebSockets (one per event and socket).",
		}),
		EventsReplayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_events_replayed_total",
			Help: "Event messages written to WebSockets while replaying after a resume.",
		}),
		EventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_events_dropped_total",
			Help: "Event messages discarded from the queue of a slow consumer that was disconnected (it resumes and gets them again).",
		}),
		Resets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_resets_total",
			Help: "Resumes answered with reset (unknown cursor or beyond the replay bound).",
		}),
		SlowConsumers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_slow_consumers_total",
			Help: "Sockets closed because their bounded queue overflowed.",
		}),
		WriteTimeouts: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_write_timeouts_total",
			Help: "Sockets dropped because a write to them outlasted the write timeout (a peer that stopped reading).",
		}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_realtime_closes_total",
			Help: "WebSockets closed by the server, by close code.",
		}, []string{"code"}),
		Refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_refused_total",
			Help: "WebSocket upgrades refused with 503 because too many sockets of this instance were still to authenticate.",
		}),
		ListenerConnected: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wainbox_realtime_listener_connected",
			Help: "1 while the listener's dedicated database connection is up.",
		}),
		ListenerLag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wainbox_realtime_listener_lag_seconds",
			Help: "Age of the newest event of the listener's last batch when it was read: how far behind the event log the sockets are.",
		}),
		ListenerReconnect: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_realtime_listener_reconnects_total",
			Help: "Times the listener lost its database connection and reconnected.",
		}),
		DispatchDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wainbox_realtime_dispatch_delay_seconds",
			Help:    "Time from an event's transaction start (created_at) to its hand-off to the hub.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		m.Sockets, m.EventsRead, m.EventsDelivered, m.EventsReplayed, m.EventsDropped, m.Resets,
		m.SlowConsumers, m.WriteTimeouts, m.Closes, m.Refused, m.ListenerConnected, m.ListenerLag, m.ListenerReconnect, m.DispatchDelay,
	} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}
