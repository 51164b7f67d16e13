package simulator_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const (
	testToken     = "sim-token"
	testSecret    = "app-secret"
	testPhoneID   = simulator.DefaultPhoneNumberID
	testRecipient = "16505551234"
	messagesPath  = "/simulator/graph/v24.0/" + testPhoneID + "/messages"
)

// webhook is one POST seen by a receiver.
type webhook struct {
	Body      []byte
	Signature string
	UserAgent string
}

// receiver is a test webhook endpoint. It answers the given statuses to the
// first requests, then 200, and hands every request to the test on a channel.
type receiver struct {
	URL      string
	Received chan webhook

	mu       sync.Mutex
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rcv := &receiver{Received: make(chan webhook, 100), statuses: statuses}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rcv.Received <- webhook{Body: body, Signature: r.Header.Get(whatsapp.SignatureHeader), UserAgent: r.Header.Get("User-Agent")}
		rcv.mu.Lock()
		status := http.StatusOK
		if len(rcv.statuses) > 0 {
			status, rcv.statuses = rcv.statuses[0], rcv.statuses[1:]
		}
		rcv.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	rcv.URL = srv.URL
	return rcv
}

// next waits for the next webhook, failing the test after a generous timeout.
func (rcv *receiver) next(t *testing.T) webhook {
	t.Helper()
	select {
	case wh := <-rcv.Received:
		return wh
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook received")
		return webhook{}
	}
}

// decode checks the signature of a webhook and decodes it.
func (wh webhook) decode(t *testing.T) whatsapp.Notification {
	t.Helper()
	require.True(t, whatsapp.VerifySignature([]byte(testSecret), wh.Body, wh.Signature), "bad signature on %s", wh.Body)
	var n whatsapp.Notification
	require.NoError(t, json.Unmarshal(wh.Body, &n))
	require.Equal(t, "whatsapp_business_account", n.Object)
	require.Len(t, n.Entry, 1)
	require.Equal(t, simulator.DefaultBusinessAccountID, n.Entry[0].ID)
	require.Len(t, n.Entry[0].Changes, 1)
	require.Equal(t, "messages", n.Entry[0].Changes[0].Field)
	value := n.Entry[0].Changes[0].Value
	require.Equal(t, "whatsapp", value.MessagingProduct)
	require.Equal(t, whatsapp.Metadata{DisplayPhoneNumber: simulator.DefaultDisplayPhoneNumber, PhoneNumberID: testPhoneID}, value.Metadata)
	return n
}

// harness is a simulator served over HTTP with a real WhatsApp client pointed at it.
type harness struct {
	sim    *simulator.Simulator
	url    string
	client *whatsapp.Client
}

func newHarness(t *testing.T, cfg *simulator.Config) *harness {
	t.Helper()
	if cfg == nil {
		cfg = &simulator.Config{}
	}
	if cfg.AccessToken == "" {
		cfg.AccessToken = testToken
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = testSecret
	}
	sim, err := simulator.New(cfg)
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	// Cleanups run last-in first-out: the simulator closes first, releasing any
	// request hanging on an injected timeout, then the server.
	t.Cleanup(srv.Close)
	t.Cleanup(sim.Close)
	return &harness{sim: sim, url: srv.URL, client: newClient(t, srv.URL, nil)}
}

func newClient(t *testing.T, baseURL string, httpClient *http.Client) *whatsapp.Client {
	t.Helper()
	client, err := whatsapp.NewClient(&whatsapp.Config{
		BaseURL: baseURL + "/simulator/graph", AccessToken: testToken, HTTPClient: httpClient,
	})
	require.NoError(t, err)
	return client
}

// waitSends waits for n recorded sends, failing the test if they do not come.
func waitSends(t *testing.T, sim *simulator.Simulator, n int) []simulator.Send {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	sends, err := sim.WaitForSends(ctx, n)
	require.NoError(t, err)
	return sends
}

// do sends a JSON request to the simulator and decodes a JSON answer into out.
func (h *harness) do(t *testing.T, method, path string, body any, out any) int {
	t.Helper()
	var reader io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		reader = bytes.NewBufferString(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(t, err)
		reader = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, h.url+path, reader)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

// metaError is Meta's error body.
type metaError struct {
	Code         int    `json:"code"`
	ErrorSubcode int    `json:"error_subcode"`
	Message      string `json:"message"`
	Type         string `json:"type"`
	FBTraceID    string `json:"fbtrace_id"`
	ErrorData    struct {
		MessagingProduct string `json:"messaging_product"`
		Details          string `json:"details"`
	} `json:"error_data"`
}

// graph calls the fake Graph API with the test token. A 2xx answer is decoded
// into out; any other answer must be Meta's error body, which is returned.
func (h *harness) graph(t *testing.T, method, target, body string, out any) (int, *metaError) {
	t.Helper()
	if !strings.HasPrefix(target, "http") {
		target = h.url + target
	}
	req, err := http.NewRequestWithContext(t.Context(), method, target, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode/100 == 2 {
		if out != nil {
			require.NoError(t, json.Unmarshal(raw, out), string(raw))
		}
		return resp.StatusCode, nil
	}
	var e struct {
		Error *metaError `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &e), string(raw))
	require.NotNil(t, e.Error, string(raw))
	require.NotEmpty(t, e.Error.FBTraceID)
	return resp.StatusCode, e.Error
}
