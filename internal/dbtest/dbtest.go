// Package dbtest gives tests real PostgreSQL databases. Each call to New makes a fresh database
// cloned from a migrated template, so a test may commit, LISTEN and run River without disturbing
// any other test or any data it did not create; the database is dropped when the test ends.
package dbtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/devdb"
	"github.com/wainbox/wainbox/migrations"
)

var (
	serverOnce sync.Once
	serverURL  string
	serverErr  error

	templateOnce sync.Once
	templateName string
	templateErr  error
)

// templateLockKey serializes template creation across test binaries running in parallel.
const templateLockKey = 7_135_202_612

// Server returns the URL of the PostgreSQL server tests use (DATABASE_URL, a local server, or a
// throwaway cluster started by devdb).
func Server(t testing.TB) string {
	t.Helper()
	serverOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		serverURL, serverErr = devdb.Ensure(ctx, &devdb.Config{})
	})
	if serverErr != nil {
		t.Fatalf("no PostgreSQL for tests: %v", serverErr)
	}
	return serverURL
}

// New creates a fresh migrated database for the test and returns a pool on it and its URL. The
// database is dropped when the test ends.
func New(t testing.TB) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	url, drop, err := NewDatabase(ctx, Server(t))
	if err != nil {
		t.Fatal(err)
	}
	pool, err := database.Open(ctx, url, 20)
	if err != nil {
		drop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pool.Close()
		drop()
	})
	return pool, url
}

// NewDatabase creates a fresh migrated database on server, cloned from the template, and returns
// its URL and a function that drops it. Benchmarks use it directly; tests use New.
func NewDatabase(ctx context.Context, server string) (string, func(), error) {
	tmpl, err := sharedTemplate(server)
	if err != nil {
		return "", nil, err
	}
	name := "wainbox_test_" + randomHex(6)
	if err := adminExec(ctx, server, fmt.Sprintf("CREATE DATABASE %s TEMPLATE %s", name, tmpl)); err != nil {
		return "", nil, fmt.Errorf("error creating test database: %w", err)
	}
	url, err := devdb.WithDatabase(server, name)
	if err != nil {
		return "", nil, err
	}
	drop := func() {
		// FORCE ends connections a test left open (a killed listener, a leaked pool).
		_ = adminExec(context.Background(), server, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", name))
	}
	return url, drop, nil
}

func adminExec(ctx context.Context, server, sql string) error {
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		return fmt.Errorf("error connecting to %s: %w", server, err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, sql)
	return err
}

// sharedTemplate returns the name of a database migrated to the current schema, creating it once
// per schema version. Its name carries a hash of the migrations, so a changed schema gets a new one.
func sharedTemplate(server string) (string, error) {
	templateOnce.Do(func() { templateName, templateErr = ensureTemplate(server) })
	if templateErr != nil {
		return "", fmt.Errorf("error preparing template database: %w", templateErr)
	}
	return templateName, nil
}

func ensureTemplate(server string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	name, err := templateDBName()
	if err != nil {
		return "", err
	}
	admin, err := pgx.Connect(ctx, server)
	if err != nil {
		return "", fmt.Errorf("error connecting to %s: %w", server, err)
	}
	defer admin.Close(ctx)
	if _, err := admin.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(templateLockKey)); err != nil {
		return "", fmt.Errorf("error taking template lock: %w", err)
	}
	defer func() {
		_, _ = admin.Exec(context.Background(), "SELECT pg_advisory_unlock($1)", int64(templateLockKey))
	}()

	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return "", fmt.Errorf("error looking for template: %w", err)
	}
	if exists {
		return name, nil
	}
	building := name + "_build"
	if _, err := admin.Exec(ctx, fmt.Sprintf("DROP DATABASE IF EXISTS %s WITH (FORCE)", building)); err != nil {
		return "", fmt.Errorf("error clearing template build: %w", err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+building); err != nil {
		return "", fmt.Errorf("error creating template build: %w", err)
	}
	url, err := devdb.WithDatabase(server, building)
	if err != nil {
		return "", err
	}
	pool, err := database.Open(ctx, url, 4)
	if err != nil {
		return "", err
	}
	err = database.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return "", err
	}
	// Renaming last makes the template appear whole or not at all to other test binaries.
	if _, err := admin.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s RENAME TO %s", building, name)); err != nil {
		return "", fmt.Errorf("error publishing template: %w", err)
	}
	return name, nil
}

func templateDBName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(migrations.FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("error hashing migrations: %w", err)
	}
	// River's own migrations are part of the schema too: a River upgrade needs a new template.
	migrator, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return "", fmt.Errorf("error listing River migrations: %w", err)
	}
	fmt.Fprintf(h, "river:%d", len(migrator.AllVersions()))
	return "wainbox_tmpl_" + hex.EncodeToString(h.Sum(nil))[:12], nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Execer runs a statement: a pool, a connection or a transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// CustomerWrote records that customer waID last wrote to the default channel's number at at, as
// an inbound message would (the contact's last_inbound_at): the 24-hour window for free-form
// messages to them is open until at + 24 h. Tests and benchmarks of agents' replies start from it.
func CustomerWrote(ctx context.Context, db Execer, waID string, at time.Time) error {
	tag, err := db.Exec(ctx, `
		INSERT INTO contacts (channel_id, wa_id, last_inbound_at)
		SELECT id, $1, $2 FROM channels WHERE is_default
		ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO UPDATE SET last_inbound_at = excluded.last_inbound_at`,
		waID, at)
	if err != nil {
		return fmt.Errorf("error recording that %s wrote: %w", waID, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("error recording that %s wrote: no default channel", waID)
	}
	return nil
}
