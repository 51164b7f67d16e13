package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/webhook"
)

// storedMessage is a message row with its payload decoded.
type storedMessage struct {
	db.Message
	P map[string]any
}

func (e *env) message(waMessageID string) storedMessage {
	e.t.Helper()
	return loadMessage(e.t, e, waMessageID)
}

func loadMessage(t testing.TB, e *env, waMessageID string) storedMessage {
	t.Helper()
	var m storedMessage
	err := e.pool.QueryRow(context.Background(),
		`SELECT id, conversation_id, direction, sender, type, body, payload, status, created_at, sent_at, delivered_at, read_at, failed_at,
		        error_code, error_title, error_details
		 FROM messages WHERE wa_message_id = $1`, waMessageID).
		Scan(&m.ID, &m.ConversationID, &m.Direction, &m.Sender, &m.Type, &m.Body, &m.Payload, &m.Status, &m.CreatedAt,
			&m.SentAt, &m.DeliveredAt, &m.ReadAt, &m.FailedAt, &m.ErrorCode, &m.ErrorTitle, &m.ErrorDetails)
	require.NoError(t, err, "message %s", waMessageID)
	require.NoError(t, json.Unmarshal(m.Payload, &m.P))
	return m
}

// path reads a value out of a decoded payload, e.g. path(p, "image", "id").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func TestEveryInboundMessageTypeIsStoredWithItsPayload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true, botEnabled: true})
	tests := []struct {
		fixture string
		wamid   string
		typ     string
		body    string
		payload map[string]any // path "a.b" -> value
	}{
		{"inbound-text.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", "text", "Does it come in another color?", nil},
		{"inbound-text-escaped-unicode.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUVTQ0FQRUQtVU5JQ09ERS0wMDEA", "text",
			"¡Hola! ¿Tienen envío a São Paulo? 👍 https://example.com/p/42", nil},
		{"inbound-image.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUlNQUdFLTAwMQA=", "image", "This is the broken one", map[string]any{
			"image.id": "1003383421387256", "image.mime_type": "image/jpeg",
			"image.sha256": "WAnmfRbUG1QJJy0s3GUFNhSJmCkGtDg2/9Etvc3Y1jw=", "image.caption": "This is the broken one"}},
		{"inbound-video.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVZJREVPLTAwMQA=", "video", "Unboxing", map[string]any{
			"video.id": "1166846181421424", "video.mime_type": "video/mp4"}},
		{"inbound-audio-voice.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVZPSUNFLTAwMQA=", "audio", "", map[string]any{
			"audio.id": "1013859600285441", "audio.voice": true, "audio.mime_type": "audio/ogg; codecs=opus"}},
		{"inbound-document.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQURPQ1VNRU5ULTAwMQA=", "document", "My invoice", map[string]any{
			"document.filename": "invoice-2024-17.pdf", "document.mime_type": "application/pdf",
			"document.sha256": "W26k5nAukB6rqiH0XnIqCrTV4EkS6eLnRMoc3gnyLJc="}},
		{"inbound-sticker.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVNUSUNLRVItMDAxAA==", "sticker", "", map[string]any{
			"sticker.id": "1228400218376493", "sticker.mime_type": "image/webp"}},
		{"inbound-location.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUxPQ0FUSU9OLTAwMQA=", "location",
			"Solomon R. Guggenheim Museum 1071 5th Ave, New York, NY 10128", map[string]any{"location.latitude": 40.782910059774}},
		{"inbound-contacts.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUNPTlRBQ1RTLTAwMQA=", "contacts", "", nil},
		{"inbound-button-reply.json", "wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQThBREYwNzc2RDc2QjA1QTIwMgA=", "interactive", "Change", map[string]any{
			"interactive.type": "button_reply", "interactive.button_reply.id": "change-button",
			"context.id": "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA"}},
		{"inbound-list-reply.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUxJU1QtMDAxAA==", "interactive", "Express Shipping", map[string]any{
			"interactive.type": "list_reply", "interactive.list_reply.id": "priority_express"}},
		{"inbound-button.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUJVVFRPTi0wMDEA", "button", "Unsubscribe from Promos", map[string]any{
			"button.payload": "Unsubscribe from Promos"}},
		{"inbound-reaction.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVJFQUNULTAwMQA=", "reaction", "😀", map[string]any{
			"reaction.message_id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA"}},
		{"inbound-reaction-removed.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVJFQUNULTAwMgA=", "reaction", "", nil},
		{"inbound-unsupported.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVVOU1VQUE9SVEVELTAwMQA=", "unsupported", "", nil},
		{"inbound-system.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVNZU1RFTS0wMDEA", "system",
			"User Sheena Nelson changed from 16505551234 to 16505559876", map[string]any{"system.type": "user_changed_number"}},
		{"inbound-referral.json", "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQVJFRkVSUkFMLTAwMQA=", "text", "Can I get more info about this?", map[string]any{
			"referral.source_type": "ad", "referral.source_id": "120226305854810726"}},
	}
	for _, tt := range tests {
		e.deliver(fixture(t, tt.fixture))
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			m := loadMessage(t, e, tt.wamid)
			require.Equal(t, tt.typ, m.Type)
			require.Equal(t, tt.body, m.Body)
			require.Equal(t, "in", m.Direction)
			require.Equal(t, "contact", m.Sender)
			require.Equal(t, "received", m.Status)
			require.Equal(t, tt.wamid, path(m.P, "id"), "the payload is Meta's whole message")
			for k, want := range tt.payload {
				require.Equal(t, want, path(m.P, strings.Split(k, ".")...), k)
			}
		})
	}
	// The unsupported message's error is logged with its code.
	require.Contains(t, e.logs.String(), "error_code=131051")
	// Every message came from the same customer: one contact, one conversation.
	require.Equal(t, 1, e.count("contacts"))
	require.Equal(t, 1, e.count("conversations"))
	require.Equal(t, 0, e.count("webhook_errors"))
}

