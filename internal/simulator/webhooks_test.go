package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestAutoStatuses(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		statuses []int // the receiver's first answers
		posts    int   // POSTs expected for three statuses
	}{
		{"receiver accepts", nil, 3},
		{"receiver fails once, Meta-style retry", []int{http.StatusInternalServerError}, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t, tt.statuses...)
			h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, StatusDelay: time.Millisecond})

			msg := whatsapp.NewTextMessage(testRecipient, "hi")
			msg.BizOpaqueCallbackData = "outbound-77"
			resp, err := h.client.Send(t.Context(), testPhoneID, msg)
			require.NoError(t, err)

			var got []whatsapp.Status
			for range tt.posts {
				wh := rcv.next(t)
				require.Equal(t, "facebookexternalua", wh.UserAgent)
				n := wh.decode(t)
				value := n.Entry[0].Changes[0].Value
				require.Empty(t, value.Messages)
				require.Len(t, value.Statuses, 1)
				got = append(got, value.Statuses[0])
			}
			if len(tt.statuses) > 0 {
				require.Equal(t, got[0], got[1], "the refused webhook is posted again")
				got = got[1:]
			}
			var order []string
			for _, st := range got {
				order = append(order, st.Status)
				require.Equal(t, resp.MessageID(), st.ID)
				require.Equal(t, testRecipient, st.RecipientID)
				require.Equal(t, "outbound-77", st.BizOpaqueCallbackData)
				_, err := whatsapp.ParseTimestamp(st.Timestamp)
				require.NoError(t, err)
			}
			require.Equal(t, []string{"sent", "delivered", "read"}, order)
			require.NotEmpty(t, got[0].Conversation)
			require.JSONEq(t, `{"billable":false,"pricing_model":"PMP","type":"free_customer_service","category":"service"}`, string(got[0].Pricing))
			require.Empty(t, got[1].Pricing)
		})
	}
}

func TestAutoStatusesOmitCallbackDataWhenAbsent(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, StatusDelay: time.Millisecond})

	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)
	wh := rcv.next(t)
	wh.decode(t)
	require.NotContains(t, string(wh.Body), "biz_opaque_callback_data")
}

func TestNoStatusesForRefusedSends(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, StatusDelay: time.Millisecond})
	h.sim.SetFaults(simulator.Faults{FailNext: []int{131026}})

	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "refused"))
	require.Error(t, err)
	resp, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "accepted"))
	require.NoError(t, err)
	// The first status that arrives is for the accepted send: the refused one posted nothing.
	st := rcv.next(t).decode(t).Entry[0].Changes[0].Value.Statuses[0]
	require.Equal(t, resp.MessageID(), st.ID)
}

func TestCloseStopsStatusPosting(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	// With an hour between statuses, Close must not wait for them.
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, StatusDelay: time.Hour})

	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)
	closed := make(chan struct{})
	go func() {
		h.sim.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	require.Empty(t, rcv.Received)
}

