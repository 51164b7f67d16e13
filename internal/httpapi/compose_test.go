package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Sends of every type but a text: templates, interactive messages, locations, contacts,
// reactions and quick replies, and the 24-hour customer-service window that decides which may go.

func templateSend(name, lang string, components ...map[string]any) map[string]any {
	t := map[string]any{"name": name, "language": map[string]string{"code": lang}}
	if len(components) > 0 {
		t["components"] = components
	}
	return map[string]any{"client_id": uuid.NewString(), "type": "template", "template": t}
}

// sentTo waits until the simulated Meta accepted a send whose biz data is message id, and
// returns it.
func sentTo(t *testing.T, in *apptest.Instance, id int64) simulator.Send {
	t.Helper()
	var got simulator.Send
	require.Eventually(t, func() bool {
		for _, s := range in.Simulator().Sends() {
			if s.BizOpaqueCallbackData == fmt.Sprint(id) && s.WAMessageID != "" {
				got = s
				return true
			}
		}
		return false
	}, 30*time.Second, 20*time.Millisecond, "message %d never reached Meta", id)
	return got
}

type windowClosed struct {
	Error struct {
		Code            string     `json:"code"`
		WindowExpiredAt *time.Time `json:"window_expired_at"`
		Hint            string     `json:"hint"`
	} `json:"error"`
}

