package simulator_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const reengagementDetails = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."

func textTo(to string) string {
	return `{"messaging_product":"whatsapp","to":"` + to + `","type":"text","text":{"body":"Are you still there?"}}`
}

func TestWindowIsOffByDefault(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	require.Equal(t, simulator.WindowSettings{}, h.sim.Window())
	_, ok := h.sim.LastInbound(testRecipient)
	require.False(t, ok)
	status, e := h.graph(t, http.MethodPost, messagesPath, textTo(testRecipient), nil)
	require.Equal(t, http.StatusOK, status, "%+v", e)
}

func TestWindowRefusesFreeFormOutsideIt(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, EnforceWindow: true})
	const customer = "16505550001"

	// A customer who never wrote: Meta's 131047, in Meta's error body.
	status, e := h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, 131047, e.Code)
	require.Equal(t, "(#131047) Re-engagement message", e.Message)
	require.Equal(t, "OAuthException", e.Type)
	require.Equal(t, "whatsapp", e.ErrorData.MessagingProduct)
	require.Equal(t, reengagementDetails, e.ErrorData.Details)
	last := h.sim.Sends()[len(h.sim.Sends())-1]
	require.Equal(t, 131047, last.ErrorCode)
	require.Empty(t, last.WAMessageID)

	// The client sees a permanent error, not one to retry.
	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage("+"+customer, "hello?"))
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 131047, apiErr.Code)
	require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err))

	// Every type but template is free-form.
	for _, body := range []string{
		`{"messaging_product":"whatsapp","to":"` + customer + `","type":"image","image":{"link":"https://example.com/a.jpg"}}`,
		`{"messaging_product":"whatsapp","to":"` + customer + `","type":"reaction","reaction":{"message_id":"wamid.X","emoji":"👍"}}`,
		`{"messaging_product":"whatsapp","to":"` + customer + `","type":"interactive","interactive":{"type":"button","body":{"text":"Still interested?"},
			"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}}`,
	} {
		_, e := h.graph(t, http.MethodPost, messagesPath, body, nil)
		require.Equal(t, 131047, e.Code, body)
	}

	// A template may always be sent, and the refusals did not take the injected fault.
	h.sim.SetFaults(simulator.Faults{FailNext: []int{131026}})
	_, e = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, 131047, e.Code)
	hello := `{"messaging_product":"whatsapp","to":"` + customer + `","type":"template","template":{"name":"hello_world","language":{"code":"en_US"}}}`
	_, e = h.graph(t, http.MethodPost, messagesPath, hello, nil)
	require.Equal(t, 131026, e.Code, "the fault is still there for the next send Meta takes")
	status, e = h.graph(t, http.MethodPost, messagesPath, hello, nil)
	require.Equal(t, http.StatusOK, status, "%+v", e)

	// The customer writes through the fake phone: the window opens.
	_, err = h.sim.SendInbound(t.Context(), &simulator.InboundInput{From: "+" + customer, Text: "Sorry, I was away"})
	require.NoError(t, err)
	at, ok := h.sim.LastInbound(customer)
	require.True(t, ok)
	require.WithinDuration(t, time.Now(), at, 5*time.Second)
	status, e = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, http.StatusOK, status, "%+v", e)

	// Tests age the window: open until 24 hours after the last message, then closed.
	h.sim.SetLastInbound(customer, time.Now().Add(-23*time.Hour-59*time.Minute))
	status, _ = h.graph(t, http.MethodPost, messagesPath, textTo("+"+customer), nil)
	require.Equal(t, http.StatusOK, status)
	h.sim.SetLastInbound("+"+customer, time.Now().Add(-24*time.Hour-time.Second))
	_, e = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, 131047, e.Code)

	// A zero time forgets the customer.
	h.sim.SetLastInbound(customer, time.Now())
	h.sim.SetLastInbound(customer, time.Time{})
	_, ok = h.sim.LastInbound(customer)
	require.False(t, ok)
	_, e = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, 131047, e.Code)

	// Turned off at run time, the window no longer matters.
	h.sim.SetWindow(simulator.WindowSettings{})
	status, _ = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, http.StatusOK, status)
}

// customerWindow is the answer of GET and PUT /simulator/customers/{wa_id}.
type customerWindow struct {
	WaID           string     `json:"wa_id"`
	LastInboundAt  *time.Time `json:"last_inbound_at"`
	WindowOpen     bool       `json:"window_open"`
	WindowClosesAt *time.Time `json:"window_closes_at"`
}

