package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/internal/templates"
)

// SyncTemplatesWorker copies the business account's message templates from Meta.
type SyncTemplatesWorker struct {
	river.WorkerDefaults[templates.SyncArgs]
	templates *templates.Service
}

// NewSyncTemplatesWorker returns the worker.
func NewSyncTemplatesWorker(t *templates.Service) *SyncTemplatesWorker {
	return &SyncTemplatesWorker{templates: t}
}

// Timeout is JobTimeout: a business account's few pages of templates take well under a second.
func (w *SyncTemplatesWorker) Timeout(*river.Job[templates.SyncArgs]) time.Duration {
	return JobTimeout
}

// Work syncs; a failure is retried with the usual backoff, and the next hourly sync follows anyway.
func (w *SyncTemplatesWorker) Work(ctx context.Context, _ *river.Job[templates.SyncArgs]) error {
	_, err := w.templates.Sync(ctx)
	return err
}

// PeriodicSyncTemplates queues a sync every templates.SyncInterval, and once when the leader starts.
func PeriodicSyncTemplates() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(templates.SyncInterval),
		func() (river.JobArgs, *river.InsertOpts) { return templates.SyncArgs{}, nil },
		&river.PeriodicJobOpts{RunOnStart: true})
}
