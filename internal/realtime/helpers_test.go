package realtime

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/eventlog"
)

const (
	testSecret = "realtime-test-secret-realtime-test-secret-0123"
	testOrigin = "https://panel.example.com"
	// waitFor bounds every wait on a condition; a healthy run needs a fraction of it.
	waitFor = 20 * time.Second
)

// fixture is one fresh database with a doorbell, and the users and conversations tests need.
type fixture struct {
	t        *testing.T
	pool     *pgxpool.Pool
	tokens   *auth.Tokens
	sessions *auth.Sessions // the instances' token verifier, as in production
	doorbell *eventlog.Doorbell
	channel  int64
	contacts int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	pool, _ := dbtest.New(t)
	tokens, err := auth.NewTokens(&auth.Config{Secret: []byte(testSecret), TTL: time.Hour})
	require.NoError(t, err)
	sessions, err := auth.NewSessions(&auth.SessionsConfig{Pool: pool, Tokens: tokens, RefreshTTL: time.Hour, CacheTTL: time.Second})
	require.NoError(t, err)
	f := &fixture{t: t, pool: pool, tokens: tokens, sessions: sessions}
	f.doorbell = eventlog.NewDoorbell(pool, testLogger(t))
	f.doorbell.Start()
	t.Cleanup(f.doorbell.Stop)
	require.NoError(t, pool.QueryRow(context.Background(),
		"INSERT INTO channels (phone_number_id, is_default) VALUES ('106540352242922', true) RETURNING id").Scan(&f.channel))
	return f
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// instance is one running Service behind an HTTP server: what a wainbox instance contributes.
type instance struct {
	svc *Service
	reg *prometheus.Registry
	url string // ws://…/api/ws
}

// start runs a Service on the fixture's database; mod adjusts its configuration.
func (f *fixture) start(mod func(*Config)) *instance {
	t := f.t
	t.Helper()
	reg := prometheus.NewRegistry()
	cfg := &Config{
		Pool: f.pool, Tokens: f.sessions, AllowedOrigins: []string{testOrigin}, Logger: testLogger(t), Registerer: reg,
		PollInterval: 200 * time.Millisecond,
	}
	if mod != nil {
		mod(cfg)
	}
	svc, err := New(cfg)
	require.NoError(t, err)
	require.NoError(t, svc.Start(context.Background()))
	mux := http.NewServeMux()
	mux.Handle("GET /api/ws", svc.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(svc.Stop) // runs first: sockets close before the server does
	return &instance{svc: svc, reg: reg, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/api/ws"}
}

// user creates a user and returns its id and an access token.
func (f *fixture) user(role string) (int64, string) {
	f.t.Helper()
	var id int64
	email := fmt.Sprintf("%s-%d@example.com", role, time.Now().UnixNano())
	require.NoError(f.t, f.pool.QueryRow(context.Background(),
		"INSERT INTO users (email, name, role, password_hash) VALUES ($1, $1, $2, 'x') RETURNING id", email, role).Scan(&id))
	tok, _ := f.login(id, f.tokens)
	return id, tok
}

// login starts a session of user id whose access token tokens issues, as a login does, and
// returns the token and its expiry.
func (f *fixture) login(id int64, tokens *auth.Tokens) (string, time.Time) {
	f.t.Helper()
	sessions, err := auth.NewSessions(&auth.SessionsConfig{Pool: f.pool, Tokens: tokens, RefreshTTL: time.Hour, CacheTTL: time.Second})
	require.NoError(f.t, err)
	user, err := db.New().UserGetByID(context.Background(), f.pool, id)
	require.NoError(f.t, err)
	g, err := sessions.Start(context.Background(), &user, "realtime test", "127.0.0.1")
	require.NoError(f.t, err)
	return g.AccessToken, g.AccessExpiresAt
}

// conversation creates a conversation assigned to assignee (nil: unassigned).
func (f *fixture) conversation(assignee *int64) int64 {
	f.t.Helper()
	ctx := context.Background()
	f.contacts++
	var contact, conv int64
	require.NoError(f.t, f.pool.QueryRow(ctx, "INSERT INTO contacts (channel_id, wa_id) VALUES ($1, $2) RETURNING id",
		f.channel, fmt.Sprintf("1650555%04d", f.contacts)).Scan(&contact))
	require.NoError(f.t, f.pool.QueryRow(ctx,
		"INSERT INTO conversations (channel_id, contact_id, assignee_id) VALUES ($1, $2, $3) RETURNING id",
		f.channel, contact, assignee).Scan(&conv))
	return conv
}

func (f *fixture) assign(conv int64, assignee *int64) {
	f.t.Helper()
	_, err := f.pool.Exec(context.Background(), "UPDATE conversations SET assignee_id = $2 WHERE id = $1", conv, assignee)
	require.NoError(f.t, err)
}

// event commits one event in its own transaction, rings the doorbell and returns the event's id.
func (f *fixture) event(conv int64, kind string) int64 {
	f.t.Helper()
	var id int64
	err := database.InTx(context.Background(), f.pool, func(tx pgx.Tx) error {
		var err error
		id, err = insertEvent(tx, conv, kind)
		return err
	})
	require.NoError(f.t, err)
	f.doorbell.Ring()
	return id
}

func insertEvent(dbtx db.DBTX, conv int64, kind string) (int64, error) {
	var c *int64
	if conv != 0 {
		c = &conv
	}
	payload, _ := json.Marshal(map[string]any{"conversation_id": conv, "status": "sent"})
	return db.New().EventInsert(context.Background(), dbtx, db.EventInsertParams{Kind: kind, ConversationID: c, Payload: payload})
}

// events commits n events, one transaction each, and returns their ids in commit order.
func (f *fixture) events(conv int64, n int) []int64 {
	f.t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = f.event(conv, eventlog.MessageStatus)
	}
	return ids
}

// serverMsg is any server → client message.
type serverMsg struct {
	Type           string          `json:"type"`
	ID             int64           `json:"id"`
	Kind           string          `json:"kind"`
	ConversationID *int64          `json:"conversation_id"`
	Data           json.RawMessage `json:"data"`
	Reason         string          `json:"reason"`
	UserID         int64           `json:"user_id"`
	Role           string          `json:"role"`
	ExpiresAt      time.Time       `json:"expires_at"`
}

// wsClient is a test's WebSocket: a goroutine reads every message into msgs, in order.
type wsClient struct {
	t    *testing.T
	conn *websocket.Conn
	msgs chan serverMsg
	err  error // why reading ended, once msgs is closed
}

// dial opens a socket with the given Origin header ("" for none).
func dial(t *testing.T, url, origin string) (*wsClient, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	opts := &websocket.DialOptions{}
	if origin != "" {
		opts.HTTPHeader = http.Header{"Origin": {origin}}
	}
	conn, resp, err := websocket.Dial(ctx, url, opts)
	if err != nil {
		return nil, resp, err
	}
	conn.SetReadLimit(1 << 20)
	c := &wsClient{t: t, conn: conn, msgs: make(chan serverMsg, 100_000)}
	go c.read()
	t.Cleanup(func() { _ = conn.CloseNow() })
	return c, resp, nil
}

func (c *wsClient) read() {
	defer close(c.msgs)
	for {
		_, b, err := c.conn.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		var m serverMsg
		if err := json.Unmarshal(b, &m); err != nil {
			c.err = fmt.Errorf("server sent non-JSON %q: %w", b, err)
			return
		}
		c.msgs <- m
	}
}

func (c *wsClient) send(v any) {
	c.t.Helper()
	b, ok := v.([]byte)
	if !ok {
		var err error
		b, err = json.Marshal(v)
		require.NoError(c.t, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	require.NoError(c.t, c.conn.Write(ctx, websocket.MessageText, b))
}

// next returns the next message, failing the test when the socket closes or nothing comes.
func (c *wsClient) next() serverMsg {
	c.t.Helper()
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.t.Fatalf("socket closed while a message was expected: %v", c.err)
		}
		return m
	case <-time.After(waitFor):
		c.t.Fatalf("no message within %s", waitFor)
	}
	return serverMsg{}
}

// nextOf returns the next message of type typ, skipping cursor messages (which a client may get
// whenever events it cannot see go by).
func (c *wsClient) nextOf(typ string) serverMsg {
	c.t.Helper()
	for {
		m := c.next()
		if m.Type == "cursor" && typ != "cursor" {
			continue
		}
		require.Equal(c.t, typ, m.Type, "unexpected message %+v", m)
		return m
	}
}

// eventIDs reads n events and returns their ids.
func (c *wsClient) eventIDs(n int) []int64 {
	c.t.Helper()
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = c.nextOf("event").ID
	}
	return ids
}

// expectClose reads until the socket closes and requires the close code.
func (c *wsClient) expectClose(code websocket.StatusCode) []serverMsg {
	c.t.Helper()
	var got []serverMsg
	timeout := time.After(waitFor)
	for {
		select {
		case m, ok := <-c.msgs:
			if !ok {
				require.Equal(c.t, code, websocket.CloseStatus(c.err), "closed with %v", c.err)
				return got
			}
			got = append(got, m)
		case <-timeout:
			c.t.Fatalf("socket not closed within %s", waitFor)
		}
	}
}

// connect opens an authenticated socket and resumes after `after` (nil: from now). It returns
// the socket, the events replayed before ready, and the ready message.
func connect(t *testing.T, url, token string, after *int64) (*wsClient, []serverMsg, serverMsg) {
	t.Helper()
	c, _, err := dial(t, url, testOrigin)
	require.NoError(t, err)
	// A client may send both messages at once; the server reads them in order.
	c.send(map[string]any{"type": "auth", "token": token})
	c.send(map[string]any{"type": "resume", "after": after})
	require.Equal(t, "authenticated", c.next().Type)
	var replayed []serverMsg
	for {
		m := c.next()
		switch m.Type {
		case "ready":
			return c, replayed, m
		case "event", "reset":
			replayed = append(replayed, m)
		case "cursor":
		default:
			t.Fatalf("unexpected message before ready: %+v", m)
		}
	}
}

func ids(msgs []serverMsg) []int64 {
	out := make([]int64, 0, len(msgs))
	for _, m := range msgs {
		if m.Type == "event" {
			out = append(out, m.ID)
		}
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// metricValue reads a counter or gauge.
func metricValue(c prometheus.Collector) float64 {
	ch := make(chan prometheus.Metric, 1)
	c.Collect(ch)
	var m dto.Metric
	if err := (<-ch).Write(&m); err != nil {
		panic(err)
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
