package webhook_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/webhook"
)

// storeAll stores bodies as the intake does (each with its job, not worked) and returns their ids.
func storeAll(t *testing.T, e *env, bodies ...[]byte) []int64 {
	t.Helper()
	ids := make([]int64, len(bodies))
	for i, b := range bodies {
		st, err := webhook.Store(context.Background(), e.pool, e.river, b)
		require.NoError(t, err)
		require.False(t, st.Duplicate)
		ids[i] = st.EventID
	}
	return ids
}

// processBatch runs one batch of size from eventID in its own transaction.
func processBatch(t *testing.T, e *env, p *webhook.Processor, eventID int64, size int) []*webhook.Result {
	t.Helper()
	var res []*webhook.Result
	require.NoError(t, database.InTx(context.Background(), e.pool, func(tx pgx.Tx) error {
		var err error
		res, err = p.ProcessBatch(context.Background(), tx, eventID, size)
		return err
	}))
	return res
}

func newProcessor(t *testing.T, e *env) *webhook.Processor {
	t.Helper()
	p, err := webhook.NewProcessor(e.inbox, nil)
	require.NoError(t, err)
	return p
}

func TestBatchAppliesSeveralWebhooksInOneTransaction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	for i := range 3 {
		insertSentMessage(t, e, fmt.Sprintf("1650555100%d", i), fmt.Sprintf("wamid.batch-%d", i))
	}
	ids := storeAll(t, e,
		statusBody("wamid.batch-0", "delivered", 1750030080, ""),
		statusBody("wamid.batch-1", "read", 1750030090, ""),
		fixture(t, "inbound-text.json"),
		statusBody("wamid.batch-2", "failed", 1750030070, "", `[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Receiver is incapable of receiving this message"}}]`),
	)

	// The inbound webhook's job takes its own and the three status webhooks: one transaction for
	// all four.
	res := processBatch(t, e, newProcessor(t, e), ids[2], 10)
	require.Len(t, res, 4)
	for i, r := range res {
		require.Equal(t, ids[i], r.EventID, "oldest first")
		require.False(t, r.ReceivedAt.IsZero())
	}
	require.Len(t, res[2].Received, 1, "the inbound message is stored in the same batch")
	require.Equal(t, inbox.StatusApplied, res[0].Statuses[0].Result.Outcome)
	require.Equal(t, "delivered", res[0].Statuses[0].Result.Message.Status)
	require.Equal(t, 0, e.count("webhook_events", "processed_at IS NULL"))

	require.Equal(t, "delivered", e.message("wamid.batch-0").Status)
	require.Equal(t, "read", e.message("wamid.batch-1").Status)
	failed := e.message("wamid.batch-2")
	require.Equal(t, "failed", failed.Status)
	require.EqualValues(t, 131026, *failed.ErrorCode, "a failed status still records Meta's error")
	require.Equal(t, "Receiver is incapable of receiving this message", *failed.ErrorDetails)
	require.Equal(t, 3, e.count("events", "kind = 'message.status'"))

	// A size of one takes the job's own webhook only.
	more := storeAll(t, e, statusBody("wamid.batch-0", "read", 1750030095, ""), statusBody("wamid.batch-1", "sent", 1750030060, ""))
	res = processBatch(t, e, newProcessor(t, e), more[1], 1)
	require.Len(t, res, 1)
	require.Equal(t, more[1], res[0].EventID)
	require.Equal(t, 1, e.count("webhook_events", "processed_at IS NULL"))
}

