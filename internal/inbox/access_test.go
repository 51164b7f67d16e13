package inbox_test

import (
	"fmt"
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
)

// The use cases on messages decide for the caller they are given: a message of a conversation the
// caller may not read does not exist for them, one they may only read is refused a retry, and a
// use case that acts for a person refuses to run without one.
func TestMessagesAreReadAndRetriedForTheCaller(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	pool, _ := dbtest.New(t)
	client, err := river.NewClient(riverpgxv5.New(pool), &river.Config{TestOnly: true})
	require.NoError(t, err)
	svc, err := inbox.New(&inbox.Config{Pool: pool, Queue: client})
	require.NoError(t, err)
	_, err = svc.EnsureChannel(ctx, db.ChannelUpsertParams{PhoneNumberID: "106540352242922"})
	require.NoError(t, err)
	owner, err := auth.NewUsers(pool, bcrypt.MinCost).Create(ctx, auth.NewUser{
		Email: "owner@example.com", Name: "Owner", Role: auth.RoleAgent, Password: "owner password",
	})
	require.NoError(t, err)

	// The owner starts a conversation and takes it: it is theirs, out of the free pool.
	asOwner := &auth.Principal{UserID: owner.ID, Role: auth.RoleAgent}
	require.NoError(t, dbtest.CustomerWrote(ctx, pool, "16505550001", time.Now()))
	conv, msg, created, err := svc.StartConversation(ctx, asOwner, "16505550001", inbox.SendInput{
		ClientID: uuid.New(), Type: "text", Text: "hello",
	})
	require.NoError(t, err)
	require.True(t, created)
	require.Equal(t, inbox.SenderAgent, msg.Sender)
	require.Equal(t, owner.ID, *msg.SenderUserID)
	_, err = svc.Assign(ctx, asOwner, conv.Conversation.ID, inbox.Assignment{AgentID: &owner.ID, SetAgent: true})
	require.NoError(t, err)

	// Another agent may not read it: the message and the conversation do not exist for them.
	outsider := &auth.Principal{UserID: owner.ID + 1000, Role: auth.RoleAgent}
	var nf *apperr.NotFoundError
	_, err = svc.GetMessage(ctx, outsider, msg.ID)
	require.ErrorAs(t, err, &nf)
	require.Equal(t, fmt.Sprintf("message %d does not exist", msg.ID), nf.Error())
	_, err = svc.ListMessages(ctx, outsider, conv.Conversation.ID, 0, 10)
	require.ErrorAs(t, err, &nf)
	require.Equal(t, fmt.Sprintf("conversation %d does not exist", conv.Conversation.ID), nf.Error())
	_, err = svc.Retry(ctx, outsider, msg.ID)
	require.ErrorAs(t, err, &nf)
	require.Equal(t, fmt.Sprintf("message %d does not exist", msg.ID), nf.Error())
	_, err = svc.GetMessage(ctx, outsider, msg.ID+1000)
	require.ErrorAs(t, err, &nf, "the same answer as for a message that does not exist")
	require.Equal(t, fmt.Sprintf("message %d does not exist", msg.ID+1000), nf.Error())

	// A reader of every conversation reads it but may not retry its messages.
	reader := &auth.Principal{UserID: owner.ID + 1001, Role: auth.RoleAgent,
		Permissions: &auth.Permissions{ReadChats: auth.ScopeAll, WriteChats: auth.ScopeNone}}
	got, err := svc.GetMessage(ctx, reader, msg.ID)
	require.NoError(t, err)
	require.Equal(t, msg.ID, got.ID)
	list, err := svc.ListMessages(ctx, reader, conv.Conversation.ID, 0, 10)
	require.NoError(t, err)
	require.Len(t, list, 1)
	_, err = svc.Retry(ctx, reader, msg.ID)
	var fb *apperr.ForbiddenError
	require.ErrorAs(t, err, &fb)
	require.Equal(t, fmt.Sprintf("you may not write to conversation %d", conv.Conversation.ID), fb.Reason)

	// The owner may retry, but only a failed message.
	_, err = svc.Retry(ctx, asOwner, msg.ID)
	var cf *apperr.ConflictError
	require.ErrorAs(t, err, &cf)
	require.Equal(t, fmt.Sprintf("message %d is not failed", msg.ID), cf.Reason)

	// A use case that acts for a person does not run without one, and an automated message is
	// nobody's: neither writes anything.
	_, _, err = svc.Send(ctx, nil, inbox.SendInput{ConversationID: conv.Conversation.ID, ClientID: uuid.New(), Type: "text", Text: "who?"})
	require.Error(t, err)
	_, _, _, err = svc.StartConversation(ctx, nil, "16505550002", inbox.SendInput{ClientID: uuid.New(), Type: "text", Text: "who?"})
	require.Error(t, err)
	_, _, _, err = svc.StartConversationAutomated(ctx, "16505550003", inbox.SendInput{
		ClientID: uuid.New(), Type: "text", Text: "an agent's?", Sender: inbox.SenderAgent,
	})
	require.Error(t, err)
	var messages int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM messages").Scan(&messages))
	require.Equal(t, 1, messages)
}
