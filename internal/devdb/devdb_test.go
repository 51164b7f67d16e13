package devdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// tempConfig returns a Config for a throwaway cluster in a fresh temporary directory that the
// postgres OS user can traverse, on a free port.
func tempConfig(t *testing.T) *Config {
	t.Helper()
	tmp, err := os.MkdirTemp("", "devdb-test-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(tmp) })
	require.NoError(t, os.Chmod(tmp, 0o755)) // MkdirTemp makes 0700 directories.

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return &Config{Dir: filepath.Join(tmp, "pgdata"), Port: port, Stderr: testWriter{t}}
}

// testWriter sends progress messages to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// selectOne connects to dbURL and checks that the server answers a query.
func selectOne(t *testing.T, dbURL string) {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var one int
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT 1").Scan(&one))
	require.Equal(t, 1, one)
}

func TestEnsureReturnsDatabaseURL(t *testing.T) {
	const want = "postgres://someone@db.example:6543/app?sslmode=require"
	t.Setenv("DATABASE_URL", want)
	got, err := Ensure(t.Context(), nil)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func TestEnsureFindsOrStartsServer(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	cfg := tempConfig(t)
	got, err := Ensure(t.Context(), cfg)
	require.NoError(t, err)
	if got != LocalURL { // No server on 5432: Ensure started the throwaway cluster.
		t.Cleanup(func() { require.NoError(t, Stop(context.Background(), cfg)) })
		require.Equal(t, cfg.url(), got)
	}
	selectOne(t, got)
}

func TestStartAndStopThrowawayCluster(t *testing.T) {
	t.Parallel()
	cfg := tempConfig(t)
	c, err := cfg.withDefaults()
	require.NoError(t, err)

	got, err := start(t.Context(), &c)
	require.NoError(t, err)
	require.Equal(t, c.url(), got)
	selectOne(t, got)

	again, err := start(t.Context(), &c) // Running already: found, not started twice.
	require.NoError(t, err)
	require.Equal(t, got, again)

	require.NoError(t, Stop(t.Context(), cfg))
	require.Error(t, ping(t.Context(), got))
	require.NoError(t, Stop(t.Context(), cfg), "stopping a stopped cluster is a no-op")
}

func TestEnsureDatabaseConcurrently(t *testing.T) {
	t.Parallel()
	cfg := tempConfig(t)
	serverURL, err := Ensure(t.Context(), cfg)
	require.NoError(t, err)
	if serverURL == cfg.url() { // No other server: Ensure started the throwaway cluster.
		t.Cleanup(func() { require.NoError(t, Stop(context.Background(), cfg)) })
	}

	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "devdb_test_" + hex.EncodeToString(suffix)
	t.Cleanup(func() {
		conn, err := pgx.Connect(context.Background(), serverURL)
		require.NoError(t, err)
		defer conn.Close(context.Background())
		_, err = conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize())
		require.NoError(t, err)
	})

	var wg sync.WaitGroup
	urls, errs := make([]string, 2), make([]error, 2)
	for i := range urls {
		wg.Go(func() { urls[i], errs[i] = EnsureDatabase(t.Context(), serverURL, name) })
	}
	wg.Wait()
	want, err := WithDatabase(serverURL, name)
	require.NoError(t, err)
	for i := range urls {
		require.NoError(t, errs[i])
		require.Equal(t, want, urls[i])
	}

	conn, err := pgx.Connect(t.Context(), want)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var current string
	require.NoError(t, conn.QueryRow(t.Context(), "SELECT current_database()").Scan(&current))
	require.Equal(t, name, current)

	again, err := EnsureDatabase(t.Context(), serverURL, name)
	require.NoError(t, err)
	require.Equal(t, want, again)
}

func TestWithDatabase(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable": "postgres://postgres@127.0.0.1:5432/wainbox?sslmode=disable",
		"postgresql://u:p@db:6543?sslmode=require":                    "postgresql://u:p@db:6543/wainbox?sslmode=require",
		"postgres://u@db/other?dbname=other":                          "postgres://u@db/wainbox?dbname=wainbox",
	} {
		got, err := WithDatabase(in, "wainbox")
		require.NoError(t, err)
		require.Equal(t, want, got)
	}
	_, err := WithDatabase("host=db dbname=x", "wainbox")
	require.Error(t, err)
}
