package webhook_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The wamids our messages have in Meta's sample payloads of testdata/: the reply-button message
// and the list message the customer answered, and the template whose quick-reply button they tapped.
const (
	sampleButtonsWamid  = "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA"
	sampleListWamid     = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA"
	sampleTemplateWamid = "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUQA"
)

// replyTo reads a message's reply_to_message_id (nil when NULL).
func (e *env) replyTo(waMessageID string) *int64 {
	e.t.Helper()
	var id *int64
	require.NoError(e.t, e.pool.QueryRow(context.Background(),
		"SELECT reply_to_message_id FROM messages WHERE wa_message_id = $1", waMessageID).Scan(&id))
	return id
}

// createdEvent decodes the payload of the message.created event of message id.
func (e *env) createdEvent(id int64) map[string]any {
	e.t.Helper()
	var raw []byte
	require.NoError(e.t, e.pool.QueryRow(context.Background(),
		"SELECT payload FROM events WHERE kind = 'message.created' AND (payload->>'message_id')::bigint = $1", id).Scan(&raw))
	var p map[string]any
	require.NoError(e.t, json.Unmarshal(raw, &p))
	return p
}

// textWithContext is inbound-text.json as a new message wamid replying to contextID.
func textWithContext(t *testing.T, wamid, contextID string) []byte {
	t.Helper()
	body := strings.Replace(string(fixture(t, "inbound-text.json")),
		`"id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="`,
		`"id": "`+wamid+`", "context": {"from": "15550783881", "id": "`+contextID+`"}`, 1)
	require.Contains(t, body, wamid)
	return []byte(body)
}

func TestCustomerRepliesAreLinkedToOurMessageTheyAnswer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	// Our interactive messages and template, sent to the customer of the samples.
	convID := insertSentMessage(t, e, "16505551234", sampleButtonsWamid)
	require.Equal(t, convID, insertSentMessage(t, e, "16505551234", sampleListWamid))
	require.Equal(t, convID, insertSentMessage(t, e, "16505551234", sampleTemplateWamid))
	buttons, list, template := e.message(sampleButtonsWamid), e.message(sampleListWamid), e.message(sampleTemplateWamid)

	tests := []struct {
		name    string
		body    []byte
		wamid   string
		replyTo int64
		text    string // what agents read: the customer's choice
	}{
		{"button reply", fixture(t, "inbound-button-reply.json"),
			"wamid.HBgLMTY0NjcwNDM1OTUVAgASGBQzQThBREYwNzc2RDc2QjA1QTIwMgA=", buttons.ID, "Change"},
		{"list reply", fixture(t, "inbound-list-reply.json"),
			"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUxJU1QtMDAxAA==", list.ID, "Express Shipping"},
		{"template quick-reply button", fixture(t, "inbound-button.json"),
			"wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUJVVFRPTi0wMDEA", template.ID, "Unsubscribe from Promos"},
		{"text swiped to reply", textWithContext(t, "wamid.REPLY-TEXT-001", sampleTemplateWamid),
			"wamid.REPLY-TEXT-001", template.ID, "Does it come in another color?"},
	}
	for _, tt := range tests {
		e.deliver(tt.body)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := loadMessage(t, e, tt.wamid)
			require.Equal(t, convID, m.ConversationID)
			require.Equal(t, tt.text, m.Body)
			got := e.replyTo(tt.wamid)
			require.NotNil(t, got)
			require.Equal(t, tt.replyTo, *got)
			require.EqualValues(t, tt.replyTo, e.createdEvent(m.ID)["reply_to_message_id"])
		})
	}
	require.Equal(t, 0, e.count("webhook_errors"))
}

func TestReplyToAMessageWeCannotLinkIsStoredUnlinked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	// Another customer's conversation has a message with the wamid the second reply names.
	insertSentMessage(t, e, "16505559876", "wamid.OTHER-CONVERSATION")
	// This customer's conversation has one of ours too, which neither reply names.
	insertSentMessage(t, e, "16505551234", "wamid.OURS")

	for _, tt := range []struct{ name, wamid, contextID string }{
		{"unknown wamid (older than our records)", "wamid.REPLY-UNKNOWN", "wamid.NEVER-STORED"},
		{"another conversation's message", "wamid.REPLY-OTHER", "wamid.OTHER-CONVERSATION"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e.deliver(textWithContext(t, tt.wamid, tt.contextID))
			m := e.message(tt.wamid)
			require.Equal(t, "Does it come in another color?", m.Body)
			require.Equal(t, tt.contextID, path(m.P, "context", "id"), "the context stays in the payload")
			require.Nil(t, e.replyTo(tt.wamid))
			ev := e.createdEvent(m.ID)
			require.Contains(t, ev, "reply_to_message_id")
			require.Nil(t, ev["reply_to_message_id"])
		})
	}
	// Without a context there is nothing to link either.
	e.deliver(fixture(t, "inbound-text.json"))
	require.Nil(t, e.replyTo("wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="))
	require.Equal(t, 3, e.count("messages", "direction = 'in'"))
	require.Equal(t, 0, e.count("webhook_errors"))
}
