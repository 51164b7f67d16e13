package auth

import (
	"errors"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/dbtest"
)

const testPassword = "correct horse battery"

func newTestLogins(t *testing.T, slots int) (*Logins, *pgxpool.Pool) {
	t.Helper()
	pool, _ := dbtest.New(t)
	users := NewUsers(pool, 4)
	_, err := users.Create(t.Context(), NewUser{Email: "sam@example.com", Name: "Sam", Role: RoleAgent, Password: testPassword})
	require.NoError(t, err)
	l, err := NewLogins(&LoginsConfig{
		Users:    users,
		Throttle: NewThrottle(&ThrottleConfig{Pool: pool, MaxPerAccount: 3, MaxPerIP: 100, Window: time.Hour}),
		Slots:    slots,
		SlotWait: 20 * time.Millisecond,
	})
	require.NoError(t, err)
	return l, pool
}

func countFailures(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), "SELECT count(*) FROM login_failures").Scan(&n))
	return n
}

// A password check waits for one of a few bcrypt slots; with every slot taken by checks under way
// it is refused as busy after a short wait, and that refusal is no failure of the account.
func TestLoginsRefuseWhenEveryBcryptSlotIsTaken(t *testing.T) {
	t.Parallel()
	l, pool := newTestLogins(t, 2)
	require.Equal(t, 2, cap(l.slots))

	// Two checks under way hold both slots.
	l.slots <- struct{}{}
	l.slots <- struct{}{}
	_, err := l.Check(t.Context(), "sam@example.com", testPassword, "192.0.2.1")
	require.ErrorIs(t, err, ErrBusy)
	require.Zero(t, countFailures(t, pool), "a check refused for want of a slot is not counted")

	// One finishes: the next check gets its slot.
	<-l.slots
	u, err := l.Check(t.Context(), "sam@example.com", testPassword, "192.0.2.1")
	require.NoError(t, err)
	require.Equal(t, "sam@example.com", u.Email)
	require.Len(t, l.slots, 1, "the check gave its slot back")
}

// Failures are counted wherever the password was checked, and a locked account is refused its
// right password, by Check and by Locked (a proof remembered from before the lock) alike.
func TestLoginsLockTheAccountForEveryEntrance(t *testing.T) {
	t.Parallel()
	l, pool := newTestLogins(t, 0)
	require.Equal(t, 2*runtime.GOMAXPROCS(0), cap(l.slots), "2×GOMAXPROCS slots by default")
	require.NoError(t, l.Locked(t.Context(), "sam@example.com", "192.0.2.1"))
	for range 3 {
		_, err := l.Check(t.Context(), "Sam@example.com", "wrong password", "192.0.2.1")
		require.ErrorIs(t, err, ErrInvalidCredentials)
	}
	require.Equal(t, 3, countFailures(t, pool))

	_, err := l.Check(t.Context(), "sam@example.com", testPassword, "192.0.2.2")
	var te *ThrottledError
	require.True(t, errors.As(err, &te), "%v", err)
	require.InDelta(t, time.Hour.Seconds(), te.RetryAfter.Seconds(), 10)
	require.Equal(t, 3, countFailures(t, pool), "a refused attempt does not extend the lock")

	err = l.Locked(t.Context(), "SAM@example.com", "192.0.2.3")
	require.True(t, errors.As(err, &te), "%v", err)
	require.InDelta(t, 3600, te.RetryAfterSeconds(), 10)
}
