package realtime

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// Position is a place in the event log. The log's order is the order of the transaction ids that
// wrote the events, then of their ids: readers see only events whose writer has finished, and a
// transaction that finishes later can only add events after every position already read
// (docs/realtime.md explains why, and what order that is).
type Position struct {
	Xid uint64
	ID  int64
}

// After reports whether p comes after q in the log.
func (p Position) After(q Position) bool {
	return p.Xid > q.Xid || (p.Xid == q.Xid && p.ID > q.ID)
}

// Event is one event of the log with what delivery needs: the conversation's assignee at the time
// it was read, so permissions are decided at delivery, and the message clients receive, encoded
// once for every socket.
type Event struct {
	Position
	Kind           string
	ConversationID *int64
	AssigneeID     *int64
	GroupID        *int64
	Payload        json.RawMessage
	CreatedAt      time.Time
	// Former is who the conversation belonged to before the change the event describes, when it
	// describes an assignment (formerHolder): those who could see the conversation then receive
	// this one event, so their panel drops it, though they may not see the conversation now.
	Former *auth.ConversationRef
	wire   []byte
	frame  []byte // wire as a WebSocket frame, shared by every socket
}

// formerHolder reads, from a conversation.updated event of an assignment change (assign, release,
// take over: its details carry previous_assignee_id, and previous_group_id when the group changed
// too), the conversation's assignee and group before the change. It is nil for any other event.
func formerHolder(kind string, payload json.RawMessage, groupID *int64) *auth.ConversationRef {
	if kind != eventlog.ConversationUpdated {
		return nil
	}
	var ev struct {
		Details struct {
			PreviousAssignee json.RawMessage `json:"previous_assignee_id"`
			PreviousGroup    json.RawMessage `json:"previous_group_id"`
		} `json:"details"`
	}
	if json.Unmarshal(payload, &ev) != nil || ev.Details.PreviousAssignee == nil {
		return nil
	}
	ref := &auth.ConversationRef{GroupID: groupID}
	if json.Unmarshal(ev.Details.PreviousAssignee, &ref.AssigneeID) != nil {
		return nil
	}
	if ev.Details.PreviousGroup != nil && json.Unmarshal(ev.Details.PreviousGroup, &ref.GroupID) != nil {
		return nil
	}
	return ref
}

// eventMessage is the server → client event message.
type eventMessage struct {
	Type           string          `json:"type"`
	ID             int64           `json:"id"`
	Kind           string          `json:"kind"`
	ConversationID *int64          `json:"conversation_id"`
	Data           json.RawMessage `json:"data"`
	CreatedAt      time.Time       `json:"created_at"`
}

func (e *Event) encode() []byte {
	if e.wire == nil {
		data := e.Payload
		if len(data) == 0 {
			data = json.RawMessage("{}")
		}
		b, err := json.Marshal(eventMessage{
			Type: "event", ID: e.ID, Kind: e.Kind, ConversationID: e.ConversationID, Data: data, CreatedAt: e.CreatedAt.UTC(),
		})
		if err != nil {
			// The payload came out of a jsonb column, so it is valid JSON; keep the event
			// (clients refetch by REST) rather than silently skip a position.
			b, _ = json.Marshal(eventMessage{
				Type: "event", ID: e.ID, Kind: e.Kind, ConversationID: e.ConversationID, Data: json.RawMessage("{}"), CreatedAt: e.CreatedAt.UTC(),
			})
		}
		e.wire = b
	}
	return e.wire
}

// encodeFrame returns the event's message as a WebSocket text frame, encoded once.
func (e *Event) encodeFrame() []byte {
	if e.frame == nil {
		e.frame = textFrame(e.encode())
	}
	return e.frame
}

// visibleTo reports whether p may receive e. Events of a conversation follow the one permission
// rule of auth.CanReadConversation with the conversation's current assignee and group (and, for an
// assignment change, with its former ones: see Event.Former); events of
// no conversation go to every authenticated user, except the session events the hub acts on
// itself (sessionControl), which go to nobody.
func (e *Event) visibleTo(p *auth.Principal) bool {
	if p == nil {
		return false
	}
	if e.ConversationID == nil {
		return !eventlog.Access(e.Kind)
	}
	if auth.CanReadConversation(p, auth.ConversationRef{AssigneeID: e.AssigneeID, GroupID: e.GroupID}) {
		return true
	}
	return e.Former != nil && auth.CanReadConversation(p, *e.Former)
}

