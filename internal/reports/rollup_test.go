package reports_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/reports"
)

// store writes conversations straight into the tables, each row at the time it says, with or
// without the event the inbox writes beside it.
type store struct {
	t       *testing.T
	pool    *pgxpool.Pool
	channel int64
	n       int
}

func newStore(t *testing.T) *store {
	pool, _ := dbtest.New(t)
	s := &store{t: t, pool: pool}
	require.NoError(t, pool.QueryRow(t.Context(), "INSERT INTO channels (phone_number_id, is_default) VALUES ('106540352242922', true) RETURNING id").Scan(&s.channel))
	return s
}

func (s *store) exec(sql string, args ...any) {
	s.t.Helper()
	_, err := s.pool.Exec(s.t.Context(), sql, args...)
	require.NoError(s.t, err, sql)
}

func (s *store) event(kind string, conv int64) {
	s.exec("INSERT INTO events (kind, conversation_id) VALUES ($1, $2)", kind, conv)
}

func (s *store) conversation(created time.Time) int64 {
	s.t.Helper()
	s.n++
	var contact, id int64
	require.NoError(s.t, s.pool.QueryRow(s.t.Context(), "INSERT INTO contacts (channel_id, wa_id) VALUES ($1, $2) RETURNING id",
		s.channel, fmt.Sprintf("1650555%04d", s.n)).Scan(&contact))
	require.NoError(s.t, s.pool.QueryRow(s.t.Context(),
		"INSERT INTO conversations (channel_id, contact_id, status, created_at, last_message_at) VALUES ($1, $2, 'open', $3, $3) RETURNING id",
		s.channel, contact, created).Scan(&id))
	return id
}

func (s *store) message(conv int64, direction, sender string, at time.Time) {
	s.exec(`INSERT INTO messages (conversation_id, direction, sender, type, status, created_at) VALUES ($1, $2, $3, 'text', CASE WHEN $2 = 'in' THEN 'received' ELSE 'sent' END, $4)`, conv, direction, sender, at)
	s.exec("UPDATE conversations SET last_message_at = greatest(last_message_at, $2) WHERE id = $1", conv, at)
}

func (s *store) resolve(conv int64, at time.Time) {
	s.exec(`INSERT INTO conversation_history (conversation_id, action, details, created_at) VALUES ($1, 'status', '{"to": "resolved"}', $2)`, conv, at)
}

// episodes reads the stored episodes of conv: (reopened, messages in, resolved) each.
func (s *store) episodes(conv int64) []string {
	s.t.Helper()
	rows, err := s.pool.Query(s.t.Context(), `SELECT CASE WHEN reopened THEN 'reopened' ELSE 'new' END || ' in=' || messages_in || ' out=' || messages_out
		|| CASE WHEN resolved_at IS NULL THEN ' open' ELSE ' resolved' END FROM report_episodes WHERE conversation_id = $1 ORDER BY seq`, conv)
	require.NoError(s.t, err)
	var out []string
	for rows.Next() {
		var e string
		require.NoError(s.t, rows.Scan(&e))
		out = append(out, e)
	}
	require.NoError(s.t, rows.Err())
	return out
}

func (s *store) hourCounts(conv int64) (in, out int) {
	s.t.Helper()
	require.NoError(s.t, s.pool.QueryRow(s.t.Context(),
		"SELECT coalesce(sum(messages_in), 0), coalesce(sum(messages_out), 0) FROM report_message_hours WHERE conversation_id = $1", conv).Scan(&in, &out))
	return in, out
}

func newRollup(s *store) *reports.Rollup {
	r := reports.NewRollup(s.pool, slog.New(slog.DiscardHandler))
	r.SetBatches(2, 3)
	return r
}

