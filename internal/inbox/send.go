package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/waformat"
)

// River queues of outbound sends. Each has workers of its own, so that neither a backlog of
// webhooks nor one of bot replies keeps an agent's reply waiting for a worker.
const (
	// QueueSend carries agents' sends (and read receipts).
	QueueSend = "send"
	// QueueSendBot carries the bot's replies and system notices (and, later, bulk sends).
	QueueSendBot = "send_bot"
)

// MaxTextLength is WhatsApp's limit for a text body, in characters.
const MaxTextLength = 4096

// SendMessageArgs is the send_message job: send one outbound message. Generation is the message's
// send_generation when the job was queued; a job whose generation is no longer current does nothing.
type SendMessageArgs struct {
	MessageID  int64 `json:"message_id"`
	Generation int32 `json:"generation"`
}

// Kind is the River job kind.
func (SendMessageArgs) Kind() string { return "send_message" }

// Sender kinds of a message.
const (
	SenderContact = "contact"
	SenderAgent   = "agent"
	SenderBot     = "bot"
	SenderSystem  = "system"
)

// Message statuses.
const (
	StatusPending   = "pending"
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
	StatusReceived  = "received"
)

// SendInput is an outbound message. Send and StartConversation make it the caller's (Sender and
// SenderUserID are set from them); a message no person writes names its Sender (bot, system).
type SendInput struct {
	ConversationID int64
	ClientID       uuid.UUID
	Type           string
	Text           string
	// Message is any other message (a template, an interactive message, a location, contacts, a
	// reaction, or a text that replies to a message) in Meta's request shape; Type and Text are
	// then unused. It is checked against Meta's limits, and a template against the stored
	// template, in the send transaction (compose).
	Message      *waformat.Message
	Sender       string // SenderAgent when empty
	SenderUserID int64  // the agent; 0 for the bot and the system
}

// errNoCaller refuses a use case that acts for a person called without one: a bug, refused rather
// than let through unchecked.
var errNoCaller = errors.New("inbox: a use case that acts for a person was called without one")

func (in *SendInput) validate() error {
	if in.ClientID == uuid.Nil {
		return &apperr.FieldError{Field: "client_id", Message: "is required and must be a UUID"}
	}
	if in.Sender == "" {
		in.Sender = SenderAgent
	}
	if in.Message != nil {
		return nil // compose checks it, with the stored templates
	}
	if in.Type != "text" {
		return &apperr.FieldError{Field: "type", Message: fmt.Sprintf("%q is not supported; use \"text\"", in.Type)}
	}
	if strings.TrimSpace(in.Text) == "" {
		return &apperr.FieldError{Field: "text.body", Message: "must not be empty"}
	}
	if !utf8.ValidString(in.Text) {
		return &apperr.FieldError{Field: "text.body", Message: "must be valid UTF-8"}
	}
	if n := utf8.RuneCountInString(in.Text); n > MaxTextLength {
		return &apperr.FieldError{Field: "text.body", Message: fmt.Sprintf("is %d characters; WhatsApp allows at most %d", n, MaxTextLength)}
	}
	if in.Sender == "" {
		in.Sender = SenderAgent
	}
	return nil
}

// errDuplicate ends a transaction that lost a client_id race; the caller reads the winner.
var errDuplicate = errors.New("duplicate client_id")

// Send stores an outbound message p writes with its send job and event in one transaction. p
// must be allowed to write to the conversation, and no other agent may hold its composer lock:
// both are decided under the conversation's row lock (insertOutbound). created is false when p
// had already used ClientID: the first message is returned and nothing is written, so a client
// may retry a request whose answer it never saw. The message is p's: in.Sender and
// in.SenderUserID are set from p.
func (s *Service) Send(ctx context.Context, p *auth.Principal, in SendInput) (msg db.Message, created bool, err error) {
	if p == nil {
		return db.Message{}, false, errNoCaller
	}
	in.Sender, in.SenderUserID = SenderAgent, p.UserID
	if err := in.validate(); err != nil {
		return db.Message{}, false, err
	}
	err = database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		msg, err = s.insertOutbound(ctx, tx, p, in)
		return err
	})
	if errors.Is(err, errDuplicate) {
		msg, err = s.existing(ctx, in)
		return msg, false, err
	}
	if err != nil {
		return db.Message{}, false, err
	}
	return msg, true, nil
}