func TestInboundMessageOpensTheConversationAndQueuesTheBot(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true, botEnabled: true})
	ctx := context.Background()
	e.deliver(fixture(t, "inbound-text.json"))

	first := e.message("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=")
	conv, err := e.inbox.LoadConversation(ctx, first.ConversationID)
	require.NoError(t, err)
	require.Equal(t, inbox.ConversationBot, conv.Conversation.Status)
	require.EqualValues(t, 1, conv.Conversation.UnreadCount)
	require.Equal(t, "16505551234", conv.Contact.WaID)
	require.Equal(t, "Sheena Nelson", conv.Contact.ProfileName)
	requireUnix(t, 1749416383, conv.Contact.LastInboundAt, "the service window starts at Meta's timestamp")

	kinds := eventKinds(t, e)
	require.Equal(t, []string{"message.created", "conversation.created"}, kinds)

	var args inbox.BotReplyArgs
	var botJobs int
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT count(*), min(args::text) FROM river_job WHERE kind = 'bot_reply'").Scan(&botJobs, new(string)))
	require.Equal(t, 1, botJobs)
	var rawArgs []byte
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT args FROM river_job WHERE kind = 'bot_reply'").Scan(&rawArgs))
	require.NoError(t, json.Unmarshal(rawArgs, &args))
	require.Equal(t, inbox.BotReplyArgs{ConversationID: first.ConversationID, MessageID: first.ID}, args)

	// A second message: the same conversation, one more unread, one more bot reply.
	e.deliver(fixture(t, "inbound-image.json"))
	conv, err = e.inbox.LoadConversation(ctx, first.ConversationID)
	require.NoError(t, err)
	require.EqualValues(t, 2, conv.Conversation.UnreadCount)
	require.Equal(t, 2, e.count("river_job", "kind = 'bot_reply'"))
	require.Equal(t, []string{"message.created", "conversation.created", "message.created", "conversation.updated"}, eventKinds(t, e))

	// A reaction is stored but is neither unread nor a question for the bot.
	e.deliver(fixture(t, "inbound-reaction.json"))
	conv, err = e.inbox.LoadConversation(ctx, first.ConversationID)
	require.NoError(t, err)
	require.EqualValues(t, 2, conv.Conversation.UnreadCount)
	require.Equal(t, 2, e.count("river_job", "kind = 'bot_reply'"))
	require.Equal(t, 3, e.count("messages"))
}

func TestConversationStatusAfterAnInboundMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tests := []struct {
		name       string
		botEnabled bool
		before     string // "" for no conversation yet
		assigned   bool
		want       string
		botReply   bool
	}{
		{"new, bot on", true, "", false, "bot", true},
		{"new, bot off", false, "", false, "pending", false},
		{"resolved reopens to the bot", true, "resolved", true, "bot", true},
		{"resolved reopens to its assignee", false, "resolved", true, "open", false},
		{"resolved reopens to the queue", false, "resolved", false, "pending", false},
		{"snoozed wakes up to its assignee", true, "snoozed", true, "open", false},
		{"open stays with its agent", true, "open", true, "open", false},
		{"pending stays pending", true, "pending", false, "pending", false},
		{"bot stays with the bot", false, "bot", false, "bot", true},
	}
	// One database; an inbox with the bot and one without, each case its own customer.
	e := newEnv(t, envOptions{})
	processors := map[bool]*webhook.Processor{}
	for _, bot := range []bool{false, true} {
		in, err := inbox.New(&inbox.Config{Pool: e.pool, Queue: e.river, BotEnabled: bot})
		require.NoError(t, err)
		processors[bot], err = webhook.NewProcessor(in, nil)
		require.NoError(t, err)
	}
	_, err := e.pool.Exec(ctx, "INSERT INTO users (email, name, role, password_hash) VALUES ('a@example.com', 'A', 'agent', 'x')")
	require.NoError(t, err)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			waID := fmt.Sprintf("1650555%04d", i)
			if tt.before != "" {
				_, err := e.pool.Exec(ctx, `
					WITH c AS (INSERT INTO contacts (channel_id, wa_id) VALUES ($1, $4) RETURNING id)
					INSERT INTO conversations (channel_id, contact_id, status, assignee_id)
					SELECT $1, c.id, $2, CASE WHEN $3 THEN (SELECT id FROM users) END FROM c`, e.channel.ID, tt.before, tt.assigned, waID)
				require.NoError(t, err)
			}
			body := strings.ReplaceAll(string(fixture(t, "inbound-text.json")), "16505551234", waID)
			body = strings.Replace(body, "RTAzODEwMTQ0RgA=", fmt.Sprintf("case-%d", i), 1)
			st, err := webhook.Store(ctx, e.pool, e.river, []byte(body))
			require.NoError(t, err)
			require.NoError(t, database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
				_, err := processors[tt.botEnabled].Process(ctx, tx, st.EventID)
				return err
			}))
			var status string
			var convID int64
			require.NoError(t, e.pool.QueryRow(ctx,
				"SELECT conversations.id, status FROM conversations JOIN contacts ON contacts.id = contact_id WHERE wa_id = $1", waID).Scan(&convID, &status))
			require.Equal(t, tt.want, status)
			want := 0
			if tt.botReply {
				want = 1
			}
			require.Equal(t, want, e.count("river_job", fmt.Sprintf("kind = 'bot_reply' AND (args->>'conversation_id')::bigint = %d", convID)))
		})
	}
}

func TestUsernameUserIsAContactByUserID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	e.deliver(fixture(t, "inbound-username.json"))
	var waID, userID, name string
	require.NoError(t, e.pool.QueryRow(context.Background(), "SELECT wa_id, user_id, profile_name FROM contacts").Scan(&waID, &userID, &name))
	require.Equal(t, "", waID)
	require.Equal(t, "US.13491208655302741918", userID)
	require.Equal(t, "Maria", name)
	require.Equal(t, 1, e.count("messages"))

	// Once the same user shows a phone number, the contact gains it rather than doubling.
	body := strings.Replace(string(fixture(t, "inbound-username.json")), `"user_id":"US.13491208655302741918"}`,
		`"user_id":"US.13491208655302741918","wa_id":"16505550199"}`, 1)
	body = strings.Replace(body, "LTAwMQA=", "LTAwMgA=", 1)
	e.deliver([]byte(body))
	require.Equal(t, 1, e.count("contacts"))
	require.Equal(t, 1, e.count("contacts", "wa_id = '16505550199'"))
	require.Equal(t, 2, e.count("messages"))
}

