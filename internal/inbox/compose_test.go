package inbox_test

import (
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/bcrypt"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/waformat"
)

const testWABA = "102290129340398"

// The customer-service window on the inbox's own clock: a free-form message goes until the 24th
// hour after the customer's last message and is refused from then on, with nothing written; a
// template goes at any time, and a template that is not approved does not.
func TestTheWindowDecidesOnTheInboxClock(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := dbtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{TestOnly: true})
	require.NoError(t, err)
	wrote := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	now := wrote
	svc, err := inbox.New(&inbox.Config{Pool: pool, Queue: client, BusinessAccountID: testWABA, Now: func() time.Time { return now }})
	require.NoError(t, err)
	_, err = svc.EnsureChannel(ctx, db.ChannelUpsertParams{PhoneNumberID: "106540352242922"})
	require.NoError(t, err)
	admin, err := auth.NewUsers(pool, bcrypt.MinCost).Create(ctx, auth.NewUser{
		Email: "admin@example.com", Name: "Admin", Role: auth.RoleAdmin, Password: "admin password",
	})
	require.NoError(t, err)
	p := &auth.Principal{UserID: admin.ID, Role: auth.RoleAdmin}
	for name, status := range map[string]string{"hello_world": "APPROVED", "paused_one": "PAUSED"} {
		_, err = pool.Exec(ctx, `INSERT INTO message_templates (waba_id, meta_id, name, language, category, status, components)
			VALUES ($1, $2, $3, 'en_US', 'UTILITY', $4, '[{"type":"BODY","text":"Hello World"}]')`, testWABA, name+"-id", name, status)
		require.NoError(t, err)
	}
	text := func(body string) inbox.SendInput {
		return inbox.SendInput{ClientID: uuid.New(), Type: "text", Text: body}
	}
	template := func(name string) inbox.SendInput {
		return inbox.SendInput{ClientID: uuid.New(), Message: &waformat.Message{Type: "template",
			Template: &waformat.TemplateSend{Name: name, Language: waformat.TemplateLanguage{Code: "en_US"}}}}
	}
	messages := func() int {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&n))
		return n
	}

	require.NoError(t, dbtest.CustomerWrote(ctx, pool, "16505550101", wrote))
	now = wrote.Add(24*time.Hour - time.Second)
	conv, _, _, err := svc.StartConversation(ctx, p, "16505550101", text("just in time"))
	require.NoError(t, err)
	id := conv.Conversation.ID

	now = wrote.Add(24 * time.Hour)
	before := messages()
	_, _, err = svc.Send(ctx, p, inbox.SendInput{ConversationID: id, ClientID: uuid.New(), Type: "text", Text: "too late"})
	var closed *inbox.WindowClosedError
	require.ErrorAs(t, err, &closed)
	require.Equal(t, wrote.Add(24*time.Hour), closed.ExpiredAt.UTC())
	require.Equal(t, before, messages(), "a refused message is not stored")

	in := template("hello_world")
	in.ConversationID = id
	msg, created, err := svc.Send(ctx, p, in)
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, "Hello World", msg.Body)

	paused := template("paused_one")
	paused.ConversationID = id
	_, _, err = svc.Send(ctx, p, paused)
	var fe *apperr.FieldError
	require.ErrorAs(t, err, &fe)
	require.Contains(t, fe.Field, "template")

	// The customer writes again: the window reopens from their new message.
	require.NoError(t, dbtest.CustomerWrote(ctx, pool, "16505550101", now))
	_, _, err = svc.Send(ctx, p, inbox.SendInput{ConversationID: id, ClientID: uuid.New(), Type: "text", Text: "welcome back"})
	require.NoError(t, err)

	// A number that never wrote gets a template only, and nothing of a refusal is kept.
	_, _, _, err = svc.StartConversation(ctx, p, "16505550102", text("hello?"))
	require.ErrorAs(t, err, &closed)
	require.Nil(t, closed.ExpiredAt)
	var contacts int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM contacts WHERE wa_id = '16505550102'").Scan(&contacts))
	require.Zero(t, contacts)
	_, _, created, err = svc.StartConversation(ctx, p, "16505550102", template("hello_world"))
	require.NoError(t, err)
	require.True(t, created)
}
