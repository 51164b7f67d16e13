package realtime

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// TestReverseCommitOrder commits two events in reverse order of their ids: the transaction with
// the lower id commits last. A reader that kept "id > cursor" would pass the higher id first and
// skip the lower one forever; the log's reader holds the higher one back until the older
// transaction has finished, then delivers both, once each, in the same order on every instance.
func TestReverseCommitOrder(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	a, b := f.start(nil), f.start(nil)
	ca, _, _ := connect(t, a.url, tok, nil)
	cb, _, _ := connect(t, b.url, tok, nil)
	start := a.svc.Hub().Position()

	first, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = first.Rollback(ctx) }()
	lowID, err := insertEvent(first, conv, eventlog.MessageCreated)
	require.NoError(t, err)
	second, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = second.Rollback(ctx) }()
	highID, err := insertEvent(second, conv, eventlog.MessageStatus)
	require.NoError(t, err)
	require.Less(t, lowID, highID)

	require.NoError(t, second.Commit(ctx))
	f.doorbell.Ring()

	// The higher id is committed and visible: a bare id cursor would take it now...
	var naive []int64
	rows, err := f.pool.Query(ctx, "SELECT id FROM events WHERE id > $1 ORDER BY id", start.ID)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		naive = append(naive, id)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []int64{highID}, naive)
	// ...but the log's reader does not: the older transaction is still running.
	held, _, err := readAfter(ctx, db.New(), f.pool, start, 100)
	require.NoError(t, err)
	require.Empty(t, held)

	require.NoError(t, first.Commit(ctx))
	f.doorbell.Ring()

	// Every read returns a prefix of one order, and eventually both.
	var got []*Event
	require.Eventually(t, func() bool {
		evs, _, err := readAfter(ctx, db.New(), f.pool, start, 100)
		require.NoError(t, err)
		require.LessOrEqual(t, len(evs), 2)
		got = evs
		return len(evs) == 2
	}, waitFor, 5*time.Millisecond)
	require.Equal(t, []int64{lowID, highID}, []int64{got[0].ID, got[1].ID})

	// Both instances deliver both, once, in that order.
	require.Equal(t, []int64{lowID, highID}, ca.eventIDs(2))
	require.Equal(t, []int64{lowID, highID}, cb.eventIDs(2))
	marker := f.event(conv, eventlog.MessageStatus)
	require.Equal(t, []int64{marker}, ca.eventIDs(1))
	require.Equal(t, []int64{marker}, cb.eventIDs(1))
}

// TestOrderIsTheSameOnEveryInstance makes transaction id order disagree with id order: the
// transaction that took its xid first writes its event last. Delivery follows the log's (xid, id)
// order, so ids are not increasing on the wire, and every instance and every replay agree.
func TestOrderIsTheSameOnEveryInstance(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleSupervisor)
	a, b := f.start(nil), f.start(nil)
	ca, _, ready := connect(t, a.url, tok, nil)
	cb, _, _ := connect(t, b.url, tok, nil)

	early, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = early.Rollback(ctx) }()
	_, err = early.Exec(ctx, "SELECT pg_current_xact_id()") // takes its xid now
	require.NoError(t, err)
	lateID := f.event(conv, eventlog.MessageCreated) // a later xid, committed first
	earlyID, err := insertEvent(early, conv, eventlog.MessageStatus)
	require.NoError(t, err)
	require.Less(t, lateID, earlyID)
	require.NoError(t, early.Commit(ctx))
	f.doorbell.Ring()

	want := []int64{earlyID, lateID}
	require.Equal(t, want, ca.eventIDs(2))
	require.Equal(t, want, cb.eventIDs(2))
	_, replay, _ := connect(t, b.url, tok, ptr(ready.ID))
	require.Equal(t, want, ids(replay))
}

