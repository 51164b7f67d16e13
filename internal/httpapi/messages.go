package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/waformat"
)

// Handlers of messages: sending, listing, reading one, and retrying a failed one. Who may do
// each is decided in internal/inbox; handlers only parse and render.

// messageRequest is the body of a send: a message in WhatsApp's own request shape (text,
// template, interactive, location, contacts, reaction, and context for a reply), plus the client's
// idempotency key, or a quick reply to send instead (quick_reply_id).
type messageRequest struct {
	ClientID     string `json:"client_id"`
	QuickReplyID int64  `json:"quick_reply_id,omitempty"`
	waformat.Message
}

func (m *messageRequest) input() (inbox.SendInput, error) {
	in := inbox.SendInput{Type: m.Type}
	if m.ClientID == "" {
		return in, &apperr.FieldError{Field: "client_id", Message: "is required (a UUID the client makes once per message)"}
	}
	id, err := uuid.Parse(m.ClientID)
	if err != nil {
		return in, &apperr.FieldError{Field: "client_id", Message: "must be a UUID"}
	}
	in.ClientID = id
	if m.To != "" {
		return in, &apperr.FieldError{Field: "to", Message: "is the conversation's customer; leave it out"}
	}
	if m.BizOpaqueCallbackData != "" {
		return in, &apperr.FieldError{Field: "biz_opaque_callback_data", Message: "is set by wainbox (the message's id); leave it out"}
	}
	if m.QuickReplyID != 0 {
		if m.Type != "" {
			return in, &apperr.FieldError{Field: "quick_reply_id", Message: "sends the quick reply; leave the message fields out"}
		}
		return in, nil
	}
	if m.Type == "" {
		return in, &apperr.FieldError{Field: "type", Message: "is required"}
	}
	if m.Type == "text" && m.Text == nil {
		return in, &apperr.FieldError{Field: "text.body", Message: "is required"}
	}
	if m.Type == "text" && m.Context == nil {
		in.Text = m.Text.Body
		return in, nil
	}
	msg := m.Message
	in.Message = &msg
	return in, nil
}

// quickReply fills in a send of quick reply id: its message, or its text, with the variables of
// the conversation, its customer and the sending agent filled in.
func (s *Server) quickReply(r *http.Request, convID, id int64, in *inbox.SendInput) error {
	p := auth.FromContext(r.Context())
	conv, err := s.cfg.Inbox.GetConversation(r.Context(), p, convID)
	if err != nil {
		return err
	}
	me, err := s.cfg.Users.Me(r.Context(), p)
	if err != nil {
		return err
	}
	x, err := s.cfg.QuickReplies.Use(r.Context(), p, id, quickreplies.VarsFor(convID, &conv.Contact, &me.User))
	if err != nil {
		return err
	}
	if x.Message != nil {
		in.Message = x.Message
		return nil
	}
	in.Type, in.Text = "text", x.Text
	return nil
}

func (s *Server) sendMessage(w http.ResponseWriter, r *http.Request) {
	convID, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req messageRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	in, err := req.input()
	if err != nil {
		writeError(w, r, err)
		return
	}
	if req.QuickReplyID != 0 {
		if err := s.quickReply(r, convID, req.QuickReplyID, &in); err != nil {
			writeError(w, r, err)
			return
		}
	}
	in.ConversationID = convID
	msg, created, err := s.cfg.Inbox.Send(r.Context(), auth.FromContext(r.Context()), in)
	if err != nil {
		writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusAccepted
		logger(r).Info("message queued", "message_id", msg.ID, "conversation_id", msg.ConversationID)
	}
	view, err := s.messageWithMedia(r.Context(), &msg)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, status, view)
}

