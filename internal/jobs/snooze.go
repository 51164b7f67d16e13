package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/internal/inbox"
)

// WakeSnoozedWorker works wake_snoozed jobs: at the end of a snooze it reopens the conversation,
// completing the job in the same transaction.
type WakeSnoozedWorker struct {
	river.WorkerDefaults[inbox.WakeSnoozedArgs]
	inbox *inbox.Service
}

// NewWakeSnoozedWorker returns a wake_snoozed worker.
func NewWakeSnoozedWorker(in *inbox.Service) *WakeSnoozedWorker {
	return &WakeSnoozedWorker{inbox: in}
}

// Work reopens the conversation if it is still snoozed and its snooze has ended.
func (w *WakeSnoozedWorker) Work(ctx context.Context, job *river.Job[inbox.WakeSnoozedArgs]) error {
	err := w.inbox.WakeSnoozed(ctx, job.Args.ConversationID, func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	})
	if err != nil {
		return fmt.Errorf("error waking conversation %d: %w", job.Args.ConversationID, err)
	}
	return nil
}