// TestResumeReplaysExactlyTheMissedEvents disconnects a client, commits 100 events and resumes:
// it gets exactly those 100, in order, then live events without duplicates. One event more than
// the replay bound answers reset, as does an unknown cursor.
func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAgent)
	in := f.start(func(c *Config) { c.MaxReplay = 100 })

	c, _, _ := connect(t, in.url, tok, nil)
	last := f.event(conv, eventlog.MessageCreated)
	require.Equal(t, []int64{last}, c.eventIDs(1))
	require.NoError(t, c.conn.Close(websocket.StatusNormalClosure, "bye"))

	missed := f.events(conv, 100)
	require.Eventually(t, func() bool { return in.svc.Hub().Position().ID == missed[99] }, waitFor, 5*time.Millisecond)
	c, replayed, ready := connect(t, in.url, tok, &last)
	require.Equal(t, missed, ids(replayed))
	require.Equal(t, missed[99], ready.ID)
	require.Equal(t, 100.0, metricValue(in.svc.Metrics().EventsReplayed))
	marker := f.event(conv, eventlog.MessageStatus)
	require.Equal(t, []int64{marker}, c.eventIDs(1), "nothing twice: the next event is the new one")
	require.NoError(t, c.conn.Close(websocket.StatusNormalClosure, "bye"))

	// Resuming while the hub is still reading what was missed: part comes by replay, the rest
	// live, with nothing lost or doubled at the hand-off.
	missed = f.events(conv, 50)
	c, replayed, _ = connect(t, in.url, tok, &marker)
	got := ids(replayed)
	got = append(got, c.eventIDs(len(missed)-len(got))...)
	require.Equal(t, missed, got)
	marker = f.event(conv, eventlog.MessageStatus)
	require.Equal(t, []int64{marker}, c.eventIDs(1), "nothing twice: the next event is the new one")
	require.NoError(t, c.conn.Close(websocket.StatusNormalClosure, "bye"))

	// 101 missed events are beyond the bound.
	more := f.events(conv, 101)
	require.Eventually(t, func() bool { return in.svc.Hub().Position().ID == more[100] }, waitFor, 5*time.Millisecond)
	c, replayed, ready = connect(t, in.url, tok, &marker)
	require.Len(t, replayed, 1)
	require.Equal(t, "reset", replayed[0].Type)
	require.Equal(t, resetTooFarBehind, replayed[0].Reason)
	require.Equal(t, more[100], ready.ID, "after a reset, live delivery continues from the ready id")
	next := f.event(conv, eventlog.MessageStatus)
	require.Equal(t, []int64{next}, c.eventIDs(1))

	// The ready id resumes exactly: nothing is replayed.
	_, replayed, _ = connect(t, in.url, tok, &next)
	require.Empty(t, replayed)

	// An id the log does not have (pruned, or from another database) resets.
	_, replayed, _ = connect(t, in.url, tok, ptr(int64(987654321)))
	require.Len(t, replayed, 1)
	require.Equal(t, "reset", replayed[0].Type)
	require.Equal(t, resetUnknownCursor, replayed[0].Reason)
	require.Equal(t, 2.0, metricValue(in.svc.Metrics().Resets))
}

// TestListenerSurvivesTerminatedConnection kills the listener's connection with
// pg_terminate_backend while events stream, and goes on writing while it is down: the listener
// reconnects, catches up from its position and the client gets every event once, in order.
func TestListenerSurvivesTerminatedConnection(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(nil)
	c, _, _ := connect(t, in.url, tok, nil)
	pid := in.svc.listener.backendPID()
	require.NotZero(t, pid)
	require.NoError(t, in.svc.Ready())

	var (
		mu      sync.Mutex
		written []int64
	)
	write := func(n int) {
		for range n {
			id, err := insertEvent(f.pool, conv, eventlog.MessageStatus)
			if err != nil {
				t.Errorf("error writing event: %v", err)
				return
			}
			f.doorbell.Ring()
			mu.Lock()
			written = append(written, id)
			mu.Unlock()
		}
	}
	firstHalf := make(chan struct{})
	go func() {
		defer close(firstHalf)
		write(100)
	}()

	got := c.eventIDs(50)
	var killed bool
	require.NoError(t, f.pool.QueryRow(ctx, `
		SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND datname = current_database()`, ListenerApplicationName).Scan(&killed))
	require.True(t, killed)
	<-firstHalf
	write(100) // while the listener reconnects (it waits at least 50 ms first)
	got = append(got, c.eventIDs(150)...)

	mu.Lock()
	require.Equal(t, written, got)
	mu.Unlock()
	require.Eventually(t, func() bool {
		return metricValue(in.svc.Metrics().ListenerReconnect) >= 1 && in.svc.Ready() == nil
	}, waitFor, 5*time.Millisecond)
	require.NotEqual(t, pid, in.svc.listener.backendPID())
	marker := f.event(conv, eventlog.MessageStatus)
	require.Equal(t, []int64{marker}, c.eventIDs(1))
}

