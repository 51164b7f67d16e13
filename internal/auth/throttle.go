package auth

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
)

// ThrottleConfig configures login throttling. Every field is required; wainbox's values are
// config's LOGIN_MAX_FAILURES, LOGIN_MAX_FAILURES_PER_IP and LOGIN_FAILURE_WINDOW.
type ThrottleConfig struct {
	Pool          *pgxpool.Pool
	MaxPerAccount int           // failures of one email per window
	MaxPerIP      int           // failures from one address per window
	Window        time.Duration // the sliding window
}

// Throttle limits failed logins per account and per address. Attempts are rows in PostgreSQL,
// so the limit holds across instances; a window slides over them.
type Throttle struct {
	pool       *pgxpool.Pool
	maxAccount int
	maxIP      int
	window     time.Duration
	q          *db.Queries
}

// NewThrottle returns a Throttle. Like time.NewTicker with a non-positive duration, it panics on
// a limit or window that is not positive: a throttle that refuses every login is a wiring mistake.
func NewThrottle(cfg *ThrottleConfig) *Throttle {
	if cfg.MaxPerAccount <= 0 || cfg.MaxPerIP <= 0 || cfg.Window <= 0 {
		panic("auth: NewThrottle needs positive MaxPerAccount, MaxPerIP and Window")
	}
	return &Throttle{pool: cfg.Pool, maxAccount: cfg.MaxPerAccount, maxIP: cfg.MaxPerIP, window: cfg.Window, q: db.New()}
}

func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// Attempt is one login attempt under way, counted as a failure until it succeeds.
type Attempt struct {
	id    int64
	email string
}

// Begin records an attempt and decides whether it may proceed: wait is 0 to go ahead, or how long
// the caller must wait (then the attempt is not counted). The attempt is written, and committed,
// before the counts are read, so of concurrent attempts at most the limit get through: each sees at
// least the attempts committed before its own. Unknown emails count like known ones, so
// throttling reveals nothing about which accounts exist.
func (t *Throttle) Begin(ctx context.Context, email, ip string) (*Attempt, time.Duration, error) {
	email = normalizeEmail(email)
	now := time.Now()
	if err := t.q.LoginFailurePrune(ctx, t.pool, now.Add(-t.window)); err != nil {
		return nil, 0, fmt.Errorf("error pruning login failures: %w", err)
	}
	id, err := t.q.LoginFailureInsert(ctx, t.pool, db.LoginFailureInsertParams{Email: email, Ip: ip})
	if err != nil {
		return nil, 0, fmt.Errorf("error recording login attempt: %w", err)
	}
	// The counts include this attempt's own row: it may proceed while they are within the limits.
	wait, err := t.wait(ctx, email, ip, now, 1)
	if err != nil {
		return nil, 0, err
	}
	a := &Attempt{id: id, email: email}
	if wait > 0 {
		// A refused attempt is not a failure: an attacker who keeps knocking does not extend the
		// lockout of the account they target.
		if err := t.q.LoginFailureDelete(ctx, t.pool, id); err != nil {
			return nil, 0, fmt.Errorf("error forgetting throttled login attempt: %w", err)
		}
		return a, max(wait, time.Second), nil
	}
	return a, 0, nil
}

// Locked reports how long attempts on email or from ip are refused from now (0 when they are
// not), without recording an attempt. It is for a caller who proved the password earlier and
// kept the proof (River UI's cache of verified credentials): a lock made since then must still
// stop them, as it stops a fresh login.
func (t *Throttle) Locked(ctx context.Context, email, ip string) (time.Duration, error) {
	wait, err := t.wait(ctx, normalizeEmail(email), ip, time.Now(), 0)
	if err != nil {
		return 0, err
	}
	if wait > 0 {
		return max(wait, time.Second), nil
	}
	return 0, nil
}

// wait is how long from now attempts on email or from ip are refused, given the failures in the
// window of which own are the caller's own attempt (counted but not yet a failure).
func (t *Throttle) wait(ctx context.Context, email, ip string, now time.Time, own int64) (time.Duration, error) {
	c, err := t.q.LoginFailureCounts(ctx, t.pool, db.LoginFailureCountsParams{Email: email, Ip: ip, Since: now.Add(-t.window)})
	if err != nil {
		return 0, fmt.Errorf("error counting login failures: %w", err)
	}
	var wait time.Duration
	if c.EmailFailures-own >= int64(t.maxAccount) {
		wait = max(wait, c.EmailOldest.Add(t.window).Sub(now))
	}
	if c.IpFailures-own >= int64(t.maxIP) {
		wait = max(wait, c.IpOldest.Add(t.window).Sub(now))
	}
	return wait, nil
}

// Succeed forgets the attempt and the account's earlier failures, so a user who finally typed the
// right password starts afresh; the address's failures stay. A failed attempt needs no call: its
// row is the failure.
func (t *Throttle) Succeed(ctx context.Context, a *Attempt) error {
	if err := t.q.LoginFailureClearEmail(ctx, t.pool, a.email); err != nil {
		return fmt.Errorf("error clearing login failures: %w", err)
	}
	return nil
}

// Abandon forgets an attempt that neither failed nor succeeded (the check itself failed).
func (t *Throttle) Abandon(ctx context.Context, a *Attempt) error {
	if err := t.q.LoginFailureDelete(ctx, t.pool, a.id); err != nil {
		return fmt.Errorf("error forgetting login attempt: %w", err)
	}
	return nil
}
