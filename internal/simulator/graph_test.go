package simulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestNew(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		cfg     *simulator.Config
		wantErr string
	}{
		{"nil config", nil, "config is nil"},
		{"defaults", &simulator.Config{}, ""},
		{"webhook without secret", &simulator.Config{WebhookURL: "http://127.0.0.1:1/hook"}, "app secret is required"},
		{"relative webhook URL", &simulator.Config{WebhookURL: "/hook", AppSecret: "s"}, "invalid simulator webhook URL"},
		{"negative status delay", &simulator.Config{StatusDelay: -time.Second}, "invalid simulator status delay"},
		{"negative webhook retry", &simulator.Config{WebhookRetryFor: -time.Second}, "invalid simulator webhook retry duration"},
		{"full", &simulator.Config{WebhookURL: "http://127.0.0.1:1/hook", AppSecret: "s", AutoStatuses: true}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			sim, err := simulator.New(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			sim.Close()
		})
	}
}

func TestSendAccepted(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	msg := whatsapp.NewTextMessage(testRecipient, "¿Cómo estás?")
	msg.BizOpaqueCallbackData = "msg-1"
	resp, err := h.client.Send(t.Context(), testPhoneID, msg)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(resp.MessageID(), "wamid."), resp.MessageID())
	require.Equal(t, []whatsapp.SendContact{{Input: testRecipient, WaID: testRecipient}}, resp.Contacts)

	sends := waitSends(t, h.sim, 1)
	require.Len(t, sends, 1)
	got := sends[0]
	require.Equal(t, testPhoneID, got.PhoneNumberID)
	require.Equal(t, testRecipient, got.To)
	require.Equal(t, "text", got.Type)
	require.Equal(t, "¿Cómo estás?", got.Body)
	require.Equal(t, "msg-1", got.BizOpaqueCallbackData)
	require.Equal(t, resp.MessageID(), got.WAMessageID)
	require.Zero(t, got.ErrorCode)
	require.JSONEq(t, `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
		"text":{"body":"¿Cómo estás?","preview_url":false},"biz_opaque_callback_data":"msg-1"}`, string(got.Raw))
	require.False(t, got.At.IsZero())

	// The same record is served as JSON to humans and load generators.
	var listed []simulator.Send
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/sends", nil, &listed))
	require.Len(t, listed, 1)
	require.Equal(t, got.WAMessageID, listed[0].WAMessageID)
	require.Equal(t, got.Raw, listed[0].Raw)

	require.Equal(t, http.StatusNoContent, h.do(t, http.MethodDelete, "/simulator/sends", nil, nil))
	require.Empty(t, h.sim.Sends())
}

func TestMarkRead(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	require.NoError(t, h.client.MarkRead(t.Context(), testPhoneID, "wamid.IN"))
	// Faults are for sends only: a read must not consume a FailNext code.
	h.sim.SetFaults(simulator.Faults{FailNext: []int{131026}})
	require.NoError(t, h.client.MarkRead(t.Context(), testPhoneID, "wamid.IN2"))

	sends := h.sim.Sends()
	require.Len(t, sends, 2)
	require.Equal(t, "read", sends[0].Type)
	require.Equal(t, "wamid.IN", sends[0].ReadMessageID)
	require.Empty(t, sends[0].WAMessageID)
	var faults simulator.Faults
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/faults", nil, &faults))
	require.Equal(t, []int{131026}, faults.FailNext)
}

func TestSendValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	valid := `{"messaging_product":"whatsapp","to":"16505551234","type":"text","text":{"body":"hi"}}`
	tests := []struct {
		name       string
		auth       string // "" sends the valid token, "none" no header
		phoneID    string
		body       string
		wantStatus int
		wantCode   int
	}{
		{"no token", "none", testPhoneID, valid, 401, 190},
		{"wrong token", "Bearer nope", testPhoneID, valid, 401, 190},
		{"not a bearer", "Basic " + testToken, testPhoneID, valid, 401, 190},
		{"unknown phone number id", "", "999", valid, 400, 100},
		{"not JSON", "", testPhoneID, `{"messaging_product":`, 400, 100},
		{"no messaging_product", "", testPhoneID, `{"to":"1","type":"text","text":{"body":"hi"}}`, 400, 100},
		{"wrong messaging_product", "", testPhoneID, `{"messaging_product":"sms","to":"1","type":"text","text":{"body":"hi"}}`, 400, 100},
		{"no recipient", "", testPhoneID, `{"messaging_product":"whatsapp","type":"text","text":{"body":"hi"}}`, 400, 100},
		{"recipient not digits", "", testPhoneID, `{"messaging_product":"whatsapp","to":"abc","type":"text","text":{"body":"hi"}}`, 400, 131009},
		{"unknown type", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"hologram"}`, 400, 131009},
		{"no text object", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"text"}`, 400, 100},
		{"empty body", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"  "}}`, 400, 131009},
		{"body too long", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + strings.Repeat("ñ", 4097) + `"}}`, 400, 131009},
		{"image without object", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"image"}`, 400, 100},
		{"read without id", "", testPhoneID, `{"messaging_product":"whatsapp","status":"read"}`, 400, 100},
		{"body at the limit", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"text","text":{"body":"` + strings.Repeat("ñ", 4096) + `"}}`, 200, 0},
		{"type defaults to text", "", testPhoneID, `{"messaging_product":"whatsapp","to":"+1","text":{"body":"hi"}}`, 200, 0},
		{"image with object", "", testPhoneID, `{"messaging_product":"whatsapp","to":"1","type":"image","image":{"id":"123"}}`, 200, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost,
				h.url+"/simulator/graph/v24.0/"+tt.phoneID+"/messages", strings.NewReader(tt.body))
			require.NoError(t, err)
			switch tt.auth {
			case "": // the valid token
				req.Header.Set("Authorization", "Bearer "+testToken)
			case "none":
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			var body struct {
				Error *struct {
					Code      int    `json:"code"`
					Message   string `json:"message"`
					FBTraceID string `json:"fbtrace_id"`
					ErrorData struct {
						MessagingProduct string `json:"messaging_product"`
						Details          string `json:"details"`
					} `json:"error_data"`
				} `json:"error"`
			}
			raw, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.NoError(t, json.Unmarshal(raw, &body), string(raw))
			if tt.wantCode == 0 {
				require.Nil(t, body.Error)
				return
			}
			require.NotNil(t, body.Error, string(raw))
			require.Equal(t, tt.wantCode, body.Error.Code)
			require.NotEmpty(t, body.Error.Message)
			require.NotEmpty(t, body.Error.FBTraceID)
			require.Equal(t, "whatsapp", body.Error.ErrorData.MessagingProduct)
			require.NotEmpty(t, body.Error.ErrorData.Details)
		})
	}
}

func TestSendValidationThroughClient(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	badToken, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: h.url + "/simulator/graph", AccessToken: "wrong"})
	require.NoError(t, err)

	tests := []struct {
		name      string
		client    *whatsapp.Client
		phoneID   string
		msg       *whatsapp.OutboundMessage
		wantCode  int
		wantClass whatsapp.Class
	}{
		{"wrong token", badToken, testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"), 190, whatsapp.ClassStopNumber},
		{"unknown phone number id", h.client, "42", whatsapp.NewTextMessage(testRecipient, "hi"), 100, whatsapp.ClassPermanent},
		{"recipient not digits", h.client, testPhoneID, whatsapp.NewTextMessage("not-a-number", "hi"), 131009, whatsapp.ClassPermanent},
		{"body too long", h.client, testPhoneID, whatsapp.NewTextMessage(testRecipient, strings.Repeat("a", 4097)), 131009, whatsapp.ClassPermanent},
	}
	// The group returns only when its parallel cases are done.
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				_, err := tt.client.Send(t.Context(), tt.phoneID, tt.msg)
				var apiErr *whatsapp.APIError
				require.ErrorAs(t, err, &apiErr)
				require.Equal(t, tt.wantCode, apiErr.Code)
				require.NotEmpty(t, apiErr.FBTraceID)
				require.Equal(t, tt.wantClass, whatsapp.Classify(err))
				require.NotContains(t, err.Error(), testToken)
			})
		}
	})

	// Every refused request is recorded with its code and without a wamid.
	sends := waitSends(t, h.sim, len(tests))
	require.NoError(t, err)
	for _, s := range sends {
		require.NotZero(t, s.ErrorCode)
		require.Empty(t, s.WAMessageID)
	}
}

