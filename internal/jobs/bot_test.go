package jobs

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/bot"
)

func TestBotTurnsFromMessages(t *testing.T) {
	t.Parallel()
	in := func(typ, body string) db.Message {
		return db.Message{Direction: "in", Type: typ, Body: body, Status: "received"}
	}
	out := func(body, status string) db.Message {
		return db.Message{Direction: "out", Type: "text", Body: body, Status: status}
	}
	history := []db.Message{
		out("Your order shipped", "read"),
		in("text", "thanks!"),
		in("reaction", "👍"),
		out("lost in transit", "failed"),
		out("Anything else?", "delivered"),
		in("image", ""),
		in("image", "this one"),
		in("text", "is it this?"),
	}
	require.Equal(t, []bot.Turn{
		{Text: "Your order shipped"},
		{Customer: true, Text: "thanks!"},
		{Text: "Anything else?"},
		{Customer: true, Text: "[image]"},
		{Customer: true, Text: "[image] this one"},
		{Customer: true, Text: "is it this?"},
	}, turns(history))
	require.Equal(t, "is it this?\nthis one\n", newCustomerText(history), "what the customer wrote since the business last wrote")
	require.Empty(t, newCustomerText(history[:1]))
}
