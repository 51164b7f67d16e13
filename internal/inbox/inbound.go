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
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
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
		return &apperr.FieldError{Field: "message", Message: "is missing"}
	case in.Message.ID == "":
		return &apperr.FieldError{Field: "message.id", Message: "is missing: a message without id cannot be deduplicated"}
	case len(in.Message.ID) > maxWaMessageIDLen:
		return &apperr.FieldError{Field: "message.id", Message: fmt.Sprintf("is %d bytes long", len(in.Message.ID))}
	case in.Contact.WaID == "" && in.Contact.UserID == "":
		return &apperr.FieldError{Field: "message.from", Message: "is missing, and no contact names the sender"}
	case len(in.Contact.WaID) > maxContactIDLen || len(in.Contact.UserID) > maxContactIDLen:
		return &apperr.FieldError{Field: "contact", Message: "has an id too long to be Meta's"}
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
// The events are announced once the caller commits tx.
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
	// A redelivery is found by the message insert's conflict on wa_message_id below, not by a
	// lookup first: that would cost every new message a round trip to save a rare redelivery two
	// harmless writes (the contact's refresh and the conversation's lock).
	contact, err := s.upsertInboundContact(ctx, tx, in)
	if err != nil {
		return Received{}, err
	}
	conv := contact.conversation
	if conv == nil {
		if conv, err = s.lockConversationForInbound(ctx, tx, in.ChannelID, contact.id, contact.looked); err != nil {
			return Received{}, err
		}
	}
	payload := in.Payload
	if len(payload) == 0 {
		payload = json.RawMessage("{}")
	}
	typ := inboundType(m)
	var unread int32
	if countsUnread(typ) {
		unread = 1
	}
	row, err := s.q.MessageInsertInbound(ctx, tx, db.MessageInsertInboundParams{
		ConversationID:     conv.id,
		Type:               typ,
		Body:               inboundBody(m),
		Payload:            payload,
		WaMessageID:        &m.ID,
		ReplyToWaMessageID: repliedTo(m),
		ConversationStatus: inboundStatus(conv.status, conv.assigned, s.botEnabled),
		Unread:             unread,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// Stored before (a redelivery), or by a concurrent transaction first; the contact refresh
		// above is harmless.
		return Received{Duplicate: true}, nil
	}
	if err != nil {
		return Received{}, fmt.Errorf("error storing inbound message %s: %w", m.ID, err)
	}
	msg, updated := splitInboundRow(&row)
	if err := s.receiveMediaTx(ctx, tx, &msg, m); err != nil {
		return Received{}, err
	}
	kind := eventlog.ConversationUpdated
	if conv.inserted {
		kind = eventlog.ConversationCreated
	}
	convEvent := ConversationEvent(&updated)
	// The customer wrote: the customer-service window runs for 24 hours from this message (a
	// later one of theirs may already hold it open longer; REST shows the exact end).
	convEvent["window_expires_at"] = WindowExpiresAt(&in.At)
	err = s.events.AppendAll(ctx, tx,
		eventlog.Event{Kind: eventlog.MessageCreated, ConversationID: msg.ConversationID, Payload: MessageEvent(&msg)},
		eventlog.Event{Kind: kind, ConversationID: updated.ID, Payload: convEvent})
	if err != nil {
		return Received{}, err
	}
	res := Received{Message: msg, Conversation: updated, ConversationCreated: conv.inserted}
	if updated.Status == ConversationBot && triggersBot(msg.Type) {
		_, err := s.queue.InsertTx(ctx, tx, BotReplyArgs{ConversationID: updated.ID, MessageID: msg.ID}, nil)
		if err != nil {
			return Received{}, fmt.Errorf("error queueing bot reply to message %d: %w", msg.ID, err)
		}
		res.BotReplyQueued = true
	}
	return res, nil
}

// splitInboundRow takes apart what MessageInsertInbound returns: the new message and its
// conversation after it.
func splitInboundRow(r *db.MessageInsertInboundRow) (db.Message, db.Conversation) {
	return db.Message{
			ID: r.ID, ConversationID: r.ConversationID, Direction: r.Direction, Sender: r.Sender,
			SenderUserID: r.SenderUserID, Type: r.Type, Body: r.Body, Payload: r.Payload, Status: r.Status,
			WaMessageID: r.WaMessageID, ClientID: r.ClientID, OutSeq: r.OutSeq, SendGeneration: r.SendGeneration,
			Attempts: r.Attempts, LastError: r.LastError, ErrorCode: r.ErrorCode, ErrorTitle: r.ErrorTitle,
			ErrorDetails: r.ErrorDetails, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, SentAt: r.SentAt,
			DeliveredAt: r.DeliveredAt, ReadAt: r.ReadAt, FailedAt: r.FailedAt, ReplyToMessageID: r.ReplyToMessageID,
		}, db.Conversation{
			ID: r.ConversationID, ChannelID: r.ConvChannelID, ContactID: r.ConvContactID, Status: r.ConvStatus,
			AssigneeID: r.ConvAssigneeID, UnreadCount: r.ConvUnreadCount, LastOutSeq: r.ConvLastOutSeq,
			LastMessageAt: r.ConvLastMessageAt, CreatedAt: r.ConvCreatedAt, UpdatedAt: r.ConvUpdatedAt,
			GroupID: r.ConvGroupID, LockedBy: r.ConvLockedBy, LockExpiresAt: r.ConvLockExpiresAt,
			SnoozedUntil: r.ConvSnoozedUntil,
		}
}

