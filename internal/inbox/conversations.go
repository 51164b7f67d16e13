package inbox

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/realtime"
)

// Conversation statuses.
const (
	ConversationBot      = "bot"
	ConversationOpen     = "open"
	ConversationPending  = "pending"
	ConversationSnoozed  = "snoozed"
	ConversationResolved = "resolved"
)

// waIDPattern is a phone number in international format without "+", as WhatsApp's wa_id is.
var waIDPattern = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

// EnsureChannel registers the business number this instance sends from; the first one becomes
// the default channel that agents start conversations on.
func (s *Service) EnsureChannel(ctx context.Context, p db.ChannelUpsertParams) (db.Channel, error) {
	ch, err := s.q.ChannelUpsert(ctx, s.pool, p)
	if err != nil {
		return db.Channel{}, fmt.Errorf("error registering channel %s: %w", p.PhoneNumberID, err)
	}
	return ch, nil
}

// StartConversation finds or opens the conversation with waID on the default channel and sends it
// the first message, all in one transaction. An agent starting a conversation takes it, so it is
// open (a human's) rather than the bot's. The caller's right to write is checked as for any send,
// under the row lock; a caller who may not even read the customer's conversation (another agent's
// customer) is answered as if it did not exist, without its id, and nothing is written.
func (s *Service) StartConversation(ctx context.Context, waID string, in SendInput) (db.ConversationGetRow, db.Message, bool, error) {
	if !waIDPattern.MatchString(waID) {
		return db.ConversationGetRow{}, db.Message{}, false,
			&ValidationError{"wa_id", "must be a phone number in international format, digits only (e.g. 16505551234)"}
	}
	if err := in.validate(); err != nil {
		return db.ConversationGetRow{}, db.Message{}, false, err
	}
	var (
		msg     db.Message
		created bool
	)
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		ch, err := s.q.ChannelGetDefault(ctx, tx)
		if err != nil {
			return fmt.Errorf("error loading default channel: %w", err)
		}
		contact, err := s.q.ContactUpsertByWaID(ctx, tx, db.ContactUpsertByWaIDParams{ChannelID: ch.ID, WaID: waID})
		if err != nil {
			return fmt.Errorf("error storing contact: %w", err)
		}
		up, err := s.q.ConversationUpsert(ctx, tx, db.ConversationUpsertParams{
			ChannelID: ch.ID, ContactID: contact.ID, Status: ConversationOpen,
		})
		if err != nil {
			return fmt.Errorf("error opening conversation: %w", err)
		}
		in.ConversationID = up.ID
		msg, err = s.insertOutbound(ctx, tx, in)
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("conversation with wa_id %s: %w", waID, ErrNotFound)
		}
		if err != nil || !up.Inserted {
			return err
		}
		return realtime.Append(ctx, tx, realtime.KindConversationCreated, up.ID, map[string]any{
			"conversation_id": up.ID, "contact_id": contact.ID, "status": up.Status,
		})
	})
	switch {
	case errors.Is(err, errDuplicate):
		msg, err = s.existing(ctx, in)
	case err == nil:
		created = true
		s.ringer.Ring()
	}
	if err != nil {
		return db.ConversationGetRow{}, db.Message{}, false, err
	}
	row, err := s.GetConversation(ctx, msg.ConversationID)
	return row, msg, created, err
}

// GetConversation returns a conversation with its contact.
func (s *Service) GetConversation(ctx context.Context, id int64) (db.ConversationGetRow, error) {
	row, err := s.q.ConversationGet(ctx, s.pool, id)
	if err != nil {
		return db.ConversationGetRow{}, notFound(err, "conversation", id)
	}
	return row, nil
}

// ConversationCursor is a position in the conversation list: the last row of the previous page.
type ConversationCursor struct {
	LastMessageAt time.Time
	ID            int64
}

// ListMessages returns up to limit messages of a conversation, newest first, older than beforeID
// when it is not zero.
func (s *Service) ListMessages(ctx context.Context, conversationID, beforeID int64, limit int) ([]db.Message, error) {
	if _, err := s.q.ConversationGet(ctx, s.pool, conversationID); err != nil {
		return nil, notFound(err, "conversation", conversationID)
	}
	p := db.MessageListByConversationParams{ConversationID: conversationID, RowLimit: int32(limit)}
	if beforeID != 0 {
		p.BeforeID = &beforeID
	}
	msgs, err := s.q.MessageListByConversation(ctx, s.pool, p)
	if err != nil {
		return nil, fmt.Errorf("error listing messages of conversation %d: %w", conversationID, err)
	}
	return msgs, nil
}

// GetMessage returns one message.
func (s *Service) GetMessage(ctx context.Context, id int64) (db.Message, error) {
	m, err := s.q.MessageGet(ctx, s.pool, id)
	if err != nil {
		return db.Message{}, notFound(err, "message", id)
	}
	return m, nil
}

// ConversationEvent is the small payload of conversation events.
func ConversationEvent(c *db.Conversation) map[string]any {
	return map[string]any{
		"conversation_id": c.ID,
		"contact_id":      c.ContactID,
		"status":          c.Status,
		"assignee_id":     c.AssigneeID,
		"unread_count":    c.UnreadCount,
		"last_message_at": c.LastMessageAt.UTC().Format(time.RFC3339Nano),
	}
}
