package simulator

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// InboundInput is what the fake customer does: send a message of one type.
// Fields that do not apply to the type are ignored.
type InboundInput struct {
	// From is the customer's number, digits with an optional leading "+".
	From string `json:"from"`
	// Name is the customer's profile name; default "Customer <last 4 digits>".
	Name string `json:"name"`
	// Type is text (default), image, video, audio, document, sticker, location,
	// interactive (a reply-button answer, or a list-row choice with RowID), button (a
	// template quick reply) or reaction.
	Type string `json:"type"`
	// Text is the body of a text message, and the caption of media when Caption is empty.
	Text string `json:"text"`
	// Caption, MediaID, MimeType and Filename describe media; the id and MIME
	// type get defaults when empty. The media is in the simulator's media store,
	// so that GET /{media-id} and its download URL serve it with the sha256 the
	// webhook announces: a MediaID already stored is used as it is (with its MIME
	// type); otherwise Data, or sample bytes of the MIME type, are stored under
	// MediaID (or a new id).
	Caption  string `json:"caption"`
	MediaID  string `json:"media_id"`
	MimeType string `json:"mime_type"`
	Filename string `json:"filename"`
	// Data is the file the customer sends, base64 in JSON, checked like an upload
	// (Meta's types and size limits; the request body is at most 1 MB).
	Data []byte `json:"data"`
	// Latitude and Longitude place a location message.
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
	// ReplyTo quotes one of our messages (the context id).
	ReplyTo string `json:"reply_to"`
	// ButtonID and ButtonTitle are the tapped button of interactive and button messages.
	ButtonID    string `json:"button_id"`
	ButtonTitle string `json:"button_title"`
	// RowID, RowTitle and RowDescription are the chosen row of a list message: an
	// interactive message with a row is a list reply instead of a button reply.
	RowID          string `json:"row_id"`
	RowTitle       string `json:"row_title"`
	RowDescription string `json:"row_description"`
	// Emoji and ReactTo make a reaction; an empty Emoji removes the reaction.
	Emoji   string `json:"emoji"`
	ReactTo string `json:"react_to"`
	// ID is the wamid to use, to test redelivery of the same message; default a new one.
	ID string `json:"id"`
}

// inputError is a refused InboundInput; code is the house error code.
type inputError struct {
	code    string
	message string
}

func (e *inputError) Error() string { return e.message }

// errNoWebhook is returned when the simulator has nowhere to post.
var errNoWebhook = errors.New("simulator has no webhook URL configured")

// SendInbound plays the customer: it builds the webhook Meta would post for the
// message, signs it, POSTs it to WebhookURL and returns the message's wamid. An
// answer other than 2xx is an error (the wamid is still returned).
func (s *Simulator) SendInbound(ctx context.Context, in *InboundInput) (string, error) {
	wamid, status, err := s.deliverInbound(ctx, in)
	if err != nil {
		return wamid, err
	}
	if status/100 != 2 {
		return wamid, fmt.Errorf("error delivering inbound message %s: webhook answered http %d", wamid, status)
	}
	return wamid, nil
}

// deliverInbound posts an inbound message once (no retries, so that the caller
// sees the webhook's own answer) and returns the webhook's HTTP status.
func (s *Simulator) deliverInbound(ctx context.Context, in *InboundInput) (string, int, error) {
	if in == nil {
		return "", 0, &inputError{"invalid_input", "inbound input is required"}
	}
	value, err := s.inboundValue(in)
	if err != nil {
		return "", 0, err
	}
	wamid := value.Messages[0].ID
	// The customer wrote: Meta opens (or renews) the customer-service window
	// whether or not the business's webhook takes the message.
	s.SetLastInbound(value.Messages[0].From, time.Now())
	if s.webhookURL == "" {
		return wamid, 0, errNoWebhook
	}
	body, err := metaJSON(s.notification(value))
	if err != nil {
		return wamid, 0, fmt.Errorf("error encoding inbound message %s: %w", wamid, err)
	}
	status, err := s.postWebhook(ctx, body)
	m := value.Messages[0]
	entry := PhoneMessage{ID: wamid, At: time.Now(), From: "customer", Type: m.Type, Text: cmp.Or(in.Text, in.Caption, in.ButtonTitle, in.RowTitle, in.Emoji), Status: "delivered"}
	if entry.Text == "" && m.Type != whatsapp.InboundTypeText {
		entry.Text = "[" + m.Type + "]"
	}
	if m.Type == whatsapp.InboundTypeLocation && m.Location != nil {
		entry.Text = fmt.Sprintf("Location %.5f, %.5f", m.Location.Latitude, m.Location.Longitude)
	}
	if err != nil || status/100 != 2 {
		entry.Status = "failed"
	}
	s.recordPhone(m.From, entry)
	if err != nil {
		return wamid, 0, fmt.Errorf("error posting inbound message %s: %w", wamid, err)
	}
	return wamid, status, nil
}

