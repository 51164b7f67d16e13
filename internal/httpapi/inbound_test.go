package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/config"
)

type conversationAnswer struct {
	ID          int64  `json:"id"`
	Status      string `json:"status"`
	UnreadCount int    `json:"unread_count"`
	Contact     struct {
		WaID          string     `json:"wa_id"`
		ProfileName   string     `json:"profile_name"`
		LastInboundAt *time.Time `json:"last_inbound_at"`
	} `json:"contact"`
}

type messageAnswer struct {
	ID          int64          `json:"id"`
	Direction   string         `json:"direction"`
	Type        string         `json:"type"`
	Body        string         `json:"body"`
	Status      string         `json:"status"`
	WaMessageID *string        `json:"wa_message_id"`
	Payload     map[string]any `json:"payload"`
	SentAt      *time.Time     `json:"sent_at"`
	DeliveredAt *time.Time     `json:"delivered_at"`
	ReadAt      *time.Time     `json:"read_at"`
}

// customerWrites plays the customer on the simulator's phone and returns the message's wamid.
func customerWrites(t *testing.T, in *apptest.Instance, body map[string]any) string {
	t.Helper()
	var ans struct {
		ID            string `json:"id"`
		WebhookStatus int    `json:"webhook_status"`
	}
	in.Do("POST", "/simulator/phone/messages", "", body, http.StatusOK, &ans)
	require.Equal(t, http.StatusOK, ans.WebhookStatus, "the webhook accepted it")
	return ans.ID
}

