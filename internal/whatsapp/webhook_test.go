package whatsapp_test

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

// fixturesDir holds Meta's webhook examples (an inbound text, a reply-button answer, a sent and
// a failed status) in the shapes of the Cloud API webhook reference, with Meta's sample values.
var fixturesDir = "testdata"

// decodeFixture decodes one fixture strictly, so that a field of Meta's shape
// missing from the types fails the test instead of being dropped silently.
func decodeFixture(t *testing.T, name string) whatsapp.Notification {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(fixturesDir, name))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var n whatsapp.Notification
	require.NoError(t, dec.Decode(&n))
	require.Equal(t, "whatsapp_business_account", n.Object)
	require.Len(t, n.Entry, 1)
	require.Equal(t, "102290129340398", n.Entry[0].ID)
	require.Len(t, n.Entry[0].Changes, 1)
	change := n.Entry[0].Changes[0]
	require.Equal(t, "messages", change.Field)
	require.Equal(t, "whatsapp", change.Value.MessagingProduct)
	require.Equal(t, whatsapp.Metadata{DisplayPhoneNumber: "15550783881", PhoneNumberID: "106540352242922"}, change.Value.Metadata)
	return n
}

func TestDecodeFixtureInboundText(t *testing.T) {
	t.Parallel()

	value := decodeFixture(t, "inbound-text.json").Entry[0].Changes[0].Value
	require.Equal(t, []whatsapp.Contact{{Profile: whatsapp.Profile{Name: "Sheena Nelson"}, WaID: "16505551234"}}, value.Contacts)
	require.Len(t, value.Messages, 1)
	msg := value.Messages[0]
	require.Equal(t, "16505551234", msg.From)
	require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=", msg.ID)
	require.Equal(t, whatsapp.InboundTypeText, msg.Type)
	require.Equal(t, "Does it come in another color?", msg.Body())
	require.Nil(t, msg.Context)
	at, err := whatsapp.ParseTimestamp(msg.Timestamp)
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 6, 8, 20, 59, 43, 0, time.UTC), at)
}

func TestDecodeFixtureInboundButtonReply(t *testing.T) {
	t.Parallel()

	value := decodeFixture(t, "inbound-button-reply.json").Entry[0].Changes[0].Value
	require.Equal(t, "Pablo Morales", value.Contacts[0].Profile.Name)
	msg := value.Messages[0]
	require.Equal(t, whatsapp.InboundTypeInteractive, msg.Type)
	require.Equal(t, &whatsapp.Context{From: "15550783881", ID: "wamid.HBgLMTY0NjcwNDM1OTUVAgARGBJBM0Y4RUU0RUNFQkFDMjYzQUMA"}, msg.Context)
	require.Equal(t, &whatsapp.Interactive{
		Type:        "button_reply",
		ButtonReply: &whatsapp.ButtonReply{ID: "change-button", Title: "Change"},
	}, msg.Interactive)
	require.Equal(t, "Change", msg.Body())
}

func TestDecodeFixtureStatusSent(t *testing.T) {
	t.Parallel()

	value := decodeFixture(t, "status-sent.json").Entry[0].Changes[0].Value
	require.Empty(t, value.Messages)
	require.Len(t, value.Statuses, 1)
	st := value.Statuses[0]
	require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=", st.ID)
	require.Equal(t, whatsapp.StatusSent, st.Status)
	require.Equal(t, "16505551234", st.RecipientID)
	require.Equal(t, "1750030073", st.Timestamp)
	require.JSONEq(t, `{"id":"72b14d6bd5407799e66f64d1b338e567","expiration_timestamp":"1750116480","origin":{"type":"marketing"}}`,
		string(st.Conversation))
	require.JSONEq(t, `{"billable":true,"pricing_model":"PMP","type":"regular","category":"marketing"}`, string(st.Pricing))
	require.Empty(t, st.Errors)
}

func TestDecodeFixtureStatusFailed(t *testing.T) {
	t.Parallel()

	value := decodeFixture(t, "status-failed.json").Entry[0].Changes[0].Value
	st := value.Statuses[0]
	require.Equal(t, whatsapp.StatusFailed, st.Status)
	require.Equal(t, []whatsapp.Error{{
		Code:      131049,
		Title:     "This message was not delivered to maintain healthy ecosystem engagement.",
		Message:   "This message was not delivered to maintain healthy ecosystem engagement.",
		ErrorData: whatsapp.ErrorData{Details: "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."},
		Href:      "/documentation/business-messaging/whatsapp/support/error-codes",
	}}, st.Errors)
	info, ok := whatsapp.LookupError(st.Errors[0].Code)
	require.True(t, ok)
	require.Equal(t, whatsapp.ClassPermanent, info.Class)
}