// A database whose conversations were written without events (one upgraded to the rollup, or
// filled by an import) is rebuilt from scratch, several conversations a step; afterwards the
// rollup follows the event log, past events that cannot move a report.
func TestRollupRebuildsThenFollowsTheEventLog(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	t0 := time.Now().Add(-48 * time.Hour).UTC().Truncate(time.Hour)
	var convs []int64
	for i := range 5 {
		c := s.conversation(t0)
		s.message(c, "in", "contact", t0.Add(time.Duration(i)*time.Minute))
		s.message(c, "out", "bot", t0.Add(time.Duration(i+1)*time.Minute))
		s.resolve(c, t0.Add(2*time.Hour))
		convs = append(convs, c)
	}
	s.message(convs[0], "in", "contact", t0.Add(3*time.Hour)) // reopens it
	r := newRollup(s)
	require.NoError(t, r.CatchUp(t.Context()))
	require.Equal(t, []string{"new in=1 out=1 resolved", "reopened in=1 out=0 open"}, s.episodes(convs[0]))
	for _, c := range convs[1:] {
		require.Equal(t, []string{"new in=1 out=1 resolved"}, s.episodes(c))
	}
	in, out := s.hourCounts(convs[0])
	require.Equal(t, [2]int{2, 1}, [2]int{in, out})

	// Status ticks (more than one step reads) move nothing; the reply after them is applied.
	for range 7 {
		s.event("message.status", convs[1])
	}
	s.message(convs[1], "in", "contact", t0.Add(4*time.Hour))
	s.message(convs[1], "out", "agent", t0.Add(4*time.Hour+time.Minute))
	s.event("message.created", convs[1])
	require.NoError(t, r.CatchUp(t.Context()))
	require.Equal(t, []string{"new in=1 out=1 resolved", "reopened in=1 out=1 open"}, s.episodes(convs[1]))

	// A change without its event is not seen: the log is what the rollup follows.
	s.message(convs[2], "in", "contact", t0.Add(5*time.Hour))
	require.NoError(t, r.CatchUp(t.Context()))
	require.Equal(t, []string{"new in=1 out=1 resolved"}, s.episodes(convs[2]))
	var caughtUp time.Time
	require.NoError(t, s.pool.QueryRow(t.Context(), "SELECT caught_up_at FROM report_rollup").Scan(&caughtUp))
	require.WithinDuration(t, time.Now(), caughtUp, time.Minute)
}

// When the rollup has not caught up for longer than the event log keeps events, the events it
// needs may be gone: it rebuilds the conversations active since it last caught up, and only them.
func TestRollupRebuildsWhatChangedWhenEventsMayBeGone(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	t0 := time.Now().Add(-10 * 24 * time.Hour).UTC()
	quiet, busy := s.conversation(t0), s.conversation(t0)
	s.message(quiet, "in", "contact", t0)
	s.message(busy, "in", "contact", t0)
	r := newRollup(s)
	require.NoError(t, r.CatchUp(t.Context()))
	require.Len(t, s.episodes(busy), 1)

	s.exec("UPDATE report_rollup SET caught_up_at = now() - interval '3 days'")
	s.exec("DELETE FROM report_episodes WHERE conversation_id = $1", quiet) // would come back only from a full rebuild
	s.message(busy, "in", "contact", time.Now().Add(-time.Hour))            // its event was pruned
	require.NoError(t, r.CatchUp(t.Context()))
	require.Equal(t, []string{"new in=2 out=0 open"}, s.episodes(busy))
	require.Empty(t, s.episodes(quiet), "only what changed since is rebuilt")
}

// Rollups of several instances (the job, reports) take turns on the rollup's row: each finishes,
// and every conversation is stored once.
func TestRollupsTakeTurns(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	t0 := time.Now().Add(-time.Hour).UTC()
	for range 6 {
		c := s.conversation(t0)
		s.message(c, "in", "contact", t0)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = newRollup(s).CatchUp(context.Background())
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	var episodes, conversations int
	require.NoError(t, s.pool.QueryRow(t.Context(), "SELECT count(*), count(DISTINCT conversation_id) FROM report_episodes").Scan(&episodes, &conversations))
	require.Equal(t, [2]int{6, 6}, [2]int{episodes, conversations})
}
