package webhook

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// refusalReasons are every code refuse and the store failure answer with: the label's whole set,
// created at zero so that a rate over them exists before the first refusal.
var refusalReasons = []string{
	"body_too_large", "request_timeout", "unreadable_body", "missing_signature", "invalid_signature",
	"invalid_json", "unsupported_object", "unavailable",
}

// intakeMetrics count what reaches the webhook endpoint: every POST received, each one stored
// (a redelivery Meta already had accepted counts as stored), and each refusal by its reason.
type intakeMetrics struct {
	received prometheus.Counter
	stored   prometheus.Counter
	refused  *prometheus.CounterVec
}

func newIntakeMetrics(reg prometheus.Registerer) (*intakeMetrics, error) {
	m := &intakeMetrics{
		received: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_webhooks_received_total",
			Help: "POSTs to Meta's webhook endpoint, whatever became of them.",
		}),
		stored: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_webhooks_stored_total",
			Help: "Webhooks stored with their processing job and answered 200 (redeliveries of a stored one included).",
		}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_webhooks_refused_total",
			Help: "Webhooks refused, by reason: the signature (missing_signature, invalid_signature), the size (body_too_large), the shape (invalid_json, unsupported_object), a slow or broken body, or unavailable (not stored: Meta retries).",
		}, []string{"reason"}),
	}
	for _, r := range refusalReasons {
		m.refused.WithLabelValues(r)
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.received, m.stored, m.refused} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("error registering webhook metrics: %w", err)
		}
	}
	return m, nil
}