// TestHeldBackEventIsReadWithoutWaitingForThePoll rings for an event that an older, unrelated
// transaction holds back, then ends that transaction without a ring: the listener knows from the
// doorbell's payload that the event is still due and reads again soon, long before its poll.
func TestHeldBackEventIsReadWithoutWaitingForThePoll(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(func(c *Config) { c.PollInterval = time.Hour })
	c, _, _ := connect(t, in.url, tok, nil)

	older, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = older.Rollback(ctx) }()
	_, err = older.Exec(ctx, "SELECT pg_current_xact_id()")
	require.NoError(t, err)
	id := f.event(conv, eventlog.MessageCreated) // rings; held back by older
	held, _, err := readAfter(ctx, db.New(), f.pool, in.svc.Hub().Position(), 10)
	require.NoError(t, err)
	require.Empty(t, held)
	// The listener has heard the ring and read nothing yet.
	require.Eventually(t, in.svc.listener.heldBack, waitFor, time.Millisecond)
	require.NoError(t, older.Rollback(ctx)) // no ring

	require.Equal(t, []int64{id}, c.eventIDs(1))
}

// TestSafetyPollDeliversWithoutDoorbell commits an event and never rings: the poll finds it.
func TestSafetyPollDeliversWithoutDoorbell(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(nil)
	c, _, _ := connect(t, in.url, tok, nil)
	id, err := insertEvent(f.pool, conv, eventlog.MessageCreated)
	require.NoError(t, err)
	require.Equal(t, []int64{id}, c.eventIDs(1))
	require.Zero(t, metricValue(in.svc.Metrics().ListenerReconnect), "a poll that hears nothing is not a lost connection")
}

// TestLocalWakeDeliversWithoutNotify commits events and wakes the listener in-process, as the
// instance that wrote them does, with no NOTIFY and no poll due: they arrive, and waking never
// costs the listener its connection.
func TestLocalWakeDeliversWithoutNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(func(c *Config) { c.PollInterval = time.Hour })
	c, _, _ := connect(t, in.url, tok, nil)
	for range 20 {
		id, err := insertEvent(f.pool, conv, eventlog.MessageCreated)
		require.NoError(t, err)
		in.svc.Wake()
		require.Equal(t, []int64{id}, c.eventIDs(1))
	}
	in.svc.Wake() // with nothing to read
	require.NoError(t, in.svc.Ready())
	require.Zero(t, metricValue(in.svc.Metrics().ListenerReconnect), "a wake is not a lost connection")
}