func TestFaultFailNext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{FailNext: []int{131026, 500, 429, 130429, 131056, 190, 131000}})

	tests := []struct {
		wantStatus int
		wantCode   int
		wantClass  whatsapp.Class
	}{
		{400, 131026, whatsapp.ClassPermanent},
		{500, 0, whatsapp.ClassRetry}, // plain HTTP 500, not Meta's shape
		{429, 130429, whatsapp.ClassThrottle},
		{429, 130429, whatsapp.ClassThrottle},
		{400, 131056, whatsapp.ClassThrottle},
		{401, 190, whatsapp.ClassStopNumber},
		{500, 131000, whatsapp.ClassRetry},
	}
	// Sequential on purpose: FailNext is consumed in order, one code per send.
	for i, tt := range tests {
		_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
		var apiErr *whatsapp.APIError
		require.ErrorAs(t, err, &apiErr, "send %d", i)
		require.Equal(t, tt.wantStatus, apiErr.HTTPStatus, "send %d", i)
		require.Equal(t, tt.wantCode, apiErr.Code, "send %d", i)
		require.Equal(t, tt.wantClass, whatsapp.Classify(err), "send %d", i)
	}
	resp, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err, "FailNext is used up")
	require.NotEmpty(t, resp.MessageID())

	sends := h.sim.Sends()
	require.Len(t, sends, len(tests)+1)
	require.Equal(t, []int{131026, 500, 130429, 130429, 131056, 190, 131000, 0}, errorCodes(sends))
	require.Equal(t, "fail_next", sends[0].Fault)
	require.Empty(t, sends[len(tests)].Fault)
}

func errorCodes(sends []simulator.Send) []int {
	codes := make([]int, len(sends))
	for i, s := range sends {
		codes[i] = s.ErrorCode
	}
	return codes
}

func TestFaultErrorRates(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	h.sim.SetFaults(simulator.Faults{ErrorRates: map[int]float64{131000: 1, 131026: 0}})
	for range 3 {
		_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
		require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
	}
	h.sim.SetFaults(simulator.Faults{ErrorRates: map[int]float64{131000: 0}})
	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)
	require.Equal(t, []int{131000, 131000, 131000, 0}, errorCodes(h.sim.Sends()))
}

func TestFaultLatency(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{Latency: 150 * time.Millisecond})

	start := time.Now()
	_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.NoError(t, err)
	require.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// A client that gives up during the latency sees a timeout, to be retried.
	impatient := newClient(t, h.url, &http.Client{Timeout: 30 * time.Millisecond})
	_, err = impatient.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.Error(t, err)
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
	sends := waitSends(t, h.sim, 2)
	require.Equal(t, "client_gone", sends[1].Fault)
}

func TestFaultTimeout(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{TimeoutRate: 1})

	client := newClient(t, h.url, &http.Client{Timeout: 100 * time.Millisecond})
	_, err := client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.Error(t, err)
	var apiErr *whatsapp.APIError
	require.False(t, errors.As(err, &apiErr), "a timeout is not an answer")
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))

	sends := waitSends(t, h.sim, 1)
	require.Equal(t, "timeout", sends[0].Fault)
	require.Empty(t, sends[0].WAMessageID)
}

