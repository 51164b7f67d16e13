package lograte

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a time the test moves by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newLogger returns a logger through a rate-limited text handler on a fake clock, and its output.
func newLogger(every time.Duration) (*slog.Logger, *clock, *bytes.Buffer) {
	out := &bytes.Buffer{}
	text := slog.NewTextHandler(out, &slog.HandlerOptions{
		Level: slog.LevelDebug,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	c := &clock{now: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)}
	h := New(text, every)
	h.(*handler).limit.now = c.Now
	return slog.New(h), c, out
}

func lines(out *bytes.Buffer) []string {
	return strings.Split(strings.TrimSpace(out.String()), "\n")
}

func TestRecordsBelowWarnPassUntouched(t *testing.T) {
	t.Parallel()
	log, _, out := newLogger(time.Minute)
	for range 3 {
		log.Info("job completed", "id", 1)
		log.Debug("polling")
	}
	require.Len(t, lines(out), 6)
	require.NotContains(t, out.String(), "suppressed")
}

func TestOneWarningPerMessagePerPeriodWithTheCountOfTheRest(t *testing.T) {
	t.Parallel()
	log, clk, out := newLogger(10 * time.Second)

	log.Error("producer: error fetching jobs", "error", "conn refused")
	for range 4 {
		clk.Advance(time.Second)
		log.Error("producer: error fetching jobs", "error", "conn refused")
		log.Warn("elector: error attempting to elect")
	}
	require.Equal(t, []string{
		`level=ERROR msg="producer: error fetching jobs" error="conn refused"`,
		`level=WARN msg="elector: error attempting to elect"`,
	}, lines(out), "one line per message")

	out.Reset()
	clk.Advance(10 * time.Second)
	log.Error("producer: error fetching jobs", "error", "conn refused")
	log.Warn("elector: error attempting to elect")
	require.Equal(t, []string{
		`level=ERROR msg="producer: error fetching jobs" error="conn refused" suppressed=4`,
		`level=WARN msg="elector: error attempting to elect" suppressed=3`,
	}, lines(out), "the next period's first line counts what was dropped")

	out.Reset()
	clk.Advance(time.Hour)
	log.Error("producer: error fetching jobs", "error", "conn refused")
	require.Equal(t, []string{`level=ERROR msg="producer: error fetching jobs" error="conn refused"`}, lines(out),
		"after a quiet period nothing was dropped")
}

func TestDerivedLoggersShareTheLimit(t *testing.T) {
	t.Parallel()
	log, clk, out := newLogger(time.Minute)
	river := log.With("component", "river")
	grouped := river.WithGroup("producer")

	river.Error("error fetching jobs")
	log.Error("error fetching jobs")
	grouped.Error("error fetching jobs", "queue", "send")
	require.Equal(t, []string{`level=ERROR msg="error fetching jobs" component=river`}, lines(out))

	out.Reset()
	clk.Advance(time.Minute)
	grouped.Error("error fetching jobs", "queue", "send")
	require.Equal(t, []string{`level=ERROR msg="error fetching jobs" component=river producer.queue=send producer.suppressed=2`}, lines(out))
}

func TestConcurrentRecordsLetOneThrough(t *testing.T) {
	t.Parallel()
	log, clk, out := newLogger(time.Minute)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			l := log.With("worker", i)
			for range 20 {
				l.Error("error fetching jobs")
			}
		})
	}
	wg.Wait()
	require.Len(t, lines(out), 1)

	out.Reset()
	clk.Advance(time.Minute)
	log.Error("error fetching jobs")
	require.Equal(t, []string{`level=ERROR msg="error fetching jobs" suppressed=999`}, lines(out))
}

func TestEnabledFollowsTheWrappedHandler(t *testing.T) {
	t.Parallel()
	next := slog.NewTextHandler(&bytes.Buffer{}, &slog.HandlerOptions{Level: slog.LevelWarn})
	h := New(next, time.Second)
	require.False(t, h.Enabled(context.Background(), slog.LevelInfo))
	require.True(t, h.Enabled(context.Background(), slog.LevelError))
}
