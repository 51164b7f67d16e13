package whatsapp_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/whatsapp"
)

const testToken = "EAAG-secret-token"

// newTestClient returns a client pointed at an httptest server running handler.
func newTestClient(t *testing.T, handler http.HandlerFunc) *whatsapp.Client {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	client, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: srv.URL + "/", AccessToken: testToken})
	require.NoError(t, err)
	return client
}

func TestNewClient(t *testing.T) {
	t.Parallel()

	tests := []struct {
		name    string
		cfg     *whatsapp.Config
		wantErr string
	}{
		{"nil config", nil, "config is nil"},
		{"missing base URL", &whatsapp.Config{AccessToken: "t"}, "invalid whatsapp base URL"},
		{"relative base URL", &whatsapp.Config{BaseURL: "graph.facebook.com", AccessToken: "t"}, "invalid whatsapp base URL"},
		{"missing token", &whatsapp.Config{BaseURL: "https://graph.facebook.com"}, "access token is required"},
		{"valid", &whatsapp.Config{BaseURL: "https://graph.facebook.com", AccessToken: "t"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client, err := whatsapp.NewClient(tt.cfg)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Nil(t, client)
				return
			}
			require.NoError(t, err)
			require.NotNil(t, client)
		})
	}
}

func TestOutboundMessageJSON(t *testing.T) {
	t.Parallel()

	withReply := whatsapp.NewTextMessage("16505551234", "¿Cómo estás?")
	withReply.Context = &whatsapp.ReplyTo{MessageID: "wamid.ABC"}
	withReply.BizOpaqueCallbackData = "msg-42"
	withReply.Text.PreviewURL = true

	tests := []struct {
		name string
		msg  *whatsapp.OutboundMessage
		want string
	}{
		{
			name: "plain text omits optional fields",
			msg:  whatsapp.NewTextMessage("16505551234", "Hello"),
			want: `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
				"text":{"body":"Hello","preview_url":false}}`,
		},
		{
			name: "reply with callback data",
			msg:  withReply,
			want: `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
				"context":{"message_id":"wamid.ABC"},"text":{"body":"¿Cómo estás?","preview_url":true},
				"biz_opaque_callback_data":"msg-42"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := json.Marshal(tt.msg)
			require.NoError(t, err)
			require.JSONEq(t, tt.want, string(got))
		})
	}
}

// capturedRequest is what a test server saw, handed to the test goroutine so that
// assertions run there and not inside the handler.
type capturedRequest struct {
	method, path, auth, contentType, body string
}

func TestClientSend(t *testing.T) {
	t.Parallel()

	requests := make(chan capturedRequest, 1)
	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests <- capturedRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","contacts":[{"input":"16505551234","wa_id":"16505551234"}],
			"messages":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI"}]}`)
	})

	// MessagingProduct and RecipientType are left empty on purpose: Send fills them.
	msg := &whatsapp.OutboundMessage{
		To: "16505551234", Type: whatsapp.MessageTypeText,
		Text: &whatsapp.OutboundText{Body: "Hi"}, BizOpaqueCallbackData: "msg-7",
	}
	resp, err := client.Send(t.Context(), "106540352242922", msg)
	require.NoError(t, err)
	require.Equal(t, "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI", resp.MessageID())
	require.Equal(t, "whatsapp", resp.MessagingProduct)
	require.Equal(t, []whatsapp.SendContact{{Input: "16505551234", WaID: "16505551234"}}, resp.Contacts)
	require.Empty(t, msg.MessagingProduct, "Send must not modify the caller's message")

	got := <-requests
	require.Equal(t, http.MethodPost, got.method)
	require.Equal(t, "/v24.0/106540352242922/messages", got.path)
	require.Equal(t, "Bearer "+testToken, got.auth)
	require.Equal(t, "application/json", got.contentType)
	require.JSONEq(t, `{"messaging_product":"whatsapp","recipient_type":"individual","to":"16505551234","type":"text",
		"text":{"body":"Hi","preview_url":false},"biz_opaque_callback_data":"msg-7"}`, got.body)
}

func TestClientSendRejectsInvalidMessageWithoutCalling(t *testing.T) {
	t.Parallel()

	called := make(chan struct{}, 10)
	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		called <- struct{}{}
	})
	tests := []struct {
		name    string
		phoneID string
		msg     *whatsapp.OutboundMessage
	}{
		{"nil message", "1", nil},
		{"no phone number id", "", whatsapp.NewTextMessage("1", "x")},
		{"no recipient", "1", whatsapp.NewTextMessage("", "x")},
		{"empty text", "1", whatsapp.NewTextMessage("1", "")},
		{"no type", "1", &whatsapp.OutboundMessage{To: "1"}},
	}
	for _, tt := range tests {
		_, err := client.Send(t.Context(), tt.phoneID, tt.msg)
		require.ErrorIs(t, err, whatsapp.ErrInvalidMessage, tt.name)
		require.Equal(t, whatsapp.ClassPermanent, whatsapp.Classify(err), tt.name)
	}
	require.Empty(t, called)
}

func TestClientSendWithoutMessageID(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","messages":[]}`)
	})
	_, err := client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
	require.ErrorContains(t, err, "no message id")
}

