package inbox

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestInboundStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		current    string
		assigned   bool
		botEnabled bool
		want       string
	}{
		{ConversationResolved, false, true, ConversationBot},
		{ConversationResolved, true, true, ConversationBot},
		{ConversationResolved, true, false, ConversationOpen},
		{ConversationResolved, false, false, ConversationPending},
		{ConversationSnoozed, true, true, ConversationOpen},
		{ConversationSnoozed, false, true, ConversationPending},
		{ConversationOpen, true, true, ConversationOpen},
		{ConversationOpen, false, false, ConversationOpen},
		{ConversationPending, false, true, ConversationPending},
		{ConversationBot, false, false, ConversationBot},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, inboundStatus(tt.current, tt.assigned, tt.botEnabled), "%+v", tt)
	}
}

func TestInboundBodyAndType(t *testing.T) {
	t.Parallel()
	tests := []struct {
		msg  whatsapp.InboundMessage
		typ  string
		body string
	}{
		{whatsapp.InboundMessage{Type: "text", Text: &whatsapp.Text{Body: "hi"}}, "text", "hi"},
		{whatsapp.InboundMessage{Type: "image", Image: &whatsapp.Media{ID: "1", Caption: "look"}}, "image", "look"},
		{whatsapp.InboundMessage{Type: "document", Document: &whatsapp.Media{ID: "1", Filename: "a.pdf"}}, "document", "a.pdf"},
		{whatsapp.InboundMessage{Type: "reaction", Reaction: &whatsapp.Reaction{Emoji: "👍"}}, "reaction", "👍"},
		{whatsapp.InboundMessage{Type: "reaction", Reaction: &whatsapp.Reaction{}}, "reaction", ""},
		{whatsapp.InboundMessage{Type: "location", Location: &whatsapp.Location{Name: "Home", Address: "Main St 1"}}, "location", "Home Main St 1"},
		{whatsapp.InboundMessage{Type: "system", System: &whatsapp.System{Body: "changed"}}, "system", "changed"},
		{whatsapp.InboundMessage{Type: " "}, "unsupported", ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.typ, inboundType(&tt.msg))
		require.Equal(t, tt.body, inboundBody(&tt.msg))
	}
	require.False(t, countsUnread("reaction"))
	require.False(t, triggersBot("system"))
	require.True(t, triggersBot("image"))
}
