package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// Recovery after an instance dies. River's rescuer, on the leader instance, puts a job back when
// it has been running for longer than RescueAfter and its kind's Timeout; it looks every 30 s (a
// River constant). So a job whose instance died is available again at most
// RescueAfter + 30 s (+1 s of River's start-up stagger) after its attempt began, on any live
// instance: 56 s. If the dead instance was the leader, another is elected within River's 15 s
// leadership TTL, well inside that. Every worker's Timeout must stay at or below JobTimeout, and
// JobTimeout below RescueAfter, so that no attempt is rescued while it still runs; a test holds
// the registered workers to it.
const (
	// JobTimeout bounds an attempt of any job kind that does not set its own Timeout.
	JobTimeout = 20 * time.Second
	// RescueAfter is River's RescueStuckJobsAfter.
	RescueAfter = 25 * time.Second
)

// rescuedError is the error River's rescuer records on a job it put back.
const rescuedError = "Stuck job rescued by JobRescuer"

// RescueHook counts and logs the jobs River rescued after the instance running them died (or
// hung), as they start again: rescues are the visible trace of a crash.
type RescueHook struct {
	river.HookDefaults
	rescued *prometheus.CounterVec
	logger  *slog.Logger
}

// NewRescueHook returns the hook, registering its counter with reg when reg is not nil.
func NewRescueHook(reg prometheus.Registerer, logger *slog.Logger) (*RescueHook, error) {
	h := &RescueHook{
		rescued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wainbox_jobs_rescued_total",
			Help: "Jobs started again after River's rescuer found them stuck in running (their instance died or hung).",
		}, []string{"kind"}),
		logger: logger,
	}
	if h.logger == nil {
		h.logger = slog.New(slog.DiscardHandler)
	}
	if reg != nil {
		if err := registerAll(reg, h.rescued); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// WorkBegin implements rivertype.HookWorkBegin.
func (h *RescueHook) WorkBegin(ctx context.Context, job *rivertype.JobRow) error {
	if n := len(job.Errors); n > 0 && job.Errors[n-1].Error == rescuedError && job.Errors[n-1].Attempt == job.Attempt-1 {
		h.rescued.WithLabelValues(job.Kind).Inc()
		h.logger.WarnContext(ctx, "job rescued after its instance stopped answering", "job_id", job.ID, "kind", job.Kind,
			"attempt", job.Attempt, "rescued_at", job.Errors[n-1].At)
	}
	return nil
}

// registerAll registers collectors, keeping the ones already registered (a second instance in
// the same process shares them).
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return err
		}
	}
	return nil
}