func TestSendInbound(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name  string
		in    simulator.InboundInput
		check func(t *testing.T, msg whatsapp.InboundMessage)
	}{
		{
			name: "text",
			in:   simulator.InboundInput{From: "+" + testRecipient, Name: "Sheena Nelson", Text: "Does it come in another color?"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "text", msg.Type)
				require.Equal(t, &whatsapp.Text{Body: "Does it come in another color?"}, msg.Text)
				require.Nil(t, msg.Context)
			},
		},
		{
			name: "image with caption replying to our message",
			in: simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "image", Caption: "this one",
				MediaID: "1479537139650973", ReplyTo: "wamid.OUT"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "image", msg.Type)
				require.Equal(t, "1479537139650973", msg.Image.ID)
				require.Equal(t, "image/jpeg", msg.Image.MimeType)
				require.NotEmpty(t, msg.Image.SHA256)
				require.Equal(t, "this one", msg.Body())
				require.Equal(t, &whatsapp.Context{From: simulator.DefaultDisplayPhoneNumber, ID: "wamid.OUT"}, msg.Context)
			},
		},
		{
			name: "button reply",
			in: simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "interactive",
				ButtonID: "change-button", ButtonTitle: "Change", ReplyTo: "wamid.BUTTONS"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "interactive", msg.Type)
				require.Equal(t, &whatsapp.Interactive{Type: "button_reply",
					ButtonReply: &whatsapp.ButtonReply{ID: "change-button", Title: "Change"}}, msg.Interactive)
				require.Equal(t, "wamid.BUTTONS", msg.Context.ID)
				require.Equal(t, "Change", msg.Body())
			},
		},
		{
			name: "list reply",
			in: simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "interactive",
				RowID: "priority_express", RowTitle: "Express Shipping", RowDescription: "Next Day to 2 Days", ReplyTo: "wamid.LIST"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "interactive", msg.Type)
				require.Equal(t, &whatsapp.Interactive{Type: "list_reply", ListReply: &whatsapp.ListReply{
					ID: "priority_express", Title: "Express Shipping", Description: "Next Day to 2 Days"}}, msg.Interactive)
				require.Equal(t, &whatsapp.Context{From: simulator.DefaultDisplayPhoneNumber, ID: "wamid.LIST"}, msg.Context)
				require.Equal(t, "Express Shipping", msg.Body())
			},
		},
		{
			name: "voice note",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "audio"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.True(t, msg.Audio.Voice)
				require.NotEmpty(t, msg.Audio.ID)
			},
		},
		{
			name: "document",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "document", Filename: "invoice.pdf"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "invoice.pdf", msg.Document.Filename)
				require.Equal(t, "application/pdf", msg.Document.MimeType)
			},
		},
		{
			name: "location",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "location", Latitude: -34.6037, Longitude: -58.3816},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, &whatsapp.Location{Latitude: -34.6037, Longitude: -58.3816}, msg.Location)
			},
		},
		{
			name: "template quick reply",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "button", ButtonID: "STOP", ButtonTitle: "Stop promotions"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, &whatsapp.Button{Payload: "STOP", Text: "Stop promotions"}, msg.Button)
			},
		},
		{
			name: "reaction removed",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Type: "reaction", ReactTo: "wamid.OUT"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, &whatsapp.Reaction{MessageID: "wamid.OUT"}, msg.Reaction)
			},
		},
		{
			name: "redelivery keeps the given id",
			in:   simulator.InboundInput{From: testRecipient, Name: "Sheena Nelson", Text: "again", ID: "wamid.FIXED"},
			check: func(t *testing.T, msg whatsapp.InboundMessage) {
				require.Equal(t, "wamid.FIXED", msg.ID)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rcv := newReceiver(t)
			h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})

			wamid, err := h.sim.SendInbound(t.Context(), &tt.in)
			require.NoError(t, err)
			value := rcv.next(t).decode(t).Entry[0].Changes[0].Value
			require.Equal(t, []whatsapp.Contact{{Profile: whatsapp.Profile{Name: "Sheena Nelson"}, WaID: testRecipient}}, value.Contacts)
			require.Len(t, value.Messages, 1)
			msg := value.Messages[0]
			require.Equal(t, wamid, msg.ID)
			require.Equal(t, testRecipient, msg.From)
			_, err = whatsapp.ParseTimestamp(msg.Timestamp)
			require.NoError(t, err)
			tt.check(t, msg)
		})
	}
}

func TestSendInboundEscapesLikeMeta(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})

	_, err := h.sim.SendInbound(t.Context(), &simulator.InboundInput{From: testRecipient, Text: "¿Cómo estás? 😀 https://x.y/z"})
	require.NoError(t, err)
	wh := rcv.next(t)
	require.Contains(t, string(wh.Body), `"body":"\u00bfC\u00f3mo est\u00e1s? \ud83d\ude00 https:\/\/x.y\/z"`)
	n := wh.decode(t)
	require.Equal(t, "¿Cómo estás? 😀 https://x.y/z", n.Entry[0].Changes[0].Value.Messages[0].Body())
	require.Equal(t, "Customer 1234", n.Entry[0].Changes[0].Value.Contacts[0].Profile.Name)

	// Re-encoding the decoded payload gives other bytes, which must not verify.
	reencoded, err := json.Marshal(n)
	require.NoError(t, err)
	require.False(t, bytes.Equal(reencoded, wh.Body))
	require.False(t, whatsapp.VerifySignature([]byte(testSecret), reencoded, wh.Signature))
}

func TestSendInboundReportsWebhookRefusal(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, http.StatusUnauthorized)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})

	wamid, err := h.sim.SendInbound(t.Context(), &simulator.InboundInput{From: testRecipient, Text: "hi"})
	require.ErrorContains(t, err, "webhook answered http 401")
	require.NotEmpty(t, wamid)
	rcv.next(t)
	require.Empty(t, rcv.Received, "inbound messages are posted once, not retried")
}

