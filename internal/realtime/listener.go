package realtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// listener reads the event log on one dedicated connection (never one of the pool's: LISTEN needs
// a session of its own, which a transaction-pooling proxy does not give) and hands new events to
// the hub. It LISTENs first and reads second, so a doorbell rung between the two is not lost; it
// reads again on every doorbell and on a safety poll that covers a doorbell lost in a crash; and
// when the connection drops it reconnects with backoff and catches up from its position.
type listener struct {
	connConfig   *pgx.ConnConfig
	hub          *Hub
	logger       *slog.Logger
	metrics      *Metrics
	pollInterval time.Duration
	batchSize    int
	q            *db.Queries
	// onAccessChange, when set, is called before dispatching a batch with a session or
	// permission event.
	onAccessChange func()

	pos Position // owned by the run goroutine

	// poked is set by wake; interrupt, while the listener waits for a doorbell, ends the wait.
	poked     atomic.Bool
	interrupt atomic.Pointer[context.CancelFunc]

	mu       sync.Mutex
	state    string // "starting", "connected", "disconnected"
	since    time.Time
	lastErr  error
	lastRead time.Time
	// lag is how old the newest event of the last batch dispatched was when it was read.
	lag     time.Duration
	pid     uint32
	held    bool
	done    chan struct{}
	running bool
}

const (
	listenerStarting     = "starting"
	listenerConnected    = "connected"
	listenerDisconnected = "disconnected"
)

func newListener(cfg *pgx.ConnConfig, hub *Hub, logger *slog.Logger, m *Metrics, pollInterval time.Duration, batchSize int) *listener {
	return &listener{
		connConfig:   cfg,
		hub:          hub,
		logger:       logger,
		metrics:      m,
		pollInterval: pollInterval,
		batchSize:    batchSize,
		q:            db.New(),
		state:        listenerStarting,
		since:        time.Now(),
		done:         make(chan struct{}),
	}
}

func (l *listener) start(ctx context.Context) {
	l.mu.Lock()
	l.running = true
	l.mu.Unlock()
	go l.run(ctx)
}

// wait blocks until a started listener has stopped.
func (l *listener) wait() {
	l.mu.Lock()
	running := l.running
	l.mu.Unlock()
	if running {
		<-l.done
	}
}

func (l *listener) run(ctx context.Context) {
	defer close(l.done)
	const minBackoff, maxBackoff = 100 * time.Millisecond, 10 * time.Second
	backoff := minBackoff
	for {
		connected, err := l.session(ctx)
		if ctx.Err() != nil {
			l.setState(listenerDisconnected, ctx.Err(), 0)
			return
		}
		if connected {
			backoff = minBackoff
		}
		l.setState(listenerDisconnected, err, 0)
		l.metrics.ListenerReconnect.Inc()
		// Jitter keeps the instances of a cluster from reconnecting in step after a failover.
		delay := backoff/2 + rand.N(backoff/2+1)
		l.logger.Warn("realtime listener lost its database connection; reconnecting",
			"error", err, "retry_in", delay.Round(time.Millisecond), "position_xid", l.pos.Xid, "position_id", l.pos.ID)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		backoff = min(backoff*2, maxBackoff)
	}
}

// session runs one connection until it fails; connected says whether it got as far as LISTEN.
func (l *listener) session(ctx context.Context) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, l.connConfig)
	if err != nil {
		return false, fmt.Errorf("error connecting listener: %w", err)
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = conn.Close(closeCtx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+eventlog.Channel); err != nil {
		return false, fmt.Errorf("error listening on %s: %w", eventlog.Channel, err)
	}
	select {
	case <-l.hub.started:
	default:
		// The first connection starts at the end of the log; later ones catch up from l.pos.
		head, err := l.head(ctx, conn)
		if err != nil {
			return false, err
		}
		l.pos = head
		l.hub.start(head)
	}
	connected = true
	l.setState(listenerConnected, nil, conn.PgConn().PID())
	l.markRead()
	l.logger.Info("realtime listener connected", "position_xid", l.pos.Xid, "position_id", l.pos.ID)

	// target is the highest doorbell payload heard: the xid every rung event is below. While the
	// horizon has not reached it, some rung event may still be held back by an older running
	// transaction, so the listener reads again soon instead of waiting for the safety poll.
	// A local wake (this instance committed events) is a doorbell whose payload the read after it
	// supplies: the next transaction id of its snapshot is above every event committed before the
	// wake.
	var target uint64
	var repoll time.Duration
	woken := false
	var lastRead time.Time
	for {
		// Reads back to back (every commit waking the listener) gather for readInterval
		// instead, so that under load one read carries many events; an idle listener that is
		// woken reads at once.
		if wait := readInterval - time.Since(lastRead); wait > 0 {
			select {
			case <-ctx.Done():
				return connected, ctx.Err()
			case <-time.After(wait):
			}
		}
		lastRead = time.Now()
		b, err := l.catchUp(ctx, conn)
		if err != nil {
			return connected, err
		}
		l.markRead()
		horizon := b.horizon
		if woken {
			target = max(target, b.next)
		}

		wait := l.pollInterval
		if target > horizon {
			// Transactions here last milliseconds: a short, capped backoff bounds the delay a held
			// event suffers after its blocker commits to a few milliseconds, at the cost of a cheap
			// horizon query per step while something is held back.
			repoll = min(max(2*repoll, time.Millisecond), 8*time.Millisecond)
			wait = min(repoll, wait)
		} else {
			repoll = 0
		}
		l.setHeldBack(target > horizon)
		var heard uint64
		heard, woken, err = l.waitDoorbell(ctx, conn, wait)
		if err != nil {
			return connected, err
		}
		target = max(target, heard)
	}
}

