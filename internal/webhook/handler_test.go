package webhook_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

func TestVerifyEchoesTheChallengeOnlyForTheVerifyToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	tests := []struct {
		name   string
		query  url.Values
		status int
		body   string
	}{
		{"subscribe with the token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1158201444"}}, 200, "1158201444"},
		{"wrong token", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {"guess"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"token prefix", url.Values{"hub.mode": {"subscribe"}, "hub.verify_token": {testVerifyToken[:5]}, "hub.challenge": {"x"}}, 403, ""},
		{"missing token", url.Values{"hub.mode": {"subscribe"}, "hub.challenge": {"1158201444"}}, 403, ""},
		{"wrong mode", url.Values{"hub.mode": {"unsubscribe"}, "hub.verify_token": {testVerifyToken}, "hub.challenge": {"1"}}, 403, ""},
		{"no parameters", url.Values{}, 403, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get(e.srv.URL + "/webhooks/whatsapp?" + tt.query.Encode())
			require.NoError(t, err)
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.status, resp.StatusCode)
			if tt.status == 200 {
				require.Equal(t, tt.body, string(b), "exactly the challenge")
				require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain"))
			} else {
				requireErrorBody(t, resp.Header.Get("Content-Type"), string(b), "forbidden")
			}
		})
	}
	// A handler without a verify token refuses every verification.
	h, err := webhook.New(&webhook.Config{Pool: e.pool, Queue: e.river, AppSecret: testSecret})
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	h.Verify(rec, httptest.NewRequest("GET", "/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=&hub.challenge=1", nil))
	require.Equal(t, http.StatusForbidden, rec.Code)
}

func TestReceiveStoresMetaPayloadsByteForByteWithTheirJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	payloads := fixtures(t)
	for name, body := range payloads {
		status, answer := e.post(body)
		require.Equal(t, http.StatusOK, status, "%s: %s", name, answer)
	}
	require.Equal(t, len(payloads), e.count("webhook_events"))
	require.Equal(t, len(payloads), e.count("river_job",
		fmt.Sprintf("kind = 'process_webhook' AND queue = '%s' AND max_attempts = %d", webhook.QueueWebhooks, webhook.ProcessMaxAttempts)))

	// The raw bytes are stored, not a re-encoding: Meta's escaped unicode and escaped slashes stay.
	body := payloads["inbound-text-escaped-unicode.json"]
	require.Contains(t, string(body), `\u00a1Hola`)
	sum := sha256.Sum256(body)
	var stored []byte
	require.NoError(t, e.pool.QueryRow(context.Background(), "SELECT body FROM webhook_events WHERE sha256 = $1", sum[:]).Scan(&stored))
	require.Equal(t, body, stored)
	// No parsing happened in the request path.
	require.Equal(t, 0, e.count("messages"))
}

func TestReceiveChecksTheSignatureOverTheRawBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := fixture(t, "inbound-text-escaped-unicode.json")
	good := whatsapp.Sign([]byte(testSecret), body)

	// The same notification re-serialized (unescaped unicode) means the same to a JSON reader,
	// but it is not what Meta signed.
	var v any
	require.NoError(t, json.Unmarshal(body, &v))
	reencoded, err := json.Marshal(v)
	require.NoError(t, err)
	require.NotEqual(t, body, reencoded)

	tests := []struct {
		name string
		body []byte
		sig  string
		code string
	}{
		{"wrong secret", body, whatsapp.Sign([]byte("another-secret"), body), "invalid_signature"},
		{"missing header", body, "", "missing_signature"},
		{"truncated body", body[:len(body)-10], good, "invalid_signature"},
		{"re-serialized body", reencoded, good, "invalid_signature"},
		{"sha1 prefix", body, "sha1=" + strings.TrimPrefix(good, "sha256="), "invalid_signature"},
		{"no prefix", body, strings.TrimPrefix(good, "sha256="), "invalid_signature"},
		{"not hex", body, "sha256=" + strings.Repeat("zz", 32), "invalid_signature"},
		{"short", body, good[:len(good)-2], "invalid_signature"},
		{"empty digest", body, "sha256=", "invalid_signature"},
		{"signature of another payload", body, whatsapp.Sign([]byte(testSecret), fixture(t, "inbound-text.json")), "invalid_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/whatsapp", bytes.NewReader(tt.body))
			require.NoError(t, err)
			if tt.sig != "" {
				req.Header.Set(whatsapp.SignatureHeader, tt.sig)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", b)
			requireErrorBody(t, resp.Header.Get("Content-Type"), string(b), tt.code)
		})
	}
	requireNothingStored(t, e)

	// The original bytes with Meta's signature pass.
	status, answer := e.postSigned(body, good)
	require.Equal(t, http.StatusOK, status, answer)
}

