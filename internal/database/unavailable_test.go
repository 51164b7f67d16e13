package database_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
)

func TestUnavailableTellsAnOutageFromABug(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return fmt.Errorf("error loading session: %w", err) }
	refused := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connect error", wrap(&pgconn.ConnectError{Config: &pgconn.Config{}}), true},
		{"connection refused", wrap(refused), true},
		{"eof", wrap(io.EOF), true},
		{"unexpected eof", wrap(io.ErrUnexpectedEOF), true},
		{"deadline exceeded", wrap(context.DeadlineExceeded), true},
		{"closed pool", wrap(puddle.ErrClosedPool), true},
		{"closed connection", wrap(fmt.Errorf("conn: %w", pgconn.ErrConnClosed)), true},
		{"admin shutdown", wrap(&pgconn.PgError{Code: "57P01"}), true},
		{"crash shutdown", wrap(&pgconn.PgError{Code: "57P02"}), true},
		{"cannot connect now", wrap(&pgconn.PgError{Code: "57P03"}), true},
		{"too many connections", wrap(&pgconn.PgError{Code: "53300"}), true},
		{"connection failure", wrap(&pgconn.PgError{Code: "08006"}), true},
		{"connection exception", wrap(&pgconn.PgError{Code: "08000"}), true},
		{"query cancelled", wrap(&pgconn.PgError{Code: "57014"}), false},
		{"unique violation", wrap(&pgconn.PgError{Code: "23505"}), false},
		{"syntax error", wrap(&pgconn.PgError{Code: "42601"}), false},
		{"no rows", wrap(pgx.ErrNoRows), false},
		{"caller hung up", wrap(context.Canceled), false},
		{"plain error", errors.New("boom"), false},
		{"joined with an outage", errors.Join(errors.New("boom"), io.EOF), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, database.Unavailable(tt.err), "%v", tt.err)
		})
	}
}

// The errors pgx really returns when PostgreSQL goes away, is frozen, or the pool is closed.
func TestUnavailableRecognisesARealOutage(t *testing.T) {
	t.Parallel()
	_, url := dbtest.New(t)
	proxy := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	ctx := context.Background()
	pool, err := database.Open(ctx, proxy.URL(url), 2)
	require.NoError(t, err)
	defer pool.Close()
	var n int
	require.NoError(t, pool.QueryRow(ctx, "SELECT 1").Scan(&n))

	proxy.Down()
	// The pooled connection breaks, then a new one is refused.
	for range 2 {
		_, err = pool.Exec(ctx, "SELECT 1")
		require.Error(t, err)
		require.True(t, database.Unavailable(err), "%v", err)
	}
	err = database.InTx(ctx, pool, func(pgx.Tx) error { return nil })
	require.True(t, database.Unavailable(err), "%v", err)

	proxy.Up()
	require.NoError(t, pool.QueryRow(ctx, "SELECT 1").Scan(&n))
	proxy.Freeze()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_, err = pool.Exec(short, "SELECT 1")
	cancel()
	require.True(t, database.Unavailable(err), "a query that waited out its deadline; %v", err)
	proxy.Up()

	pool.Close()
	_, err = pool.Exec(ctx, "SELECT 1")
	require.True(t, database.Unavailable(err), "%v", err)
}
