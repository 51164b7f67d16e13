package jobs_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
	"github.com/wainbox/wainbox/internal/webhook"
)

// startWebhookWorkers runs River with the process_webhook and bot_reply workers on a fresh
// database that has the sample channel.
func startWebhookWorkers(t *testing.T) (*pgxpool.Pool, *river.Client[pgx.Tx]) {
	t.Helper()
	pool, _ := dbtest.New(t)
	logger := slog.New(slog.DiscardHandler)
	workers := river.NewWorkers()
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{
		Logger:        logger,
		Workers:       workers,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}, webhook.QueueWebhooks: {MaxWorkers: 2}},
		FetchCooldown: 5 * time.Millisecond,
		RetryPolicy:   &jobs.RetryPolicy{Base: 20 * time.Millisecond, Max: 100 * time.Millisecond},
		TestOnly:      true,
	})
	require.NoError(t, err)
	in, err := inbox.New(&inbox.Config{Pool: pool, Queue: client, Logger: logger, BotEnabled: true})
	require.NoError(t, err)
	w, err := jobs.NewProcessWebhookWorker(pool, in, nil, nil, logger)
	require.NoError(t, err)
	river.AddWorker(workers, w)
	// These tests queue bot_reply jobs but run no bot: a worker that completes them.
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[inbox.BotReplyArgs]) error { return nil }))
	_, err = in.EnsureChannel(context.Background(), db.ChannelUpsertParams{PhoneNumberID: "106540352242922"})
	require.NoError(t, err)
	require.NoError(t, client.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(ctx)
	})
	return pool, client
}

func sampleInbound(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "webhook", "testdata", "inbound-text.json"))
	require.NoError(t, err)
	return b
}

func count(t *testing.T, pool *pgxpool.Pool, query string) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), query).Scan(&n))
	return n
}

func TestProcessWebhookCompletesItsJobWithTheChanges(t *testing.T) {
	t.Parallel()
	pool, client := startWebhookWorkers(t)
	ctx := context.Background()
	st, err := webhook.Store(ctx, pool, client, sampleInbound(t))
	require.NoError(t, err)

	var job *rivertype.JobRow
	require.Eventually(t, func() bool {
		res, err := client.JobList(ctx, river.NewJobListParams().Kinds("process_webhook"))
		require.NoError(t, err)
		job = res.Jobs[0]
		return job.State == rivertype.JobStateCompleted
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, job.Attempt)
	require.Equal(t, 1, count(t, pool, "SELECT count(*) FROM messages"))
	var processed bool
	require.NoError(t, pool.QueryRow(ctx, "SELECT processed_at IS NOT NULL FROM webhook_events WHERE id = $1", st.EventID).Scan(&processed))
	require.True(t, processed)
	// The bot's job was queued with the message and ran as the no-op it is for now.
	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'bot_reply' AND state = 'completed'") == 1
	}, 10*time.Second, 5*time.Millisecond)
}

func TestProcessWebhookRollsBackAndRetriesOnFailure(t *testing.T) {
	t.Parallel()
	pool, client := startWebhookWorkers(t)
	ctx := context.Background()
	// Message inserts fail while the switch row exists: the first attempts break half-way.
	_, err := pool.Exec(ctx, `
		CREATE TABLE fail_switch (on_ boolean);
		INSERT INTO fail_switch VALUES (true);
		CREATE FUNCTION refuse_message() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF EXISTS (SELECT 1 FROM fail_switch) THEN RAISE EXCEPTION 'message insert refused by test'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_message BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION refuse_message();`)
	require.NoError(t, err)
	_, err = webhook.Store(ctx, pool, client, sampleInbound(t))
	require.NoError(t, err)

	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'process_webhook' AND attempt >= 2") == 1
	}, 10*time.Second, 5*time.Millisecond, "River retries the failed webhook")
	// Nothing of the failed attempts stayed: not the contact written before the failing insert,
	// not the events, not the processed mark.
	for _, table := range []string{"messages", "contacts", "conversations", "events", "webhook_errors"} {
		require.Equal(t, 0, count(t, pool, "SELECT count(*) FROM "+table), table)
	}
	require.Equal(t, 1, count(t, pool, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL"))

	_, err = pool.Exec(ctx, "DELETE FROM fail_switch")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'process_webhook' AND state = 'completed'") == 1
	}, 10*time.Second, 5*time.Millisecond)
	require.Equal(t, 1, count(t, pool, "SELECT count(*) FROM messages"))
	require.Equal(t, 1, count(t, pool, "SELECT count(*) FROM contacts"))
}
