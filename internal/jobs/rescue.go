package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver"
	"github.com/riverqueue/river/rivertype"
)

// Recovery after an instance dies. A job whose worker's instance died stays running until it is
// rescued: put back to be retried (or discarded, on its last attempt). River's own rescuer does
// this on the leader every 30 s (a River constant), for jobs running longer than
// RescueStuckJobsAfter; a single missed look (the database restarting at that moment, or the
// leader dying with the others' jobs) makes that 60-90 s. So every instance also runs a Rescuer,
// which looks every RescueInterval with River's own queries: a job whose instance died is
// available again at most RescueAfter + RescueInterval (30 s) after its attempt began, on any
// live instance, and within a minute even when one look fails.
//
// Every worker's Timeout must stay at or below JobTimeout, and JobTimeout below RescueAfter, so
// that no attempt is rescued while it still runs; a test holds the registered workers to it. The
// media transfers are the exception (a 100 MB file takes minutes): their Timeout is longer, and
// both rescuers wait for it, as River's own does, before they take such a job back.
const (
	// JobTimeout bounds an attempt of any job kind that does not set its own Timeout.
	JobTimeout = 20 * time.Second
	// RescueAfter is how long a job may run before it counts as stuck (River's
	// RescueStuckJobsAfter, and the Rescuer's horizon).
	RescueAfter = 25 * time.Second
	// RescueInterval is how often each instance's Rescuer looks for stuck jobs.
	RescueInterval = 5 * time.Second
)

// Errors recorded on a rescued job, by River's rescuer and by ours.
const (
	riverRescuedError = "Stuck job rescued by JobRescuer"
	rescuedError      = "Stuck job rescued by wainbox: its instance stopped answering"
)

// Rescuer puts back jobs stuck in running for longer than RescueAfter, every RescueInterval,
// through River's driver (the same queries River's rescuer runs): a job that has attempts left is
// retried as the retry policy says, one that has none is discarded. Jobs whose cancellation was
// requested are left to River's rescuer, which cancels them.
type Rescuer struct {
	exec   riverdriver.Executor
	policy river.ClientRetryPolicy
	// timeout is a kind's attempt timeout (0: JobTimeout).
	timeout func(kind string) time.Duration
	logger  *slog.Logger
	stop    context.CancelFunc
	done    chan struct{}
}

// NewRescuer returns a Rescuer working through River's driver executor. timeout says each job
// kind's attempt timeout (0, or a nil timeout: JobTimeout); a job whose attempt may still be
// running by it is left alone.
func NewRescuer(exec riverdriver.Executor, policy river.ClientRetryPolicy, timeout func(kind string) time.Duration, logger *slog.Logger) *Rescuer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if timeout == nil {
		timeout = func(string) time.Duration { return 0 }
	}
	return &Rescuer{exec: exec, policy: policy, timeout: timeout, logger: logger}
}

// Start runs the Rescuer until Stop.
func (r *Rescuer) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	r.stop, r.done = cancel, make(chan struct{})
	go func() {
		defer close(r.done)
		// Instances started together look at different moments.
		wait := time.Duration(rand.Int64N(int64(RescueInterval)))
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait):
			}
			wait = RescueInterval
			if _, err := r.RescueOnce(ctx); err != nil && ctx.Err() == nil {
				r.logger.Warn("could not look for stuck jobs", "error", err)
			}
		}
	}()
}

// Stop ends the Rescuer and waits for it.
func (r *Rescuer) Stop() {
	if r.stop != nil {
		r.stop()
		<-r.done
	}
}

// RescueOnce puts back the jobs stuck now and returns how many.
func (r *Rescuer) RescueOnce(ctx context.Context) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, RescueInterval)
	defer cancel()
	horizon := time.Now().Add(-RescueAfter)
	stuck, err := r.exec.JobGetStuck(ctx, &riverdriver.JobGetStuckParams{Max: 1000, StuckHorizon: horizon})
	if err != nil {
		return 0, fmt.Errorf("error listing stuck jobs: %w", err)
	}
	now := time.Now().UTC()
	p := &riverdriver.JobRescueManyParams{StuckHorizon: horizon}
	for _, job := range stuck {
		if hasKey(job.Metadata, "cancel_attempted_at") {
			continue
		}
		if t := r.timeout(job.Kind); t > RescueAfter && job.AttemptedAt != nil && now.Sub(*job.AttemptedAt) < t {
			continue // a long transfer still within its own timeout
		}
		errData, err := json.Marshal(rivertype.AttemptError{At: now, Attempt: max(job.Attempt, 0), Error: rescuedError})
		if err != nil {
			return 0, fmt.Errorf("error encoding the rescue of job %d: %w", job.ID, err)
		}
		state, finalized, scheduled := rivertype.JobStateRetryable, (*time.Time)(nil), r.policy.NextRetry(job)
		if job.Attempt >= job.MaxAttempts {
			state, finalized, scheduled = rivertype.JobStateDiscarded, &now, job.ScheduledAt
		}
		p.ID = append(p.ID, job.ID)
		p.Error = append(p.Error, errData)
		p.State = append(p.State, string(state))
		p.FinalizedAt = append(p.FinalizedAt, finalized)
		p.ScheduledAt = append(p.ScheduledAt, scheduled)
		r.logger.Warn("rescuing a job stuck in running: its instance stopped answering", "job_id", job.ID, "kind", job.Kind,
			"attempt", job.Attempt, "attempted_at", job.AttemptedAt, "to", state)
	}
	if len(p.ID) == 0 {
		return 0, nil
	}
	if _, err := r.exec.JobRescueMany(ctx, p); err != nil {
		return 0, fmt.Errorf("error rescuing %d stuck jobs: %w", len(p.ID), err)
	}
	return len(p.ID), nil
}

// hasKey reports whether the JSON object raw has the top-level key.
func hasKey(raw []byte, key string) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return false
	}
	_, ok := m[key]
	return ok
}

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
	n := len(job.Errors)
	if n == 0 || job.Errors[n-1].Attempt != job.Attempt-1 {
		return nil
	}
	if last := job.Errors[n-1].Error; last == rescuedError || last == riverRescuedError {
		h.rescued.WithLabelValues(job.Kind).Inc()
		h.logger.WarnContext(ctx, "job rescued after its instance stopped answering", "job_id", job.ID, "kind", job.Kind,
			"attempt", job.Attempt, "rescued_at", job.Errors[n-1].At)
	}
	return nil
}

// registerAll registers collectors with reg. Every instance has a registry of its own, so a
// collector registered twice is a mistake, reported as an error.
func registerAll(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("error registering job metrics: %w", err)
		}
	}
	return nil
}
