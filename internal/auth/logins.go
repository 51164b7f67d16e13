package auth

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/database"
)

// ErrBusy refuses a password check that found no free bcrypt slot in time: too many checks are
// under way on this instance (a burst of guesses, most likely), and waiting longer would only
// hold the caller. It is no failure of the account. Callers answer it with BusyRetryAfter.
var ErrBusy = errors.New("too many password checks under way")

// BusyRetryAfter is how long a caller refused with ErrBusy is asked to wait before trying again.
const BusyRetryAfter = time.Second

// ThrottledError refuses an attempt on an account, or from an address, with too many recent
// failures. The password is not checked, so a locked account is refused even its right password.
type ThrottledError struct {
	// RetryAfter is how long until the oldest counted failure leaves the window.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed logins; retry in %d seconds", e.RetryAfterSeconds())
}

// RetryAfterSeconds is RetryAfter in whole seconds, rounded up, for a Retry-After header.
func (e *ThrottledError) RetryAfterSeconds() int {
	return int(math.Ceil(e.RetryAfter.Seconds()))
}

// abandonTimeout bounds forgetting an attempt whose check failed.
const abandonTimeout = 2 * time.Second

// LoginsConfig configures Logins.
type LoginsConfig struct {
	Users    *Users
	Throttle *Throttle
	// Slots is how many bcrypt computations may run at once on this instance [2×GOMAXPROCS].
	Slots int
	// SlotWait is how long a check waits for a free slot before it is refused with ErrBusy [1s].
	SlotWait time.Duration
}

// Logins checks passwords for every entrance that takes one: the API's login, River UI and a
// user's change of their own password. Each check passes the login throttle first, so failures at
// any entrance count towards the same per-account and per-address limits and a locked account is
// locked everywhere; then it waits for one of a few bcrypt slots, so a burst of guesses (each a
// deliberately slow bcrypt comparison) cannot take every core from the API.
type Logins struct {
	users    *Users
	throttle *Throttle
	slots    chan struct{}
	slotWait time.Duration
}

// NewLogins validates cfg, fills its defaults and returns Logins.
func NewLogins(cfg *LoginsConfig) (*Logins, error) {
	if cfg.Users == nil || cfg.Throttle == nil {
		return nil, errors.New("auth: Users and Throttle are required")
	}
	n := cfg.Slots
	if n <= 0 {
		n = 2 * runtime.GOMAXPROCS(0)
	}
	l := &Logins{users: cfg.Users, throttle: cfg.Throttle, slots: make(chan struct{}, n), slotWait: cfg.SlotWait}
	if l.slotWait <= 0 {
		l.slotWait = time.Second
	}
	return l, nil
}

// Check returns the enabled user with that email and password. It answers a *ThrottledError
// without checking the password when the account or the address is locked, ErrBusy when no
// bcrypt slot freed in time, and ErrInvalidCredentials for an unknown email, a wrong password or
// a disabled user alike (in answer and in time). A failure is recorded (login_failures) before the
// password is checked; a success clears the account's failures.
func (l *Logins) Check(ctx context.Context, email, password, ip string) (db.User, error) {
	a, wait, err := l.throttle.Begin(ctx, email, ip)
	if err != nil {
		return db.User{}, err
	}
	if wait > 0 {
		return db.User{}, &ThrottledError{RetryAfter: wait}
	}
	user, err := l.verify(ctx, email, password)
	switch {
	case errors.Is(err, ErrInvalidCredentials):
		// The attempt's row stays: it is the failure the throttle counts.
		return db.User{}, err
	case err != nil:
		// Not a wrong password (no slot, or the database failed): the attempt does not count.
		// Forgetting it outlives a caller that hung up, but is bounded so a frozen database does
		// not hold the answer.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abandonTimeout)
		defer cancel()
		if aerr := l.throttle.Abandon(actx, a); aerr != nil {
			err = errors.Join(err, aerr)
		}
		return db.User{}, err
	}
	if err := l.throttle.Succeed(ctx, a); err != nil {
		return db.User{}, err
	}
	return user, nil
}

