package webhook_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

const (
	testSecret      = "test-app-secret"
	testVerifyToken = "test-verify-token"
	// testPhoneNumberID is the business number of Meta's sample payloads in testdata/.
	testPhoneNumberID = "106540352242922"
)

// env is one test's world: a fresh database with the sample channel, the inbox, a River client
// and the webhook endpoint on a loopback server.
type env struct {
	t       testing.TB
	pool    *pgxpool.Pool
	url     string
	river   *river.Client[pgx.Tx]
	inbox   *inbox.Service
	handler *webhook.Handler
	srv     *httptest.Server
	channel db.Channel
	logs    *logBuffer
}

type envOptions struct {
	// work starts River with the process_webhook and bot_reply workers; without it jobs are only
	// inserted.
	work bool
	// botEnabled is the inbox's BotEnabled.
	botEnabled bool
}

func newEnv(t testing.TB, opts envOptions) *env {
	t.Helper()
	pool, url := dbtest.New(t)
	e := &env{t: t, pool: pool, url: url, logs: &logBuffer{}}
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(e.logs, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))

	workers := river.NewWorkers()
	cfg := &river.Config{
		Logger:        slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Workers:       workers,
		FetchCooldown: 5 * time.Millisecond,
		RetryPolicy:   &jobs.RetryPolicy{Base: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		TestOnly:      true,
		// send_message jobs queued by the inbox stay queued: these tests have no Graph API.
		SkipUnknownJobCheck: true,
	}
	if opts.work {
		cfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault:    {MaxWorkers: 5},
			webhook.QueueWebhooks: {MaxWorkers: 5},
		}
	}
	var err error
	e.river, err = river.NewClient(riverpgxv5.New(pool), cfg)
	require.NoError(t, err)
	e.inbox, err = inbox.New(&inbox.Config{Pool: pool, Queue: e.river, Logger: logger, BotEnabled: opts.botEnabled})
	require.NoError(t, err)
	ww, err := jobs.NewProcessWebhookWorker(pool, e.inbox, nil, nil, logger)
	require.NoError(t, err)
	river.AddWorker(workers, ww)
	// These tests queue bot_reply jobs but run no bot: a worker that completes them.
	river.AddWorker(workers, river.WorkFunc(func(context.Context, *river.Job[inbox.BotReplyArgs]) error { return nil }))
	if opts.work {
		require.NoError(t, e.river.Start(context.Background()))
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = e.river.Stop(ctx)
		})
	}

	e.channel, err = e.inbox.EnsureChannel(context.Background(), db.ChannelUpsertParams{
		PhoneNumberID: testPhoneNumberID, DisplayPhoneNumber: "15550783881",
	})
	require.NoError(t, err)

	e.handler, err = webhook.New(&webhook.Config{
		Pool: pool, Queue: e.river, AppSecret: testSecret, VerifyToken: testVerifyToken, Logger: logger,
	})
	require.NoError(t, err)
	e.srv = httptest.NewServer(mux(e.handler))
	t.Cleanup(e.srv.Close)
	return e
}

func mux(h *webhook.Handler) http.Handler {
	m := http.NewServeMux()
	m.HandleFunc("GET /webhooks/whatsapp", h.Verify)
	m.HandleFunc("POST /webhooks/whatsapp", h.Receive)
	return m
}

// post sends body to the webhook signed with the test secret and returns the status and answer.
func (e *env) post(body []byte) (int, string) {
	e.t.Helper()
	return e.postSigned(body, whatsapp.Sign([]byte(testSecret), body))
}

func (e *env) postSigned(body []byte, signature string) (int, string) {
	e.t.Helper()
	return postTo(e.t, e.srv.URL, body, signature)
}

func postTo(t testing.TB, base string, body []byte, signature string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+"/webhooks/whatsapp", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(whatsapp.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// count returns the number of rows of table matching the optional where clause.
func (e *env) count(table string, where ...string) int {
	e.t.Helper()
	return countRows(e.t, e.pool, table, where...)
}

func countRows(t testing.TB, pool *pgxpool.Pool, table string, where ...string) int {
	t.Helper()
	q := "SELECT count(*) FROM " + table
	if len(where) > 0 {
		q += " WHERE " + where[0]
	}
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), q).Scan(&n))
	return n
}

// waitProcessed waits until every stored webhook is processed and its job completed.
func (e *env) waitProcessed() {
	e.t.Helper()
	require.Eventually(e.t, func() bool {
		return e.count("webhook_events", "processed_at IS NULL") == 0 &&
			e.count("river_job", "kind = 'process_webhook' AND state <> 'completed'") == 0
	}, 20*time.Second, 5*time.Millisecond, "webhooks not processed; logs:\n%s", e.logs)
}

// deliver posts body, requires 200 and waits until it is processed.
func (e *env) deliver(body []byte) {
	e.t.Helper()
	status, answer := e.post(body)
	require.Equal(e.t, http.StatusOK, status, answer)
	e.waitProcessed()
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func fixtures(t testing.TB) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
	out := map[string][]byte{}
	for _, n := range names {
		out[filepath.Base(n)] = fixture(t, filepath.Base(n))
	}
	return out
}

// testWriter sends logs to the test log, shown for failing tests only.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// logBuffer keeps log lines for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