func TestInboundMessageBody(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name string
		msg  *whatsapp.InboundMessage
		want string
	}{
		{"nil", nil, ""},
		{"text", &whatsapp.InboundMessage{Type: "text", Text: &whatsapp.Text{Body: "hola"}}, "hola"},
		{"image caption", &whatsapp.InboundMessage{Type: "image", Image: &whatsapp.Media{ID: "1", Caption: "my receipt"}}, "my receipt"},
		{"video caption", &whatsapp.InboundMessage{Type: "video", Video: &whatsapp.Media{ID: "1", Caption: "look"}}, "look"},
		{"document caption", &whatsapp.InboundMessage{Type: "document", Document: &whatsapp.Media{ID: "1", Caption: "invoice", Filename: "a.pdf"}}, "invoice"},
		{"audio has no text", &whatsapp.InboundMessage{Type: "audio", Audio: &whatsapp.Media{ID: "1", Voice: true}}, ""},
		{"button reply", &whatsapp.InboundMessage{Type: "interactive", Interactive: &whatsapp.Interactive{
			Type: "button_reply", ButtonReply: &whatsapp.ButtonReply{ID: "yes", Title: "Yes"}}}, "Yes"},
		{"list reply", &whatsapp.InboundMessage{Type: "interactive", Interactive: &whatsapp.Interactive{
			Type: "list_reply", ListReply: &whatsapp.ListReply{ID: "r1", Title: "Row one", Description: "d"}}}, "Row one"},
		{"template quick reply", &whatsapp.InboundMessage{Type: "button", Button: &whatsapp.Button{Payload: "STOP", Text: "Stop promotions"}}, "Stop promotions"},
		{"reaction", &whatsapp.InboundMessage{Type: "reaction", Reaction: &whatsapp.Reaction{MessageID: "wamid.X", Emoji: "👍"}}, ""},
		{"location", &whatsapp.InboundMessage{Type: "location", Location: &whatsapp.Location{Latitude: 1, Longitude: 2}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, tt.msg.Body())
		})
	}
}

func TestParseTimestamp(t *testing.T) {
	t.Parallel()

	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"1749416383", time.Date(2025, 6, 8, 20, 59, 43, 0, time.UTC), false},
		{"0", time.Unix(0, 0).UTC(), false},
		{"", time.Time{}, true},
		{"-5", time.Time{}, true},
		{"1749416383.5", time.Time{}, true},
		{"2025-06-08T20:59:43Z", time.Time{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := whatsapp.ParseTimestamp(tt.in)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestDecodeOtherInboundTypes(t *testing.T) {
	t.Parallel()

	// Shapes from Meta's webhook reference for types the shared fixtures do not cover.
	raw := `[
		{"from":"1","id":"wamid.A","timestamp":"1","type":"image","image":{"caption":"c","mime_type":"image/jpeg","sha256":"h","id":"m1"}},
		{"from":"1","id":"wamid.B","timestamp":"1","type":"audio","audio":{"mime_type":"audio/ogg; codecs=opus","sha256":"h","id":"m2","voice":true}},
		{"from":"1","id":"wamid.C","timestamp":"1","type":"sticker","sticker":{"mime_type":"image/webp","sha256":"h","id":"m3","animated":false}},
		{"from":"1","id":"wamid.D","timestamp":"1","type":"location","location":{"latitude":-34.6,"longitude":-58.38,"name":"Obelisco","address":"Av. 9 de Julio"}},
		{"from":"1","id":"wamid.E","timestamp":"1","type":"reaction","reaction":{"message_id":"wamid.X","emoji":""}},
		{"from":"1","id":"wamid.F","timestamp":"1","type":"contacts","contacts":[{"name":{"formatted_name":"Ana"},"phones":[{"phone":"+1 555"}]}]},
		{"from":"1","id":"wamid.G","timestamp":"1","type":"unsupported","errors":[{"code":131051,"title":"Message type unknown","message":"Message type unknown","error_data":{"details":"Message type is currently not supported."}}]},
		{"from":"1","id":"wamid.H","timestamp":"1","type":"text","text":{"body":"fwd"},"context":{"forwarded":true,"frequently_forwarded":true}},
		{"from":"1","id":"wamid.I","timestamp":"1","type":"text","text":{"body":"ad"},"referral":{"source_url":"https://fb.me/x","source_type":"ad"}}
	]`
	var msgs []whatsapp.InboundMessage
	require.NoError(t, json.Unmarshal([]byte(raw), &msgs))
	require.Equal(t, "c", msgs[0].Body())
	require.Equal(t, "m1", msgs[0].Image.ID)
	require.True(t, msgs[1].Audio.Voice)
	require.Equal(t, "image/webp", msgs[2].Sticker.MimeType)
	require.Equal(t, "Obelisco", msgs[3].Location.Name)
	require.InDelta(t, -58.38, msgs[3].Location.Longitude, 1e-9)
	require.Equal(t, &whatsapp.Reaction{MessageID: "wamid.X"}, msgs[4].Reaction)
	require.Len(t, msgs[5].Contacts, 1)
	require.JSONEq(t, `{"name":{"formatted_name":"Ana"},"phones":[{"phone":"+1 555"}]}`, string(msgs[5].Contacts[0]))
	require.Equal(t, 131051, msgs[6].Errors[0].Code)
	require.True(t, msgs[7].Context.FrequentlyForwarded)
	require.JSONEq(t, `{"source_url":"https://fb.me/x","source_type":"ad"}`, string(msgs[8].Referral))
}