func TestFaultTimeoutReleasedByClose(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{TimeoutRate: 1})

	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Send(context.Background(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
		errc <- err
	}()
	waitSends(t, h.sim, 1)
	h.sim.Close()
	err := <-errc
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
}

func TestFaultsEndpoint(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)

	var empty map[string]any
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/faults", nil, &empty))
	require.Equal(t, map[string]any{
		"latency": "0s", "error_rates": map[string]any{}, "timeout_rate": 0.0, "fail_next": []any{},
		"gemini_fail_next": []any{}, "gemini_latency": "0s",
		"lost_answer_rate": 0.0, "lost_answer_next": 0.0, "lost_answer_hang": false,
		"media_fail_next": 0.0, "media_corrupt_next": 0.0, "upload_fail_next": []any{},
	}, empty)

	put := `{"latency":"5ms","error_rates":{"131000":0.25},"timeout_rate":0.1,"fail_next":[131026,500],
		"gemini_fail_next":[429],"gemini_latency":"1ms",
		"lost_answer_rate":0.05,"lost_answer_next":3,"lost_answer_hang":true,"upload_fail_next":[131053]}`
	var got simulator.Faults
	require.Equal(t, http.StatusOK, h.do(t, http.MethodPut, "/simulator/faults", put, &got))
	want := simulator.Faults{
		Latency: 5 * time.Millisecond, ErrorRates: map[int]float64{131000: 0.25}, TimeoutRate: 0.1,
		FailNext: []int{131026, 500}, GeminiFailNext: []int{429}, GeminiLatency: time.Millisecond,
		LostAnswerRate: 0.05, LostAnswerNext: 3, LostAnswerHang: true, UploadFailNext: []int{131053},
	}
	require.Equal(t, want, got)
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/faults", nil, &got))
	require.Equal(t, want, got)

	tests := []struct {
		name, body, wantCode string
	}{
		{"not JSON", `{`, "invalid_json"},
		{"bad duration", `{"latency":"soon"}`, "invalid_json"},
		{"rate above one", `{"timeout_rate":2}`, "invalid_faults"},
		{"negative code", `{"fail_next":[-1]}`, "invalid_faults"},
		{"gemini status not an error", `{"gemini_fail_next":[200]}`, "invalid_faults"},
		{"lost answer rate above one", `{"lost_answer_rate":1.5}`, "invalid_faults"},
		{"negative lost answer rate", `{"lost_answer_rate":-0.1}`, "invalid_faults"},
		{"negative lost answer next", `{"lost_answer_next":-1}`, "invalid_faults"},
		{"lost answer hang not a bool", `{"lost_answer_hang":"yes"}`, "invalid_json"},
	}
	for _, tt := range tests {
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		require.Equal(t, http.StatusBadRequest, h.do(t, http.MethodPut, "/simulator/faults", tt.body, &body), tt.name)
		require.Equal(t, tt.wantCode, body.Error.Code, tt.name)
		require.NotEmpty(t, body.Error.Message, tt.name)
	}
	// A refused PUT changes nothing.
	require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/faults", nil, &got))
	require.Equal(t, want, got)
}

