package whatsapp

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
)

// Notification is the body Meta POSTs to the webhook. One notification can batch
// many entries, changes, messages and statuses, so processing must loop over all.
type Notification struct {
	Object string  `json:"object"`
	Entry  []Entry `json:"entry"`
}

// Entry groups the changes of one WhatsApp Business Account (ID is its id).
type Entry struct {
	ID      string   `json:"id"`
	Changes []Change `json:"changes"`
}

// Change is one event batch of a subscribed field; wainbox only handles "messages".
type Change struct {
	Field string `json:"field"`
	Value Value  `json:"value"`
}

// Value holds what happened on one business phone number: inbound messages with
// their senders' contacts, statuses of our outbound messages, or account errors.
type Value struct {
	MessagingProduct string           `json:"messaging_product"`
	Metadata         Metadata         `json:"metadata"`
	Contacts         []Contact        `json:"contacts,omitempty"`
	Messages         []InboundMessage `json:"messages,omitempty"`
	Statuses         []Status         `json:"statuses,omitempty"`
	Errors           []Error          `json:"errors,omitempty"`
}

// Metadata names the business phone number the change belongs to.
type Metadata struct {
	DisplayPhoneNumber string `json:"display_phone_number"`
	PhoneNumberID      string `json:"phone_number_id"`
}

// Contact is the customer who sent a message. UserID is Meta's newer username-based
// identifier, present only for some accounts.
type Contact struct {
	Profile Profile `json:"profile"`
	WaID    string  `json:"wa_id"`
	UserID  string  `json:"user_id,omitempty"`
}

// Profile is the customer's own WhatsApp profile.
type Profile struct {
	Name string `json:"name"`
}

// Inbound message types, as Meta writes them in InboundMessage.Type.
const (
	InboundTypeText        = "text"
	InboundTypeImage       = "image"
	InboundTypeVideo       = "video"
	InboundTypeAudio       = "audio"
	InboundTypeDocument    = "document"
	InboundTypeSticker     = "sticker"
	InboundTypeLocation    = "location"
	InboundTypeContacts    = "contacts"
	InboundTypeInteractive = "interactive"
	InboundTypeButton      = "button"
	InboundTypeReaction    = "reaction"
	InboundTypeSystem      = "system"
	InboundTypeUnsupported = "unsupported"
)

// InboundMessage is one message a customer sent. Exactly one of the typed payloads
// matches Type; unknown types keep only the common fields and Errors.
type InboundMessage struct {
	From      string `json:"from"`
	ID        string `json:"id"`
	Timestamp string `json:"timestamp"`
	Type      string `json:"type"`

	Context     *Context          `json:"context,omitempty"`
	Text        *Text             `json:"text,omitempty"`
	Image       *Media            `json:"image,omitempty"`
	Video       *Media            `json:"video,omitempty"`
	Audio       *Media            `json:"audio,omitempty"`
	Document    *Media            `json:"document,omitempty"`
	Sticker     *Media            `json:"sticker,omitempty"`
	Location    *Location         `json:"location,omitempty"`
	Contacts    []json.RawMessage `json:"contacts,omitempty"` // shared contact cards, kept as Meta sent them
	Interactive *Interactive      `json:"interactive,omitempty"`
	Button      *Button           `json:"button,omitempty"`
	Reaction    *Reaction         `json:"reaction,omitempty"`
	System      *System           `json:"system,omitempty"`
	Referral    json.RawMessage   `json:"referral,omitempty"` // click-to-WhatsApp ad data, kept raw
	Errors      []Error           `json:"errors,omitempty"`
}

// Text is the payload of a text message.
type Text struct {
	Body string `json:"body"`
}

// Media is the payload of image, video, audio, document and sticker messages. ID
// is the media id to download through the Graph API; Voice marks a voice note and
// Animated an animated sticker.
type Media struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type,omitempty"`
	SHA256   string `json:"sha256,omitempty"`
	Caption  string `json:"caption,omitempty"`
	Filename string `json:"filename,omitempty"`
	Voice    bool   `json:"voice,omitempty"`
	Animated bool   `json:"animated,omitempty"`
}

// Location is a shared place or pin.
type Location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	Name      string  `json:"name,omitempty"`
	Address   string  `json:"address,omitempty"`
	URL       string  `json:"url,omitempty"`
}