// insertOutbound writes the message, its job and its event in tx. Reserving the message's
// position locks the conversation row, which both proves the conversation exists and orders
// concurrent sends to it; the right to write of p, the person sending, is checked under that
// lock, and a refusal rolls the transaction back. p is nil only for a message no person writes
// (the bot's, the system's).
func (s *Service) insertOutbound(ctx context.Context, tx pgx.Tx, p *auth.Principal, in SendInput) (db.Message, error) {
	c, err := s.compose(ctx, tx, &in)
	if err != nil {
		return db.Message{}, err
	}
	row, err := s.q.MessageInsertOutbound(ctx, tx, db.MessageInsertOutboundParams{
		ConversationID:   in.ConversationID,
		Sender:           in.Sender,
		SenderUserID:     userID(in.SenderUserID),
		Type:             c.typ,
		Body:             c.body,
		Payload:          c.payload,
		ClientID:         in.ClientID,
		ReplyToMessageID: c.replyTo,
		MediaID:          c.mediaID(),
	})
	if errors.Is(err, pgx.ErrNoRows) {
		// No conversation, or a client_id used before: reserving alone tells which, and a
		// repeated request still has to pass the checks before it is answered.
		reserved, err := s.q.ConversationReserveOutSeq(ctx, tx, in.ConversationID)
		if err != nil {
			return db.Message{}, notFound(err, "conversation", in.ConversationID)
		}
		if err := checkSendAllowed(p, &in, &reserved); err != nil {
			return db.Message{}, err
		}
		return db.Message{}, errDuplicate
	}
	if err != nil {
		return db.Message{}, fmt.Errorf("error storing message: %w", err)
	}
	// Under the row lock just taken: the sender may write, and no other agent holds the lock.
	err = checkSendAllowed(p, &in, &db.ConversationReserveOutSeqRow{
		LastOutSeq: *row.OutSeq, AssigneeID: row.ConvAssigneeID, GroupID: row.ConvGroupID,
		LockedBy: row.ConvLockedBy, LockExpiresAt: row.ConvLockExpiresAt, LockHeld: row.ConvLockHeld,
	})
	if err != nil {
		return db.Message{}, err
	}
	if c.refused != nil {
		return db.Message{}, c.refused
	}
	// Meta refuses a free-form message outside the customer's window; so does wainbox, before
	// anything is stored (the transaction rolls back).
	if err := s.checkWindow(in.ConversationID, c.typ, row.ConvLastInboundAt); err != nil {
		return db.Message{}, err
	}
	msg := db.Message{
		ID: row.ID, ConversationID: row.ConversationID, Direction: row.Direction, Sender: row.Sender,
		SenderUserID: row.SenderUserID, Type: row.Type, Body: row.Body, Payload: row.Payload, Status: row.Status,
		WaMessageID: row.WaMessageID, ClientID: row.ClientID, OutSeq: row.OutSeq, SendGeneration: row.SendGeneration,
		Attempts: row.Attempts, LastError: row.LastError, ErrorCode: row.ErrorCode, ErrorTitle: row.ErrorTitle,
		ErrorDetails: row.ErrorDetails, CreatedAt: row.CreatedAt, UpdatedAt: row.UpdatedAt, SentAt: row.SentAt,
		DeliveredAt: row.DeliveredAt, ReadAt: row.ReadAt, FailedAt: row.FailedAt, ReplyToMessageID: row.ReplyToMessageID,
		MediaID: row.MediaID,
	}
	if c.file != nil {
		if err := s.queueUploadTx(ctx, tx, c.file); err != nil {
			return db.Message{}, err
		}
	}
	if err := s.enqueueSend(ctx, tx, msg.ID, msg.SendGeneration, msg.Sender); err != nil {
		return db.Message{}, err
	}
	if err := s.events.Append(ctx, tx, eventlog.MessageCreated, msg.ConversationID, MessageEvent(&msg)); err != nil {
		return db.Message{}, err
	}
	return msg, nil
}

// Priorities of sends (River runs a lower number first, and the pacer grants its slots in this
// order): a person waiting on an agent's reply comes before the bot's answers, and both before
// anything sent in bulk, so that a backlog of bot replies delays an agent's reply by about one
// send slot.
const (
	PriorityAgent = 1
	PriorityBot   = 2
	PriorityBulk  = 3
)