func TestFaultLostAnswer(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t)
	h := newHarness(t, &simulator.Config{WebhookURL: rcv.URL, AutoStatuses: true, StatusDelay: time.Millisecond})
	h.sim.SetFaults(simulator.Faults{LostAnswerRate: 1})

	msg := whatsapp.NewTextMessage(testRecipient, "did it go out?")
	msg.BizOpaqueCallbackData = "outbound-lost"
	_, err := h.client.Send(t.Context(), testPhoneID, msg)
	var urlErr *url.Error
	require.ErrorAs(t, err, &urlErr, "a lost answer is a transport error")
	var apiErr *whatsapp.APIError
	require.False(t, errors.As(err, &apiErr), "a lost answer has no HTTP status")
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))

	// Meta took the message: it is recorded as accepted, with a wamid.
	sends := waitSends(t, h.sim, 1)
	require.Len(t, sends, 1)
	lost := sends[0]
	require.Equal(t, "lost_answer", lost.Fault)
	require.True(t, strings.HasPrefix(lost.WAMessageID, "wamid."), lost.WAMessageID)
	require.Zero(t, lost.ErrorCode)
	require.Equal(t, "outbound-lost", lost.BizOpaqueCallbackData)

	// The statuses tell the client what the lost answer could not.
	var order []string
	for range 3 {
		st := rcv.next(t).decode(t).Entry[0].Changes[0].Value.Statuses[0]
		require.Equal(t, lost.WAMessageID, st.ID)
		require.Equal(t, testRecipient, st.RecipientID)
		require.Equal(t, "outbound-lost", st.BizOpaqueCallbackData)
		order = append(order, st.Status)
	}
	require.Equal(t, []string{"sent", "delivered", "read"}, order)

	// Not one byte of an answer came back, not even a status line.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, h.url+"/simulator/graph/v24.0/"+testPhoneID+"/messages",
		strings.NewReader(`{"messaging_product":"whatsapp","to":"16505551234","text":{"body":"again"}}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	resp, err := http.DefaultClient.Do(req)
	if resp != nil {
		resp.Body.Close()
	}
	require.Nil(t, resp)
	require.ErrorAs(t, err, &urlErr)
}

func TestFaultLostAnswerNext(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{FailNext: []int{131026}, LostAnswerNext: 2})

	send := func() error {
		_, err := h.client.Send(t.Context(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
		return err
	}
	pending := func() int {
		var faults simulator.Faults
		require.Equal(t, http.StatusOK, h.do(t, http.MethodGet, "/simulator/faults", nil, &faults))
		return faults.LostAnswerNext
	}

	// FailNext is decided first; a refused send does not consume a lost answer.
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, send(), &apiErr)
	require.Equal(t, 131026, apiErr.Code)
	require.Equal(t, 2, pending())
	// Nor does a mark-as-read, which never gets faults.
	require.NoError(t, h.client.MarkRead(t.Context(), testPhoneID, "wamid.IN"))
	require.Equal(t, 2, pending())

	// Sequential on purpose: one lost answer per accepted send.
	for want := 1; want >= 0; want-- {
		err := send()
		require.Error(t, err)
		require.False(t, errors.As(err, &apiErr), "a lost answer has no HTTP status")
		require.Equal(t, want, pending())
	}
	require.NoError(t, send(), "LostAnswerNext is used up")

	sends := h.sim.Sends()
	require.Len(t, sends, 5, "a lost answer is not retried behind the client's back")
	var faults []string
	for _, s := range sends {
		faults = append(faults, s.Fault)
	}
	require.Equal(t, []string{"fail_next", "", "lost_answer", "lost_answer", ""}, faults)
	for _, s := range sends[2:] {
		require.NotEmpty(t, s.WAMessageID)
	}
}

func TestFaultLostAnswerHang(t *testing.T) {
	t.Parallel()
	sim, err := simulator.New(&simulator.Config{AccessToken: testToken})
	require.NoError(t, err)
	t.Cleanup(sim.Close)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	sim.SetFaults(simulator.Faults{LostAnswerRate: 1, LostAnswerHang: true})
	client := newClient(t, srv.URL, nil)

	const patience = 150 * time.Millisecond
	start := time.Now() // before the deadline is set, so the wait is measured from no later than it
	ctx, cancel := context.WithTimeout(t.Context(), patience)
	defer cancel()
	_, err = client.Send(ctx, testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
	require.ErrorIs(t, err, context.DeadlineExceeded, "the answer hangs until the client gives up")
	require.GreaterOrEqual(t, time.Since(start), patience)
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))

	sends := waitSends(t, sim, 1)
	require.Equal(t, "lost_answer", sends[0].Fault)
	require.NotEmpty(t, sends[0].WAMessageID)

	// The handler returned when the client gave up: the server closes at once
	// although the simulator, which would also release it, is still open.
	closed := make(chan struct{})
	go func() {
		srv.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the lost answer still hangs after the client gave up")
	}
}

func TestFaultLostAnswerHangReleasedByClose(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	h.sim.SetFaults(simulator.Faults{LostAnswerNext: 1, LostAnswerHang: true})

	errc := make(chan error, 1)
	go func() {
		_, err := h.client.Send(context.Background(), testPhoneID, whatsapp.NewTextMessage(testRecipient, "hi"))
		errc <- err
	}()
	waitSends(t, h.sim, 1)
	h.sim.Close()
	select {
	case err := <-errc:
		var apiErr *whatsapp.APIError
		require.Error(t, err)
		require.False(t, errors.As(err, &apiErr), "closing drops the connection without an answer")
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not release the hanging lost answer")
	}
}

func TestSendPayloadValidation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, nil)
	msg := func(typ, payload string) string {
		return `{"messaging_product":"whatsapp","to":"16505551234","type":"` + typ + `","` + typ + `":` + payload + `}`
	}
	buttons := func(n int) string {
		var bs []string
		for i := range n {
			bs = append(bs, fmt.Sprintf(`{"type":"reply","reply":{"id":"b%d","title":"Option %d"}}`, i, i))
		}
		return `{"type":"button","body":{"text":"Pick one"},"action":{"buttons":[` + strings.Join(bs, ",") + `]}}`
	}
	tests := []struct {
		name     string
		body     string
		wantCode int    // 0: accepted
		wantText string // the recorded body when accepted, else a part of the details
	}{
		{"image by link", msg("image", `{"link":"https://example.com/a.jpg","caption":"the red one"}`), 0, "[Image] the red one"},
		{"three reply buttons", msg("interactive", buttons(3)), 0, "Pick one\n\n[Option 0]\n[Option 1]\n[Option 2]"},
		{"location as strings", msg("location", `{"latitude":"37.44","longitude":"-122.16","name":"Store"}`), 0, "[Location] Store (37.44, -122.16)"},
		{"reaction", msg("reaction", `{"message_id":"wamid.X","emoji":"❤️"}`), 0, "[Reaction ❤️]"},
		{"four reply buttons", msg("interactive", buttons(4)), 131009, "interactive.action.buttons: has 4 buttons"},
		{"image with id and link", msg("image", `{"id":"1","link":"https://example.com/a.jpg"}`), 131009, "image: takes an id or a link, not both"},
		{"caption on audio", msg("audio", `{"id":"1","caption":"hear this"}`), 131009, "audio.caption"},
		{"latitude out of range", msg("location", `{"latitude":91,"longitude":0}`), 131009, "location.latitude"},
		{"a word as a reaction", msg("reaction", `{"message_id":"wamid.X","emoji":"ok"}`), 131009, "reaction.emoji"},
		{"contact without a name", msg("contacts", `[{"phones":[{"phone":"+1 650 555 1234"}]}]`), 131009, "contacts[0].name.formatted_name"},
		{"unknown interactive type", msg("interactive", `{"type":"carousel","body":{"text":"x"},"action":{}}`), 131009, "interactive.type"},
		{"payload of the wrong shape", msg("location", `{"latitude":"north","longitude":0}`), 100, "shape of a location message"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, e := h.graph(t, http.MethodPost, messagesPath, tt.body, nil)
			if tt.wantCode == 0 {
				require.Equal(t, http.StatusOK, status, "%+v", e)
				for _, s := range h.sim.Sends() {
					if string(s.Raw) == tt.body {
						require.Equal(t, tt.wantText, s.Body)
						require.NotEmpty(t, s.WAMessageID)
						return
					}
				}
				t.Fatal("send not recorded")
			}
			require.Equal(t, http.StatusBadRequest, status)
			require.Equal(t, tt.wantCode, e.Code, e.ErrorData.Details)
			require.Contains(t, e.ErrorData.Details, tt.wantText)
		})
	}
}