// readInterval is the least time between the starts of two reads of the log by a listener.
const readInterval = 2 * time.Millisecond

// wake makes the listener read the log now, interrupting its wait for a doorbell. This instance
// calls it after committing events (Doorbell.WakeLocally). It never blocks.
func (l *listener) wake() {
	l.poked.Store(true)
	if cancel := l.interrupt.Load(); cancel != nil {
		(*cancel)()
	}
}

// head is where a listener that starts now begins: the last event below the horizon.
func (l *listener) head(ctx context.Context, conn *pgx.Conn) (Position, error) {
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	bounds, err := l.q.EventHorizon(qctx, conn)
	if err != nil {
		return Position{}, fmt.Errorf("error reading event horizon: %w", err)
	}
	row, err := l.q.EventHead(qctx, conn, bounds.Horizon)
	if errors.Is(err, pgx.ErrNoRows) {
		return Position{}, nil
	}
	if err != nil {
		return Position{}, fmt.Errorf("error reading event head: %w", err)
	}
	return Position{Xid: row.Xid.Uint64, ID: row.ID}, nil
}

func isAccessChange(e *Event) bool {
	return e.ConversationID == nil && eventlog.Access(e.Kind)
}

// catchUp reads and dispatches every final event after l.pos and returns the snapshot bounds of
// its last read.
func (l *listener) catchUp(ctx context.Context, conn *pgx.Conn) (bounds, error) {
	qctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		events, b, err := readAfter(qctx, l.q, conn, l.pos, l.batchSize)
		if err != nil {
			return bounds{}, err
		}
		if len(events) > 0 {
			now := time.Now()
			for _, ev := range events {
				l.metrics.DispatchDelay.Observe(now.Sub(ev.CreatedAt).Seconds())
			}
			lag := now.Sub(events[len(events)-1].CreatedAt)
			l.metrics.ListenerLag.Set(lag.Seconds())
			l.mu.Lock()
			l.lag = lag
			l.mu.Unlock()
			l.metrics.EventsRead.Add(float64(len(events)))
			if l.onAccessChange != nil && slices.ContainsFunc(events, isAccessChange) {
				l.onAccessChange()
			}
			l.hub.dispatch(events)
			l.pos = events[len(events)-1].Position
		}
		if len(events) < l.batchSize {
			return b, nil
		}
	}
}

// bounds are the transaction ids that bound a read's snapshot: horizon, below which every
// transaction has finished, and next, the first not yet assigned.
type bounds struct {
	horizon, next uint64
}

// readAfter reads up to limit final events after pos, and the horizon they were read below. The
// horizon is taken by its own statement before the read: every transaction below it had finished
// before the read's snapshot was taken, so all of their rows are visible to the read.
func readAfter(ctx context.Context, q *db.Queries, dbtx db.DBTX, pos Position, limit int) ([]*Event, bounds, error) {
	h, err := q.EventHorizon(ctx, dbtx)
	if err != nil {
		return nil, bounds{}, fmt.Errorf("error reading event horizon: %w", err)
	}
	b := bounds{horizon: h.Horizon.Uint64, next: h.NextXid.Uint64}
	if b.horizon <= pos.Xid {
		// Rows after pos have xid >= pos.Xid: none is final yet.
		return nil, b, nil
	}
	rows, err := q.EventListAfter(ctx, dbtx, db.EventListAfterParams{
		AfterXid: xid8(pos.Xid), AfterID: pos.ID, Horizon: h.Horizon, RowLimit: int32(limit),
	})
	if err != nil {
		return nil, bounds{}, fmt.Errorf("error reading events: %w", err)
	}
	events := make([]*Event, len(rows))
	for i, r := range rows {
		events[i] = &Event{
			Position: Position{Xid: r.Xid.Uint64, ID: r.ID}, Kind: r.Kind, ConversationID: r.ConversationID,
			AssigneeID: r.AssigneeID, GroupID: r.GroupID, Payload: r.Payload, CreatedAt: r.CreatedAt,
			Former: formerHolder(r.Kind, r.Payload, r.GroupID),
		}
	}
	return events, b, nil
}