func TestBatchIsWalkedWhole(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	ctx := context.Background()
	// Two of our messages the batch has statuses for.
	for i, wamid := range []string{"wamid.BATCH-OUT-001", "wamid.BATCH-OUT-002"} {
		insertSentMessage(t, e, fmt.Sprintf("551198765000%d", i+1), wamid)
	}
	e.deliver(fixture(t, "batch.json"))

	for _, wamid := range []string{"wamid.BATCH-IN-001", "wamid.BATCH-IN-002", "wamid.BATCH-IN-003", "wamid.BATCH-IN-004"} {
		e.message(wamid)
	}
	require.Equal(t, 3, e.count("contacts"))
	require.Equal(t, 3, e.count("conversations"))
	var unread int
	require.NoError(t, e.pool.QueryRow(ctx,
		"SELECT unread_count FROM conversations JOIN contacts ON contacts.id = contact_id WHERE wa_id = '5511987650001'").Scan(&unread))
	require.Equal(t, 2, unread)
	require.Equal(t, "delivered", e.message("wamid.BATCH-OUT-001").Status)
	require.Equal(t, "read", e.message("wamid.BATCH-OUT-002").Status)
	// The account_update change is not for the inbox, but it is recorded rather than dropped.
	require.Equal(t, 1, e.count("webhook_errors", "kind = 'unhandled_field'"))
}

func TestRedeliveredMessageChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true, botEnabled: true})
	body := fixture(t, "inbound-text.json")
	e.deliver(body)
	events, jobs := e.count("events"), e.count("river_job", "kind = 'bot_reply'")

	// Meta redelivers the message in a body that differs (another batch): a new webhook, the
	// same wa_message_id.
	var n map[string]any
	require.NoError(t, json.Unmarshal(body, &n))
	n["entry"] = append(n["entry"].([]any), map[string]any{"id": "102290129340398", "changes": []any{}})
	other, err := json.Marshal(n)
	require.NoError(t, err)
	e.deliver(other)

	require.Equal(t, 2, e.count("webhook_events"))
	require.Equal(t, 1, e.count("messages"))
	require.Equal(t, events, e.count("events"))
	require.Equal(t, jobs, e.count("river_job", "kind = 'bot_reply'"))
	var unread int
	require.NoError(t, e.pool.QueryRow(context.Background(), "SELECT unread_count FROM conversations").Scan(&unread))
	require.Equal(t, 1, unread)
}

func TestSamePayloadPostedFiveTimesConcurrentlyMakesOneMessage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	bodies := [][]byte{fixture(t, "inbound-text.json")}
	// Also five different bodies carrying the same message, processed concurrently by the workers.
	for i := range 4 {
		bodies = append(bodies, []byte(strings.Replace(string(bodies[0]), `"object"`, fmt.Sprintf(`"pad":%d,"object"`, i), 1)))
	}
	var wg sync.WaitGroup
	for _, b := range bodies {
		for range 5 {
			wg.Go(func() {
				status, _ := e.post(b)
				require.Equal(t, 200, status)
			})
		}
	}
	wg.Wait()
	e.waitProcessed()
	require.Equal(t, 5, e.count("webhook_events"))
	require.Equal(t, 1, e.count("messages"))
	require.Equal(t, 1, e.count("contacts"))
	require.Equal(t, 1, e.count("conversations"))
	require.Equal(t, 1, e.count("events", "kind = 'message.created'"))
}

func TestNewContactsMessagesProcessedConcurrentlyShareOneConversation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	// Twenty different messages of a customer never seen before arrive at once; the workers race
	// to open their conversation, and every message must land in the one that wins.
	const n = 20
	base := string(fixture(t, "inbound-text.json"))
	var wg sync.WaitGroup
	for i := range n {
		body := []byte(strings.Replace(base, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=",
			fmt.Sprintf("wamid.concurrent-%d", i), 1))
		wg.Go(func() {
			status, _ := e.post(body)
			require.Equal(t, 200, status)
		})
	}
	wg.Wait()
	e.waitProcessed()
	require.Equal(t, n, e.count("messages"))
	require.Equal(t, 1, e.count("contacts"))
	require.Equal(t, 1, e.count("conversations"))
	require.Equal(t, n, e.count("events", "kind = 'message.created'"))
	require.Equal(t, 1, e.count("events", "kind = 'conversation.created'"))
	require.Equal(t, n-1, e.count("events", "kind = 'conversation.updated'"))
	var unread int
	require.NoError(t, e.pool.QueryRow(context.Background(), "SELECT unread_count FROM conversations").Scan(&unread))
	require.Equal(t, n, unread)
}

