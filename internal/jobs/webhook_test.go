package jobs_test

import (
	"context"
	"fmt"
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
	pool, client, start := webhookWorkers(t)
	start()
	return pool, client
}

// webhookWorkers is startWebhookWorkers that lets the caller store webhooks before the workers
// start (start starts them).
func webhookWorkers(t *testing.T) (*pgxpool.Pool, *river.Client[pgx.Tx], func()) {
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
	start := func() {
		require.NoError(t, client.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = client.Stop(ctx)
		})
	}
	return pool, client, start
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

// statusWebhook is a webhook with one delivered status of wamid, for the sample channel.
func statusWebhook(wamid string) []byte {
	return fmt.Appendf(nil, `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":%q,"status":"delivered","timestamp":"1750030080","recipient_id":"16505551234"}]}}]}]}`, wamid)
}

func TestPoisonWebhookDoesNotHoldItsBatchBack(t *testing.T) {
	t.Parallel()
	pool, client, start := webhookWorkers(t)
	ctx := context.Background()
	// Ten sent messages; applying a status to wamid.jobs-poison fails while the switch row exists.
	_, err := pool.Exec(ctx, `
		INSERT INTO contacts (channel_id, wa_id) SELECT id, '16505551234' FROM channels;
		INSERT INTO conversations (channel_id, contact_id, status) SELECT channel_id, id, 'open' FROM contacts;
		INSERT INTO messages (conversation_id, direction, sender, type, body, status, wa_message_id, sent_at)
		SELECT c.id, 'out', 'agent', 'text', 'hello', 'sent', CASE WHEN i = 5 THEN 'wamid.jobs-poison' ELSE 'wamid.jobs-' || i END, now()
		FROM conversations c, generate_series(1, 10) i;
		CREATE TABLE fail_switch (on_ boolean);
		INSERT INTO fail_switch VALUES (true);
		CREATE FUNCTION refuse_status() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.wa_message_id = 'wamid.jobs-poison' AND EXISTS (SELECT 1 FROM fail_switch) THEN
				RAISE EXCEPTION 'status refused by test';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse_status BEFORE UPDATE ON messages FOR EACH ROW EXECUTE FUNCTION refuse_status();`)
	require.NoError(t, err)
	var poison int64
	for i := 1; i <= 10; i++ {
		wamid := fmt.Sprintf("wamid.jobs-%d", i)
		if i == 5 {
			wamid = "wamid.jobs-poison"
		}
		st, err := webhook.Store(ctx, pool, client, statusWebhook(wamid))
		require.NoError(t, err)
		if i == 5 {
			poison = st.EventID
		}
	}
	// Stored before the workers start: the first job's batch holds all ten, the poison among them.
	start()

	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM messages WHERE status = 'delivered'") == 9
	}, 20*time.Second, 5*time.Millisecond, "the nine good statuses are applied despite the poison")
	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'process_webhook' AND state = 'completed'") == 9 &&
			count(t, pool, fmt.Sprintf("SELECT count(*) FROM river_job WHERE kind = 'process_webhook' AND attempt >= 2 AND args->>'webhook_event_id' = '%d'", poison)) == 1
	}, 20*time.Second, 5*time.Millisecond, "the poison's job is retried alone")
	// Its first attempt may have found it held by another job's batch and failed it alone after
	// that batch rolled back, which counts nothing: the count comes from the attempt whose own
	// batch failed, which may be the second.
	require.Eventually(t, func() bool {
		return count(t, pool, fmt.Sprintf("SELECT count(*) FROM webhook_events WHERE id = %d AND processed_at IS NULL AND process_failures = 1", poison)) == 1
	}, 20*time.Second, 5*time.Millisecond, "the poison is counted once and left out of batches")
	var errs int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM river_job, jsonb_array_elements(to_jsonb(errors)) e
		WHERE kind = 'process_webhook' AND e->>'error' LIKE '%status refused by test%'`).Scan(&errs))
	require.Positive(t, errs, "the poison's error is recorded on its job")

	_, err = pool.Exec(ctx, "DELETE FROM fail_switch")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return count(t, pool, "SELECT count(*) FROM river_job WHERE kind = 'process_webhook' AND state = 'completed'") == 10
	}, 20*time.Second, 5*time.Millisecond)
	require.Equal(t, 10, count(t, pool, "SELECT count(*) FROM messages WHERE status = 'delivered'"))
	require.Equal(t, 0, count(t, pool, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL"))
	require.Equal(t, 10, count(t, pool, "SELECT count(*) FROM events WHERE kind = 'message.status'"))
}
