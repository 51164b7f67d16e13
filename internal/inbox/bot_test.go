package inbox_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// botInbox is an inbox with the bot on, on a fresh database, whose jobs are only queued.
func botInbox(t *testing.T) (*inbox.Service, *pgxpool.Pool, int64) {
	t.Helper()
	pool, _ := dbtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{TestOnly: true})
	require.NoError(t, err)
	svc, err := inbox.New(&inbox.Config{Pool: pool, Queue: client, BotEnabled: true})
	require.NoError(t, err)
	ch, err := svc.EnsureChannel(t.Context(), db.ChannelUpsertParams{PhoneNumberID: "106540352242922"})
	require.NoError(t, err)
	return svc, pool, ch.ID
}

func receive(t *testing.T, svc *inbox.Service, pool *pgxpool.Pool, channelID int64, wamid, text string) inbox.Received {
	t.Helper()
	var res inbox.Received
	require.NoError(t, database.InTx(t.Context(), pool, func(tx pgx.Tx) error {
		var err error
		res, err = svc.ReceiveTx(t.Context(), tx, &inbox.Inbound{
			ChannelID: channelID,
			Contact:   inbox.InboundContact{WaID: "16505551234", ProfileName: "Ana"},
			Message:   &whatsapp.InboundMessage{ID: wamid, Type: "text", Text: &whatsapp.Text{Body: text}},
			At:        time.Now(),
		})
		return err
	}))
	require.Equal(t, inbox.ConversationBot, res.Conversation.Status)
	require.True(t, res.BotReplyQueued)
	return res
}

func botMessages(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT count(*) FROM messages WHERE sender = 'bot'").Scan(&n))
	return n
}

// A takeover that holds the conversation row first wins: the bot's transaction waits for it and
// then writes nothing.
func TestSendBotReplyWaitsForATakeoverAndYields(t *testing.T) {
	t.Parallel()
	svc, pool, channelID := botInbox(t)
	ctx := t.Context()
	got := receive(t, svc, pool, channelID, "wamid.1", "hola")
	convID := got.Conversation.ID

	takeover, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = takeover.Rollback(context.Background()) }()
	_, err = takeover.Exec(ctx, "UPDATE conversations SET status = 'open' WHERE id = $1", convID)
	require.NoError(t, err)

	done := make(chan inbox.BotOutcome, 1)
	errs := make(chan error, 1)
	go func() {
		out, err := svc.SendBotReply(ctx, inbox.BotReply{ConversationID: convID, TriggerMessageID: got.Message.ID, Text: "¡Hola!"}, nil)
		errs <- err
		done <- out
	}()
	// The bot's transaction is blocked on the row lock the takeover holds.
	require.Eventually(t, func() bool {
		var waiting int
		require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting))
		return waiting > 0
	}, 10*time.Second, 5*time.Millisecond)
	require.NoError(t, takeover.Commit(ctx))

	require.NoError(t, <-errs)
	out := <-done
	require.Equal(t, inbox.BotSkipped, out.Outcome)
	require.Equal(t, inbox.BotReasonNotBot, out.Reason)
	require.Nil(t, out.Message)
	require.Zero(t, botMessages(t, pool))
}

func TestSendBotReplySkipsSupersededAndRepeatedRuns(t *testing.T) {
	t.Parallel()
	svc, pool, channelID := botInbox(t)
	ctx := t.Context()
	first := receive(t, svc, pool, channelID, "wamid.1", "hola")
	second := receive(t, svc, pool, channelID, "wamid.2", "¿abren hoy?")
	convID := first.Conversation.ID

	out, err := svc.SendBotReply(ctx, inbox.BotReply{ConversationID: convID, TriggerMessageID: first.Message.ID, Text: "¡Hola!"}, nil)
	require.NoError(t, err)
	require.Equal(t, inbox.BotReasonSuperseded, out.Reason, "the newer message's run answers both")

	reply := inbox.BotReply{ConversationID: convID, TriggerMessageID: second.Message.ID, Text: "Sí, de 8 a 20 h.",
		Usage: inbox.BotUsage{Model: "m", Prompt: 10, Candidates: 5, Total: 15}}
	out, err = svc.SendBotReply(ctx, reply, nil)
	require.NoError(t, err)
	require.Equal(t, inbox.BotReplied, out.Outcome)
	require.Equal(t, inbox.SenderBot, out.Message.Sender)
	require.Equal(t, inbox.StatusPending, out.Message.Status, "queued through the outbox")

	out, err = svc.SendBotReply(ctx, reply, nil)
	require.NoError(t, err)
	require.Equal(t, inbox.BotReasonDuplicate, out.Reason, "a job run twice sends once")
	require.Equal(t, 1, botMessages(t, pool))

	var sendJobs, tokens int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM river_job WHERE kind = 'send_message'").Scan(&sendJobs))
	require.Equal(t, 1, sendJobs)
	require.NoError(t, pool.QueryRow(ctx, "SELECT sum(total_tokens) FROM bot_runs").Scan(&tokens))
	require.Equal(t, 15, tokens)
}

func TestSendBotReplyHandsOff(t *testing.T) {
	t.Parallel()
	svc, pool, channelID := botInbox(t)
	ctx := t.Context()
	got := receive(t, svc, pool, channelID, "wamid.1", "quiero un agente")

	out, err := svc.SendBotReply(ctx, inbox.BotReply{
		ConversationID: got.Conversation.ID, TriggerMessageID: got.Message.ID,
		Handoff: true, HandoffReason: inbox.BotReasonCustomerAsked, HandoffText: "Una persona te atenderá.",
	}, nil)
	require.NoError(t, err)
	require.Equal(t, inbox.BotHandedOff, out.Outcome)
	require.Equal(t, inbox.ConversationPending, out.Conversation.Status)
	require.Nil(t, out.Conversation.AssigneeID)
	require.Equal(t, inbox.SenderSystem, out.Message.Sender)
	require.Equal(t, "Una persona te atenderá.", out.Message.Body)

	var events int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM events WHERE conversation_id = $1
		AND kind = 'conversation.updated' AND payload->>'status' = 'pending'`, got.Conversation.ID).Scan(&events))
	require.Equal(t, 1, events)

	// Once the humans have it, a late run of the bot writes nothing.
	out, err = svc.SendBotReply(ctx, inbox.BotReply{ConversationID: got.Conversation.ID, TriggerMessageID: got.Message.ID, Text: "late"}, nil)
	require.NoError(t, err)
	require.Equal(t, inbox.BotReasonNotBot, out.Reason)
	require.Zero(t, botMessages(t, pool))
}

func TestWindowOpen(t *testing.T) {
	t.Parallel()
	now := time.Now()
	at := func(d time.Duration) *time.Time { v := now.Add(-d); return &v }
	require.True(t, inbox.WindowOpen(at(time.Minute), now))
	require.True(t, inbox.WindowOpen(at(23*time.Hour), now))
	require.False(t, inbox.WindowOpen(at(24*time.Hour-30*time.Second), now), "not in its last minute")
	require.False(t, inbox.WindowOpen(at(25*time.Hour), now))
	require.False(t, inbox.WindowOpen(nil, now), "a customer who never wrote")
}