// conversationOf waits until the customer's conversation shows up in the list.
func conversationOf(t *testing.T, in *apptest.Instance, token, waID string, ok func(*conversationAnswer) bool) conversationAnswer {
	t.Helper()
	var found conversationAnswer
	require.Eventually(t, func() bool {
		var page struct {
			Data []conversationAnswer `json:"data"`
		}
		in.Do("GET", "/api/conversations", token, nil, http.StatusOK, &page)
		for _, c := range page.Data {
			if c.Contact.WaID == waID && ok(&c) {
				found = c
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "conversation with %s", waID)
	return found
}

func TestCustomerMessagesFromTheSimulatorPhoneReachTheInbox(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()

	wamid := customerWrites(t, in, map[string]any{"from": "16505550101", "name": "Pablo Morales", "type": "text", "text": "¿Tienen envío a Bogotá? 🚚"})
	conv := conversationOf(t, in, tok, "16505550101", func(c *conversationAnswer) bool { return c.UnreadCount == 1 })
	require.Equal(t, "bot", conv.Status, "the simulator's fake Gemini enables the bot")
	require.Equal(t, "Pablo Morales", conv.Contact.ProfileName)
	require.NotNil(t, conv.Contact.LastInboundAt)

	customerWrites(t, in, map[string]any{"from": "16505550101", "type": "image", "caption": "this one", "media_id": "4242", "mime_type": "image/png"})
	conversationOf(t, in, tok, "16505550101", func(c *conversationAnswer) bool { return c.UnreadCount == 2 })

	var page struct {
		Data []messageAnswer `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/messages", conv.ID), tok, nil, http.StatusOK, &page)
	require.Len(t, page.Data, 2)
	image, text := page.Data[0], page.Data[1]
	require.Equal(t, "text", text.Type)
	require.Equal(t, "¿Tienen envío a Bogotá? 🚚", text.Body)
	require.Equal(t, "in", text.Direction)
	require.Equal(t, "received", text.Status)
	require.Equal(t, wamid, *text.WaMessageID)
	require.Equal(t, "image", image.Type)
	require.Equal(t, "this one", image.Body)
	require.Equal(t, "4242", image.Payload["image"].(map[string]any)["id"])
	require.Equal(t, "image/png", image.Payload["image"].(map[string]any)["mime_type"])

	require.Equal(t, 2, count(t, in, "river_job WHERE kind = 'bot_reply'"))
}

func TestAgentMessageReachesReadThroughStatusWebhooks(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	_, m := startConversation(t, in, tok, "16505550102")

	// The three status webhooks are processed by concurrent jobs, so read may be applied before
	// delivered: wait for the status and every timestamp.
	var got messageAnswer
	require.Eventually(t, func() bool {
		got = messageAnswer{}
		resp := in.Request("GET", fmt.Sprintf("/api/messages/%d", m.ID), tok, nil)
		return resp.Status == http.StatusOK && json.Unmarshal(resp.Body, &got) == nil &&
			got.Status == "read" && got.SentAt != nil && got.DeliveredAt != nil && got.ReadAt != nil
	}, 30*time.Second, 10*time.Millisecond, "the simulator's sent, delivered and read webhooks apply")
	require.Equal(t, 0, count(t, in, "early_statuses"), "statuses that overtook the send were applied by it")
	require.Equal(t, 0, count(t, in, "webhook_errors"))
}

func TestMarkConversationReadClearsUnreadAndTellsMeta(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	customerWrites(t, in, map[string]any{"from": "16505550103", "text": "first"})
	// Two webhooks are processed concurrently, in either order; wait so "second" is the latest.
	conversationOf(t, in, tok, "16505550103", func(c *conversationAnswer) bool { return c.UnreadCount == 1 })
	last := customerWrites(t, in, map[string]any{"from": "16505550103", "text": "second"})
	conv := conversationOf(t, in, tok, "16505550103", func(c *conversationAnswer) bool { return c.UnreadCount == 2 })
	path := fmt.Sprintf("/api/conversations/%d/read", conv.ID)
	eventsBefore := count(t, in, "events WHERE kind = 'conversation.updated'")

	var read conversationAnswer
	in.Do("POST", path, tok, nil, http.StatusOK, &read)
	require.Equal(t, 0, read.UnreadCount)
	require.Equal(t, eventsBefore+1, count(t, in, "events WHERE kind = 'conversation.updated'"))

	// Meta is told once, for the latest customer message.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var readSend string
	for readSend == "" {
		sends, err := in.Simulator().WaitForSends(ctx, len(in.Simulator().Sends())+1)
		require.NoError(t, err)
		for _, s := range sends {
			if s.Type == "read" {
				readSend = s.ReadMessageID
			}
		}
	}
	require.Equal(t, last, readSend)

	// Again: nothing changes, nothing is queued.
	in.Do("POST", path, tok, nil, http.StatusOK, &read)
	require.Equal(t, 0, read.UnreadCount)
	require.Equal(t, 1, count(t, in, "river_job WHERE kind = 'mark_read'"))
	require.Equal(t, eventsBefore+1, count(t, in, "events WHERE kind = 'conversation.updated'"))

	// Unknown, malformed, and not the agent's to see: 404, nothing written.
	_, agentTok := in.CreateUser("agent-read@example.com", auth.RoleAgent)
	_, err := in.Pool().Exec(context.Background(), `
		UPDATE conversations SET unread_count = 3, assignee_id = (SELECT id FROM users WHERE email = 'admin@example.com') WHERE id = $1`, conv.ID)
	require.NoError(t, err)
	for _, tt := range []struct{ path, token string }{
		{"/api/conversations/987654/read", tok},
		{"/api/conversations/abc/read", tok},
		{path, agentTok},
	} {
		resp := in.Request("POST", tt.path, tt.token, nil)
		require.Equal(t, http.StatusNotFound, resp.Status, "%s: %s", tt.path, resp.Body)
		require.Contains(t, string(resp.Body), `"not_found"`)
	}
	var unread int
	require.NoError(t, in.Pool().QueryRow(context.Background(), "SELECT unread_count FROM conversations WHERE id = $1", conv.ID).Scan(&unread))
	require.Equal(t, 3, unread)
}

// TestMarkConversationReadIsAWrite: the read receipt reaches the customer, so marking read needs
// the right to write to the conversation, as sending does. A user who may only read it is refused
// with 403 and nothing is written: no receipt queued, the unread count and the message untouched.
func TestMarkConversationReadIsAWrite(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	customerWrites(t, in, map[string]any{"from": "16505550104", "text": "hello?"})
	conv := conversationOf(t, in, admin, "16505550104", func(c *conversationAnswer) bool { return c.UnreadCount == 1 })
	path := fmt.Sprintf("/api/conversations/%d/read", conv.ID)

	readerID, readerTok := in.CreateUser("reader-read@example.com", auth.RoleAgent)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", readerID), admin,
		map[string]any{"can_read_chats": "all", "can_write_chats": "none"}, http.StatusOK, nil)
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", conv.ID), readerTok, nil, http.StatusOK, nil)

	resp := in.Request("POST", path, readerTok, nil)
	require.Equal(t, http.StatusForbidden, resp.Status, "%s", resp.Body)
	require.Equal(t, "forbidden", errorCode(t, resp.Body))
	require.Equal(t, 0, count(t, in, "river_job WHERE kind = 'mark_read'"), "no read receipt queued")
	require.Equal(t, 0, count(t, in, "messages WHERE direction = 'in' AND read_at IS NOT NULL"))
	require.Equal(t, 1, count(t, in, fmt.Sprintf("conversations WHERE id = %d AND unread_count = 1", conv.ID)))

	// An agent who may write to it (the conversation is in the free pool) marks it read.
	_, agentTok := in.CreateUser("agent-read@example.com", auth.RoleAgent)
	var read conversationAnswer
	in.Do("POST", path, agentTok, nil, http.StatusOK, &read)
	require.Equal(t, 0, read.UnreadCount)
	require.Equal(t, 1, count(t, in, "river_job WHERE kind = 'mark_read'"))
}

func TestWebhookIsMountedWithTheVerifyToken(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	q := url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {config.SimVerifyToken}, "hub.challenge": {"8675309"}}
	resp, err := in.Client.Get(in.URL + "/webhooks/whatsapp?" + q.Encode())
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, "8675309", string(b))

	r := in.Request("POST", "/webhooks/whatsapp", "", `{"object":"whatsapp_business_account","entry":[]}`)
	require.Equal(t, http.StatusUnauthorized, r.Status, "unsigned posts are refused")
	require.Equal(t, 0, count(t, in, "webhook_events"))
}

// A customer's answer to one of our messages points at it: the reply's reply_to_message_id, in
// GET /api/messages/{id} and in the conversation's messages, is our message's id; a message that
// answers none shows null.
func TestCustomerReplyShowsTheMessageItAnswers(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, ours := startConversation(t, in, tok, "16505550106")
	sent := waitStatus(t, in, tok, ours.ID, "sent")
	require.NotNil(t, sent.WaMessageID)

	wamid := customerWrites(t, in, map[string]any{"from": "16505550106", "type": "interactive",
		"button_id": "yes", "button_title": "Yes, please", "reply_to": *sent.WaMessageID})
	type view struct {
		ID          int64   `json:"id"`
		Body        string  `json:"body"`
		WaMessageID *string `json:"wa_message_id"`
		ReplyTo     *int64  `json:"reply_to_message_id"`
	}
	var listed view
	require.Eventually(t, func() bool {
		var page struct {
			Data []view `json:"data"`
		}
		resp := in.Request("GET", fmt.Sprintf("/api/conversations/%d/messages", convID), tok, nil)
		if resp.Status != http.StatusOK || json.Unmarshal(resp.Body, &page) != nil {
			return false
		}
		for _, m := range page.Data {
			if m.WaMessageID != nil && *m.WaMessageID == wamid {
				listed = m
				return true
			}
		}
		return false
	}, 20*time.Second, 10*time.Millisecond, "the customer's reply reaches the conversation")
	require.NotNil(t, listed.ReplyTo)
	require.Equal(t, ours.ID, *listed.ReplyTo)

	var got view
	in.Do("GET", fmt.Sprintf("/api/messages/%d", listed.ID), tok, nil, http.StatusOK, &got)
	require.Equal(t, "Yes, please", got.Body, "agents read the button the customer tapped")
	require.NotNil(t, got.ReplyTo)
	require.Equal(t, ours.ID, *got.ReplyTo)

	var raw map[string]any
	in.Do("GET", fmt.Sprintf("/api/messages/%d", ours.ID), tok, nil, http.StatusOK, &raw)
	require.Contains(t, raw, "reply_to_message_id")
	require.Nil(t, raw["reply_to_message_id"])
}