// inboundValue validates the input and builds the webhook value in Meta's shape.
func (s *Simulator) inboundValue(in *InboundInput) (whatsapp.Value, error) {
	from := strings.TrimPrefix(strings.TrimSpace(in.From), "+")
	if !isDigits(from) || len(from) > 20 {
		return whatsapp.Value{}, &inputError{"invalid_from", "from must be a phone number made of digits"}
	}
	name := in.Name
	if name == "" {
		name = "Customer " + from[max(0, len(from)-4):]
	}
	msg := whatsapp.InboundMessage{
		From: from, ID: in.ID, Timestamp: unixNow(), Type: in.Type,
	}
	if msg.ID == "" {
		msg.ID = newWAMID()
	}
	if msg.Type == "" {
		msg.Type = whatsapp.InboundTypeText
	}
	if in.ReplyTo != "" {
		msg.Context = &whatsapp.Context{From: s.displayPhoneNumber, ID: in.ReplyTo}
	}
	caption := in.Caption
	if caption == "" {
		caption = in.Text
	}
	var err error

	switch msg.Type {
	case whatsapp.InboundTypeText:
		if strings.TrimSpace(in.Text) == "" {
			return whatsapp.Value{}, &inputError{"invalid_text", "text is required for a text message"}
		}
		msg.Text = &whatsapp.Text{Body: in.Text}
	case whatsapp.InboundTypeImage:
		msg.Image, err = s.inboundMedia(in, "image/jpeg", caption)
		if err != nil {
			return whatsapp.Value{}, err
		}
	case whatsapp.InboundTypeVideo:
		msg.Video, err = s.inboundMedia(in, "video/mp4", caption)
		if err != nil {
			return whatsapp.Value{}, err
		}
	case whatsapp.InboundTypeAudio:
		msg.Audio, err = s.inboundMedia(in, "audio/ogg; codecs=opus", "")
		if err != nil {
			return whatsapp.Value{}, err
		}
		msg.Audio.Voice = strings.Contains(msg.Audio.MimeType, "opus") // voice notes are Opus in Ogg
	case whatsapp.InboundTypeDocument:
		msg.Document, err = s.inboundMedia(in, "application/pdf", caption)
		if err != nil {
			return whatsapp.Value{}, err
		}
		msg.Document.Filename = in.Filename
		if msg.Document.Filename == "" {
			msg.Document.Filename = "document.pdf"
		}
	case whatsapp.InboundTypeSticker:
		msg.Sticker, err = s.inboundMedia(in, "image/webp", "")
		if err != nil {
			return whatsapp.Value{}, err
		}
	case whatsapp.InboundTypeLocation:
		if in.Latitude < -90 || in.Latitude > 90 || in.Longitude < -180 || in.Longitude > 180 {
			return whatsapp.Value{}, &inputError{"invalid_location", "latitude must be within ±90 and longitude within ±180"}
		}
		msg.Location = &whatsapp.Location{Latitude: in.Latitude, Longitude: in.Longitude}
	case whatsapp.InboundTypeInteractive:
		if in.RowID != "" {
			if in.ButtonID != "" {
				return whatsapp.Value{}, &inputError{"invalid_button", "an interactive reply has a button_id or a row_id, not both"}
			}
			msg.Interactive = &whatsapp.Interactive{
				Type: "list_reply",
				ListReply: &whatsapp.ListReply{
					ID: in.RowID, Title: cmp.Or(in.RowTitle, in.RowID), Description: in.RowDescription,
				},
			}
			break
		}
		if in.ButtonID == "" {
			return whatsapp.Value{}, &inputError{"invalid_button", "button_id or row_id is required for an interactive reply"}
		}
		msg.Interactive = &whatsapp.Interactive{
			Type:        "button_reply",
			ButtonReply: &whatsapp.ButtonReply{ID: in.ButtonID, Title: cmp.Or(in.ButtonTitle, in.ButtonID)},
		}
	case whatsapp.InboundTypeButton:
		if in.ButtonID == "" {
			return whatsapp.Value{}, &inputError{"invalid_button", "button_id is required for a button message"}
		}
		msg.Button = &whatsapp.Button{Payload: in.ButtonID, Text: cmp.Or(in.ButtonTitle, in.ButtonID)}
	case whatsapp.InboundTypeReaction:
		if in.ReactTo == "" {
			return whatsapp.Value{}, &inputError{"invalid_reaction", "react_to is required for a reaction"}
		}
		msg.Context = nil // Meta names the reacted message in the reaction, not in a context
		msg.Reaction = &whatsapp.Reaction{MessageID: in.ReactTo, Emoji: in.Emoji}
	default:
		return whatsapp.Value{}, &inputError{"invalid_type", fmt.Sprintf("type %q is not supported", in.Type)}
	}

	return whatsapp.Value{
		Contacts: []whatsapp.Contact{{Profile: whatsapp.Profile{Name: name}, WaID: from}},
		Messages: []whatsapp.InboundMessage{msg},
	}, nil
}

