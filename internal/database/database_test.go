package database_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// AfterCommit hooks run once the transaction is visible to others, and never for a rollback.
func TestAfterCommitRunsOnlyAfterACommit(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	ctx := context.Background()
	_, err := pool.Exec(ctx, "CREATE TABLE hook_t (x int)")
	require.NoError(t, err)
	count := func() (n int) {
		require.NoError(t, pool.QueryRow(ctx, "SELECT count(*) FROM hook_t").Scan(&n))
		return n
	}

	var seen []int
	err = database.InTx(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO hook_t VALUES (1)"); err != nil {
			return err
		}
		require.True(t, database.AfterCommit(tx, func() { seen = append(seen, count()) }))
		require.True(t, database.AfterCommit(tx, func() { seen = append(seen, -1) }))
		require.Nil(t, seen, "not before the commit")
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, []int{1, -1}, seen, "in order, with the row visible to another connection")

	seen = nil
	err = database.InTx(ctx, pool, func(tx pgx.Tx) error {
		database.AfterCommit(tx, func() { seen = append(seen, 0) })
		return errors.New("no")
	})
	require.Error(t, err)
	require.Nil(t, seen, "a rolled back transaction runs no hook")

	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx)
	require.False(t, database.AfterCommit(tx, func() {}), "a transaction not begun by InTx takes no hook")
}

// River's GIN indexes are migrated to fastupdate off (migrations/00007 says why).
func TestRiverGINIndexesDoNotDeferUpdates(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	var opts []string
	err := pool.QueryRow(context.Background(), `
		SELECT array_agg(c.relname || ':' || array_to_string(c.reloptions, ',') ORDER BY c.relname)
		FROM pg_class c JOIN pg_am am ON am.oid = c.relam
		WHERE c.relkind = 'i' AND am.amname = 'gin' AND c.relname LIKE 'river_job%'`).Scan(&opts)
	require.NoError(t, err)
	require.Equal(t, []string{"river_job_args_index:fastupdate=off", "river_job_metadata_index:fastupdate=off"}, opts)
}

func TestTextIsStorable(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"plain", "plain"},
		{"caf\xe9", "caf\uFFFD"},
		{"a\x00b", "ab"},
		{"aaaaaaaé", "aaaaaaa"}, // é is two bytes: cut before it, not through it
	} {
		require.Equal(t, c.want, database.Text(c.in, 8), "%q", c.in)
	}
}