func TestBatchFoldsStatusesOfOneMessageAndDuplicates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	insertSentMessage(t, e, "16505551000", "wamid.fold")
	insertSentMessage(t, e, "16505551001", "wamid.fold-failed")
	// Out of order, with a duplicate read (Meta redelivers with a new body) and a delivered after
	// failed, all in one batch.
	ids := storeAll(t, e,
		statusBody("wamid.fold", "read", 1750030090, ""),
		statusBody("wamid.fold", "delivered", 1750030080, ""),
		statusBody("wamid.fold", "read", 1750030099, ""),
		statusBody("wamid.fold", "sent", 1750030070, ""),
		statusBody("wamid.fold-failed", "failed", 1750030070, "", `[{"code":131049,"title":"Not delivered"}]`),
		statusBody("wamid.fold-failed", "delivered", 1750030080, ""),
	)
	res := processBatch(t, e, newProcessor(t, e), ids[0], 50)
	require.Len(t, res, len(ids))
	outcomes := make([]inbox.StatusOutcome, len(res))
	for i, r := range res {
		require.Len(t, r.Statuses, 1)
		outcomes[i] = r.Statuses[0].Result.Outcome
	}
	require.Equal(t, []inbox.StatusOutcome{
		inbox.StatusApplied, inbox.StatusApplied, inbox.StatusUnchanged, inbox.StatusApplied, inbox.StatusApplied, inbox.StatusIgnored,
	}, outcomes)

	m := e.message("wamid.fold")
	require.Equal(t, "read", m.Status, "read never becomes delivered")
	requireUnix(t, 1750030090, m.ReadAt, "the duplicate's later time does not replace the first")
	requireUnix(t, 1750030080, m.DeliveredAt)
	requireUnix(t, 1750030070, m.SentAt)
	f := e.message("wamid.fold-failed")
	require.Equal(t, "failed", f.Status)
	require.EqualValues(t, 131049, *f.ErrorCode)
	require.Nil(t, f.DeliveredAt)

	// One event per message, carrying the status it was left in.
	rows, err := e.pool.Query(context.Background(), "SELECT payload->>'status' FROM events WHERE kind = 'message.status' ORDER BY id")
	require.NoError(t, err)
	statuses, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"read", "failed"}, statuses)
	require.Contains(t, res[5].Statuses[0].Result.Reason, "failed")
}

func TestBatchKeepsEarlyStatusesOnceForMarkSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	msg := sendPending(t, e, "16505551234")
	wamid := "wamid.EARLY-BATCH-" + uuid.NewString()
	ids := storeAll(t, e,
		statusBody(wamid, "delivered", 1750030080, fmt.Sprint(msg.ID)),
		statusBody(wamid, "sent", 1750030070, fmt.Sprint(msg.ID)),
		// The same delivered status again, in another body: kept once.
		statusBody(wamid, "delivered", 1750030081, fmt.Sprint(msg.ID)),
	)
	res := processBatch(t, e, newProcessor(t, e), ids[0], 50)
	require.Len(t, res, 3)
	for _, r := range res {
		require.Equal(t, inbox.StatusKept, r.Statuses[0].Result.Outcome)
	}
	require.Equal(t, 2, e.count("early_statuses", fmt.Sprintf("wa_message_id = '%s' AND message_id = %d", wamid, msg.ID)))

	sent, err := e.inbox.MarkSent(ctx, msg.ID, wamid, func(pgx.Tx) error { return nil })
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.Status)
	requireUnix(t, 1750030080, sent.DeliveredAt)
	requireUnix(t, 1750030070, sent.SentAt)
	require.Equal(t, 0, e.count("early_statuses"))
	var status string
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT payload->>'status' FROM events WHERE kind = 'message.status' ORDER BY id DESC LIMIT 1").Scan(&status))
	require.Equal(t, "delivered", status, "the send's event tells the status the kept ones left")
}

