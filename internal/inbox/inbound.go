package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/realtime"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// BotReplyArgs is the bot_reply job: let the bot answer a conversation it owns after the customer
// wrote MessageID. One job is queued per customer message; the bot reads the conversation when it
// runs, so a job whose message is no longer the latest may answer the burst at once or do nothing.
type BotReplyArgs struct {
	ConversationID int64 `json:"conversation_id"`
	MessageID      int64 `json:"message_id"`
}

// Kind is the River job kind.
func (BotReplyArgs) Kind() string { return "bot_reply" }

// MarkReadArgs is the mark_read job: tell Meta that an agent read the customer's messages up to
// MessageID, which shows the customer blue ticks.
type MarkReadArgs struct {
	MessageID int64 `json:"message_id"`
}

// Kind is the River job kind.
func (MarkReadArgs) Kind() string { return "mark_read" }

// markReadMaxAttempts is small: a blue tick that never reaches the customer loses nothing.
const markReadMaxAttempts = 5

// Limits on Meta's identifiers. Real ones are far shorter (a wamid is under 100 bytes, a BSUID
// under 140); the bound keeps a malformed payload from failing its whole batch on PostgreSQL's
// index-entry size limit.
const (
	maxWaMessageIDLen = 512
	maxContactIDLen   = 256
)

// InboundContact is the customer who wrote, as the webhook names them. WaID is the phone-based id
// (empty for a username user who hides their number); UserID is Meta's business-scoped user id.
type InboundContact struct {
	WaID        string
	UserID      string
	ProfileName string
}

// Inbound is one customer message as Meta delivered it.
type Inbound struct {
	ChannelID int64
	Contact   InboundContact
	Message   *whatsapp.InboundMessage
	// Payload is the message object as Meta sent it, stored as the message's payload: media ids,
	// mime types, sha256, captions and filenames, context (the message replied to) and referral
	// (the ad that brought the customer) are all kept there.
	Payload json.RawMessage
	// At is when the customer sent it (Meta's timestamp); it starts the 24-hour service window.
	At time.Time
}

func (in *Inbound) validate() error {
	switch {
	case in.Message == nil:
		return &ValidationError{"message", "is missing"}
	case in.Message.ID == "":
		return &ValidationError{"message.id", "is missing: a message without id cannot be deduplicated"}
	case len(in.Message.ID) > maxWaMessageIDLen:
		return &ValidationError{"message.id", fmt.Sprintf("is %d bytes long", len(in.Message.ID))}
	case in.Contact.WaID == "" && in.Contact.UserID == "":
		return &ValidationError{"message.from", "is missing, and no contact names the sender"}
	case len(in.Contact.WaID) > maxContactIDLen || len(in.Contact.UserID) > maxContactIDLen:
		return &ValidationError{"contact", "has an id too long to be Meta's"}
	}
	return nil
}

// Received is what ReceiveTx did.
type Received struct {
	// Duplicate: the wa_message_id was stored before (a redelivery) and nothing changed. The other
	// fields are then zero.
	Duplicate           bool
	Message             db.Message
	Conversation        db.Conversation
	ConversationCreated bool
	BotReplyQueued      bool
}

