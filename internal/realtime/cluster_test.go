package realtime_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/simulator"
)

// TestAgentOnOneInstanceFollowsTheOther runs two whole instances on one database. An agent
// connected to A follows a message sent through B, with its status ticks, and a customer message
// whose webhook B received; an admin connected to B sees the same events in the same order, and
// both sequences are the log's own order.
func TestAgentOnOneInstanceFollowsTheOther(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, nil)
	b := apptest.Start(t, &apptest.Options{DatabaseURL: a.Config.DatabaseURL})
	ctx := context.Background()

	_, agentTok := a.CreateUser("agent@example.com", auth.RoleAgent)
	// From the start of the log (after 0), so each client's sequence is a prefix of the log.
	onA := openSocket(t, a, agentTok, ptr(int64(0)))
	onB := openSocket(t, b, b.AdminToken(), ptr(int64(0)))

	// Through B: an agent's message to a new customer, sent by the simulator, which then posts
	// the sent, delivered and read statuses to B's webhook.
	var started struct {
		Message struct {
			ID int64 `json:"id"`
		} `json:"message"`
	}
	// The customer wrote earlier; each instance has a simulated Meta of its own, and either may
	// send, so both know.
	a.CustomerWrote("16505551234", time.Now())
	b.CustomerWrote("16505551234", time.Now())
	b.Do("POST", "/api/conversations", b.AdminToken(), map[string]any{
		"wa_id": "16505551234", "client_id": uuid.NewString(), "type": "text", "text": map[string]any{"body": "Your order shipped"},
	}, http.StatusAccepted, &started)
	sent := started.Message.ID
	// A customer writes to B.
	_, err := b.Simulator().SendInbound(ctx, &simulator.InboundInput{From: "16505559876", Text: "Where is my parcel?"})
	require.NoError(t, err)

	// On A: the message, then its statuses, forward to read; and the customer's message.
	var got []event
	var sawRead, sawInbound, sawCreated bool
	statuses := []string{}
	for !sawRead || !sawInbound {
		ev := onA.nextEvent()
		got = append(got, ev)
		var d struct {
			MessageID int64  `json:"message_id"`
			Direction string `json:"direction"`
			Status    string `json:"status"`
			Preview   string `json:"preview"`
		}
		require.NoError(t, json.Unmarshal(ev.Data, &d))
		switch {
		case ev.Kind == eventlog.MessageCreated && d.MessageID == sent:
			require.Equal(t, "pending", d.Status)
			sawCreated = true
		case ev.Kind == eventlog.MessageStatus && d.MessageID == sent:
			require.True(t, sawCreated, "a status of message %d came before its creation", sent)
			statuses = append(statuses, d.Status)
			sawRead = sawRead || d.Status == "read"
		case ev.Kind == eventlog.MessageCreated && d.Direction == "in":
			require.Equal(t, "Where is my parcel?", d.Preview)
			sawInbound = true
		}
	}
	require.Contains(t, statuses, "sent")
	require.Equal(t, "read", statuses[len(statuses)-1], "statuses %v", statuses)

	// B's admin got the same events in the same order, and both are the log's order.
	fromB := make([]event, len(got))
	for i := range fromB {
		fromB[i] = onB.nextEvent()
	}
	require.Equal(t, ids(got), ids(fromB))
	log := logOrder(t, a)
	require.GreaterOrEqual(t, len(log), len(got))
	require.Equal(t, log[:len(got)], ids(got))
}

type event struct {
	Type           string          `json:"type"`
	ID             int64           `json:"id"`
	Kind           string          `json:"kind"`
	ConversationID *int64          `json:"conversation_id"`
	Data           json.RawMessage `json:"data"`
}

type socket struct {
	t    *testing.T
	msgs chan event
	mu   sync.Mutex
	err  error
}

// openSocket connects to an instance as its agent panel would (Origin: its base URL), sends auth
// and resume, and waits for ready.
func openSocket(t *testing.T, in *apptest.Instance, token string, after *int64) *socket {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.URL, "http") + "/api/ws"
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {in.URL}}})
	require.NoError(t, err)
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { _ = conn.CloseNow() })
	for _, m := range []any{map[string]any{"type": "auth", "token": token}, map[string]any{"type": "resume", "after": after}} {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		require.NoError(t, conn.Write(ctx, websocket.MessageText, b))
	}
	s := &socket{t: t, msgs: make(chan event, 10_000)}
	go func() {
		defer close(s.msgs)
		for {
			_, b, err := conn.Read(context.Background())
			if err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			var ev event
			if err := json.Unmarshal(b, &ev); err != nil {
				s.mu.Lock()
				s.err = err
				s.mu.Unlock()
				return
			}
			s.msgs <- ev
		}
	}()
	require.Equal(t, "authenticated", s.next().Type)
	return s
}

func (s *socket) next() event {
	s.t.Helper()
	select {
	case ev, ok := <-s.msgs:
		if !ok {
			s.mu.Lock()
			defer s.mu.Unlock()
			s.t.Fatalf("socket closed: %v", s.err)
		}
		return ev
	case <-time.After(30 * time.Second):
		s.t.Fatal("no message within 30s")
	}
	return event{}
}

// nextEvent skips the ready and cursor messages.
func (s *socket) nextEvent() event {
	s.t.Helper()
	for {
		ev := s.next()
		switch ev.Type {
		case "event":
			return ev
		case "ready", "cursor":
		default:
			s.t.Fatalf("unexpected message %+v", ev)
		}
	}
}

// logOrder is the ids of the final events in the log's order.
func logOrder(t *testing.T, in *apptest.Instance) []int64 {
	t.Helper()
	rows, err := in.Pool().Query(context.Background(),
		"SELECT id FROM events WHERE xid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY xid, id")
	require.NoError(t, err)
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		out = append(out, id)
	}
	require.NoError(t, rows.Err())
	return out
}

func ids(evs []event) []int64 {
	out := make([]int64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func ptr[T any](v T) *T { return &v }