func TestPhoneEndpoint(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, http.StatusInternalServerError)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})

	// The webhook's own answer is reported, even when it is an error.
	var ok struct {
		ID            string `json:"id"`
		WebhookStatus int    `json:"webhook_status"`
	}
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPost, "/simulator/phone/messages",
		map[string]any{"from": testRecipient, "text": "hola"}, &ok))
	require.Equal(t, http.StatusInternalServerError, ok.WebhookStatus)
	msg := rcv.next(t).decode(t).Entry[0].Changes[0].Value.Messages[0]
	require.Equal(t, ok.ID, msg.ID)

	require.Equal(t, http.StatusOK, h.do(t, http.MethodPost, "/simulator/phone/messages",
		map[string]any{"from": testRecipient, "type": "interactive", "button_id": "yes"}, &ok))
	require.Equal(t, http.StatusOK, ok.WebhookStatus)
	require.Equal(t, "yes", rcv.next(t).decode(t).Entry[0].Changes[0].Value.Messages[0].Interactive.ButtonReply.Title)

	tests := []struct {
		name     string
		body     any
		wantCode string
	}{
		{"not JSON", `{"from":`, "invalid_json"},
		{"unknown field", map[string]any{"from": testRecipient, "text": "x", "colour": "red"}, "invalid_json"},
		{"no sender", map[string]any{"text": "x"}, "invalid_from"},
		{"sender not digits", map[string]any{"from": "bob", "text": "x"}, "invalid_from"},
		{"empty text", map[string]any{"from": testRecipient}, "invalid_text"},
		{"unknown type", map[string]any{"from": testRecipient, "type": "hologram"}, "invalid_type"},
		{"button without id", map[string]any{"from": testRecipient, "type": "interactive"}, "invalid_button"},
		{"button and row", map[string]any{"from": testRecipient, "type": "interactive", "button_id": "a", "row_id": "b"}, "invalid_button"},
		{"reaction without target", map[string]any{"from": testRecipient, "type": "reaction", "emoji": "👍"}, "invalid_reaction"},
		{"location out of range", map[string]any{"from": testRecipient, "type": "location", "latitude": 91}, "invalid_location"},
	}
	for _, tt := range tests {
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPost, "/simulator/phone/messages", tt.body, &body), tt.name)
		require.Equal(t, tt.wantCode, body.Error.Code, tt.name)
		require.NotEmpty(t, body.Error.Message, tt.name)
	}
	require.Empty(t, rcv.Received, "refused input posts nothing")
}

func TestPhoneEndpointWebhookUnreachable(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name     string
		cfg      *simulator.Config
		wantCode string
	}{
		{"no webhook configured", &simulator.Config{}, "webhook_not_configured"},
		{"nothing listening", &simulator.Config{WebhookURL: "http://127.0.0.1:1/webhooks/whatsapp"}, "webhook_unreachable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, tt.cfg)
			var body struct {
				Error struct{ Code, Message string } `json:"error"`
			}
			require.Equal(t, http.StatusBadGateway, h.do(t, http.MethodPost, "/simulator/phone/messages",
				map[string]any{"from": testRecipient, "text": "hi"}, &body))
			require.Equal(t, tt.wantCode, body.Error.Code)
		})
	}
}

// attempt is one status webhook POST seen by an outageReceiver.
type attempt struct {
	Status   whatsapp.Status
	Accepted bool
	At       time.Time
}