// ReceiveTx stores one customer message in tx: it upserts the contact (moving last_inbound_at
// forward), finds or opens the conversation, inserts the message unless its wa_message_id is known,
// counts it unread, writes message.created and conversation.created or conversation.updated, and
// queues bot_reply when the bot owns the conversation. A redelivered message changes nothing.
// The caller commits and then calls Ring.
//
// The conversation's status after a customer message (inboundStatus) follows Chatwoot: a
// conversation the customer opens starts with the bot when it is enabled and waits for a human
// (pending) otherwise; a resolved conversation reopens on the next message, to the bot when it is
// enabled (it answers first, as for a new customer) or else to its assignee (open) or the queue
// (pending); a snoozed one wakes up to its assignee or the queue; bot, open and pending stay as they
// are, so a customer writing never takes a conversation from the agent who has it.
func (s *Service) ReceiveTx(ctx context.Context, tx pgx.Tx, in *Inbound) (Received, error) {
	if err := in.validate(); err != nil {
		return Received{}, err
	}
	m := in.Message
	// Most redeliveries stop here, before any write.
	exists, err := s.q.MessageExistsByWaID(ctx, tx, &m.ID)
	if err != nil {
		return Received{}, fmt.Errorf("error looking up message %s: %w", m.ID, err)
	}
	if exists {
		return Received{Duplicate: true}, nil
	}
	contact, err := s.upsertInboundContact(ctx, tx, in)
	if err != nil {
		return Received{}, err
	}
	conv, err := s.q.ConversationOpenForInbound(ctx, tx, db.ConversationOpenForInboundParams{
		ChannelID: in.ChannelID, ContactID: contact.ID, Status: s.newConversationStatus(),
	})
	if err != nil {
		return Received{}, fmt.Errorf("error opening conversation of contact %d: %w", contact.ID, err)
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	msg, err := s.q.MessageInsertInbound(ctx, tx, db.MessageInsertInboundParams{
		ConversationID: conv.ID,
		Type:           inboundType(m),
		Body:           inboundBody(m),
		Payload:        payload,
		WaMessageID:    &m.ID,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// A concurrent transaction stored it first; the contact refresh above is harmless.
		return Received{Duplicate: true}, nil
	}
	if err != nil {
		return Received{}, fmt.Errorf("error storing inbound message %s: %w", m.ID, err)
	}
	var unread int32
	if countsUnread(msg.Type) {
		unread = 1
	}
	updated, err := s.q.ConversationRecordInbound(ctx, tx, db.ConversationRecordInboundParams{
		ID: conv.ID, Status: inboundStatus(conv.Status, conv.AssigneeID != nil, s.botEnabled), Unread: unread,
	})
	if err != nil {
		return Received{}, fmt.Errorf("error updating conversation %d: %w", conv.ID, err)
	}
	if err := realtime.Append(ctx, tx, realtime.KindMessageCreated, msg.ConversationID, MessageEvent(&msg)); err != nil {
		return Received{}, err
	}
	kind := realtime.KindConversationUpdated
	if conv.Inserted {
		kind = realtime.KindConversationCreated
	}
	if err := realtime.Append(ctx, tx, kind, updated.ID, ConversationEvent(&updated)); err != nil {
		return Received{}, err
	}
	res := Received{Message: msg, Conversation: updated, ConversationCreated: conv.Inserted}
	if updated.Status == ConversationBot && triggersBot(msg.Type) {
		_, err := s.queue.InsertTx(ctx, tx, BotReplyArgs{ConversationID: updated.ID, MessageID: msg.ID}, nil)
		if err != nil {
			return Received{}, fmt.Errorf("error queueing bot reply to message %d: %w", msg.ID, err)
		}
		res.BotReplyQueued = true
	}
	return res, nil
}

// upsertInboundContact finds the sender by business-scoped user id first (stable across a
// username), then by phone-based wa_id, and creates them when neither is known.
func (s *Service) upsertInboundContact(ctx context.Context, tx pgx.Tx, in *Inbound) (db.Contact, error) {
	c := in.Contact
	if c.UserID != "" {
		ct, err := s.q.ContactUpdateInboundByUserID(ctx, tx, db.ContactUpdateInboundByUserIDParams{
			ChannelID: in.ChannelID, UserID: c.UserID, WaID: c.WaID, ProfileName: c.ProfileName, InboundAt: in.At,
		})
		if err == nil {
			return ct, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return db.Contact{}, fmt.Errorf("error updating contact %s: %w", c.UserID, err)
		}
	}
	if c.WaID != "" {
		var userID *string
		if c.UserID != "" {
			userID = &c.UserID
		}
		ct, err := s.q.ContactUpsertInboundByWaID(ctx, tx, db.ContactUpsertInboundByWaIDParams{
			ChannelID: in.ChannelID, WaID: c.WaID, UserID: userID, ProfileName: c.ProfileName, InboundAt: in.At,
		})
		if err != nil {
			return db.Contact{}, fmt.Errorf("error storing contact %s: %w", c.WaID, err)
		}
		return ct, nil
	}
	ct, err := s.q.ContactUpsertInboundByUserID(ctx, tx, db.ContactUpsertInboundByUserIDParams{
		ChannelID: in.ChannelID, UserID: c.UserID, ProfileName: c.ProfileName, InboundAt: in.At,
	})
	if err != nil {
		return db.Contact{}, fmt.Errorf("error storing contact %s: %w", c.UserID, err)
	}
	return ct, nil
}

func (s *Service) newConversationStatus() string {
	if s.botEnabled {
		return ConversationBot
	}
	return ConversationPending
}

// inboundStatus is the status a conversation takes when its customer writes (see ReceiveTx).
func inboundStatus(current string, assigned, botEnabled bool) string {
	switch current {
	case ConversationResolved:
		if botEnabled {
			return ConversationBot
		}
		fallthrough
	case ConversationSnoozed:
		if assigned {
			return ConversationOpen
		}
		return ConversationPending
	}
	return current
}

// countsUnread tells the messages an agent must read from reactions and account notices.
func countsUnread(typ string) bool {
	return typ != whatsapp.InboundTypeReaction && typ != whatsapp.InboundTypeSystem
}

// triggersBot tells the messages the bot answers: not a reaction or an account notice.
func triggersBot(typ string) bool { return countsUnread(typ) }

func inboundType(m *whatsapp.InboundMessage) string {
	if t := strings.TrimSpace(m.Type); t != "" {
		return t
	}
	return whatsapp.InboundTypeUnsupported
}

// inboundBody is the text agents see in lists and previews; the whole message is in the payload.
func inboundBody(m *whatsapp.InboundMessage) string {
	if b := m.Body(); b != "" {
		return b
	}
	switch {
	case m.Reaction != nil:
		return m.Reaction.Emoji
	case m.System != nil:
		return m.System.Body
	case m.Location != nil:
		return strings.TrimSpace(strings.Join([]string{m.Location.Name, m.Location.Address}, " "))
	case m.Document != nil:
		return m.Document.Filename
	}
	return ""
}

// MarkConversationRead marks a conversation read by the agents: its unread count drops to zero
// and, the first time its latest customer message is read, a mark_read job tells Meta so the
// customer sees blue ticks.
func (s *Service) MarkConversationRead(ctx context.Context, conversationID int64) (db.ConversationGetRow, error) {
	changed := false
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		conv, err := s.q.ConversationGetForUpdate(ctx, tx, conversationID)
		if err != nil {
			return notFound(err, "conversation", conversationID)
		}
		if conv.UnreadCount > 0 {
			if conv, err = s.q.ConversationClearUnread(ctx, tx, conversationID); err != nil {
				return fmt.Errorf("error marking conversation %d read: %w", conversationID, err)
			}
			if err := realtime.Append(ctx, tx, realtime.KindConversationUpdated, conv.ID, ConversationEvent(&conv)); err != nil {
				return err
			}
			changed = true
		}
		msg, err := s.q.MessageMarkLastInboundRead(ctx, tx, conversationID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error marking the last message of conversation %d read: %w", conversationID, err)
		}
		_, err = s.queue.InsertTx(ctx, tx, MarkReadArgs{MessageID: msg.ID},
			&river.InsertOpts{Queue: QueueSend, MaxAttempts: markReadMaxAttempts})
		if err != nil {
			return fmt.Errorf("error queueing mark-read of message %d: %w", msg.ID, err)
		}
		return nil
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	if changed {
		s.ringer.Ring()
	}
	return s.GetConversation(ctx, conversationID)
}