// A free-form message outside the customer's window is refused before it is stored (409
// window_closed, nothing written), a template is not, and the customer's own message opens the
// window for free-form replies, end to end through the simulated Meta, which enforces it too.
func TestFreeFormOutsideTheWindowIsRefusedBeforeItIsStored(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	in.Do("POST", "/api/templates/sync", tok, nil, http.StatusOK, nil)
	written := []string{"messages", "contacts", "conversations", "events", sendJobs}
	counts := func() []int {
		n := make([]int, len(written))
		for i, table := range written {
			n[i] = count(t, in, table)
		}
		return n
	}

	// A number that never wrote: a text cannot start the conversation.
	const never = "16505553001"
	before := counts()
	body := textBody(uuid.NewString(), "Hi, are you there?")
	body["wa_id"] = never
	var refused windowClosed
	resp := in.Do("POST", "/api/conversations", tok, body, http.StatusConflict, &refused)
	require.Equal(t, "window_closed", refused.Error.Code, "%s", resp.Body)
	require.Nil(t, refused.Error.WindowExpiredAt, "the customer never wrote")
	require.Contains(t, refused.Error.Hint, "template")
	require.Equal(t, before, counts(), "nothing written: %v", written)

	// A customer who last wrote 25 hours ago: refused, with when the window closed.
	const stale = "16505553002"
	wrote := time.Now().Add(-25 * time.Hour).Truncate(time.Microsecond)
	in.CustomerWrote(stale, wrote)
	body = textBody(uuid.NewString(), "Following up")
	body["wa_id"] = stale
	in.Do("POST", "/api/conversations", tok, body, http.StatusConflict, &refused)
	require.NotNil(t, refused.Error.WindowExpiredAt)
	require.WithinDuration(t, wrote.Add(24*time.Hour), *refused.Error.WindowExpiredAt, time.Millisecond)

	// An approved template starts it, and reaches Meta.
	start := templateSend("hello_world", "en_US")
	start["wa_id"] = never
	var ans startAnswer
	in.Do("POST", "/api/conversations", tok, start, http.StatusAccepted, &ans)
	require.Equal(t, "Hello World", ans.Message.Body, "the stored message reads as the customer sees it")
	sent := sentTo(t, in, ans.Message.ID)
	require.Equal(t, "hello_world", sent.TemplateName)
	conv := ans.Conversation.ID
	// Its statuses come back as webhooks that write events of their own: let them all arrive
	// before counting what a refusal writes.
	waitStatus(t, in, tok, ans.Message.ID, "read")

	// The window is still closed: a text to the conversation is refused too, nothing written.
	path := fmt.Sprintf("/api/conversations/%d/messages", conv)
	before = counts()
	in.Do("POST", path, tok, textBody(uuid.NewString(), "Did you get it?"), http.StatusConflict, &refused)
	require.Equal(t, before, counts())
	var c struct {
		WindowOpen      bool       `json:"window_open"`
		WindowExpiresAt *time.Time `json:"window_expires_at"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", conv), tok, nil, http.StatusOK, &c)
	require.False(t, c.WindowOpen)
	require.Nil(t, c.WindowExpiresAt)

	// The customer answers: the window opens, and a text goes out.
	_, err := in.Simulator().SendInbound(context.Background(), &simulator.InboundInput{From: never, Text: "Yes, thanks!"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		in.Do("GET", fmt.Sprintf("/api/conversations/%d", conv), tok, nil, http.StatusOK, &c)
		return c.WindowOpen
	}, 20*time.Second, 20*time.Millisecond)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), *c.WindowExpiresAt, time.Minute)
	var m message
	in.Do("POST", path, tok, textBody(uuid.NewString(), "Great, see you soon"), http.StatusAccepted, &m)
	require.Equal(t, "Great, see you soon", sentTo(t, in, m.ID).Body)
}

// A template with header, body and button parameters reaches Meta in Meta's exact request shape;
// the stored message keeps the text the customer sees. Rejected, paused and unknown templates and
// wrong parameters are refused before anything is stored, and a status webhook changes what may
// be sent.
func TestTemplateSendsAreCheckedAgainstTheStoredTemplate(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	in.Do("POST", "/api/templates/sync", tok, nil, http.StatusOK, nil)
	convID, _ := startConversation(t, in, tok, "16505553101")
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)

	components := []map[string]any{
		{"type": "header", "parameters": []map[string]any{{"type": "text", "text": "A-2002"}}},
		{"type": "body", "parameters": []map[string]any{
			{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-2002"}, {"type": "text", "text": "Friday"}}},
		{"type": "button", "sub_type": "url", "index": "0", "parameters": []map[string]any{{"type": "text", "text": "A-2002"}}},
	}
	var m message
	in.Do("POST", path, tok, templateSend("order_shipped", "en_US", components...), http.StatusAccepted, &m)
	require.Contains(t, m.Body, "Order A-2002 shipped")
	require.Contains(t, m.Body, "Hi Ana, your order A-2002 is on its way and should arrive on Friday.")
	sent := sentTo(t, in, m.ID)
	var raw struct {
		MessagingProduct string `json:"messaging_product"`
		To               string `json:"to"`
		Type             string `json:"type"`
		Template         struct {
			Name     string            `json:"name"`
			Language map[string]string `json:"language"`
			// Components are compared as Meta's JSON, key by key.
			Components []map[string]any `json:"components"`
		} `json:"template"`
	}
	require.NoError(t, json.Unmarshal(sent.Raw, &raw))
	require.Equal(t, "whatsapp", raw.MessagingProduct)
	require.Equal(t, "16505553101", raw.To)
	require.Equal(t, "template", raw.Type)
	require.Equal(t, "order_shipped", raw.Template.Name)
	require.Equal(t, map[string]string{"code": "en_US"}, raw.Template.Language)
	want, _ := json.Marshal(components)
	got, _ := json.Marshal(raw.Template.Components)
	require.JSONEq(t, string(want), string(got))

	refusals := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"unknown template", templateSend("no_such_template", "en_US"), "template.name"},
		{"language it lacks", templateSend("hello_world", "es"), "template.language.code"},
		{"rejected template", templateSend("winter_promo", "en_US", map[string]any{"type": "body", "parameters": []map[string]any{{"type": "text", "text": "30%"}}}), "template"},
		{"paused template", templateSend("feedback_survey", "en_US"), "template"},
		{"a parameter missing", templateSend("order_shipped", "en_US", components[0], components[2]), "template.components"},
	}
	before := count(t, in, "messages")
	for _, tt := range refusals {
		resp := in.Do("POST", path, tok, tt.body, http.StatusBadRequest, nil)
		require.Contains(t, string(resp.Body), `"field":"`+tt.field, "%s: %s", tt.name, resp.Body)
	}
	require.Equal(t, before, count(t, in, "messages"), "refused sends store nothing")

	// Meta pauses hello_world: the webhook reaches wainbox and sends of it are refused; approved
	// again, they go.
	require.NoError(t, in.Simulator().SetTemplateStatus("hello_world", "en_US", waformat.StatusPaused, "LOW_QUALITY"))
	require.Eventually(t, func() bool {
		tb, _ := templateNamed(t, in, tok, "hello_world", "en_US")
		return tb.Status == "PAUSED"
	}, 20*time.Second, 20*time.Millisecond)
	in.Do("POST", path, tok, templateSend("hello_world", "en_US"), http.StatusBadRequest, nil)
	require.NoError(t, in.Simulator().SetTemplateStatus("hello_world", "en_US", waformat.StatusApproved, ""))
	require.Eventually(t, func() bool {
		tb, _ := templateNamed(t, in, tok, "hello_world", "en_US")
		return tb.Status == "APPROVED"
	}, 20*time.Second, 20*time.Millisecond)
	in.Do("POST", path, tok, templateSend("hello_world", "en_US"), http.StatusAccepted, &m)
	sentTo(t, in, m.ID)
}