// TestAgentOnlyReceivesConversationsItMaySee checks delivery and replay against the permission
// rule, with the assignee as it is when the event is delivered.
func TestAgentOnlyReceivesConversationsItMaySee(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	agent, agentTok := f.user(auth.RoleAgent)
	other, _ := f.user(auth.RoleAgent)
	_, supTok := f.user(auth.RoleSupervisor)
	mine := f.conversation(&agent)
	theirs := f.conversation(&other)
	open := f.conversation(nil)
	in := f.start(nil)
	ca, _, ready := connect(t, in.url, agentTok, nil)
	cs, _, _ := connect(t, in.url, supTok, nil)

	e1 := f.event(theirs, eventlog.MessageCreated)
	e2 := f.event(mine, eventlog.MessageCreated)
	e3 := f.event(theirs, eventlog.MessageStatus)
	e4 := f.event(open, eventlog.ConversationCreated)
	e5 := f.event(0, "system.notice") // no conversation: everyone
	marker := f.event(mine, eventlog.MessageStatus)
	require.Equal(t, []int64{e2, e4, e5, marker}, ca.eventIDs(4), "the marker comes after anything queued before it")
	require.Equal(t, []int64{e1, e2, e3, e4, e5, marker}, cs.eventIDs(6))

	// Assigned to the agent now: its next event reaches the agent.
	f.assign(theirs, &agent)
	e6 := f.event(theirs, eventlog.ConversationUpdated)
	require.Equal(t, []int64{e6}, ca.eventIDs(1))
	// Taken away again: replay applies the current assignee too.
	f.assign(theirs, &other)
	f.event(theirs, eventlog.MessageStatus) // not the agent's: neither delivered nor replayed
	marker2 := f.event(mine, eventlog.MessageStatus)
	require.Equal(t, []int64{marker2}, ca.eventIDs(1))
	_, replayed, _ := connect(t, in.url, agentTok, &ready.ID)
	require.Equal(t, []int64{e2, e4, e5, marker, marker2}, ids(replayed))
}

// TestAgentHearsThatItsConversationWasReassigned checks that an agent whose conversation is
// assigned to another receives that assignment (so its panel drops the conversation) and nothing
// of the conversation after it, live and on replay; and that agents who saw it unassigned hear
// that someone took it.
func TestAgentHearsThatItsConversationWasReassigned(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	agent, agentTok := f.user(auth.RoleAgent)
	other, otherTok := f.user(auth.RoleAgent)
	conv := f.conversation(&agent)
	queued := f.conversation(nil)
	in := f.start(nil)
	ca, _, ready := connect(t, in.url, agentTok, nil)
	co, _, _ := connect(t, in.url, otherTok, nil)

	assigned := func(conv int64, from, to *int64, action string) int64 {
		t.Helper()
		f.assign(conv, to)
		payload, err := json.Marshal(map[string]any{"conversation_id": conv, "assignee_id": to, "action": action,
			"details": map[string]any{"assignee_id": to, "previous_assignee_id": from}})
		require.NoError(t, err)
		id, err := db.New().EventInsert(context.Background(), f.pool,
			db.EventInsertParams{Kind: eventlog.ConversationUpdated, ConversationID: &conv, Payload: payload})
		require.NoError(t, err)
		f.doorbell.Ring()
		return id
	}
	moved := assigned(conv, &agent, &other, "assign")
	after := f.event(conv, eventlog.MessageCreated)
	marker := f.event(queued, eventlog.MessageStatus)
	require.Equal(t, []int64{moved, marker}, ca.eventIDs(2), "the former assignee hears the reassignment, then nothing of it")
	require.Equal(t, []int64{moved, after, marker}, co.eventIDs(3))

	// A queued conversation taken by the other agent: the agent, who saw it in the queue, hears it.
	taken := assigned(queued, nil, &other, "assign")
	require.Equal(t, []int64{taken}, ca.eventIDs(1))
	co.eventIDs(1)

	// Replay decides with the assignees as they are now: the marker's conversation is the other
	// agent's by then, but both assignments away from the agent still reach it.
	_, replayed, _ := connect(t, in.url, agentTok, &ready.ID)
	require.Equal(t, []int64{moved, taken}, ids(replayed))
}

