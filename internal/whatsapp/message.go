package whatsapp

import (
	"encoding/json"
	"fmt"
)

// MessagingProduct is the constant Meta requires in every Cloud API body.
const MessagingProduct = "whatsapp"

// MessageTypeText is the type of a text message, the one type with a typed payload here: the
// others are stored in Meta's shape, checked before they are stored (internal/waformat), and sent
// as they are.
const MessageTypeText = "text"

// OutboundMessage is the body of POST /{phone_number_id}/messages in Meta's shape.
// Send fills MessagingProduct and RecipientType when they are empty, so callers
// only set the recipient, the type and its payload.
type OutboundMessage struct {
	MessagingProduct string        `json:"messaging_product"`
	RecipientType    string        `json:"recipient_type,omitempty"`
	To               string        `json:"to"`
	Type             string        `json:"type"`
	Context          *ReplyTo      `json:"context,omitempty"`
	Text             *OutboundText `json:"text,omitempty"`
	// The payload of every other type, in Meta's shape under the type's name; only the one
	// Type names is set.
	Template    json.RawMessage `json:"template,omitempty"`
	Interactive json.RawMessage `json:"interactive,omitempty"`
	Location    json.RawMessage `json:"location,omitempty"`
	Contacts    json.RawMessage `json:"contacts,omitempty"`
	Reaction    json.RawMessage `json:"reaction,omitempty"`
	Image       json.RawMessage `json:"image,omitempty"`
	Video       json.RawMessage `json:"video,omitempty"`
	Audio       json.RawMessage `json:"audio,omitempty"`
	Document    json.RawMessage `json:"document,omitempty"`
	Sticker     json.RawMessage `json:"sticker,omitempty"`
	// BizOpaqueCallbackData comes back in every status webhook of this message,
	// which lets a send that timed out be matched to its delivery later.
	BizOpaqueCallbackData string `json:"biz_opaque_callback_data,omitempty"`
}

// OutboundText is the payload of a text message. PreviewURL is always sent,
// because Meta renders link previews only when asked to.
type OutboundText struct {
	Body       string `json:"body"`
	PreviewURL bool   `json:"preview_url"`
}

// ReplyTo quotes an earlier message of the conversation, which WhatsApp shows
// above the reply.
type ReplyTo struct {
	MessageID string `json:"message_id"`
}

// NewTextMessage builds a text message to one customer, the common case of an
// agent or bot reply.
func NewTextMessage(to, body string) *OutboundMessage {
	return &OutboundMessage{
		MessagingProduct: MessagingProduct,
		RecipientType:    "individual",
		To:               to,
		Type:             MessageTypeText,
		Text:             &OutboundText{Body: body},
	}
}

// NewMessage builds a message to one customer from a payload stored in Meta's request shape
// ({"type": "template", "template": {…}, "context": {…}}): the payload is sent as it was
// checked and stored, with the recipient and the envelope added.
func NewMessage(to string, payload []byte) (*OutboundMessage, error) {
	m := &OutboundMessage{}
	if err := json.Unmarshal(payload, m); err != nil {
		return nil, fmt.Errorf("%w: stored payload: %w", ErrInvalidMessage, err)
	}
	m.MessagingProduct, m.RecipientType, m.To, m.BizOpaqueCallbackData = MessagingProduct, "individual", to, ""
	return m, nil
}

// content is the payload of a message that is not a text.
func (m *OutboundMessage) content() json.RawMessage {
	switch m.Type {
	case "template":
		return m.Template
	case "interactive":
		return m.Interactive
	case "location":
		return m.Location
	case "contacts":
		return m.Contacts
	case "reaction":
		return m.Reaction
	case "image":
		return m.Image
	case "video":
		return m.Video
	case "audio":
		return m.Audio
	case "document":
		return m.Document
	case "sticker":
		return m.Sticker
	}
	return nil
}

// SetMediaID names an uploaded media id in a media message's object (image, video, audio,
// document, sticker), in place of any id or link it had: wainbox stores an agent's media message
// without Meta's id, which exists only once its file is uploaded.
func (m *OutboundMessage) SetMediaID(id string) error {
	field := map[string]*json.RawMessage{"image": &m.Image, "video": &m.Video, "audio": &m.Audio, "document": &m.Document, "sticker": &m.Sticker}[m.Type]
	if field == nil {
		return fmt.Errorf("%w: a %s message carries no media", ErrInvalidMessage, m.Type)
	}
	obj := map[string]any{}
	if len(*field) > 0 {
		if err := json.Unmarshal(*field, &obj); err != nil {
			return fmt.Errorf("%w: stored %s: %w", ErrInvalidMessage, m.Type, err)
		}
	}
	delete(obj, "link")
	obj["id"] = id
	raw, err := json.Marshal(obj)
	if err != nil {
		return fmt.Errorf("error encoding the %s object: %w", m.Type, err)
	}
	*field = raw
	return nil
}

// SendResponse is Meta's answer to an accepted send.
type SendResponse struct {
	MessagingProduct string        `json:"messaging_product"`
	Contacts         []SendContact `json:"contacts"`
	Messages         []SentMessage `json:"messages"`
}

// SendContact maps the number we sent to onto the customer's WhatsApp ID, which
// can differ in formatting from what we sent.
type SendContact struct {
	Input string `json:"input"`
	WaID  string `json:"wa_id"`
}

// SentMessage identifies the accepted message; MessageStatus is only set by Meta
// for some template sends (for example "accepted" or "held_for_quality_assessment").
type SentMessage struct {
	ID            string `json:"id"`
	MessageStatus string `json:"message_status,omitempty"`
}

// MessageID returns the wamid of the accepted message, or "" when Meta returned
// none, so callers need not index the slice themselves.
func (r *SendResponse) MessageID() string {
	if r == nil || len(r.Messages) == 0 {
		return ""
	}
	return r.Messages[0].ID
}

// markReadRequest is the body that marks an inbound message as read, which also
// shows the customer the blue ticks.
type markReadRequest struct {
	MessagingProduct string `json:"messaging_product"`
	Status           string `json:"status"`
	MessageID        string `json:"message_id"`
}