func TestBatchSkipsWebhooksAnotherTransactionHolds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	insertSentMessage(t, e, "16505551000", "wamid.held")
	ids := storeAll(t, e, statusBody("wamid.held", "delivered", 1750030080, ""), statusBody("wamid.held", "read", 1750030090, ""))
	p := newProcessor(t, e)

	// A batch holds both webhooks and rolls back, as a crash mid-batch would.
	tx, err := e.pool.Begin(ctx)
	require.NoError(t, err)
	held, err := p.ProcessBatch(ctx, tx, ids[0], 50)
	require.NoError(t, err)
	require.Len(t, held, 2)

	// Meanwhile another job's batch takes nothing it holds, without waiting.
	other := processBatch(t, e, p, ids[1], 50)
	require.Empty(t, other)

	// The second job's webhook alone waits for the holder, then applies cleanly after its rollback.
	done := make(chan *webhook.Result, 1)
	go func() {
		var res *webhook.Result
		err := database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
			var err error
			res, err = p.Process(ctx, tx, ids[1])
			return err
		})
		require.NoError(t, err)
		done <- res
	}()
	select {
	case <-done:
		t.Fatal("Process did not wait for the batch holding its webhook")
	case <-time.After(200 * time.Millisecond):
	}
	require.NoError(t, tx.Rollback(ctx))
	res := <-done
	require.False(t, res.AlreadyProcessed)
	require.Equal(t, inbox.StatusApplied, res.Statuses[0].Result.Outcome)
	require.Equal(t, "read", e.message("wamid.held").Status)
	require.Nil(t, e.message("wamid.held").DeliveredAt, "the rolled-back batch left nothing")

	// The first webhook's next batch re-applies it.
	again := processBatch(t, e, p, ids[0], 50)
	require.Len(t, again, 1)
	m := e.message("wamid.held")
	require.Equal(t, "read", m.Status)
	requireUnix(t, 1750030080, m.DeliveredAt)
	require.Equal(t, 2, e.count("events", "kind = 'message.status'"))
}

func TestConcurrentBatchesApplyEveryWebhookOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const messages = 60
	var bodies [][]byte
	for i := range messages {
		insertSentMessage(t, e, fmt.Sprintf("165055520%02d", i), fmt.Sprintf("wamid.conc-%d", i))
	}
	// Statuses of the same messages spread over the backlog, so batches share messages.
	for _, st := range []string{"delivered", "read"} {
		for i := range messages {
			bodies = append(bodies, statusBody(fmt.Sprintf("wamid.conc-%d", i), st, 1750030080, ""))
		}
	}
	ids := storeAll(t, e, bodies...)

	p := newProcessor(t, e)
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < len(ids); i += 4 {
				var res []*webhook.Result
				err := database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
					var err error
					res, err = p.ProcessBatch(ctx, tx, ids[i], 7)
					return err
				})
				require.NoError(t, err)
				mu.Lock()
				for _, r := range res {
					seen[r.EventID]++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.Len(t, seen, len(ids), "every webhook applied")
	for id, n := range seen {
		require.Equal(t, 1, n, "webhook %d applied once", id)
	}
	require.Equal(t, messages, e.count("messages", "status = 'read' AND delivered_at IS NOT NULL AND read_at IS NOT NULL"))
	require.Equal(t, 0, e.count("webhook_events", "processed_at IS NULL"))
}

func TestOnlyStatusWebhooksJoinOtherJobsBatches(t *testing.T) {
	t.Parallel()
	for name, body := range fixtures(t) {
		want := strings.HasPrefix(name, "status-")
		require.Equal(t, want, webhook.StatusesOnly(body), name)
	}
	require.False(t, webhook.StatusesOnly([]byte(`{"statuses":[{"id":"w"}], "messages" :
		[{"id":"m"}]}`)), "whitespace around the key's colon")
	require.True(t, webhook.StatusesOnly(statusBody("wamid.x", "read", 1750030090, "")))

	// An inbound webhook is left to its own job: another job's batch takes only the statuses.
	e := newEnv(t, envOptions{})
	insertSentMessage(t, e, "16505551000", "wamid.only-statuses")
	ids := storeAll(t, e, fixture(t, "inbound-text.json"), statusBody("wamid.only-statuses", "read", 1750030090, ""),
		fixture(t, "value-errors.json"))
	res := processBatch(t, e, newProcessor(t, e), ids[1], 50)
	require.Len(t, res, 1)
	require.Equal(t, ids[1], res[0].EventID)
	// Its own job's batch takes it, with the statuses of others it may find.
	res = processBatch(t, e, newProcessor(t, e), ids[0], 50)
	require.Len(t, res, 1)
	require.Len(t, res[0].Received, 1)
}