// TestRefusals covers what is refused and with which code.
func TestRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := f.start(func(c *Config) { c.AuthTimeout = 300 * time.Millisecond })
	_, tok := f.user(auth.RoleAgent)
	past, err := auth.NewTokens(&auth.Config{Secret: []byte(testSecret), TTL: time.Minute,
		Now: func() time.Time { return time.Now().Add(-time.Hour) }})
	require.NoError(t, err)
	expired, _, err := past.IssueSession(1, auth.RoleAgent, uuid.NewString())
	require.NoError(t, err)
	otherSecret, err := auth.NewTokens(&auth.Config{Secret: []byte(strings.Repeat("z", 40))})
	require.NoError(t, err)
	forged, _, err := otherSecret.IssueSession(1, auth.RoleAdmin, uuid.NewString())
	require.NoError(t, err)

	tests := []struct {
		name string
		send []any // messages, or []byte sent raw
		code websocket.StatusCode
	}{
		{"bad token", []any{map[string]any{"type": "auth", "token": "not-a-token"}}, CloseInvalidToken},
		{"token of another secret", []any{map[string]any{"type": "auth", "token": forged}}, CloseInvalidToken},
		{"expired token", []any{map[string]any{"type": "auth", "token": expired}}, CloseTokenExpired},
		{"no auth message", nil, CloseAuthTimeout},
		{"no resume after auth", []any{map[string]any{"type": "auth", "token": tok}}, CloseAuthTimeout},
		{"resume before auth", []any{map[string]any{"type": "resume", "after": nil}}, CloseInvalidMessage},
		{"not JSON", []any{[]byte("hello")}, CloseInvalidMessage},
		{"unknown type", []any{map[string]any{"type": "auth", "token": tok}, map[string]any{"type": "subscribe"}}, CloseInvalidMessage},
		{"resume twice", []any{map[string]any{"type": "auth", "token": tok}, map[string]any{"type": "resume"}, map[string]any{"type": "resume"}}, CloseInvalidMessage},
		{"negative cursor", []any{map[string]any{"type": "auth", "token": tok}, map[string]any{"type": "resume", "after": -1}}, CloseInvalidMessage},
		{"oversized frame before auth", []any{[]byte(`{"type":"auth","token":"` + strings.Repeat("x", 5000) + `"}`)}, websocket.StatusMessageTooBig},
		{"oversized frame when live", []any{map[string]any{"type": "auth", "token": tok}, map[string]any{"type": "resume"}, []byte(strings.Repeat(" ", 4097))}, websocket.StatusMessageTooBig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _, err := dial(t, in.url, testOrigin)
			require.NoError(t, err)
			for _, m := range tt.send {
				c.send(m)
			}
			c.expectClose(tt.code)
		})
	}

	t.Run("wrong origin", func(t *testing.T) {
		t.Parallel()
		_, resp, err := dial(t, in.url, "https://evil.example.com")
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusForbidden, resp.StatusCode)
		var body struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		require.Equal(t, "forbidden_origin", body.Error.Code)
	})
	t.Run("allowed origin spelled differently, and no origin", func(t *testing.T) {
		t.Parallel()
		for _, origin := range []string{"HTTPS://Panel.Example.com:443", ""} {
			c, _, err := dial(t, in.url, origin)
			require.NoError(t, err)
			c.send(map[string]any{"type": "auth", "token": tok})
			require.Equal(t, "authenticated", c.next().Type)
		}
	})
	t.Run("ping", func(t *testing.T) {
		t.Parallel()
		c, _, _ := connect(t, in.url, tok, nil)
		c.send(map[string]any{"type": "ping"})
		require.Equal(t, "pong", c.nextOf("pong").Type)
	})
}