// SendPriority is the priority of a send by who wrote it.
func SendPriority(sender string) int {
	if sender == SenderAgent {
		return PriorityAgent
	}
	return PriorityBot
}

// SendQueue is the queue of a send by who wrote it.
func SendQueue(sender string) string {
	if sender == SenderAgent {
		return QueueSend
	}
	return QueueSendBot
}

func (s *Service) enqueueSend(ctx context.Context, tx pgx.Tx, messageID int64, generation int32, sender string) error {
	_, err := s.queue.InsertTx(ctx, tx, SendMessageArgs{MessageID: messageID, Generation: generation},
		&river.InsertOpts{Queue: SendQueue(sender), MaxAttempts: s.sendMaxAttempts, Priority: SendPriority(sender)})
	if err != nil {
		return fmt.Errorf("error queueing send of message %d: %w", messageID, err)
	}
	return nil
}

// existing returns the message a sender already stored under in.ClientID. Reusing a client_id for
// different content or another conversation is a client bug, answered with a conflict rather than
// silently returning a message the client did not write.
func (s *Service) existing(ctx context.Context, in SendInput) (db.Message, error) {
	clientID := in.ClientID
	msg, err := s.q.MessageGetByClientID(ctx, s.pool, db.MessageGetByClientIDParams{
		Sender: in.Sender, SenderUserID: userID(in.SenderUserID), ClientID: &clientID,
	})
	if err != nil {
		return db.Message{}, fmt.Errorf("error loading message of client_id %s: %w", in.ClientID, err)
	}
	same := msg.ConversationID == in.ConversationID
	if in.Message != nil {
		same = same && samePayload(msg.Payload, in.Message)
	} else {
		same = same && msg.Body == in.Text && msg.Type == in.Type
	}
	if !same {
		return db.Message{}, apperr.Conflict("client_id %s was already used for another message", in.ClientID)
	}
	return msg, nil
}

// samePayload reports whether a stored payload is the message m (jsonb keeps neither key order
// nor spacing, so the two are compared as values).
func samePayload(stored json.RawMessage, m *waformat.Message) bool {
	b, err := json.Marshal(storedForm(m))
	if err != nil {
		return false
	}
	var x, y any
	return json.Unmarshal(stored, &x) == nil && json.Unmarshal(b, &y) == nil && reflect.DeepEqual(x, y)
}

// Retry queues a new send of a failed message, for p, and makes it pending again. p must be
// allowed to write to the message's conversation, decided under the conversation's row lock as
// for a send: a message of a conversation p may not read does not exist for them, and one they
// may only read is refused. A message in any other status than failed answers a conflict.
func (s *Service) Retry(ctx context.Context, p *auth.Principal, messageID int64) (db.Message, error) {
	var msg db.Message
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.q.MessageConversationForUpdate(ctx, tx, messageID)
		if err != nil {
			return notFound(err, "message", messageID)
		}
		if err := authorizeMessage(p, messageID, c.ID, ref(&c), true); err != nil {
			return err
		}
		msg, err = s.q.MessageRequeue(ctx, tx, messageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return apperr.Conflict("message %d is not failed", messageID)
		}
		if err != nil {
			return fmt.Errorf("error requeueing message %d: %w", messageID, err)
		}
		if err := s.enqueueSend(ctx, tx, msg.ID, msg.SendGeneration, msg.Sender); err != nil {
			return err
		}
		return s.events.Append(ctx, tx, eventlog.MessageStatus, msg.ConversationID, MessageEvent(&msg))
	})
	if err != nil {
		return db.Message{}, err
	}
	return msg, nil
}

// MessageEvent is the small payload of message.created and message.status events.
func MessageEvent(m *db.Message) map[string]any {
	ev := map[string]any{
		"message_id": m.ID,
		"direction":  m.Direction,
		"sender":     m.Sender,
		"type":       m.Type,
		"status":     m.Status,
		"preview":    preview(m.Body, 100),
		"created_at": m.CreatedAt.UTC().Format(time.RFC3339Nano),
		// The message it quotes or answers (null when none).
		"reply_to_message_id": m.ReplyToMessageID,
	}
	if m.MediaID != nil {
		ev["media_id"] = *m.MediaID
	}
	if m.ErrorCode != nil {
		ev["error_code"] = *m.ErrorCode
		ev["error_title"] = m.ErrorTitle
	}
	return ev
}

func preview(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

func userID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}
