package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// DurationHook times every job attempt by kind and result. Job kinds are the few this binary
// registers, so the labels stay bounded. It is a River hook rather than an event subscription so
// that a slow scrape or a full channel never drops a measurement.
type DurationHook struct {
	river.HookDefaults
	duration *prometheus.HistogramVec
}

// NewDurationHook returns the hook, registering its histogram with reg when reg is not nil.
func NewDurationHook(reg prometheus.Registerer) (*DurationHook, error) {
	h := &DurationHook{duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "wainbox_job_duration_seconds",
		Help:    "Duration of River job attempts, by kind and result: ok, error (retried or discarded), snooze, cancel.",
		Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
	}, []string{"kind", "result"})}
	if reg != nil {
		if err := registerAll(reg, h.duration); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// WorkEnd implements rivertype.HookWorkEnd; it passes err through unchanged.
func (h *DurationHook) WorkEnd(_ context.Context, job *rivertype.JobRow, err error) error {
	if job.AttemptedAt == nil {
		return err
	}
	h.duration.WithLabelValues(job.Kind, attemptResult(err)).Observe(time.Since(*job.AttemptedAt).Seconds())
	return err
}

func attemptResult(err error) string {
	var snooze *river.JobSnoozeError
	var cancel *river.JobCancelError
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &snooze):
		return "snooze"
	case errors.As(err, &cancel):
		return "cancel"
	default:
		return "error"
	}
}