// revokes reports whether a user.sessions_revoked event names the session.
func revokes(e *Event, sessionID string) bool {
	var ev auth.SessionsRevokedEvent
	return json.Unmarshal(e.Payload, &ev) == nil && slices.Contains(ev.SessionIDs, sessionID)
}

// sessionControl reports whether e ends p's socket: its sessions were revoked (logout, reuse of a
// refresh token, an admin's revoke, the user disabled) or its permissions changed, which a socket
// cannot pick up in place because its principal was loaded when it authenticated. The event is a
// row of the log, so it reaches the sockets of every instance.
func (e *Event) sessionControl(p *auth.Principal) (websocket.StatusCode, string, bool) {
	if p == nil || e.ConversationID != nil || !eventlog.Access(e.Kind) {
		return 0, "", false
	}
	var ev auth.SessionsRevokedEvent
	if err := json.Unmarshal(e.Payload, &ev); err != nil || ev.UserID != p.UserID {
		return 0, "", false
	}
	if e.Kind == eventlog.PermissionsChanged {
		return ClosePermissionsChanged, "permissions changed; reconnect", true
	}
	if ev.All || p.SessionID == "" || slices.Contains(ev.SessionIDs, p.SessionID) {
		return CloseSessionRevoked, "session revoked (" + ev.Reason + "); log in again", true
	}
	return 0, "", false
}

// Hub hands the events the listener reads to the clients connected to this instance. Dispatch
// never blocks on a client: each has a bounded queue that its socket's writer drains, and a client
// whose queue overflows is marked for disconnection (it resumes from its cursor after
// reconnecting) instead of stalling the others or growing without bound.
type Hub struct {
	metrics        *Metrics
	queueSize      int
	cursorInterval time.Duration

	started chan struct{}

	mu      sync.Mutex
	clients map[*client]struct{}
	pos     Position
	init    bool
}

func newHub(m *Metrics, queueSize int, cursorInterval time.Duration) *Hub {
	return &Hub{
		metrics:        m,
		queueSize:      queueSize,
		cursorInterval: cursorInterval,
		started:        make(chan struct{}),
		clients:        make(map[*client]struct{}),
	}
}

// start sets the position the hub starts from; the listener calls it once, when it first knows
// where the log ends.
func (h *Hub) start(pos Position) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.init {
		return
	}
	h.pos, h.init = pos, true
	close(h.started)
}

// Position returns the position of the last event dispatched.
func (h *Hub) Position() Position {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pos
}

// Clients returns the number of subscribed clients.
func (h *Hub) Clients() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.clients)
}

// subscribe adds c and returns the hub's position: c receives every event dispatched after it
// that comes after from (when from is later than the hub, as for a client coming from an instance
// whose listener is ahead). Events up to the returned position are the caller's to replay.
func (h *Hub) subscribe(ctx context.Context, c *client, from *Position) (Position, error) {
	select {
	case <-h.started:
	case <-ctx.Done():
		return Position{}, ctx.Err()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	c.mu.Lock()
	c.skip = h.pos
	if from != nil && from.After(h.pos) {
		c.skip = *from
	}
	c.lastPosAt = time.Now()
	c.mu.Unlock()
	h.clients[c] = struct{}{}
	return h.pos, nil
}

func (h *Hub) unsubscribe(c *client) {
	h.mu.Lock()
	delete(h.clients, c)
	h.mu.Unlock()
}

// dispatch queues events (in log order, after the hub's position) to every client allowed to see
// them. It runs on the listener's goroutine only.
func (h *Hub) dispatch(events []*Event) {
	if len(events) == 0 {
		return
	}
	for _, ev := range events {
		ev.encodeFrame()
	}
	last := events[len(events)-1].Position
	b := batch{events: events, last: last, now: time.Now(), cursorInterval: h.cursorInterval, metrics: h.metrics}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		c.deliver(&b)
	}
	h.pos = last
}

