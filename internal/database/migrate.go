package database

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/wainbox/wainbox/migrations"
)

// ErrMigrationsPending is returned by CheckMigrations when the database is behind this binary.
var ErrMigrationsPending = errors.New("database schema is behind this binary: run `wainbox migrate` (make run does it for you)")

// migrateLockKey serializes migrations across instances that start together: goose and River each
// protect their own steps, but not the two of them as one.
const migrateLockKey = 7_135_202_611

// Migrate applies River's migrations and then wainbox's, holding an advisory lock so that several
// instances starting at once apply them once.
func Migrate(ctx context.Context, pool *pgxpool.Pool, logger *slog.Logger) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("error acquiring connection for migrations: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(migrateLockKey)); err != nil {
		return fmt.Errorf("error taking migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(migrateLockKey))
	}()

	migrator, err := rivermigrate.New(riverpgxv5.New(pool), &rivermigrate.Config{Logger: logger})
	if err != nil {
		return fmt.Errorf("error creating River migrator: %w", err)
	}
	// River logs each migration it applies through the logger it was given.
	if _, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("error applying River migrations: %w", err)
	}

	provider, closeProvider, err := gooseProvider(pool)
	if err != nil {
		return err
	}
	defer closeProvider()
	results, err := provider.Up(ctx)
	if err != nil {
		return fmt.Errorf("error applying wainbox migrations: %w", err)
	}
	for _, r := range results {
		logger.Info("applied migration", "version", r.Source.Version, "file", r.Source.Path)
	}
	return nil
}

// CheckMigrations returns ErrMigrationsPending when either River's or wainbox's migrations are not
// all applied. serve calls it so an old schema fails loudly at start instead of on the first query.
func CheckMigrations(ctx context.Context, pool *pgxpool.Pool) error {
	migrator, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("error creating River migrator: %w", err)
	}
	existing, err := migrator.ExistingVersions(ctx)
	if err != nil {
		return fmt.Errorf("%w (River: %v)", ErrMigrationsPending, err)
	}
	if len(existing) < len(migrator.AllVersions()) {
		return ErrMigrationsPending
	}
	provider, closeProvider, err := gooseProvider(pool)
	if err != nil {
		return err
	}
	defer closeProvider()
	pending, err := provider.HasPending(ctx)
	if err != nil {
		return fmt.Errorf("error checking migrations: %w", err)
	}
	if pending {
		return ErrMigrationsPending
	}
	return nil
}

func gooseProvider(pool *pgxpool.Pool) (*goose.Provider, func(), error) {
	sqlDB := stdlib.OpenDBFromPool(pool)
	provider, err := goose.NewProvider(goose.DialectPostgres, sqlDB, migrations.FS)
	if err != nil {
		_ = sqlDB.Close()
		return nil, nil, fmt.Errorf("error loading migrations: %w", err)
	}
	return provider, func() { _ = sqlDB.Close() }, nil
}
