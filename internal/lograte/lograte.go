// Package lograte keeps a noisy logger readable: during a database outage River's background
// loops (producers polling every few milliseconds, the elector, the maintenance services) log an
// error per failed query, thousands of lines a second that bury everything else. A handler from
// New lets one warning or error per message through per period and counts the rest.
package lograte

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// maxMessages bounds the distinct messages remembered; past it, messages quiet for a whole period
// are forgotten.
const maxMessages = 1024

// New returns a handler that passes records below slog.LevelWarn to next untouched and at most
// one warning or error per distinct message per every. The first record of a message let through
// after some were dropped carries suppressed=<n>, the number dropped since the last one passed.
// Handlers derived with WithAttrs and WithGroup share the limit.
func New(next slog.Handler, every time.Duration) slog.Handler {
	return &handler{next: next, limit: &limiter{every: every, now: time.Now, seen: map[string]*window{}}}
}

type handler struct {
	next  slog.Handler
	limit *limiter
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.next.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level < slog.LevelWarn {
		return h.next.Handle(ctx, r)
	}
	pass, suppressed := h.limit.allow(r.Message)
	if !pass {
		return nil
	}
	if suppressed > 0 {
		r = r.Clone()
		r.AddAttrs(slog.Int("suppressed", suppressed))
	}
	return h.next.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{next: h.next.WithAttrs(attrs), limit: h.limit}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{next: h.next.WithGroup(name), limit: h.limit}
}

// limiter is the state handlers share: per message, when one last passed and how many were
// dropped since.
type limiter struct {
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*window
}

type window struct {
	passed     time.Time
	suppressed int
}

// allow reports whether a record of msg may pass now and, when it may, how many were dropped
// before it.
func (l *limiter) allow(msg string) (bool, int) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	w, ok := l.seen[msg]
	if ok && now.Sub(w.passed) < l.every {
		w.suppressed++
		return false, 0
	}
	if !ok {
		if len(l.seen) >= maxMessages {
			l.forgetQuiet(now)
		}
		if len(l.seen) >= maxMessages {
			clear(l.seen) // thousands of distinct noisy messages: their counts are lost
		}
		w = &window{}
		l.seen[msg] = w
	}
	n := w.suppressed
	w.passed, w.suppressed = now, 0
	return true, n
}

// forgetQuiet drops the messages that passed more than a period ago with nothing dropped since,
// which the next record would find as if they were new anyway.
func (l *limiter) forgetQuiet(now time.Time) {
	for msg, w := range l.seen {
		if w.suppressed == 0 && now.Sub(w.passed) >= l.every {
			delete(l.seen, msg)
		}
	}
}
