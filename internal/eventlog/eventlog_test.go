package eventlog_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/eventlog"
)

type counter struct{ rings atomic.Int32 }

func (c *counter) Ring() { c.rings.Add(1) }

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM events`).Scan(&n))
	return n
}

// Appending arranges the ring after the commit: nothing rings while the transaction is open, the
// commit rings, and a rollback neither keeps the events nor rings.
func TestAppendRingsOnlyAfterCommit(t *testing.T) {
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	bell := &counter{}
	log := eventlog.New(bell)

	err := database.InTx(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, log.AppendAll(ctx, tx,
			eventlog.Event{Kind: eventlog.MessageCreated, Payload: map[string]int{"message_id": 1}},
			eventlog.Event{Kind: eventlog.PermissionsChanged, Payload: map[string]int{"user_id": 2}}))
		require.Zero(t, bell.rings.Load(), "rung before the commit")
		return nil
	})
	require.NoError(t, err)
	require.EqualValues(t, 1, bell.rings.Load())
	require.Equal(t, 2, count(t, pool))

	boom := errors.New("boom")
	err = database.InTx(ctx, pool, func(tx pgx.Tx) error {
		require.NoError(t, log.Append(ctx, tx, eventlog.MessageStatus, 0, map[string]int{"message_id": 1}))
		return boom
	})
	require.ErrorIs(t, err, boom)
	require.EqualValues(t, 1, bell.rings.Load(), "a rollback rang")
	require.Equal(t, 2, count(t, pool), "a rollback kept its event")
}

// A transaction no hook can follow is refused, so an event is never written without its ring.
func TestAppendOutsideInTxIsRefused(t *testing.T) {
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	err = eventlog.New(&counter{}).Append(ctx, tx, eventlog.MessageCreated, 0, map[string]int{})
	require.ErrorContains(t, err, "database.InTx")
}

// A nil Log writes the events without ringing (the listeners' safety poll finds them).
func TestNilLogWritesWithoutRinging(t *testing.T) {
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	var log *eventlog.Log
	require.NoError(t, database.InTx(ctx, pool, func(tx pgx.Tx) error {
		return log.Append(ctx, tx, eventlog.NoteCreated, 0, map[string]int{"note_id": 1})
	}))
	require.Equal(t, 1, count(t, pool))
}

func TestAccessKinds(t *testing.T) {
	require.True(t, eventlog.Access(eventlog.SessionsRevoked))
	require.True(t, eventlog.Access(eventlog.PermissionsChanged))
	require.False(t, eventlog.Access(eventlog.ConversationUpdated))
}