// TestTokenRenewal renews the token in-band: the socket outlives the first token, refuses a
// token of another user, and closes with 4002 when the renewed token expires in its turn. Token
// expiry has a resolution of one second, hence the margins.
func TestTokenRenewal(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	in := f.start(nil)
	id, _ := f.user(auth.RoleAgent)
	short, err := auth.NewTokens(&auth.Config{Secret: []byte(testSecret), TTL: 2 * time.Second})
	require.NoError(t, err)
	tok1, exp1 := f.login(id, short)

	c, _, _ := connect(t, in.url, tok1, nil)
	longer, err := auth.NewTokens(&auth.Config{Secret: []byte(testSecret), TTL: 6 * time.Second})
	require.NoError(t, err)
	tok2, exp2 := f.login(id, longer)
	c.send(map[string]any{"type": "auth", "token": tok2})
	renewed := c.nextOf("authenticated")
	require.Equal(t, id, renewed.UserID)
	require.WithinDuration(t, exp2, renewed.ExpiresAt, time.Second)

	// Past the first token's expiry the socket still delivers.
	require.Eventually(t, func() bool { return time.Now().After(exp1.Add(100 * time.Millisecond)) }, waitFor, 10*time.Millisecond)
	ev := f.event(conv, eventlog.MessageCreated)
	require.Equal(t, []int64{ev}, c.eventIDs(1))

	// Not renewed again: closed when the second token expires, not before.
	c.expectClose(CloseTokenExpired)
	require.False(t, time.Now().Before(exp2.Add(-time.Second)), "closed before the renewed token expired")

	t.Run("another user's token", func(t *testing.T) {
		_, otherTok := f.user(auth.RoleAgent)
		_, mineTok := f.user(auth.RoleAgent)
		c, _, _ := connect(t, in.url, mineTok, nil)
		c.send(map[string]any{"type": "auth", "token": otherTok})
		c.expectClose(CloseUserMismatch)
	})
	t.Run("invalid renewal", func(t *testing.T) {
		_, mineTok := f.user(auth.RoleAgent)
		c, _, _ := connect(t, in.url, mineTok, nil)
		c.send(map[string]any{"type": "auth", "token": "garbage"})
		c.expectClose(CloseInvalidToken)
	})
}

// TestSlowConsumerIsDisconnected stops reading while large events stream: the socket's bounded
// queue overflows, the hub drops it with 4005 instead of buffering without bound, and the
// client resumes from the last event it read and gets the rest.
func TestSlowConsumerIsDisconnected(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(func(c *Config) { c.QueueSize = 16; c.BatchSize = 8 })

	readMsg := dialStalling(t, in.url, tok)
	const n = 1000
	want := f.largeEvents(conv, n)

	require.Eventually(t, func() bool { return metricValue(in.svc.Metrics().SlowConsumers) == 1 }, waitFor, 5*time.Millisecond)
	require.Positive(t, metricValue(in.svc.Metrics().EventsDropped))

	var got []int64
	for {
		m, err := readMsg()
		if err != nil {
			require.Equal(t, CloseSlowConsumer, websocket.CloseStatus(err), "closed with %v after %d events", err, len(got))
			break
		}
		if m.Type == "event" {
			got = append(got, m.ID)
		}
	}
	require.Less(t, len(got), n)
	require.Equal(t, want[:len(got)], got)

	// Resumed once the hub has read everything, so all of it comes by replay (with live events
	// queueing behind a long replay, a queue this small would overflow again; the client would
	// just resume once more).
	require.Eventually(t, func() bool { return in.svc.Hub().Position().ID == want[n-1] }, waitFor, 5*time.Millisecond)
	after := got[len(got)-1]
	c, replayed, _ := connect(t, in.url, tok, &after)
	rest := ids(replayed)
	if len(rest) < n-len(got) {
		rest = append(rest, c.eventIDs(n-len(got)-len(rest))...)
	}
	require.Equal(t, want, append(got, rest...))
}

// TestStalledWriteIsCutOff stops reading while large events stream to a socket whose queue is
// big enough to hold them all: the server's write blocks on the full TCP buffers, and the write
// timeout drops the connection rather than holding its writer forever.
func TestStalledWriteIsCutOff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	conv := f.conversation(nil)
	_, tok := f.user(auth.RoleAdmin)
	in := f.start(func(c *Config) { c.QueueSize = 100_000; c.WriteTimeout = 300 * time.Millisecond })

	readMsg := dialStalling(t, in.url, tok)
	f.largeEvents(conv, 1000)

	require.Eventually(t, func() bool { return metricValue(in.svc.Metrics().Sockets) == 0 }, waitFor, 5*time.Millisecond,
		"the stalled socket is dropped")
	require.Equal(t, 1.0, metricValue(in.svc.Metrics().WriteTimeouts))
	require.Zero(t, metricValue(in.svc.Metrics().SlowConsumers), "by the write timeout, not by its queue")
	for {
		m, err := readMsg()
		if err != nil {
			require.Equal(t, websocket.StatusCode(-1), websocket.CloseStatus(err), "dropped without a close frame: %v", err)
			break
		}
		require.Contains(t, []string{"event", "cursor"}, m.Type)
	}
}

