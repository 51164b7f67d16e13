package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/internal/inbox"
)

// ResumeInterval is how often the leader looks for pending messages that no send job carries.
const ResumeInterval = time.Minute

// resumeIdle is how long a pending message must have been untouched before it is looked at: far
// longer than any claim, wait or snooze of a live job leaves it untouched.
const resumeIdle = 2 * time.Minute

// ResumeSendsArgs is the periodic job that resumes stranded sends.
type ResumeSendsArgs struct{}

// Kind is the River job kind.
func (ResumeSendsArgs) Kind() string { return "resume_sends" }

// InsertOpts keeps one resume_sends job queued or running at a time.
func (ResumeSendsArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateRetryable, rivertype.JobStateScheduled,
	}}}
}

// PeriodicResumeSends queues ResumeSendsArgs every ResumeInterval.
func PeriodicResumeSends() *river.PeriodicJob {
	return river.NewPeriodicJob(river.PeriodicInterval(ResumeInterval),
		func() (river.JobArgs, *river.InsertOpts) { return ResumeSendsArgs{}, nil }, nil)
}

// ResumeSendsWorker is the outbox's safety net. Every pending message normally has a live send
// job, or waits for an earlier message whose outcome hands over to it. Two rare paths can leave
// one with neither: River discards a job its rescuer finds stuck on its last attempt without
// running it again, and an outcome could be recorded by a process that then lost the hand-over's
// commit. This worker queues a new send for such a message; its claim reconciles or sends.
type ResumeSendsWorker struct {
	river.WorkerDefaults[ResumeSendsArgs]
	inbox  *inbox.Service
	logger *slog.Logger
}

// NewResumeSendsWorker returns the worker.
func NewResumeSendsWorker(in *inbox.Service, logger *slog.Logger) *ResumeSendsWorker {
	return &ResumeSendsWorker{inbox: in, logger: logger}
}

// liveStates are the states of a job that will still run.
var liveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// Work queues a send for every stranded message.
func (w *ResumeSendsWorker) Work(ctx context.Context, _ *river.Job[ResumeSendsArgs]) error {
	client, err := river.ClientFromContextSafely[pgx.Tx](ctx)
	if err != nil {
		return fmt.Errorf("error resuming sends: %w", err)
	}
	hasJob := func(ctx context.Context, messageID int64) (bool, error) {
		res, err := client.JobList(ctx, river.NewJobListParams().
			Kinds(inbox.SendMessageArgs{}.Kind()).
			States(liveStates...).
			Where("args @> @args::jsonb", river.NamedArgs{"args": `{"message_id":` + strconv.FormatInt(messageID, 10) + `}`}).
			First(1))
		if err != nil {
			return false, fmt.Errorf("error listing the send jobs of message %d: %w", messageID, err)
		}
		return len(res.Jobs) > 0, nil
	}
	n, err := w.inbox.ResumeStranded(ctx, resumeIdle, hasJob)
	if n > 0 {
		w.logger.WarnContext(ctx, "resumed stranded sends", "messages", n)
	}
	return err
}