func (s *Server) listMessages(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	limit, err := pageSize(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var before int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		if before, err = strconv.ParseInt(c, 10, 64); err != nil || before <= 0 {
			writeError(w, r, errBadRequest("invalid_cursor", "cursor must be a next_cursor value from a previous page"))
			return
		}
	}
	msgs, err := s.cfg.Inbox.ListMessages(r.Context(), auth.FromContext(r.Context()), id, before, limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ptrs := make([]*db.Message, len(msgs))
	for i := range msgs {
		ptrs[i] = &msgs[i]
	}
	views, err := s.messageViews(r.Context(), ptrs...)
	if err != nil {
		writeError(w, r, err)
		return
	}
	page := pageJSON[*messageJSON]{Data: views}
	if len(msgs) == limit {
		c := strconv.FormatInt(msgs[len(msgs)-1].ID, 10)
		page.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) getMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	msg, err := s.cfg.Inbox.GetMessage(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	view, err := s.messageWithMedia(r.Context(), &msg)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, view)
}

func (s *Server) retryMessage(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	msg, err := s.cfg.Inbox.Retry(r.Context(), auth.FromContext(r.Context()), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	logger(r).Info("message send retried", "message_id", msg.ID, "conversation_id", msg.ConversationID)
	view, err := s.messageWithMedia(r.Context(), &msg)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, view)
}

// messageJSON is a message as the API shows it. It is a struct rather than a map because it is
// encoded on every send, and a map costs encoding/json a sort and a boxed value per key.
type messageJSON struct {
	ID             int64             `json:"id"`
	ConversationID int64             `json:"conversation_id"`
	Direction      string            `json:"direction"`
	Sender         string            `json:"sender"`
	SenderUserID   *int64            `json:"sender_user_id"`
	Type           string            `json:"type"`
	Body           string            `json:"body"`
	Payload        json.RawMessage   `json:"payload"`
	Status         string            `json:"status"`
	WaMessageID    *string           `json:"wa_message_id"`
	ClientID       *uuid.UUID        `json:"client_id"`
	Attempts       int32             `json:"attempts"`
	CreatedAt      time.Time         `json:"created_at"`
	SentAt         *time.Time        `json:"sent_at"`
	DeliveredAt    *time.Time        `json:"delivered_at"`
	ReadAt         *time.Time        `json:"read_at"`
	FailedAt       *time.Time        `json:"failed_at"`
	Error          *messageErrorJSON `json:"error"`
	// ReplyToMessageID is the message of the conversation this one replies to (a customer's swipe
	// reply, or the button or list row they chose of one of our messages), null when none.
	ReplyToMessageID *int64 `json:"reply_to_message_id"`
	// PendingReason says why a pending message has not left yet (waiting for an earlier message
	// of the conversation, confirming an earlier attempt with Meta, retrying, paced).
	PendingReason string `json:"pending_reason,omitempty"`
	// WaitingFor is the earlier message of the conversation this one waits for.
	WaitingFor *int64 `json:"waiting_for,omitempty"`
	// Media is the file of an image, video, audio, document or sticker message.
	Media *mediaJSON `json:"media,omitempty"`
}

type messageErrorJSON struct {
	Code    *int32  `json:"code"`
	Title   *string `json:"title"`
	Details *string `json:"details"`
}

func messageView(m *db.Message) *messageJSON {
	v := &messageJSON{
		ID: m.ID, ConversationID: m.ConversationID, Direction: m.Direction, Sender: m.Sender,
		SenderUserID: m.SenderUserID, Type: m.Type, Body: m.Body, Payload: m.Payload, Status: m.Status,
		WaMessageID: m.WaMessageID, ClientID: m.ClientID, Attempts: m.Attempts, CreatedAt: m.CreatedAt,
		SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt, FailedAt: m.FailedAt,
		ReplyToMessageID: m.ReplyToMessageID,
	}
	if m.Status == inbox.StatusPending {
		v.PendingReason, v.WaitingFor = m.PendingReason, m.WaitingFor
	}
	if m.ErrorCode != nil || m.Status == inbox.StatusFailed {
		v.Error = &messageErrorJSON{Code: m.ErrorCode, Title: m.ErrorTitle, Details: m.ErrorDetails}
	}
	return v
}
