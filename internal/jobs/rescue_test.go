package jobs_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
)

func TestEveryJobKindIsRescuedWithinAMinuteOfItsInstancesDeath(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	kinds := in.WorkerTimeouts()
	for _, k := range []string{"send_message", "process_webhook", "bot_reply", "mark_read", "wake_snoozed", "prune", "resume_sends",
		"fetch_media", "upload_media", "media_retention"} {
		require.Contains(t, kinds, k)
	}
	require.Less(t, jobs.JobTimeout, jobs.RescueAfter, "an attempt still running is never rescued")
	// The media transfers alone may run for minutes (a 100 MB file): they are rescued once their
	// own timeout (MEDIA_TRANSFER_TIMEOUT) has passed, and at most a minute later.
	transfers := map[string]bool{"fetch_media": true, "upload_media": true}
	for kind, timeout := range kinds {
		if timeout == 0 {
			timeout = jobs.JobTimeout
		}
		if transfers[kind] {
			require.Equal(t, in.Config.Media.TransferTimeout, timeout, kind)
			require.LessOrEqual(t, timeout+2*jobs.RescueInterval, timeout+time.Minute, kind)
			continue
		}
		require.LessOrEqual(t, timeout, jobs.JobTimeout, "%s: its Timeout delays its rescue past RescueAfter", kind)
		// The Rescuer takes a job once it has run for RescueAfter (and its Timeout), at its next
		// look; even when that look fails, the one after is within the minute.
		worst := max(timeout, jobs.RescueAfter) + 2*jobs.RescueInterval
		require.LessOrEqual(t, worst, time.Minute, "%s", kind)
	}
}

func TestRescuerPutsBackJobsStuckInRunning(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{})
	require.NoError(t, err)
	insert := func(messageID int64, maxAttempts int) int64 {
		res, err := client.Insert(ctx, inbox.SendMessageArgs{MessageID: messageID}, &river.InsertOpts{MaxAttempts: maxAttempts})
		require.NoError(t, err)
		return res.Job.ID
	}
	retried, discarded, fresh := insert(1, 5), insert(2, 1), insert(3, 5)
	res, err := client.Insert(ctx, inbox.FetchMediaArgs{MediaID: 1}, nil)
	require.NoError(t, err)
	transfer := res.Job.ID
	// Four jobs an instance took and never finished: three began a minute ago, one just now.
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'running', attempt = 1, attempted_by = '{dead}',
		attempted_at = CASE WHEN id = $1 THEN now() ELSE now() - interval '1 minute' END`, fresh)
	require.NoError(t, err)

	// The media fetch may run for five minutes: at a minute it may still be running.
	timeouts := func(kind string) time.Duration {
		if kind == "fetch_media" {
			return 5 * time.Minute
		}
		return 0
	}
	r := jobs.NewRescuer(riverpgxv5.New(pool).GetExecutor(), &jobs.RetryPolicy{}, timeouts, nil)
	n, err := r.RescueOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	state := func(id int64) (string, string) {
		var st, errs string
		require.NoError(t, pool.QueryRow(ctx, `SELECT state, coalesce(errors::text, '') FROM river_job WHERE id = $1`, id).Scan(&st, &errs))
		return st, errs
	}
	st, errs := state(retried)
	require.Equal(t, "retryable", st, "it has attempts left")
	require.Contains(t, errs, "its instance stopped answering")
	st, _ = state(discarded)
	require.Equal(t, "discarded", st, "its last attempt was the one that died")
	st, _ = state(fresh)
	require.Equal(t, "running", st, "an attempt younger than RescueAfter may still be running")
	st, _ = state(transfer)
	require.Equal(t, "running", st, "an attempt younger than its own timeout may still be running")

	// Past its timeout, it is rescued too.
	_, err = pool.Exec(ctx, `UPDATE river_job SET attempted_at = now() - interval '6 minutes' WHERE id = $1`, transfer)
	require.NoError(t, err)
	n, err = r.RescueOnce(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st, _ = state(transfer)
	require.Equal(t, "retryable", st)
}

func TestAPendingMessageWithoutASendJobIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	meta, pool, in := b.meta, b.pool, b.in
	ctx := context.Background()

	// A message whose send job River discarded without running it again (a rescue on its last
	// attempt): pending, no live job, untouched for minutes.
	require.NoError(t, in.River().QueuePause(ctx, inbox.QueueSendBot, nil))
	in.CustomerWrote("16505554001", time.Now())
	_, msg, _, err := in.Inbox.StartConversationAutomated(ctx, "16505554001", inbox.SendInput{
		ClientID: uuid.New(), Type: "text", Text: "stranded", Sender: inbox.SenderBot,
	})
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE river_job SET state = 'discarded', finalized_at = now() WHERE kind = 'send_message'`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE messages SET updated_at = now() - interval '1 hour' WHERE id = $1`, msg.ID)
	require.NoError(t, err)
	require.NoError(t, in.River().QueueResume(ctx, inbox.QueueSendBot, nil))

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