// Interactive messages, locations, contacts and reactions within Meta's limits go out as they
// were written; beyond them they are refused with the field that is wrong, and nothing is stored.
func TestInteractiveAndOtherTypesWithinAndBeyondMetasLimits(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, first := startConversation(t, in, tok, "16505553201")
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	firstSent := waitStatus(t, in, tok, first.ID, "sent")

	buttons := func(n int, title string) map[string]any {
		bs := make([]map[string]any, n)
		for i := range bs {
			bs[i] = map[string]any{"type": "reply", "reply": map[string]string{"id": fmt.Sprintf("b%d", i), "title": fmt.Sprintf("%s %d", title, i)}}
		}
		return map[string]any{"client_id": uuid.NewString(), "type": "interactive", "interactive": map[string]any{
			"type": "button", "body": map[string]string{"text": "Did this solve it?"}, "action": map[string]any{"buttons": bs}}}
	}
	list := map[string]any{"client_id": uuid.NewString(), "type": "interactive", "interactive": map[string]any{
		"type": "list", "body": map[string]string{"text": "Pick a slot"}, "action": map[string]any{
			"button": "Slots", "sections": []map[string]any{{"title": "Tuesday", "rows": []map[string]string{
				{"id": "t10", "title": "10:00"}, {"id": "t11", "title": "11:00", "description": "after the rush"}}}}}}}
	cta := map[string]any{"client_id": uuid.NewString(), "type": "interactive", "interactive": map[string]any{
		"type": "cta_url", "body": map[string]string{"text": "Track your order"}, "action": map[string]any{
			"name": "cta_url", "parameters": map[string]string{"display_text": "Track", "url": "https://shop.example.com/t/1"}}}}
	location := map[string]any{"client_id": uuid.NewString(), "type": "location", "location": map[string]any{
		"latitude": 40.4168, "longitude": -3.7038, "name": "Shop", "address": "Gran Vía 1, Madrid"}}
	contacts := map[string]any{"client_id": uuid.NewString(), "type": "contacts", "contacts": []map[string]any{
		{"name": map[string]string{"formatted_name": "Support Desk", "first_name": "Support"}, "phones": []map[string]string{{"phone": "+15550783881", "type": "WORK"}}}}}
	reaction := map[string]any{"client_id": uuid.NewString(), "type": "reaction", "reaction": map[string]string{
		"message_id": *firstSent.WaMessageID, "emoji": "👍"}}
	reply := textBody(uuid.NewString(), "About this:")
	reply["context"] = map[string]string{"message_id": *firstSent.WaMessageID}

	for name, body := range map[string]map[string]any{
		"three reply buttons": buttons(3, "Option"), "list": list, "call to action": cta,
		"location": location, "contacts": contacts, "reaction": reaction, "reply": reply,
	} {
		var m message
		in.Do("POST", path, tok, body, http.StatusAccepted, &m)
		require.NotEmpty(t, m.Body, name)
		sent := sentTo(t, in, m.ID)
		require.Equal(t, body["type"], sent.Type, name)
	}

	before := count(t, in, "messages")
	for name, tt := range map[string]struct {
		body  map[string]any
		field string
	}{
		"four buttons":           {buttons(4, "Option"), "interactive.action.buttons"},
		"button title over 20":   {buttons(1, strings.Repeat("x", 20)), "interactive.action.buttons[0].reply.title"},
		"latitude out of range":  {map[string]any{"client_id": uuid.NewString(), "type": "location", "location": map[string]any{"latitude": 91, "longitude": 0}}, "location.latitude"},
		"reaction to a stranger": {map[string]any{"client_id": uuid.NewString(), "type": "reaction", "reaction": map[string]string{"message_id": "wamid.nope", "emoji": "👍"}}, "reaction.message_id"},
		"reply to a stranger":    {map[string]any{"client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "x"}, "context": map[string]string{"message_id": "wamid.nope"}}, "context.message_id"},
		"a media link":           {map[string]any{"client_id": uuid.NewString(), "type": "image", "image": map[string]string{"link": "https://example.com/a.png"}}, "image.link"},
		"a recipient of its own": {map[string]any{"client_id": uuid.NewString(), "type": "text", "to": "16505550000", "text": map[string]string{"body": "x"}}, "to"},
	} {
		resp := in.Do("POST", path, tok, tt.body, http.StatusBadRequest, nil)
		require.Contains(t, string(resp.Body), `"field":"`+tt.field, "%s: %s", name, resp.Body)
	}
	require.Equal(t, before, count(t, in, "messages"), "refused sends store nothing")
}

// A quick reply is sent with its variables filled in for the conversation's customer and the
// agent sending it.
func TestQuickReplyIsSentWithItsVariablesFilled(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	convID, _ := startConversation(t, in, tok, "16505553301")
	var q struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/quick-replies", tok, map[string]any{
		"shortcut": "thanks", "body": "Thanks {{contact.name | for writing}}! {{agent.first_name}} from the shop.",
	}, http.StatusCreated, &q)
	var m message
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok,
		map[string]any{"client_id": uuid.NewString(), "quick_reply_id": q.ID}, http.StatusAccepted, &m)
	require.Equal(t, "Thanks for writing! admin@example.com from the shop.", m.Body)
	require.Equal(t, m.Body, sentTo(t, in, m.ID).Body)

	// A quick reply and a message of its own in one body is refused.
	resp := in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok,
		map[string]any{"client_id": uuid.NewString(), "quick_reply_id": q.ID, "type": "text", "text": map[string]string{"body": "x"}}, http.StatusBadRequest, nil)
	require.Contains(t, string(resp.Body), "quick_reply_id")
}