func TestThousandStatusesInOnePayloadAreAllApplied(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	ctx := context.Background()
	convID := insertSentMessage(t, e, "16505551234", "wamid.bulk-0")
	_, err := e.pool.Exec(ctx, `
		INSERT INTO messages (conversation_id, direction, sender, type, body, status, wa_message_id, sent_at)
		SELECT $1, 'out', 'agent', 'text', 'bulk', 'sent', 'wamid.bulk-' || i, now() FROM generate_series(1, 999) i`, convID)
	require.NoError(t, err)

	statuses := make([]map[string]any, 1000)
	for i := range statuses {
		statuses[i] = map[string]any{"id": fmt.Sprintf("wamid.bulk-%d", i), "status": "delivered", "timestamp": "1750030074", "recipient_id": "16505551234"}
	}
	body, err := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": testPhoneNumberID},
			"statuses":          statuses,
		}}},
	}}})
	require.NoError(t, err)
	e.deliver(body)
	require.Equal(t, 1000, e.count("messages", "status = 'delivered' AND delivered_at = to_timestamp(1750030074)"))
	require.Equal(t, 1000, e.count("events", "kind = 'message.status'"))
}

func TestStatusesOnlyMoveForward(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	insertSentMessage(t, e, "16505551234", "wamid.order-1")
	insertSentMessage(t, e, "16505551235", "wamid.order-2")

	// read, then delivered, then sent: read, with all three of Meta's timestamps.
	e.deliver(statusBody("wamid.order-1", "read", 1750030090, ""))
	e.deliver(statusBody("wamid.order-1", "delivered", 1750030080, ""))
	e.deliver(statusBody("wamid.order-1", "sent", 1750030070, ""))
	m := e.message("wamid.order-1")
	require.Equal(t, "read", m.Status)
	requireUnix(t, 1750030090, m.ReadAt)
	requireUnix(t, 1750030080, m.DeliveredAt)
	requireUnix(t, 1750030070, m.SentAt, "Meta's sent time is earlier than the one recorded at send")

	// A duplicate changes nothing, not even an event.
	events := e.count("events")
	e.deliver(statusBody("wamid.order-1", "read", 1750030095, ""))
	require.Equal(t, events, e.count("events"))

	// failed, then delivered: failed, with Meta's error; the late status is logged.
	e.deliver(statusBody("wamid.order-2", "failed", 1750030070, "", `[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Receiver is incapable of receiving this message"}}]`))
	e.deliver(statusBody("wamid.order-2", "delivered", 1750030080, ""))
	e.deliver(statusBody("wamid.order-2", "read", 1750030090, ""))
	m = e.message("wamid.order-2")
	require.Equal(t, "failed", m.Status)
	require.EqualValues(t, 131026, *m.ErrorCode)
	require.Equal(t, "Message undeliverable", *m.ErrorTitle)
	require.Equal(t, "Receiver is incapable of receiving this message", *m.ErrorDetails)
	requireUnix(t, 1750030070, m.FailedAt)
	require.Nil(t, m.DeliveredAt)
	require.Nil(t, m.ReadAt)
	logs := e.logs.String()
	require.Contains(t, logs, "message status ignored")
	require.Contains(t, logs, "status=delivered message_status=failed")
	require.Contains(t, logs, fmt.Sprintf("message_id=%d", m.ID))
	require.Contains(t, logs, fmt.Sprintf("conversation_id=%d", m.ConversationID))
}

func TestFailedStatusFromMetaSample(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	insertSentMessage(t, e, "16505551234", "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA")
	e.deliver(fixture(t, "status-failed.json"))
	m := e.message("wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA")
	require.Equal(t, "failed", m.Status)
	require.EqualValues(t, 131049, *m.ErrorCode)
	require.Equal(t, "This message was not delivered to maintain healthy ecosystem engagement.", *m.ErrorTitle)
	require.Contains(t, *m.ErrorDetails, "healthy ecosystem engagement")
	require.Contains(t, e.logs.String(), "error_code=131049")
}

