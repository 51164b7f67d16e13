package jobs

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/dbtest"
)

func TestPruneDeletesOnlyWhatIsPastItsRetention(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := pool.Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	now := time.Now()
	old, recent := now.Add(-31*24*time.Hour), now.Add(-time.Hour)
	for _, at := range []time.Time{old, recent} {
		exec(`INSERT INTO events (kind, payload, created_at) VALUES ('test', '{}', $1)`, at)
		exec(`INSERT INTO early_statuses (wa_message_id, status, status_at, created_at) VALUES ($1, 'sent', $2, $2)`, at.String(), at)
		exec(`INSERT INTO login_failures (email, ip, at) VALUES ('a@example.com', '127.0.0.1', $1)`, at)
		exec(`INSERT INTO webhook_events (sha256, body, received_at, processed_at) VALUES (sha256($1::bytea), $1::bytea, $2, $2)`, []byte(at.String()), at)
	}
	exec(`INSERT INTO users (email, name, role, password_hash) VALUES ('prune@example.com', 'P', 'agent', 'x')`)
	session := func(id string, expires time.Time, revoked *time.Time) {
		t.Helper()
		exec(`INSERT INTO sessions (id, user_id, expires_at, revoked_at) SELECT $1, id, $2, $3 FROM users WHERE email = 'prune@example.com'`, id, expires, revoked)
		exec(`INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (sha256($1::bytea), $2, $3)`, []byte(id), id, expires)
	}
	future := now.Add(24 * time.Hour)
	session("00000000-0000-0000-0000-000000000001", old, nil)     // expired a month ago: pruned
	session("00000000-0000-0000-0000-000000000002", future, &old) // revoked a month ago: pruned
	session("00000000-0000-0000-0000-000000000003", recent, nil)  // expired an hour ago: kept
	session("00000000-0000-0000-0000-000000000004", future, nil)  // live: kept
	// A live session's rotated tokens: one expired two days ago is pruned, one still valid is kept.
	exec(`INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES (sha256('rotated'::bytea), '00000000-0000-0000-0000-000000000004', $1)`, now.Add(-48*time.Hour))

	// An unprocessed webhook is never pruned, however old.
	exec(`INSERT INTO webhook_events (sha256, body, received_at) VALUES (sha256('pending'::bytea), 'pending'::bytea, $1)`, old)

	w := NewPruneWorker(pool, slog.New(slog.DiscardHandler))
	require.NoError(t, w.Work(ctx, &river.Job[PruneArgs]{}))

	for table, want := range map[string]int{
		"events": 1, "early_statuses": 1, "login_failures": 1, "webhook_events": 2, "sessions": 2,
		// the expired-an-hour-ago session's token is within its grace; the live one's current token
		"refresh_tokens": 2,
	} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n))
		require.Equal(t, want, n, table)
	}
	var pending int
	require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM webhook_events WHERE processed_at IS NULL").Scan(&pending))
	require.Equal(t, 1, pending)
}