// Interactive is the customer's answer to a reply button or list message we sent.
type Interactive struct {
	Type        string       `json:"type"`
	ButtonReply *ButtonReply `json:"button_reply,omitempty"`
	ListReply   *ListReply   `json:"list_reply,omitempty"`
}

// ButtonReply is the reply button the customer tapped.
type ButtonReply struct {
	ID    string `json:"id"`
	Title string `json:"title"`
}

// ListReply is the list row the customer chose.
type ListReply struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description,omitempty"`
}

// Button is the customer's tap on a quick-reply button of a template message.
type Button struct {
	Payload string `json:"payload"`
	Text    string `json:"text"`
}

// Reaction is an emoji reaction to a message; an empty Emoji means the customer
// removed their reaction.
type Reaction struct {
	MessageID string `json:"message_id"`
	Emoji     string `json:"emoji"`
}

// System reports a change of the customer's account, such as a new phone number.
type System struct {
	Body     string `json:"body,omitempty"`
	Type     string `json:"type,omitempty"`
	WaID     string `json:"wa_id,omitempty"`
	Customer string `json:"customer,omitempty"`
}

// Context links an inbound message to the message it replies to or was forwarded
// from; ReferredProduct (catalog enquiries) is kept raw.
type Context struct {
	From                string          `json:"from,omitempty"`
	ID                  string          `json:"id,omitempty"`
	Forwarded           bool            `json:"forwarded,omitempty"`
	FrequentlyForwarded bool            `json:"frequently_forwarded,omitempty"`
	ReferredProduct     json.RawMessage `json:"referred_product,omitempty"`
}

// Outbound message statuses, in the order a message moves through them; failed
// can follow any of them.
const (
	StatusSent      = "sent"
	StatusDelivered = "delivered"
	StatusRead      = "read"
	StatusFailed    = "failed"
)

// Status reports the progress of one of our outbound messages. Conversation and
// Pricing are kept raw because their shape changes with Meta's pricing models.
type Status struct {
	ID                    string          `json:"id"`
	Status                string          `json:"status"`
	Timestamp             string          `json:"timestamp"`
	RecipientID           string          `json:"recipient_id"`
	BizOpaqueCallbackData string          `json:"biz_opaque_callback_data,omitempty"`
	Conversation          json.RawMessage `json:"conversation,omitempty"`
	Pricing               json.RawMessage `json:"pricing,omitempty"`
	Errors                []Error         `json:"errors,omitempty"`
}

// Error is an error inside a webhook: on a failed status, an unsupported inbound
// message or the whole value.
type Error struct {
	Code      int       `json:"code"`
	Title     string    `json:"title"`
	Message   string    `json:"message,omitempty"`
	ErrorData ErrorData `json:"error_data"`
	Href      string    `json:"href,omitempty"`
}

// ErrorData carries Meta's detailed explanation of an Error.
type ErrorData struct {
	Details string `json:"details"`
}

// Body returns the human-readable text of a message for previews and the bot: the
// text body, a media caption, or the title of the tapped button or list row.
// It returns "" for messages without text, such as locations or reactions.
func (m *InboundMessage) Body() string {
	if m == nil {
		return ""
	}
	switch {
	case m.Text != nil:
		return m.Text.Body
	case m.Interactive != nil && m.Interactive.ButtonReply != nil:
		return m.Interactive.ButtonReply.Title
	case m.Interactive != nil && m.Interactive.ListReply != nil:
		return m.Interactive.ListReply.Title
	case m.Button != nil:
		return m.Button.Text
	}
	for _, media := range []*Media{m.Image, m.Video, m.Audio, m.Document, m.Sticker} {
		if media != nil {
			return media.Caption
		}
	}
	return ""
}

// ParseTimestamp converts Meta's timestamps, unix seconds sent as a string, to a
// UTC time.
func ParseTimestamp(s string) (time.Time, error) {
	secs, err := strconv.ParseInt(s, 10, 64)
	if err != nil || secs < 0 {
		return time.Time{}, fmt.Errorf("invalid whatsapp timestamp %q", s)
	}
	return time.Unix(secs, 0).UTC(), nil
}
