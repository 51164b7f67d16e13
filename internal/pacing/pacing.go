// Package pacing keeps the sends of one WhatsApp business number under a rate shared by every
// instance, before Meta has to refuse them (130429), with PostgreSQL as the only shared state.
//
// The rate is cut into slots (1/rate seconds each). Each instance leases a few consecutive slots
// at a time from its number's row in channels (send_slot_at moves past them in one UPDATE), and
// hands them to its own senders in order of priority: a waiting agent's reply gets the next slot
// before the bot's. Leasing a batch costs one small write per batch instead of one per send, and
// the slots of all instances never overlap, so together they never exceed the rate. A leased slot
// that no sender takes in time is lost, which only lowers the rate used.
package pacing

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
)

// leaseSpan is how much time one lease covers: a batch of rate×leaseSpan slots. Shorter spans
// waste fewer slots under light load; longer ones lease less often under heavy load.
const leaseSpan = 50 * time.Millisecond

// Config configures a Pacer.
type Config struct {
	Pool *pgxpool.Pool
	// PerSecond is the sends per second of each number across all instances; 0 turns pacing off.
	PerSecond int
	Logger    *slog.Logger
}

// Pacer hands out send slots. It is safe for concurrent use.
type Pacer struct {
	pool     *pgxpool.Pool
	interval time.Duration
	batch    int
	logger   *slog.Logger
	q        *db.Queries

	mu    sync.Mutex
	lanes map[string]*lane
}

// New returns a Pacer; with cfg.PerSecond 0 it lets every send through at once.
func New(cfg *Config) (*Pacer, error) {
	if cfg.PerSecond < 0 {
		return nil, errors.New("pacing: PerSecond must not be negative")
	}
	if cfg.PerSecond > 0 && cfg.Pool == nil {
		return nil, errors.New("pacing: Pool is required")
	}
	p := &Pacer{pool: cfg.Pool, logger: cfg.Logger, q: db.New(), lanes: map[string]*lane{}}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if cfg.PerSecond > 0 {
		p.interval = time.Second / time.Duration(cfg.PerSecond)
		p.batch = max(1, int(leaseSpan/p.interval))
	}
	return p, nil
}

// Wait blocks until the caller may send one message from phoneNumberID, or ctx ends. Among
// waiting senders a lower priority number goes first, then the one that came first.
func (p *Pacer) Wait(ctx context.Context, phoneNumberID string, priority int) error {
	if p.interval == 0 {
		return nil
	}
	w := &waiter{priority: priority, granted: make(chan struct{})}
	l := p.lane(phoneNumberID)
	l.mu.Lock()
	l.seq++
	w.seq = l.seq
	heap.Push(&l.waiters, w)
	if !l.running {
		l.running = true
		go l.dispatch()
	}
	l.mu.Unlock()

	select {
	case <-w.granted:
		return nil
	case <-ctx.Done():
		l.mu.Lock()
		defer l.mu.Unlock()
		if w.index >= 0 {
			heap.Remove(&l.waiters, w.index)
			return fmt.Errorf("error waiting for a send slot: %w", ctx.Err())
		}
		return nil // granted just now: use it
	}
}

func (p *Pacer) lane(phoneNumberID string) *lane {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := p.lanes[phoneNumberID]
	if l == nil {
		l = &lane{p: p, phoneNumberID: phoneNumberID}
		p.lanes[phoneNumberID] = l
	}
	return l
}

// lane paces one number. Its dispatcher runs while senders wait: at each slot it grants the best
// waiter, leasing more slots when its lease runs out.
type lane struct {
	p             *Pacer
	phoneNumberID string

	mu      sync.Mutex
	waiters waiterHeap
	seq     uint64
	running bool

	// slots are the leased slot times not handed out yet, in order (dispatcher only).
	slots []time.Time
}

func (l *lane) dispatch() {
	for {
		l.mu.Lock()
		if l.waiters.Len() == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()

		slot, err := l.nextSlot()
		if err != nil {
			// The database is unreachable: senders wait until it answers or their deadline ends.
			l.p.logger.Warn("pacing: could not lease send slots", "phone_number_id", l.phoneNumberID, "error", err)
			time.Sleep(time.Second)
			continue
		}
		if d := time.Until(slot); d > 0 {
			time.Sleep(d)
		}
		l.mu.Lock()
		if l.waiters.Len() > 0 {
			w := heap.Pop(&l.waiters).(*waiter)
			close(w.granted)
		}
		l.mu.Unlock()
	}
}

// nextSlot returns the next leased slot still ahead (or only just past), leasing a batch when none
// is left.
func (l *lane) nextSlot() (time.Time, error) {
	now := time.Now()
	for len(l.slots) > 0 && now.Sub(l.slots[0]) > l.p.interval {
		l.slots = l.slots[1:] // nobody was waiting in time: the slot is lost
	}
	if len(l.slots) == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		offset, err := l.p.q.ChannelLeaseSendSlots(ctx, l.p.pool, db.ChannelLeaseSendSlotsParams{
			PhoneNumberID: l.phoneNumberID, Slots: int32(l.p.batch), SlotUs: l.p.interval.Microseconds(),
		})
		cancel()
		if err != nil {
			return time.Time{}, fmt.Errorf("error leasing send slots of %s: %w", l.phoneNumberID, err)
		}
		start := time.Now().Add(time.Duration(offset) * time.Microsecond)
		for i := range l.p.batch {
			l.slots = append(l.slots, start.Add(time.Duration(i)*l.p.interval))
		}
	}
	slot := l.slots[0]
	l.slots = l.slots[1:]
	return slot, nil
}

type waiter struct {
	priority int
	seq      uint64
	index    int
	granted  chan struct{}
}

// waiterHeap orders waiters by priority, then arrival.
type waiterHeap []*waiter

func (h waiterHeap) Len() int { return len(h) }
func (h waiterHeap) Less(i, j int) bool {
	if h[i].priority != h[j].priority {
		return h[i].priority < h[j].priority
	}
	return h[i].seq < h[j].seq
}
func (h waiterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *waiterHeap) Push(x any) {
	w := x.(*waiter)
	w.index = len(*h)
	*h = append(*h, w)
}
func (h *waiterHeap) Pop() any {
	old := *h
	w := old[len(old)-1]
	old[len(old)-1] = nil
	w.index = -1
	*h = old[:len(old)-1]
	return w
}