// newOutageReceiver is a webhook endpoint that is down (503) for the given time
// after its first request, as a receiver whose database is out, then answers 200.
// Every status POST is handed to the test on the returned channel.
func newOutageReceiver(t *testing.T, outage time.Duration) (string, <-chan attempt) {
	t.Helper()
	attempts := make(chan attempt, 1000)
	var (
		mu    sync.Mutex
		first time.Time
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		now := time.Now()
		mu.Lock()
		if first.IsZero() {
			first = now
		}
		down := now.Sub(first) < outage
		mu.Unlock()
		var n whatsapp.Notification
		if err := json.Unmarshal(body, &n); err == nil && len(n.Entry) == 1 && len(n.Entry[0].Changes) == 1 {
			for _, st := range n.Entry[0].Changes[0].Value.Statuses {
				attempts <- attempt{Status: st, Accepted: !down, At: now}
			}
		}
		if down {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, attempts
}

func TestStatusesRedeliveredAcrossOutage(t *testing.T) {
	t.Parallel()
	const outage = 1500 * time.Millisecond
	url, attempts := newOutageReceiver(t, outage)
	h := newHarness(t, &simulator.Config{WebhookURL: url, AutoStatuses: true, StatusDelay: time.Millisecond})

	msg := whatsapp.NewTextMessage(testRecipient, "hi")
	msg.BizOpaqueCallbackData = "outbound-outage"
	resp, err := h.client.Send(t.Context(), testPhoneID, msg)
	require.NoError(t, err)

	var seen, accepted []string
	var first, recovered time.Time
	timeout := time.After(20 * time.Second)
	for len(accepted) < 3 {
		select {
		case a := <-attempts:
			require.Equal(t, resp.MessageID(), a.Status.ID)
			require.Equal(t, "outbound-outage", a.Status.BizOpaqueCallbackData)
			if first.IsZero() {
				first = a.At
			}
			seen = append(seen, a.Status.Status)
			if a.Accepted {
				if recovered.IsZero() {
					recovered = a.At
				}
				accepted = append(accepted, a.Status.Status)
			}
		case <-timeout:
			t.Fatalf("statuses accepted after the outage: %v, of %v posted", accepted, seen)
		}
	}
	// Every status got through once the receiver recovered, in order, and the
	// first one was retried for the whole outage rather than given up.
	require.Equal(t, []string{"sent", "delivered", "read"}, accepted)
	require.GreaterOrEqual(t, recovered.Sub(first), outage)
	refused := len(seen) - len(accepted)
	require.Greater(t, refused, 1)
	require.Equal(t, slices.Repeat([]string{"sent"}, refused), seen[:refused], "no later status overtakes a refused one")
}

// giveUpHandler is a slog handler that reports, on a channel, the status of
// every webhook the simulator gives up on (its only warnings).
type giveUpHandler struct {
	statuses chan<- string
}

func (h giveUpHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn
}

func (h giveUpHandler) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "status" {
			h.statuses <- a.Value.String()
			return false
		}
		return true
	})
	return nil
}

func (h giveUpHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h giveUpHandler) WithGroup(string) slog.Handler { return h }

func TestStatusesGiveUpAfterWebhookRetryFor(t *testing.T) {
	t.Parallel()
	const retryFor = 300 * time.Millisecond
	url, attempts := newOutageReceiver(t, time.Hour)
	gaveUp := make(chan string, 3)
	h := newHarness(t, &simulator.Config{
		WebhookURL: url, AutoStatuses: true, StatusDelay: time.Millisecond,
		WebhookRetryFor: retryFor, Logger: slog.New(giveUpHandler{statuses: gaveUp}),
	})

	start := time.Now()
	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)

	var given []string
	for range 3 {
		select {
		case status := <-gaveUp:
			given = append(given, status)
		case <-time.After(20 * time.Second):
			t.Fatalf("gave up on %v only", given)
		}
	}
	// Each status is retried for WebhookRetryFor, then the next one is posted.
	require.Equal(t, []string{"sent", "delivered", "read"}, given)
	require.GreaterOrEqual(t, time.Since(start), 3*retryFor)

	// Every attempt was answered before its status was given up, so all are queued.
	posts := map[string]int{}
	var order []string
	for len(attempts) > 0 {
		a := <-attempts
		require.False(t, a.Accepted)
		if len(order) == 0 || order[len(order)-1] != a.Status.Status {
			order = append(order, a.Status.Status)
		}
		posts[a.Status.Status]++
	}
	require.Equal(t, []string{"sent", "delivered", "read"}, order)
	for status, n := range posts {
		require.Greater(t, n, 1, "%s was redelivered", status)
	}
}

func TestCloseStopsWebhookRedelivery(t *testing.T) {
	t.Parallel()
	url, attempts := newOutageReceiver(t, time.Hour)
	// With the default ten minutes of redelivery, Close must not wait for it.
	h := newHarness(t, &simulator.Config{WebhookURL: url, AutoStatuses: true, StatusDelay: time.Millisecond})

	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)
	select {
	case a := <-attempts:
		require.False(t, a.Accepted)
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook posted")
	}
	closed := make(chan struct{})
	go func() {
		h.sim.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not stop the redelivery")
	}
}