// repliedTo is the wamid of the message m replies to (a swipe reply, or the interactive message or
// template whose button or list row the customer chose), or nil. MessageInsertInbound links it
// when it is a message of the same conversation.
func repliedTo(m *whatsapp.InboundMessage) *string {
	if m.Context == nil || m.Context.ID == "" || len(m.Context.ID) > maxWaMessageIDLen {
		return nil
	}
	return &m.Context.ID
}

// inboundConversation is the conversation an inbound message goes to, locked until the
// transaction ends so the status derived from it cannot change underneath.
type inboundConversation struct {
	id       int64
	status   string
	assigned bool
	inserted bool
}

// lockConversationForInbound locks the contact's conversation, or opens it (the first message of
// a contact, or a race with another transaction opening it, which the upsert settles). looked
// says the caller's statement already looked for it and found none, so only the upsert is left.
func (s *Service) lockConversationForInbound(ctx context.Context, tx pgx.Tx, channelID, contactID int64, looked bool) (*inboundConversation, error) {
	if !looked {
		found, err := s.q.ConversationLockByContact(ctx, tx, contactID)
		if err == nil {
			return &inboundConversation{id: found.ID, status: found.Status, assigned: found.AssigneeID != nil}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return nil, fmt.Errorf("error locking conversation of contact %d: %w", contactID, err)
		}
	}
	opened, err := s.q.ConversationOpenForInbound(ctx, tx, db.ConversationOpenForInboundParams{
		ChannelID: channelID, ContactID: contactID, Status: s.newConversationStatus(),
	})
	if err != nil {
		return nil, fmt.Errorf("error opening conversation of contact %d: %w", contactID, err)
	}
	return &inboundConversation{id: opened.ID, status: opened.Status, assigned: opened.AssigneeID != nil, inserted: opened.Inserted}, nil
}

// inboundContact is the sender of an inbound message as upsertInboundContact left it.
type inboundContact struct {
	id int64
	// conversation is the contact's conversation when the upsert also found and locked it.
	conversation *inboundConversation
	// looked: the upsert looked for the conversation; a nil conversation then means none.
	looked bool
}

// upsertInboundContact finds the sender by business-scoped user id first (stable across a
// username), then by phone-based wa_id, and creates them when neither is known. The phone-based
// upsert, the common case, also finds and locks the contact's conversation in the same statement.
func (s *Service) upsertInboundContact(ctx context.Context, tx pgx.Tx, in *Inbound) (inboundContact, error) {
	c := in.Contact
	if c.UserID != "" {
		ct, err := s.q.ContactUpdateInboundByUserID(ctx, tx, db.ContactUpdateInboundByUserIDParams{
			ChannelID: in.ChannelID, UserID: c.UserID, WaID: c.WaID, ProfileName: c.ProfileName, InboundAt: in.At,
		})
		if err == nil {
			return inboundContact{id: ct.ID}, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return inboundContact{}, fmt.Errorf("error updating contact %s: %w", c.UserID, err)
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
			return inboundContact{}, fmt.Errorf("error storing contact %s: %w", c.WaID, err)
		}
		ic := inboundContact{id: ct.ID, looked: true}
		if ct.ConversationID != 0 {
			ic.conversation = &inboundConversation{
				id: ct.ConversationID, status: ct.ConversationStatus, assigned: ct.ConversationAssigneeID != nil,
			}
		}
		return ic, nil
	}
	ct, err := s.q.ContactUpsertInboundByUserID(ctx, tx, db.ContactUpsertInboundByUserIDParams{
		ChannelID: in.ChannelID, UserID: c.UserID, ProfileName: c.ProfileName, InboundAt: in.At,
	})
	if err != nil {
		return inboundContact{}, fmt.Errorf("error storing contact %s: %w", c.UserID, err)
	}
	return inboundContact{id: ct.ID}, nil
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
// customer sees blue ticks. The receipt speaks to the customer, so it is a write: p must be
// allowed to write to the conversation (as to send), decided under the row lock it takes.
func (s *Service) MarkConversationRead(ctx context.Context, p *auth.Principal, conversationID int64) (db.ConversationGetRow, error) {
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		conv, err := s.forWrite(ctx, tx, p, conversationID)
		if err != nil {
			return err
		}
		if conv.UnreadCount > 0 {
			if conv, err = s.q.ConversationClearUnread(ctx, tx, conversationID); err != nil {
				return fmt.Errorf("error marking conversation %d read: %w", conversationID, err)
			}
			if err := s.events.Append(ctx, tx, eventlog.ConversationUpdated, conv.ID, ConversationEvent(&conv)); err != nil {
				return err
			}
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
	return s.LoadConversation(ctx, conversationID)
}