// dialStalling opens a raw, authenticated and resumed socket with a small receive buffer, which
// the test reads only when it calls the returned function: until then the server's writes fill
// the kernel's buffers and block.
func dialStalling(t *testing.T, url, tok string) func() (serverMsg, error) {
	t.Helper()
	ctx := context.Background()
	// The buffer is set before connecting (after, it would leave the window scaled for a large
	// one, and the connection stalls).
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 16<<10) })
		return errors.Join(err, serr)
	}}
	httpClient := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: httpClient, HTTPHeader: http.Header{"Origin": {testOrigin}}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.CloseNow() })
	conn.SetReadLimit(1 << 20)
	for _, m := range []string{`{"type":"auth","token":"` + tok + `"}`, `{"type":"resume"}`} {
		require.NoError(t, conn.Write(ctx, websocket.MessageText, []byte(m)))
	}
	readCtx, cancel := context.WithTimeout(ctx, waitFor)
	t.Cleanup(cancel)
	readMsg := func() (serverMsg, error) {
		_, b, err := conn.Read(readCtx)
		if err != nil {
			return serverMsg{}, err
		}
		var m serverMsg
		require.NoError(t, json.Unmarshal(b, &m))
		return m, nil
	}
	for _, want := range []string{"authenticated", "ready"} {
		m, err := readMsg()
		require.NoError(t, err)
		require.Equal(t, want, m.Type)
	}
	return readMsg
}

// largeEvents commits n events of 8 KB each to conv in one transaction, 8 MB in all: more than
// the kernel buffers between the two ends of a socket (4 MB at most). It returns their ids in
// log order.
func (f *fixture) largeEvents(conv int64, n int) []int64 {
	t := f.t
	t.Helper()
	var want []int64
	rows, err := f.pool.Query(context.Background(), `
		INSERT INTO events (kind, conversation_id, payload)
		SELECT 'message.status', $1, jsonb_build_object('blob', repeat('x', 8000), 'i', i)
		FROM generate_series(1, $2) AS i
		RETURNING id`, conv, n)
	require.NoError(t, err)
	for rows.Next() {
		var id int64
		require.NoError(t, rows.Scan(&id))
		want = append(want, id)
	}
	require.NoError(t, rows.Err())
	slices.Sort(want) // one transaction: log order is id order
	f.doorbell.Ring()
	return want
}

// TestShutdownClosesSocketsWithGoingAway: clients reconnect (elsewhere) and resume.
func TestShutdownClosesSocketsWithGoingAway(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	_, tok := f.user(auth.RoleAgent)
	in := f.start(nil)
	c, _, _ := connect(t, in.url, tok, nil)
	require.Equal(t, 1, in.svc.Hub().Clients())
	require.Equal(t, 1.0, metricValue(in.svc.Metrics().Sockets))
	in.svc.Stop()
	c.expectClose(websocket.StatusGoingAway)
	require.Equal(t, 0.0, metricValue(in.svc.Metrics().Sockets))
	require.Error(t, in.svc.Ready())
}

func TestNormalizeOrigin(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"https://panel.example.com", "https://panel.example.com", true},
		{"https://Panel.Example.COM:443/", "https://panel.example.com", true},
		{"http://localhost:8080", "http://localhost:8080", true},
		{"http://localhost:80", "http://localhost", true},
		{"http://[::1]:8080", "http://[::1]:8080", true},
		{"null", "", false},
		{"ftp://example.com", "", false},
		{"panel.example.com", "", false},
	}
	for _, tt := range tests {
		got, ok := normalizeOrigin(tt.in)
		require.Equal(t, tt.ok, ok, tt.in)
		require.Equal(t, tt.want, got, tt.in)
	}
}
