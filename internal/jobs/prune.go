package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// Retention of the tables that only grow. Messages, conversations and their history are the
// business's records and are never pruned here.
const (
	// WebhookRetention keeps processed raw webhooks (and their recorded problems) for audits.
	WebhookRetention = 30 * 24 * time.Hour
	// EarlyStatusRetention drops statuses kept for a send that never recorded its wa_message_id.
	EarlyStatusRetention = 7 * 24 * time.Hour
	// LoginFailureRetention is far beyond any throttling window.
	LoginFailureRetention = 24 * time.Hour
	// SessionRetention keeps a session that expired or was revoked, so an admin can still see
	// recent logins and why they ended.
	SessionRetention = 30 * 24 * time.Hour
	// RefreshTokenRetention is a grace after a refresh token expires; a token is refused from its
	// expiry on either way.
	RefreshTokenRetention = 24 * time.Hour

	// PruneInterval is how often the leader queues the prune job.
	PruneInterval = 10 * time.Minute
	pruneBatch    = 5000
)

// PruneArgs is the periodic prune job.
type PruneArgs struct{}

// Kind is the River job kind.
func (PruneArgs) Kind() string { return "prune" }

// InsertOpts keeps one prune job queued or running at a time.
func (PruneArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// PruneWorker deletes rows past their retention, in batches so that no statement holds locks or
// grows the WAL for long.
type PruneWorker struct {
	river.WorkerDefaults[PruneArgs]
	pool   *pgxpool.Pool
	logger *slog.Logger
	now    func() time.Time
}

// NewPruneWorker returns the prune worker.
func NewPruneWorker(pool *pgxpool.Pool, logger *slog.Logger) *PruneWorker {
	return &PruneWorker{pool: pool, logger: logger, now: time.Now}
}

// PeriodicPrune is the River periodic job that queues PruneArgs every PruneInterval (and at start).
func PeriodicPrune() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(PruneInterval),
		func() (river.JobArgs, *river.InsertOpts) { return PruneArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

// Work prunes every table.
func (w *PruneWorker) Work(ctx context.Context, _ *river.Job[PruneArgs]) error {
	q := db.New()
	now := w.now()
	steps := []struct {
		table string
		del   func() (int64, error)
	}{
		{"events", func() (int64, error) {
			return q.EventDeleteBefore(ctx, w.pool, db.EventDeleteBeforeParams{Before: now.Add(-eventlog.Retention), BatchSize: pruneBatch})
		}},
		{"webhook_events", func() (int64, error) {
			before := now.Add(-WebhookRetention)
			return q.WebhookEventDeleteProcessedBefore(ctx, w.pool, db.WebhookEventDeleteProcessedBeforeParams{Before: &before, BatchSize: pruneBatch})
		}},
		{"early_statuses", func() (int64, error) {
			return q.EarlyStatusDeleteBefore(ctx, w.pool, db.EarlyStatusDeleteBeforeParams{Before: now.Add(-EarlyStatusRetention), BatchSize: pruneBatch})
		}},
		{"login_failures", func() (int64, error) {
			return q.LoginFailureDeleteBefore(ctx, w.pool, db.LoginFailureDeleteBeforeParams{Before: now.Add(-LoginFailureRetention), BatchSize: pruneBatch})
		}},
		{"refresh_tokens", func() (int64, error) {
			return q.RefreshTokenDeleteExpiredBefore(ctx, w.pool, db.RefreshTokenDeleteExpiredBeforeParams{Before: now.Add(-RefreshTokenRetention), BatchSize: pruneBatch})
		}},
		{"sessions", func() (int64, error) {
			return q.SessionDeleteEndedBefore(ctx, w.pool, db.SessionDeleteEndedBeforeParams{Before: now.Add(-SessionRetention), BatchSize: pruneBatch})
		}},
	}
	for _, s := range steps {
		var total int64
		for {
			n, err := s.del()
			if err != nil {
				return fmt.Errorf("error pruning %s: %w", s.table, err)
			}
			total += n
			if n < pruneBatch {
				break
			}
		}
		if total > 0 {
			w.logger.InfoContext(ctx, "pruned old rows", "table", s.table, "rows", total)
		}
	}
	return nil
}
