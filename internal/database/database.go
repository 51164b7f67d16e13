// Package database opens the PostgreSQL pool, applies and checks migrations (wainbox's own, through
// goose, and River's, through rivermigrate) and runs transactions. It is the one place that knows how
// wainbox talks to PostgreSQL; the domain packages receive a pool and the transaction helper.
package database

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgerrcode"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"
)

// Open connects a pool to url and checks that the server answers. The pool is sized for the two
// cores these services run on: more connections than that only queue inside PostgreSQL.
func Open(ctx context.Context, url string, maxConns int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("error parsing DATABASE_URL: %w", err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "wainbox"
	// plan_cache_mode stays PostgreSQL's default (auto). Forcing the cached generic plan once
	// measured better, when the webhook path ran eleven statements; once it ran six it no longer
	// did, and it gave River's job completion (JobSetStateIfRunningMany, whose arrays a generic
	// plan sizes at a hundred rows) a plan that scans river_job: 3.5 ms per completed send, the most
	// expensive statement of the send path. docs/benchmarks.md has the figures.
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("error creating database pool: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("error connecting to database %s@%s/%s: %w",
			cfg.ConnConfig.User, cfg.ConnConfig.Host, cfg.ConnConfig.Database, err)
	}
	return pool, nil
}

// Beginner is what InTx needs: a pool, or a connection.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// InTx runs fn in one transaction and commits when fn returns nil. It is the single transaction
// helper of wainbox: domain rows, events and River jobs (InsertTx) are all written through it, so
// they commit or vanish together. The transaction fn receives accepts AfterCommit hooks.
func InTx(ctx context.Context, b Beginner, fn func(tx pgx.Tx) error) (err error) {
	ptx, err := b.Begin(ctx)
	if err != nil {
		return fmt.Errorf("error beginning transaction: %w", err)
	}
	tx := &hookedTx{Tx: ptx}
	defer func() {
		if err != nil {
			// The rollback error is useless next to the one that caused it.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	if err := fn(tx); err != nil {
		return err
	}
	if err := ptx.Commit(ctx); err != nil {
		return fmt.Errorf("error committing transaction: %w", err)
	}
	for _, f := range tx.afterCommit {
		f()
	}
	return nil
}

// hookedTx is a transaction of InTx: it runs its AfterCommit hooks once it has committed.
type hookedTx struct {
	pgx.Tx
	afterCommit []func()
}

// AfterCommit arranges for f to run once tx has committed, on the goroutine that committed it,
// and never if it rolls back. It reports false, and does nothing, when tx is not one of InTx's:
// the caller must then do without (for example, notify inside the transaction instead).
func AfterCommit(tx pgx.Tx, f func()) bool {
	h, ok := tx.(*hookedTx)
	if ok {
		h.afterCommit = append(h.afterCommit, f)
	}
	return ok
}

// IsUniqueViolation reports whether err is PostgreSQL's unique_violation, on constraint when it is
// not empty.
func IsUniqueViolation(err error, constraint string) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return false
	}
	return constraint == "" || pgErr.ConstraintName == constraint
}

// InvalidText reports whether PostgreSQL refused a value it cannot store as text: a NUL byte or
// bytes that are not UTF-8 (character_not_in_repertoire, 22021) or a character with no equivalent
// in the server's encoding, such as \u0000 in jsonb (untranslatable_character, 22P05). Such a
// value is the caller's bad input, not an outage or a bug.
func InvalidText(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) &&
		(pgErr.Code == pgerrcode.CharacterNotInRepertoire || pgErr.Code == pgerrcode.UntranslatableCharacter)
}

// Text makes s storable as PostgreSQL text of at most max bytes, for values that come from
// outside and are only recorded (a User-Agent header, a file name a phone gave): each run of
// bytes that are not UTF-8 becomes U+FFFD, NULs go, and a longer value is cut at a character
// boundary. Such values are kept, not refused, so a browser's odd header never stops a login.
func Text(s string, max int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Unavailable reports whether err means that the database cannot be reached right now (down,
// frozen, restarting, out of connections) rather than that the request or the code is wrong. Callers
// answer such errors as an outage (503, retry later) instead of a bug: a connection that could not
// be made or broke, a timeout or deadline spent waiting for the database, a closed pool, and the
// server's connection-exception, shutdown and too-many-connections errors. A context cancelled by
// its caller (a client that hung up) is not an outage.
func Unavailable(err error) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server answered: only its connection and availability errors are outages.
		switch pgErr.Code {
		case pgerrcode.AdminShutdown, pgerrcode.CrashShutdown, pgerrcode.CannotConnectNow, pgerrcode.TooManyConnections:
			return true
		}
		return pgerrcode.IsConnectionException(pgErr.Code)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	var (
		connectErr *pgconn.ConnectError
		netErr     net.Error
	)
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.SafeToRetry(err) || pgconn.Timeout(err)
}