// inboundMedia builds the media payload of a customer's message and makes sure the
// media store holds its file (see InboundInput). The webhook's sha256 is base64, as
// in Meta's webhooks; the media info gives the same sum in hex.
func (s *Simulator) inboundMedia(in *InboundInput, defaultMime, caption string) (*whatsapp.Media, error) {
	obj, ok := s.lookupMedia(in.MediaID)
	if !ok || in.Data != nil {
		mimeType := cmp.Or(in.MimeType, defaultMime)
		data := in.Data
		if data == nil {
			data = SampleMedia(mimeType)
		} else if err := checkMedia(mimeType, data); err != nil {
			return nil, &inputError{"invalid_media", "data: " + err.Error()}
		}
		obj = s.storeMedia(in.MediaID, mimeType, data)
	}
	return &whatsapp.Media{
		ID:       obj.id,
		MimeType: obj.mimeType,
		SHA256:   base64.StdEncoding.EncodeToString(obj.sum[:]),
		Caption:  caption,
	}, nil
}

// phoneResponse answers POST /simulator/phone/messages.
type phoneResponse struct {
	ID            string `json:"id"`
	WebhookStatus int    `json:"webhook_status"`
}

func (s *Simulator) handlePhoneMessage(w http.ResponseWriter, r *http.Request) {
	var in InboundInput
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeAPIError(w, http.StatusBadRequest, "invalid_json", "The body must be a JSON inbound message: "+err.Error())
		return
	}
	wamid, status, err := s.deliverInbound(r.Context(), &in)
	var inErr *inputError
	switch {
	case errors.As(err, &inErr):
		writeAPIError(w, http.StatusBadRequest, inErr.code, inErr.message)
	case errors.Is(err, errNoWebhook):
		writeAPIError(w, http.StatusBadGateway, "webhook_not_configured", err.Error())
	case err != nil:
		writeAPIError(w, http.StatusBadGateway, "webhook_unreachable", err.Error())
	default:
		writeJSON(w, http.StatusOK, phoneResponse{ID: wamid, WebhookStatus: status})
	}
}