// batch is one dispatch: what every client's deliver needs, and the cursor message encoded once
// for the clients that get one.
type batch struct {
	events         []*Event
	last           Position
	now            time.Time
	cursorInterval time.Duration
	metrics        *Metrics
	cursor         []byte
}

func (b *batch) cursorMessage() []byte {
	if b.cursor == nil {
		b.cursor = textFrame(mustJSON(positionMessage{Type: "cursor", ID: b.last.ID}))
	}
	return b.cursor
}

// outMsg is one message in a client's queue, as a WebSocket frame.
type outMsg struct {
	frame []byte
	event bool
}

// client is the hub's side of one subscribed socket.
type client struct {
	principal atomic.Pointer[auth.Principal]
	// wake has room for one signal: the writer drains everything queued when it wakes.
	wake chan struct{}
	max  int

	mu         sync.Mutex
	queue      []outMsg
	spare      []outMsg // an empty queue kept for reuse (release)
	skip       Position // events at or before it are not queued (replayed or seen elsewhere)
	lastPosAt  time.Time
	overflowed bool
	dropped    int
	// closeCode, when set, closes the socket (its session was revoked, or its permissions changed).
	closeCode   websocket.StatusCode
	closeReason string
}

func newClient(queueSize int) *client {
	return &client{wake: make(chan struct{}, 1), max: queueSize}
}

func (c *client) deliver(b *batch) {
	p := c.principal.Load()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.overflowed || c.closeCode != 0 || !b.last.After(c.skip) {
		return
	}
	queued := false
	for _, ev := range b.events {
		if !ev.After(c.skip) {
			continue
		}
		if code, reason, ok := ev.sessionControl(p); ok {
			c.closeCode, c.closeReason = code, reason
			c.queue = nil
			c.signal()
			return
		}
		if !ev.visibleTo(p) {
			continue
		}
		if !c.push(outMsg{frame: ev.frame, event: true}, b.metrics) {
			return
		}
		queued = true
	}
	// A client that sees few of the events still moves its resume point forward now and then,
	// so a reconnect after a quiet hour does not fall beyond the replay bound.
	if !queued && b.now.Sub(c.lastPosAt) >= b.cursorInterval {
		if !c.push(outMsg{frame: b.cursorMessage()}, b.metrics) {
			return
		}
		queued = true
	}
	if queued {
		c.lastPosAt = b.now
		c.signal()
	}
}

// push appends m, or on overflow discards the queue, marks the client for disconnection and
// returns false. c.mu is held.
func (c *client) push(m outMsg, metrics *Metrics) bool {
	if len(c.queue) < c.max {
		c.queue = append(c.queue, m)
		return true
	}
	n := 0
	for _, q := range c.queue {
		if q.event {
			n++
		}
	}
	if m.event {
		n++
	}
	c.dropped += n
	c.queue, c.overflowed = nil, true
	metrics.EventsDropped.Add(float64(n))
	metrics.SlowConsumers.Inc()
	c.signal()
	return false
}

func (c *client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// closing returns the close code the hub set (0 for none).
func (c *client) closing() (websocket.StatusCode, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode, c.closeReason
}

// take empties the queue for the writer and says whether the client overflowed. The writer
// hands the slice back with release once written.
func (c *client) take() ([]outMsg, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue, c.spare = c.spare, nil
	return q, c.overflowed
}

// maxSpareQueue is the largest written queue a client keeps for its next messages: a socket
// that falls behind once does not hold a large slice for the rest of its life.
const maxSpareQueue = 16

// release gives back a queue that take returned, once written, so that the next messages reuse
// it instead of allocating a queue per wake-up.
func (c *client) release(q []outMsg) {
	if cap(q) > maxSpareQueue {
		return
	}
	clear(q)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.spare == nil && c.queue == nil {
		c.spare = q[:0]
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the package's own message structs are encoded here
	}
	return b
}