func TestClientMarkRead(t *testing.T) {
	t.Parallel()

	requests := make(chan capturedRequest, 1)
	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests <- capturedRequest{r.Method, r.URL.Path, r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)}
		_, _ = io.WriteString(w, `{"success":true}`)
	})
	require.NoError(t, client.MarkRead(t.Context(), "106540352242922", "wamid.IN1"))
	got := <-requests
	require.Equal(t, "/v24.0/106540352242922/messages", got.path)
	require.Equal(t, "Bearer "+testToken, got.auth)
	require.JSONEq(t, `{"messaging_product":"whatsapp","status":"read","message_id":"wamid.IN1"}`, got.body)
}

func TestClientDecodesMetaError(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"error":{"message":"(#131026) Message Undeliverable.","type":"OAuthException",
			"code":131026,"error_subcode":2494010,"error_data":{"messaging_product":"whatsapp",
			"details":"Message Undeliverable."},"fbtrace_id":"AazEpKqAw8Ah9E2YMCVSMzn"}}`)
	})
	_, err := client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, &whatsapp.APIError{
		HTTPStatus: 400, Code: 131026, Subcode: 2494010, Type: "OAuthException",
		Message: "(#131026) Message Undeliverable.", Details: "Message Undeliverable.",
		FBTraceID: "AazEpKqAw8Ah9E2YMCVSMzn",
	}, apiErr)
	require.Equal(t, "Message undeliverable", apiErr.Title())
	require.Contains(t, err.Error(), "code 131026/2494010 (Message undeliverable)")
	require.Contains(t, err.Error(), "AazEpKqAw8Ah9E2YMCVSMzn")
}

func TestClientNonMetaErrorBody(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadGateway)
		_, _ = io.WriteString(w, "<html>\n<body>Bad   gateway</body></html>"+strings.Repeat("x", 500))
	})
	_, err := client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
	var apiErr *whatsapp.APIError
	require.ErrorAs(t, err, &apiErr)
	require.Equal(t, 502, apiErr.HTTPStatus)
	require.Zero(t, apiErr.Code)
	require.True(t, strings.HasPrefix(apiErr.Message, "<html> <body>Bad gateway</body></html>xxx"), apiErr.Message)
	require.LessOrEqual(t, len(apiErr.Message), 200)
	require.Equal(t, "Bad Gateway", apiErr.Title())
}

func TestClientErrorNeverContainsToken(t *testing.T) {
	t.Parallel()

	// A proxy that echoes the request headers must not leak the token into errors.
	tests := []struct {
		name    string
		handler http.HandlerFunc
	}{
		{"meta shape", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusUnauthorized)
			auth := r.Header.Get("Authorization")
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"message": "Invalid OAuth access token " + auth, "code": 190,
				"error_data": map[string]any{"details": auth},
			}})
		}},
		{"plain body", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, "denied: "+r.Header.Get("Authorization"))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			client := newTestClient(t, tt.handler)
			_, err := client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
			require.Error(t, err)
			require.NotContains(t, err.Error(), testToken)
			require.Contains(t, err.Error(), "[redacted]")
		})
	}
}

func TestClientTimeoutIsRetried(t *testing.T) {
	t.Parallel()

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices a client hanging up only once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done() // hang until the client gives up
	}))
	t.Cleanup(srv.Close)
	client, err := whatsapp.NewClient(&whatsapp.Config{
		BaseURL: srv.URL, AccessToken: testToken,
		HTTPClient: &http.Client{Timeout: 50 * time.Millisecond},
	})
	require.NoError(t, err)

	_, err = client.Send(t.Context(), "1", whatsapp.NewTextMessage("2", "x"))
	require.Error(t, err)
	var apiErr *whatsapp.APIError
	require.False(t, errors.As(err, &apiErr))
	require.NotContains(t, err.Error(), testToken)
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
}

func TestClientContextErrorsAreRetried(t *testing.T) {
	t.Parallel()

	client := newTestClient(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	})

	deadlineCtx, cancelDeadline := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancelDeadline()
	_, err := client.Send(deadlineCtx, "1", whatsapp.NewTextMessage("2", "x"))
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))

	// A cancelled parent context is a shutdown: the message must be tried again later.
	cancelledCtx, cancel := context.WithCancel(t.Context())
	cancel()
	err = client.MarkRead(cancelledCtx, "1", "wamid.X")
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, whatsapp.ClassRetry, whatsapp.Classify(err))
}

// Concurrent sends keep their connections: the send queue's workers call the Graph API at once,
// and a client that kept only http.DefaultTransport's two idle connections per host would open
// (with Meta, a TCP and TLS handshake) a new one for nearly every call of each round.
func TestClientKeepsConnectionsOfConcurrentSends(t *testing.T) {
	t.Parallel()
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond) // the calls of a round overlap
		_, _ = io.WriteString(w, `{"messaging_product":"whatsapp","messages":[{"id":"wamid.x"}]}`)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	client, err := whatsapp.NewClient(&whatsapp.Config{BaseURL: srv.URL, AccessToken: testToken})
	require.NoError(t, err)

	const workers, rounds = 20, 5
	for range rounds {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				_, err := client.Send(t.Context(), "106540352242922", &whatsapp.OutboundMessage{
					To: "16505551234", Type: whatsapp.MessageTypeText, Text: &whatsapp.OutboundText{Body: "Hi"},
				})
				assert.NoError(t, err)
			})
		}
		wg.Wait()
	}
	require.LessOrEqual(t, opened.Load(), int64(workers), "%d sends in rounds of %d opened %d connections", workers*rounds, workers, opened.Load())
}
