package dbtest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/dbtest"
)

func selectOne(ctx context.Context, conn *pgx.Conn) error {
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// Down cuts open connections and refuses new ones; Up lets new ones through again.
func TestProxyDownCutsTheConnectionAndUpRestoresIt(t *testing.T) {
	t.Parallel()
	_, url := dbtest.New(t)
	p := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	ctx := context.Background()

	conn, err := pgx.Connect(ctx, p.URL(url))
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, selectOne(ctx, conn))

	p.Down()
	require.Error(t, selectOne(ctx, conn), "an open connection is cut")
	_, err = pgx.Connect(ctx, p.URL(url))
	require.Error(t, err, "a new connection is refused")

	p.Up()
	again, err := pgx.Connect(ctx, p.URL(url))
	require.NoError(t, err)
	defer again.Close(ctx)
	require.NoError(t, selectOne(ctx, again))
}

// Freeze holds queries and new connections without failing them; Up lets them finish.
func TestProxyFreezeHoldsTrafficUntilUp(t *testing.T) {
	t.Parallel()
	_, url := dbtest.New(t)
	p := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	ctx := context.Background()

	held, err := pgx.Connect(ctx, p.URL(url))
	require.NoError(t, err)
	defer held.Close(ctx)
	bounded, err := pgx.Connect(ctx, p.URL(url))
	require.NoError(t, err)
	defer bounded.Close(ctx)

	p.Freeze()
	// A query with a deadline ends at the deadline, not before: nothing came back.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = selectOne(short, bounded)
	cancel()
	require.True(t, errors.Is(err, context.DeadlineExceeded), "got %v", err)
	short, cancel = context.WithTimeout(ctx, 300*time.Millisecond)
	_, err = pgx.Connect(short, p.URL(url))
	cancel()
	require.True(t, errors.Is(err, context.DeadlineExceeded), "a new connection hangs; got %v", err)

	// Without a deadline a query and a new connection wait for Up and then succeed.
	queried := make(chan error, 1)
	go func() { queried <- selectOne(ctx, held) }()
	connected := make(chan error, 1)
	go func() {
		c, err := pgx.Connect(ctx, p.URL(url))
		if err == nil {
			err = selectOne(ctx, c)
			c.Close(ctx)
		}
		connected <- err
	}()
	select {
	case err := <-queried:
		t.Fatalf("a query returned through a frozen proxy: %v", err)
	default:
	}
	p.Up()
	require.NoError(t, <-queried)
	require.NoError(t, <-connected)
}
