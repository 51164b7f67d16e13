package eventlog

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Channel is the LISTEN/NOTIFY channel of the doorbell.
const Channel = "wainbox_events"

// doorbellInterval is the least time between two NOTIFYs of one instance.
const doorbellInterval = 5 * time.Millisecond

// Doorbell sends this instance's NOTIFYs, one statement at a time: rings that arrive while one is
// being sent collapse into the next. NOTIFY takes a cluster-wide lock at commit, held until the
// commit returns, so sending it inside every domain transaction would queue their commits behind
// one another (measured here: it halves commit throughput); outside them, coalesced, it costs one
// small statement per burst. Besides the events doorbell it carries other post-commit
// notifications (Notify), such as River's new-job signal.
type Doorbell struct {
	pool   *pgxpool.Pool
	logger *slog.Logger
	ring   chan struct{}
	stop   chan struct{}
	done   sync.WaitGroup
	once   sync.Once
	// local is called on every ring: this instance's own listener, woken at once instead of
	// after the NOTIFY's round trip through PostgreSQL.
	local func()

	mu     sync.Mutex
	events bool                // the events doorbell is due
	extra  map[notice]struct{} // other notifications due
}

// notice is one notification asked for with Notify.
type notice struct{ channel, payload string }

// NewDoorbell returns a doorbell that notifies through pool; call Start to run it.
func NewDoorbell(pool *pgxpool.Pool, logger *slog.Logger) *Doorbell {
	return &Doorbell{
		pool: pool, logger: logger, ring: make(chan struct{}, 1), stop: make(chan struct{}),
		extra: make(map[notice]struct{}),
	}
}

// WakeLocally makes every ring also call wake, which must not block: the instance's own listener
// then reads the new events without waiting for the NOTIFY, which still goes out for the other
// instances (and for this one, whose listener learns from its payload how far to read). Call it
// before the first Ring.
func (d *Doorbell) WakeLocally(wake func()) { d.local = wake }

// Ring asks for the events NOTIFY without waiting for it. Call it after committing events.
func (d *Doorbell) Ring() {
	if d.local != nil {
		d.local()
	}
	d.mu.Lock()
	d.events = true
	d.mu.Unlock()
	d.signal()
}

// Notify asks for a NOTIFY of payload on channel with the next ring, without waiting for it; the
// same notification asked for again before then is sent once.
func (d *Doorbell) Notify(channel, payload string) {
	d.mu.Lock()
	d.extra[notice{channel, payload}] = struct{}{}
	d.mu.Unlock()
	d.signal()
}

func (d *Doorbell) signal() {
	select {
	case d.ring <- struct{}{}:
	default: // a NOTIFY is already due; it will cover this commit too
	}
}

// due takes what is to be sent.
func (d *Doorbell) due() (events bool, channels, payloads []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	events, d.events = d.events, false
	for n := range d.extra {
		channels = append(channels, n.channel)
		payloads = append(payloads, n.payload)
	}
	clear(d.extra)
	return events, channels, payloads
}

// notifySQL sends the events doorbell when $2 and every other notification due, in one statement.
// The events payload is the next transaction id not yet assigned (the xmax of this statement's
// snapshot): every event committed before this ring has a smaller xid, so a listener whose horizon
// has reached it has read them all, and one whose horizon has not knows it must read again soon
// (docs/realtime.md).
const notifySQL = `
SELECT pg_notify($1, pg_snapshot_xmax(pg_current_snapshot())::text) WHERE $2::bool
UNION ALL
SELECT pg_notify(c, p) FROM unnest($3::text[], $4::text[]) AS n(c, p)`

// Start runs the sender until Stop.
func (d *Doorbell) Start() {
	d.done.Add(1)
	go func() {
		defer d.done.Done()
		for {
			select {
			case <-d.stop:
				return
			case <-d.ring:
			}
			events, channels, payloads := d.due()
			if !events && len(channels) == 0 {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			// A lost doorbell only delays delivery until the listeners' safety poll (and a lost
			// new-job signal until River's next poll).
			sent := time.Now()
			if _, err := d.pool.Exec(ctx, notifySQL, Channel, events, channels, payloads); err != nil {
				d.logger.Warn("doorbell notify failed", "error", err)
			}
			cancel()
			// A NOTIFY is a transaction of its own: under load, rings gather for
			// doorbellInterval into the next one instead of costing a commit each. Only other
			// instances wait for it (this one's listener was woken locally).
			select {
			case <-d.stop:
				return
			case <-time.After(doorbellInterval - time.Since(sent)):
			}
		}
	}()
}

// Stop ends the sender; rings after Stop are dropped.
func (d *Doorbell) Stop() {
	d.once.Do(func() { close(d.stop) })
	d.done.Wait()
}
