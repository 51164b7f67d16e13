package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
)

// riverRescuerInterval is how often River's rescuer looks for stuck jobs (a River constant), and
// riverStagger the most it waits when it starts.
const (
	riverRescuerInterval = 30 * time.Second
	riverStagger         = time.Second
)

func TestEveryJobKindIsRescuedWithinAMinuteOfItsInstancesDeath(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	kinds := in.WorkerTimeouts()
	for _, k := range []string{"send_message", "process_webhook", "bot_reply", "mark_read", "wake_snoozed", "prune", "resume_sends"} {
		require.Contains(t, kinds, k)
	}
	require.Less(t, jobs.JobTimeout, jobs.RescueAfter, "an attempt still running is never rescued")
	for kind, timeout := range kinds {
		if timeout == 0 {
			timeout = jobs.JobTimeout
		}
		require.LessOrEqual(t, timeout, jobs.JobTimeout, "%s: its Timeout delays its rescue past RescueAfter", kind)
		// The rescuer takes a job once it has run for RescueAfter and its Timeout, at its next look.
		worst := max(timeout, jobs.RescueAfter) + riverRescuerInterval + riverStagger
		require.LessOrEqual(t, worst, time.Minute, "%s", kind)
	}
}

func TestAPendingMessageWithoutASendJobIsResumed(t *testing.T) {
	t.Parallel()
	meta := newFakeMeta(t)
	pool, url := dbtest.New(t)
	in := startWithMeta(t, url, meta, nil)
	meta.deliverTo(in)
	ctx := context.Background()

	// A message whose send job River discarded without running it again (a rescue on its last
	// attempt): pending, no live job, untouched for minutes.
	require.NoError(t, in.River().QueuePause(ctx, inbox.QueueSend, nil))
	_, msg, _, err := in.Inbox.StartConversation(ctx, "16505554001", inbox.SendInput{
		ClientID: uuid.New(), Type: "text", Text: "stranded", Sender: inbox.SenderBot,
	})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE kind = 'send_message'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE messages SET updated_at = now() - interval '1 hour' WHERE id = $1`, msg.ID)
	require.NoError(t, err)
	require.NoError(t, in.River().QueueResume(ctx, inbox.QueueSend, nil))

	// A recent pending message is left alone; the stranded one gets a new send job and leaves.
	n, err := in.Inbox.ResumeStranded(ctx, time.Minute, func(context.Context, int64) (bool, error) { return true, nil })
	require.NoError(t, err)
	require.Zero(t, n, "a message with a live job is not resumed")
	_, err = in.River().Insert(ctx, jobs.ResumeSendsArgs{}, nil)
	require.NoError(t, err)
	r := waitLeftPending(t, pool, msg.ID, 30*time.Second)
	require.Contains(t, []string{"sent", "delivered", "read"}, r.Status)
	require.Len(t, meta.accepted(msg.ID), 1)
}