func TestStatusBeforeTheSendIsRecordedIsKeptAndAppliedByMarkSent(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	ctx := context.Background()
	msg := sendPending(t, e, "16505551234")
	wamid := "wamid.EARLY-" + uuid.NewString()

	// Meta's delivered overtakes the commit of our send: nothing carries the wamid yet.
	e.deliver(statusBody(wamid, "delivered", 1750030080, fmt.Sprint(msg.ID)))
	e.deliver(statusBody(wamid, "sent", 1750030070, fmt.Sprint(msg.ID)))
	require.Equal(t, 2, e.count("early_statuses", fmt.Sprintf("wa_message_id = '%s' AND message_id = %d", wamid, msg.ID)))
	got, err := e.inbox.LoadMessage(ctx, msg.ID)
	require.NoError(t, err)
	require.Equal(t, "pending", got.Status)

	// The send worker records the wamid: the kept statuses apply in the same transaction.
	sent, err := e.inbox.MarkSent(ctx, msg.ID, wamid, func(pgx.Tx) error { return nil })
	require.NoError(t, err)
	require.Equal(t, "delivered", sent.Status)
	requireUnix(t, 1750030080, sent.DeliveredAt)
	requireUnix(t, 1750030070, sent.SentAt)
	require.Equal(t, 0, e.count("early_statuses"))

	// Later statuses find the message directly.
	e.deliver(statusBody(wamid, "read", 1750030090, fmt.Sprint(msg.ID)))
	require.Equal(t, "read", e.message(wamid).Status)
}

func TestStatusRacingMarkSentIsNeverLost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	const n = 30
	var wg sync.WaitGroup
	for i := range n {
		msg := sendPending(t, e, fmt.Sprintf("1650555%04d", i))
		wamid := fmt.Sprintf("wamid.RACE-%d-%s", i, uuid.NewString())
		wg.Go(func() {
			_, err := e.inbox.MarkSent(ctx, msg.ID, wamid, func(pgx.Tx) error { return nil })
			require.NoError(t, err)
		})
		wg.Go(func() {
			err := database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
				_, err := e.inbox.ApplyStatusTx(ctx, tx, &inbox.StatusUpdate{
					WaMessageID: wamid, Status: "delivered", At: time.Unix(1750030080, 0),
				})
				return err
			})
			require.NoError(t, err)
		})
	}
	wg.Wait()
	require.Equal(t, n, e.count("messages", "status = 'delivered'"), "every status applied, whichever committed first")
	require.Equal(t, 0, e.count("early_statuses"))
}

func TestWhatCannotBeAppliedIsRecordedAndTheJobCompletes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	ctx := context.Background()

	// An unknown business number: recorded, skipped.
	unknown := strings.ReplaceAll(string(fixture(t, "inbound-text.json")), testPhoneNumberID, "999999999999999")
	e.deliver([]byte(unknown))
	require.Equal(t, 0, e.count("messages"))
	require.Equal(t, 1, e.count("webhook_errors", "kind = 'unknown_number' AND phone_number_id = '999999999999999'"))

	// Meta's value-level errors: recorded with their code and logged.
	e.deliver(fixture(t, "value-errors.json"))
	var title, details string
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT title, details FROM webhook_errors WHERE kind = 'value_error' AND code = 131047").Scan(&title, &details))
	require.Equal(t, "Re-engagement message", title)
	require.Contains(t, details, "24 hours")
	require.Contains(t, e.logs.String(), "error_code=131047")

	// One unreadable message next to a good one: the good one is stored, the other recorded.
	body := strings.Replace(string(fixture(t, "batch.json")), `"timestamp":"1749416383","type":"text","text":{"body":"Oi, tudo bem?"}`,
		`"timestamp":1749416383,"type":"text","text":{"body":"Oi, tudo bem?"}`, 1)
	e.deliver([]byte(body))
	require.Equal(t, 3, e.count("messages", "direction = 'in'"))
	var raw []byte
	require.NoError(t, e.pool.QueryRow(ctx, "SELECT payload FROM webhook_errors WHERE kind = 'unparsable'").Scan(&raw))
	require.Contains(t, string(raw), "wamid.BATCH-IN-002", "the element is kept")

	// A status Meta invented after this code was written.
	insertSentMessage(t, e, "16505551234", "wamid.new-status")
	e.deliver(statusBody("wamid.new-status", "played", 1750030080, ""))
	require.Equal(t, 1, e.count("webhook_errors", "kind = 'unknown_status'"))

	require.Equal(t, 0, e.count("river_job", "state <> 'completed'"))
}

func TestProcessingTwiceAppliesOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	ctx := context.Background()
	st, err := webhook.Store(ctx, e.pool, e.river, fixture(t, "inbound-text.json"))
	require.NoError(t, err)
	p, err := webhook.NewProcessor(e.inbox, nil)
	require.NoError(t, err)
	for i := range 2 {
		var res *webhook.Result
		require.NoError(t, database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
			res, err = p.Process(ctx, tx, st.EventID)
			return err
		}))
		require.Equal(t, i == 1, res.AlreadyProcessed)
	}
	require.Equal(t, 1, e.count("messages"))

	// A job whose webhook is gone completes without doing anything.
	require.NoError(t, database.InTx(ctx, e.pool, func(tx pgx.Tx) error {
		res, err := p.Process(ctx, tx, 987654)
		require.True(t, res.Missing)
		return err
	}))
}

// statusBody is a webhook with one status; errors is a JSON array or "".
func statusBody(wamid, status string, ts int64, callback string, errors ...string) []byte {
	st := map[string]any{"id": wamid, "status": status, "timestamp": fmt.Sprint(ts), "recipient_id": "16505551234"}
	if callback != "" {
		st["biz_opaque_callback_data"] = callback
	}
	b, _ := json.Marshal(map[string]any{"object": "whatsapp_business_account", "entry": []any{map[string]any{
		"id": "102290129340398", "changes": []any{map[string]any{"field": "messages", "value": map[string]any{
			"messaging_product": "whatsapp",
			"metadata":          map[string]any{"display_phone_number": "15550783881", "phone_number_id": testPhoneNumberID},
			"statuses":          []any{st},
		}}},
	}}})
	if len(errors) > 0 && errors[0] != "" {
		b = []byte(strings.Replace(string(b), `"recipient_id"`, `"errors":`+errors[0]+`,"recipient_id"`, 1))
	}
	return b
}

// insertSentMessage stores an outbound message Meta accepted as wamid and returns its conversation.
func insertSentMessage(t *testing.T, e *env, waID, wamid string) int64 {
	t.Helper()
	var convID int64
	err := e.pool.QueryRow(context.Background(), `
		WITH c AS (
			INSERT INTO contacts (channel_id, wa_id) VALUES ($1, $2)
			ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO UPDATE SET wa_id = excluded.wa_id RETURNING id),
		conv AS (
			INSERT INTO conversations (channel_id, contact_id, status) SELECT $1, id, 'open' FROM c
			ON CONFLICT (contact_id) DO UPDATE SET status = conversations.status RETURNING id)
		INSERT INTO messages (conversation_id, direction, sender, type, body, status, wa_message_id, sent_at)
		SELECT id, 'out', 'agent', 'text', 'hello', 'sent', $3, now() FROM conv
		RETURNING conversation_id`, e.channel.ID, waID, wamid).Scan(&convID)
	require.NoError(t, err)
	return convID
}

// sendPending stores an outbound message through the inbox, pending its send.
func sendPending(t *testing.T, e *env, waID string) db.Message {
	t.Helper()
	require.NoError(t, dbtest.CustomerWrote(context.Background(), e.pool, waID, time.Now()))
	_, msg, _, err := e.inbox.StartConversationAutomated(context.Background(), waID, inbox.SendInput{
		ClientID: uuid.New(), Type: "text", Text: "Your order shipped", Sender: inbox.SenderSystem,
	})
	require.NoError(t, err)
	return msg
}

func eventKinds(t *testing.T, e *env) []string {
	t.Helper()
	rows, err := e.pool.Query(context.Background(), "SELECT kind FROM events ORDER BY id")
	require.NoError(t, err)
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(t, err)
	return kinds
}

func requireUnix(t *testing.T, want int64, got *time.Time, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.Equal(t, want, got.Unix(), msgAndArgs...)
}