func TestReceiveRefusesWhatIsNotAWhatsAppNotification(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	big := []byte(`{"object":"whatsapp_business_account","entry":[],"pad":"` + strings.Repeat("x", webhook.MaxBodyBytes) + `"}`)
	tests := []struct {
		name   string
		body   []byte
		status int
		code   string
	}{
		{"empty", []byte{}, 400, "invalid_json"},
		{"malformed", []byte(`{"object":"whatsapp_business_account",`), 400, "invalid_json"},
		{"not an object", []byte(`[{"object":"whatsapp_business_account"}]`), 400, "invalid_json"},
		{"object is not a string", []byte(`{"object":7}`), 400, "invalid_json"},
		{"trailing data", []byte(`{"object":"whatsapp_business_account"} {}`), 400, "invalid_json"},
		{"another object", []byte(`{"object":"page","entry":[]}`), 400, "unsupported_object"},
		{"no object", []byte(`{"entry":[]}`), 400, "unsupported_object"},
		{"above 3 MiB", big, 413, "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, answer := e.post(tt.body)
			require.Equal(t, tt.status, status, answer)
			requireErrorBody(t, "application/json", answer, tt.code)
		})
	}
	t.Run("above 3 MiB without Content-Length", func(t *testing.T) {
		// A chunked body is cut off at the limit while it is read.
		req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/whatsapp", io.MultiReader(bytes.NewReader(big)))
		require.NoError(t, err)
		req.ContentLength = -1
		req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(testSecret), big))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s", b)
	})
	requireNothingStored(t, e)
	require.Contains(t, e.logs.String(), "webhook refused", "refusals are logged")
}

func TestDuplicateBodyIsStoredOnceWithOneJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	body := fixture(t, "inbound-text.json")
	var wg sync.WaitGroup
	statuses := make([]int, 5)
	for i := range statuses {
		wg.Go(func() { statuses[i], _ = e.post(body) })
	}
	wg.Wait()
	require.Equal(t, []int{200, 200, 200, 200, 200}, statuses)
	e.waitProcessed()
	require.Equal(t, 1, e.count("webhook_events"))
	require.Equal(t, 1, e.count("river_job", "kind = 'process_webhook'"))
	require.Equal(t, 1, e.count("messages"))

	// Later repeats too.
	status, _ := e.post(body)
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, e.count("webhook_events"))
	require.Equal(t, 1, e.count("river_job", "kind = 'process_webhook'"))
}

func TestReceiveAnswers503WhenTheDatabaseIsDownAndTheRedeliveryIsAppliedOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{work: true})
	body := fixture(t, "inbound-text.json")

	// An instance whose database went away: its own pool, closed.
	down, err := database.Open(context.Background(), e.url, 2)
	require.NoError(t, err)
	down.Close()
	h, err := webhook.New(&webhook.Config{Pool: down, Queue: e.river, AppSecret: testSecret})
	require.NoError(t, err)
	srv := httptest.NewServer(mux(h))
	defer srv.Close()

	for range 2 {
		status, answer := postTo(t, srv.URL, body, whatsapp.Sign([]byte(testSecret), body))
		require.Equal(t, http.StatusServiceUnavailable, status, answer)
		requireErrorBody(t, "application/json", answer, "unavailable")
		require.NotContains(t, answer, "closed", "no internal error text on the wire")
	}
	req := httptest.NewRequest(http.MethodPost, "/webhooks/whatsapp", bytes.NewReader(body))
	req.Header.Set(whatsapp.SignatureHeader, whatsapp.Sign([]byte(testSecret), body))
	rec := httptest.NewRecorder()
	h.Receive(rec, req)
	require.Equal(t, http.StatusServiceUnavailable, rec.Code)
	require.Equal(t, "5", rec.Header().Get("Retry-After"), "Meta is told when to come back")
	requireNothingStored(t, e)

	// Meta redelivers once the database is back: stored, processed, applied once.
	e.deliver(body)
	e.deliver(body)
	require.Equal(t, 1, e.count("webhook_events"))
	require.Equal(t, 1, e.count("messages", "wa_message_id = 'wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA='"))
}

func TestReceiveAnswers503WhenTheCommitFails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	// The job insert fails inside the intake transaction: the raw row must not stay alone.
	_, err := e.pool.Exec(context.Background(), `
		CREATE FUNCTION refuse_job() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN RAISE EXCEPTION 'job insert refused by test'; END $$;
		CREATE TRIGGER refuse_job BEFORE INSERT ON river_job FOR EACH ROW EXECUTE FUNCTION refuse_job();`)
	require.NoError(t, err)
	status, answer := e.post(fixture(t, "inbound-text.json"))
	require.Equal(t, http.StatusServiceUnavailable, status, answer)
	require.NotContains(t, answer, "refused by test")
	require.Equal(t, 0, e.count("webhook_events"))
}

func TestStoreWithoutHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{})
	body := fixture(t, "status-sent.json")
	st, err := webhook.Store(context.Background(), e.pool, e.river, body)
	require.NoError(t, err)
	require.False(t, st.Duplicate)
	require.NotZero(t, st.EventID)
	again, err := e.handler.Store(context.Background(), body)
	require.NoError(t, err)
	require.True(t, again.Duplicate)
	require.Equal(t, 1, e.count("webhook_events"))
	require.Equal(t, 1, e.count("river_job"))
}

func requireErrorBody(t *testing.T, contentType, body, code string) {
	t.Helper()
	require.Equal(t, "application/json", contentType)
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.Equal(t, code, e.Error.Code)
	require.NotEmpty(t, e.Error.Message)
}

func requireNothingStored(t *testing.T, e *env) {
	t.Helper()
	for _, table := range []string{"webhook_events", "river_job", "messages", "contacts", "conversations", "events", "webhook_errors"} {
		require.Equal(t, 0, e.count(table), "%s must stay empty", table)
	}
}