// Locked answers a *ThrottledError when attempts on email or from ip are refused now, and nil
// otherwise. It records nothing and checks no password: it is for credentials verified earlier
// and remembered, which a lock made since must still stop.
func (l *Logins) Locked(ctx context.Context, email, ip string) error {
	wait, err := l.throttle.Locked(ctx, email, ip)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return nil
}

// verify compares the password with the user's hash inside a bcrypt slot. An unknown email is
// compared with a dummy hash so that it costs the same.
func (l *Logins) verify(ctx context.Context, email, password string) (db.User, error) {
	user, err := l.users.q.UserGetByEmail(ctx, l.users.pool, strings.TrimSpace(email))
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return db.User{}, fmt.Errorf("error loading user: %w", err)
	}
	var ok bool
	err = l.withSlot(ctx, func() { ok = CheckPassword(user.PasswordHash, password) })
	if err != nil {
		return db.User{}, err
	}
	if !ok || user.DisabledAt != nil {
		return db.User{}, ErrInvalidCredentials
	}
	return user, nil
}

// withSlot runs f, a bcrypt computation, in one of the instance's slots, waiting for one at most
// slotWait.
func (l *Logins) withSlot(ctx context.Context, f func()) error {
	select {
	case l.slots <- struct{}{}:
	default:
		t := time.NewTimer(l.slotWait)
		defer t.Stop()
		select {
		case l.slots <- struct{}{}:
		case <-t.C:
			return ErrBusy
		case <-ctx.Done():
			return fmt.Errorf("error waiting for a password check: %w", ctx.Err())
		}
	}
	defer func() { <-l.slots }()
	f()
	return nil
}

// ChangePassword sets the caller's own password: current must be their password (checked like a
// login: throttled, and counted as a failure when wrong, answered ErrInvalidCredentials), and
// next a valid new one (an *apperr.FieldError naming new_password otherwise). Every other session of the
// user ends, with its sockets, in the transaction that changes the password; the caller's own
// session stays.
func (l *Logins) ChangePassword(ctx context.Context, sessions *Sessions, p *Principal, current, next, ip string) error {
	if current == "" {
		return &apperr.FieldError{Field: "current_password", Message: "is required"}
	}
	if err := validPassword("new_password", next); err != nil {
		return err
	}
	me, err := l.users.q.UserGetByID(ctx, l.users.pool, p.UserID)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrSessionRevoked
	}
	if err != nil {
		return fmt.Errorf("error loading user %d: %w", p.UserID, err)
	}
	checked, err := l.Check(ctx, me.Email, current, ip)
	if err != nil {
		return err
	}
	var (
		hash    string
		hashErr error
	)
	if err := l.withSlot(ctx, func() { hash, hashErr = HashPassword(next, l.users.cost) }); err != nil {
		return err
	}
	if hashErr != nil {
		return hashErr
	}
	keep, err := uuid.Parse(p.SessionID)
	if err != nil {
		return ErrInvalidToken
	}
	return database.InTx(ctx, l.users.pool, func(tx pgx.Tx) error {
		cur, err := l.users.q.UserGetForUpdate(ctx, tx, p.UserID)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrSessionRevoked
		}
		if err != nil {
			return fmt.Errorf("error loading user %d: %w", p.UserID, err)
		}
		// The password was checked against the hash read before the lock: if it changed since
		// (an admin's reset), current is no longer the password.
		if cur.PasswordHash != checked.PasswordHash || cur.DisabledAt != nil {
			return ErrInvalidCredentials
		}
		if err := l.users.q.UserSetPassword(ctx, tx, db.UserSetPasswordParams{ID: p.UserID, PasswordHash: hash}); err != nil {
			return fmt.Errorf("error setting password of user %d: %w", p.UserID, err)
		}
		return sessions.revokeOthersTx(ctx, tx, p.UserID, keep, RevokePassword)
	})
}
