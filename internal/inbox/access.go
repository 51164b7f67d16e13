package inbox

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
)

// Who may read and write a conversation, decided in the domain under the row lock each use case
// takes (the rules themselves are internal/auth's).
//
// Every use case that acts for a person takes them as its *auth.Principal and decides inside
// whether they may; the API only passes the caller on. The system's own work (the webhook's
// intake, the workers, the bot) acts for no person and has methods of its own that decide no
// permission and say so (ReceiveTx, SendBotReply, LoadConversation, LoadMessage,
// StartConversationAutomated, ...): there is no principal standing for the system, so no
// principal can be mistaken for it.

func ref(c *db.Conversation) auth.ConversationRef {
	return auth.ConversationRef{AssigneeID: c.AssigneeID, GroupID: c.GroupID}
}

// authorize answers a conversation the caller may not read as one that does not exist
// (*apperr.NotFoundError), and one it may read but not write with an *apperr.ForbiddenError.
func authorize(p *auth.Principal, c *db.Conversation, write bool) error {
	if !auth.CanReadConversation(p, ref(c)) {
		return apperr.NotFound("conversation", c.ID)
	}
	if write && !auth.CanWriteConversation(p, ref(c)) {
		return apperr.Forbidden("you may not act on conversation %d", c.ID)
	}
	return nil
}

// authorizeMessage is authorize for message id of conversation conversationID, whose assignee
// and group are c: the messages of a conversation the caller may not read do not exist for them
// either.
func authorizeMessage(p *auth.Principal, id, conversationID int64, c auth.ConversationRef, write bool) error {
	if !auth.CanReadConversation(p, c) {
		return apperr.NotFound("message", id)
	}
	if write && !auth.CanWriteConversation(p, c) {
		return apperr.Forbidden("you may not write to conversation %d", conversationID)
	}
	return nil
}

// GetConversation returns a conversation p may read, with its contact; any other conversation
// does not exist for them.
func (s *Service) GetConversation(ctx context.Context, p *auth.Principal, id int64) (db.ConversationGetRow, error) {
	row, err := s.LoadConversation(ctx, id)
	if err != nil {
		return row, err
	}
	return row, authorize(p, &row.Conversation, false)
}

func (s *Service) forWrite(ctx context.Context, tx pgx.Tx, p *auth.Principal, id int64) (db.Conversation, error) {
	c, err := s.q.ConversationGetForUpdate(ctx, tx, id)
	if err != nil {
		return db.Conversation{}, notFound(err, "conversation", id)
	}
	return c, authorize(p, &c, true)
}

// checkSendAllowed runs in the send transaction under the row lock of the sequence reservation:
// p, the person sending (nil for a message no person writes), must be allowed to write, and no
// other agent may hold the lock.
func checkSendAllowed(p *auth.Principal, in *SendInput, r *db.ConversationReserveOutSeqRow) error {
	if p != nil {
		c := db.Conversation{ID: in.ConversationID, AssigneeID: r.AssigneeID, GroupID: r.GroupID}
		if err := authorize(p, &c, true); err != nil {
			return err
		}
	}
	if in.Sender == SenderAgent && r.LockHeld && r.LockedBy != nil && *r.LockedBy != in.SenderUserID && r.LockExpiresAt != nil {
		return &LockedError{ConversationID: in.ConversationID, LockedBy: *r.LockedBy, ExpiresAt: *r.LockExpiresAt}
	}
	return nil
}
