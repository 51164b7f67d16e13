package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/templates"
	"github.com/wainbox/wainbox/internal/waformat"
)

// What an outbound message may be, beyond a text: the types an agent composes in Meta's request
// shape. A media message names a file uploaded to its conversation (composeMedia).
var composable = map[string]bool{
	waformat.TypeText: true, waformat.TypeTemplate: true, waformat.TypeInteractive: true,
	waformat.TypeLocation: true, waformat.TypeContacts: true, waformat.TypeReaction: true,
	waformat.TypeImage: true, waformat.TypeVideo: true, waformat.TypeAudio: true,
	waformat.TypeDocument: true, waformat.TypeSticker: true,
}

// WindowClosedError refuses a free-form message (anything but a template) to a customer whose
// 24-hour customer-service window is closed: Meta would refuse it (131047), so it is not stored.
type WindowClosedError struct {
	ConversationID int64
	// ExpiredAt is when the window closed; nil when the customer never wrote.
	ExpiredAt *time.Time
}

func (e *WindowClosedError) Error() string {
	if e.ExpiredAt == nil {
		return "the customer has never written to this number: start with an approved template"
	}
	return fmt.Sprintf("the customer's 24-hour window closed at %s: only an approved template can be sent until they write again",
		e.ExpiredAt.UTC().Format(time.RFC3339))
}

// WindowExpiresAt is when the customer-service window of a customer who last wrote at
// lastInbound closes; nil when they never wrote.
func WindowExpiresAt(lastInbound *time.Time) *time.Time {
	if lastInbound == nil {
		return nil
	}
	t := lastInbound.Add(CustomerServiceWindow)
	return &t
}

// WindowOpenNow reports whether a free-form message may be sent now to a customer who last wrote
// at lastInbound.
func WindowOpenNow(lastInbound *time.Time) bool { return windowOpenAt(lastInbound, time.Now()) }

// windowOpenAt reports whether a free-form message may be sent at now. Agents may write until the
// last moment (a send that reaches Meta after it fails visibly with 131047); the bot keeps a margin
// of its own (WindowOpen).
func windowOpenAt(lastInbound *time.Time, now time.Time) bool {
	exp := WindowExpiresAt(lastInbound)
	return exp != nil && now.Before(*exp)
}

// textPayload is the stored payload of a plain text, in Meta's shape.
type textPayload struct {
	Type string   `json:"type"`
	Text textBody `json:"text"`
}

type textBody struct {
	Body string `json:"body"`
}

// composed is an outbound message ready to store: its type, the readable body agents and the
// history read, and the payload the send worker posts to Meta as it is.
type composed struct {
	typ     string
	body    string
	payload []byte
	replyTo *int64
	// file is the uploaded file a media message sends.
	file *db.MediaFile
	// refused is bad input that depends on the conversation (a quoted message that is not in it),
	// answered only once the sender's right to the conversation is established, so a refusal
	// tells nothing about conversations the sender may not see.
	refused error
}

// compose checks in.Message (or the text of in) against Meta's limits, a template against the
// stored template, and a reply's quoted message against the conversation, and renders what the
// customer will see. It runs in the send transaction, so a template refused here is refused with
// the copy the sender was shown.
func (s *Service) compose(ctx context.Context, tx pgx.Tx, in *SendInput) (*composed, error) {
	m := in.Message
	if m == nil {
		// A plain text, the common case, was checked by SendInput.validate: only its payload
		// is left to make.
		payload, err := json.Marshal(textPayload{Type: waformat.TypeText, Text: textBody{Body: in.Text}})
		if err != nil {
			return nil, fmt.Errorf("error encoding message payload: %w", err)
		}
		return &composed{typ: waformat.TypeText, body: in.Text, payload: payload}, nil
	}
	if m.Type == "" {
		m.Type = waformat.TypeText
	}
	if !composable[m.Type] {
		return nil, &apperr.FieldError{Field: "type", Message: fmt.Sprintf("%q cannot be sent; use text, template, interactive, image, video, audio, document, sticker, location, contacts or reaction", m.Type)}
	}
	if m.To != "" || m.BizOpaqueCallbackData != "" {
		return nil, &apperr.FieldError{Field: "to", Message: "is the conversation's customer; leave it out"}
	}
	if err := waformat.ValidateMessage(m); err != nil {
		return nil, templates.FieldError(err, "")
	}
	var tmpl *waformat.Template
	if m.Type == waformat.TypeTemplate {
		var err error
		if tmpl, err = templates.Lookup(ctx, tx, s.wabaID, m.Template.Name, m.Template.Language.Code); err != nil {
			return nil, err
		}
		if err := waformat.ValidateTemplateSend(tmpl, m.Template); err != nil {
			return nil, templates.FieldError(err, "")
		}
	}
	c := &composed{typ: m.Type}
	if waformat.IsMediaType(m.Type) {
		f, err := s.composeMedia(ctx, tx, in.ConversationID, m)
		if _, ok := errors.AsType[*apperr.FieldError](err); ok {
			c.refused = err
		} else if err != nil {
			return nil, err
		}
		c.file = f
	}
	if m.Type == waformat.TypeText {
		c.body = m.Text.Body
	} else {
		c.body = waformat.Preview(m, tmpl)
	}
	if m.Context != nil && m.Context.MessageID != "" {
		quoted, err := s.q.MessageGetByWaIDInConversation(ctx, tx, db.MessageGetByWaIDInConversationParams{
			ConversationID: in.ConversationID, WaMessageID: &m.Context.MessageID,
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			c.refused = &apperr.FieldError{Field: "context.message_id", Message: "is not a message of this conversation"}
		case err != nil:
			return nil, fmt.Errorf("error loading the quoted message: %w", err)
		default:
			c.replyTo = &quoted.ID
		}
	}
	if m.Type == waformat.TypeReaction {
		_, err := s.q.MessageGetByWaIDInConversation(ctx, tx, db.MessageGetByWaIDInConversationParams{
			ConversationID: in.ConversationID, WaMessageID: &m.Reaction.MessageID,
		})
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			c.refused = &apperr.FieldError{Field: "reaction.message_id", Message: "is not a message of this conversation"}
		case err != nil:
			return nil, fmt.Errorf("error loading the message reacted to: %w", err)
		}
	}
	payload, err := json.Marshal(storedForm(m))
	if err != nil {
		return nil, fmt.Errorf("error encoding message payload: %w", err)
	}
	c.payload = payload
	return c, nil
}

// mediaID is the id of the file the message sends, nil when none.
func (c *composed) mediaID() *int64 {
	if c.file == nil {
		return nil
	}
	return &c.file.ID
}

// storedForm is m as it is stored and sent: without the envelope, which the sender adds.
func storedForm(m *waformat.Message) *waformat.Message {
	stored := *m
	stored.MessagingProduct, stored.RecipientType, stored.To, stored.BizOpaqueCallbackData = "", "", "", ""
	return &stored
}

// checkWindow refuses a free-form message outside the customer's window.
func (s *Service) checkWindow(conversationID int64, typ string, lastInbound *time.Time) error {
	if typ == waformat.TypeTemplate || windowOpenAt(lastInbound, s.now()) {
		return nil
	}
	return &WindowClosedError{ConversationID: conversationID, ExpiredAt: WindowExpiresAt(lastInbound)}
}
