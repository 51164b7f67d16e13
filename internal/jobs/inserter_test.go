package jobs_test

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/jobs"
)

type pingArgs struct{ N int }

func (pingArgs) Kind() string { return "inserter_test_ping" }

// A job queued in a transaction of InTx is announced by the doorbell after the commit (its NOTIFY
// comes from another connection than the transaction's), and River's producer fetches it at
// once, long before its poll; in any other transaction River announces it itself.
func TestInserterAnnouncesJobsAfterTheCommit(t *testing.T) {
	t.Parallel()
	pool, url := dbtest.New(t)
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)

	worked := make(chan int, 4)
	workers := river.NewWorkers()
	river.AddWorker(workers, river.WorkFunc(func(_ context.Context, job *river.Job[pingArgs]) error {
		worked <- job.Args.N
		return nil
	}))
	driver := riverpgxv5.New(pool)
	cfg := &river.Config{
		Logger: logger, Workers: workers, TestOnly: true,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 2}},
		FetchCooldown: 5 * time.Millisecond,
		// Far longer than the test waits: a job found within it was announced.
		FetchPollInterval: time.Minute,
	}
	client, err := river.NewClient(driver, cfg)
	require.NoError(t, err)

	// The doorbell notifies through a pool of its own, so its notifications never come from the
	// transaction's connection.
	bellPool, err := database.Open(ctx, url, 2)
	require.NoError(t, err)
	t.Cleanup(bellPool.Close)
	bell := eventlog.NewDoorbell(bellPool, logger)
	bell.Start()
	t.Cleanup(bell.Stop)

	var schema string
	require.NoError(t, pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema))
	q, err := jobs.NewInserter(driver, cfg, client, bell, schema)
	require.NoError(t, err)

	listen, err := pgx.Connect(ctx, url)
	require.NoError(t, err)
	t.Cleanup(func() { _ = listen.Close(context.Background()) })
	_, err = listen.Exec(ctx, `LISTEN "`+schema+`.river_insert"`)
	require.NoError(t, err)

	require.NoError(t, client.Start(ctx))
	t.Cleanup(func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = client.Stop(stopCtx)
	})
	// The producer fetches once when it starts; wait until it also listens, so that the jobs
	// below can only be found through their announcement.
	require.Eventually(t, func() bool {
		var n int
		_ = pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'LISTEN%river_insert%'`).Scan(&n)
		return n > 0
	}, 10*time.Second, 10*time.Millisecond)
	time.Sleep(50 * time.Millisecond)

	// expectWorked waits for the announcement of job n and for the job itself; txPID is the
	// backend of the transaction that queued it.
	expectWorked := func(n int, txPID uint32) {
		t.Helper()
		waitCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		note, err := listen.WaitForNotification(waitCtx)
		require.NoError(t, err)
		require.JSONEq(t, `{"queue":"default"}`, note.Payload)
		if n == 1 {
			require.NotEqual(t, txPID, note.PID, "announced after the commit, not in the transaction")
		} else {
			require.Equal(t, txPID, note.PID, "River's own announcement, in the transaction")
		}
		select {
		case got := <-worked:
			require.Equal(t, n, got)
		case <-time.After(5 * time.Second):
			t.Fatalf("job %d was not fetched on its announcement", n)
		}
	}

	var pid uint32
	require.NoError(t, database.InTx(ctx, pool, func(tx pgx.Tx) error {
		pid = tx.Conn().PgConn().PID()
		_, err := q.InsertTx(ctx, tx, pingArgs{N: 1}, nil)
		return err
	}))
	expectWorked(1, pid)

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	_, err = q.InsertTx(ctx, tx, pingArgs{N: 2}, nil)
	require.NoError(t, err)
	pid = tx.Conn().PgConn().PID()
	require.NoError(t, tx.Commit(ctx))
	expectWorked(2, pid)
}
