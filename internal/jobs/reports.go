package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/internal/reports"
)

const (
	// ReportRollupInterval is how often the leader queues the reports' rollup. A report catches
	// the rollup up itself before it answers; the job keeps that wait short.
	ReportRollupInterval = time.Minute
	// reportRollupBudget bounds one run: a rebuild of a large database goes on in the next run
	// (each of its steps commits), instead of reaching the job's timeout and counting as failed.
	reportRollupBudget = 10 * time.Second
)

// ReportRollupArgs is the periodic report_rollup job.
type ReportRollupArgs struct{}

// Kind is the River job kind.
func (ReportRollupArgs) Kind() string { return "report_rollup" }

// InsertOpts keeps one report_rollup job queued or running at a time.
func (ReportRollupArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// PeriodicReportRollup queues ReportRollupArgs every ReportRollupInterval (and at start).
func PeriodicReportRollup() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(ReportRollupInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ReportRollupArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}

// ReportRollupWorker brings the reports' rollup up to date.
type ReportRollupWorker struct {
	river.WorkerDefaults[ReportRollupArgs]
	rollup *reports.Rollup
	logger *slog.Logger
}

// NewReportRollupWorker returns the report_rollup worker.
func NewReportRollupWorker(rollup *reports.Rollup, logger *slog.Logger) *ReportRollupWorker {
	return &ReportRollupWorker{rollup: rollup, logger: logger}
}

// Work catches the rollup up for at most reportRollupBudget; what is left waits for the next run.
func (w *ReportRollupWorker) Work(ctx context.Context, _ *river.Job[ReportRollupArgs]) error {
	budget, cancel := context.WithTimeout(ctx, reportRollupBudget)
	defer cancel()
	err := w.rollup.CatchUp(budget)
	if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
		w.logger.Info("the reports' rollup goes on in its next run")
		return nil
	}
	return err
}