// waitDoorbell waits up to d for a doorbell and returns the highest payload among the doorbells
// received (0 for none or an unreadable one), and whether the wait ended by a local wake. A timeout
// is the safety poll, not an error.
func (l *listener) waitDoorbell(ctx context.Context, conn *pgx.Conn, d time.Duration) (heard uint64, woken bool, err error) {
	if l.poked.Swap(false) {
		return 0, true, nil
	}
	wctx, cancel := context.WithTimeout(ctx, d)
	l.interrupt.Store(&cancel)
	if l.poked.Swap(false) {
		// woken between the check above and the Store: wake found nothing to interrupt.
		l.interrupt.Store(nil)
		cancel()
		return 0, true, nil
	}
	n, err := conn.WaitForNotification(wctx)
	l.interrupt.Store(nil)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
		// A timeout is the safety poll (or a repoll), a cancellation a local wake; pgx keeps the
		// connection usable after either, as the wait ends by a read deadline.
		if (errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)) && !conn.IsClosed() {
			return 0, l.poked.Swap(false), nil
		}
		return 0, false, fmt.Errorf("error waiting for doorbell: %w", err)
	}
	heard = doorbellXid(n.Payload)
	// Doorbells that arrived meanwhile are already buffered: take them all now, without waiting,
	// so a burst costs one read.
	done, stop := context.WithCancel(ctx)
	stop()
	for {
		n, err := conn.WaitForNotification(done)
		if err != nil || n == nil {
			break
		}
		heard = max(heard, doorbellXid(n.Payload))
	}
	return heard, false, nil
}

func doorbellXid(payload string) uint64 {
	x, err := strconv.ParseUint(payload, 10, 64)
	if err != nil {
		return 0
	}
	return x
}

func xid8(x uint64) pgtype.Uint64 { return pgtype.Uint64{Uint64: x, Valid: true} }

func (l *listener) setState(state string, err error, pid uint32) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.state != state {
		l.since = time.Now()
	}
	l.state, l.lastErr, l.pid = state, err, pid
	if state == listenerConnected {
		l.metrics.ListenerConnected.Set(1)
	} else {
		l.metrics.ListenerConnected.Set(0)
	}
}

// setHeldBack records whether a rung event is still held back by an older transaction.
func (l *listener) setHeldBack(held bool) {
	l.mu.Lock()
	l.held = held
	l.mu.Unlock()
}

func (l *listener) heldBack() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.held
}

func (l *listener) markRead() {
	l.mu.Lock()
	l.lastRead = time.Now()
	l.mu.Unlock()
}

// ready reports whether the listener is connected and reading; /readyz shows its error.
func (l *listener) ready() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.state == listenerStarting:
		return errors.New("realtime listener not connected yet")
	case l.state == listenerDisconnected:
		return fmt.Errorf("realtime listener disconnected since %s: %v", l.since.UTC().Format(time.RFC3339), l.lastErr)
	case time.Since(l.lastRead) > 3*l.pollInterval+15*time.Second:
		return fmt.Errorf("realtime listener has not read since %s", l.lastRead.UTC().Format(time.RFC3339))
	}
	return nil
}

// ListenerStatus is the listener as an operator sees it (the detailed health).
type ListenerStatus struct {
	// State is starting, connected or disconnected, since Since.
	State string
	Since time.Time
	// LastRead is the end of its last read of the event log; Lag how old the newest event of its
	// last batch was when read (an event waits at most that long for the sockets).
	LastRead time.Time
	Lag      time.Duration
	// Err is why it is not ready, nil when it is.
	Err error
}

func (l *listener) status() ListenerStatus {
	err := l.ready()
	l.mu.Lock()
	defer l.mu.Unlock()
	return ListenerStatus{State: l.state, Since: l.since, LastRead: l.lastRead, Lag: l.lag, Err: err}
}

// backendPID is the listener connection's server process id, 0 when disconnected.
func (l *listener) backendPID() uint32 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pid
}