func TestWindowControlsOverHTTP(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL})
	const customer = "16505550002"

	var ws simulator.WindowSettings
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/window", nil, &ws))
	require.Equal(t, simulator.WindowSettings{}, ws)
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/window", `{"enforce":true}`, &ws))
	require.Equal(t, simulator.WindowSettings{Enforce: true}, ws)
	require.Equal(t, ws, h.sim.Window())
	_, e := h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, 131047, e.Code)

	var apiErr struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/window", `{"enforce":"yes"}`, &apiErr))
	require.Equal(t, "invalid_json", apiErr.Error.Code)
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/window", `{"enforced":true}`, &apiErr))
	require.True(t, h.sim.Window().Enforce, "a refused body changes nothing")

	var cw customerWindow
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/customers/"+customer, nil, &cw))
	require.Equal(t, customerWindow{WaID: customer}, cw, "never wrote")

	// Set the last inbound message two hours back: open for 22 more hours.
	at := time.Now().Add(-2 * time.Hour).UTC().Truncate(time.Second)
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/customers/+"+customer,
		map[string]any{"last_inbound_at": at.Format(time.RFC3339)}, &cw))
	require.Equal(t, customer, cw.WaID)
	require.True(t, cw.WindowOpen)
	require.True(t, at.Equal(*cw.LastInboundAt))
	require.True(t, at.Add(24*time.Hour).Equal(*cw.WindowClosesAt))
	status, _ := h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, http.StatusOK, status)

	// 25 hours back: closed.
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/customers/"+customer,
		map[string]any{"last_inbound_at": time.Now().Add(-25 * time.Hour).Format(time.RFC3339)}, &cw))
	require.False(t, cw.WindowOpen)
	_, e = h.graph(t, http.MethodPost, messagesPath, textTo(customer), nil)
	require.Equal(t, 131047, e.Code)

	// null forgets the customer.
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/customers/"+customer, `{"last_inbound_at":null}`, &cw))
	require.Equal(t, customerWindow{WaID: customer}, cw)

	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/customers/abc", `{"last_inbound_at":null}`, &apiErr))
	require.Equal(t, "invalid_wa_id", apiErr.Error.Code)
	require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/customers/"+customer, `{"last_inbound_at":"yesterday"}`, &apiErr))
	require.Equal(t, "invalid_json", apiErr.Error.Code)

	// The fake phone's endpoint opens the window too.
	var phone struct {
		ID string `json:"id"`
	}
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPost, "/simulator/phone/messages", map[string]any{"from": customer, "text": "hi again"}, &phone))
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/customers/"+customer, nil, &cw))
	require.True(t, cw.WindowOpen)
	require.WithinDuration(t, time.Now(), *cw.LastInboundAt, 5*time.Second)
}

func TestWindowFailAsync(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, EnforceWindow: true, WindowFailAsync: true})

	// Cloud API's usual way: the send is taken, then fails in a status webhook.
	msg := whatsapp.NewTextMessage(testRecipient, "Your order shipped")
	msg.BizOpaqueCallbackData = "msg-7"
	resp, err := h.client.Send(t.Context(), testPhoneID, msg)
	require.NoError(t, err)
	wamid := resp.MessageID()
	require.NotEmpty(t, wamid)

	n := rcv.next(t).decode(t)
	statuses := n.Entry[0].Changes[0].Value.Statuses
	require.Len(t, statuses, 1)
	st := statuses[0]
	require.Equal(t, wamid, st.ID)
	require.Equal(t, whatsapp.StatusFailed, st.Status)
	require.Equal(t, testRecipient, st.RecipientID)
	require.Equal(t, "msg-7", st.BizOpaqueCallbackData)
	require.Len(t, st.Errors, 1)
	require.Equal(t, 131047, st.Errors[0].Code)
	require.Equal(t, "Re-engagement message", st.Errors[0].Title)
	require.Equal(t, reengagementDetails, st.Errors[0].ErrorData.Details)

	sends := h.sim.Sends()
	require.Len(t, sends, 1)
	require.Equal(t, wamid, sends[0].WAMessageID)
	require.Equal(t, 131047, sends[0].ErrorCode)

	// No sent, delivered or read follows a failure.
	select {
	case wh := <-rcv.Received:
		t.Fatalf("unexpected webhook after the failure: %s", wh.Body)
	case <-time.After(10 * simulator.DefaultStatusDelay):
	}
}
