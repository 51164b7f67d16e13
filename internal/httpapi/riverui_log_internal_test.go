package httpapi

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// lockedBuffer is a log destination the server's goroutines and the test share.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Every failed or refused River UI login is logged with its entrance, email and address, never
// the password, like the API's.
func TestRiverUILogsFailedLogins(t *testing.T) {
	t.Parallel()
	pool, _ := dbtest.New(t)
	users := auth.NewUsers(pool, 4)
	_, err := users.Create(t.Context(), auth.NewUser{Email: "admin@example.com", Name: "Admin", Role: auth.RoleAdmin, Password: "correct horse battery"})
	require.NoError(t, err)
	logins, err := auth.NewLogins(&auth.LoginsConfig{
		Users: users, Throttle: auth.NewThrottle(&auth.ThrottleConfig{Pool: pool, MaxPerAccount: 1, MaxPerIP: 100, Window: time.Hour}),
	})
	require.NoError(t, err)
	var logs lockedBuffer
	ui := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(withRequestID(slog.New(slog.NewTextHandler(&logs, nil)))(
		requireAdminBrowser(&passwords{logins: logins}, time.Minute, ui)))
	t.Cleanup(srv.Close)
	get := func(password string) int {
		req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/admin/river/", nil)
		require.NoError(t, err)
		req.SetBasicAuth("admin@example.com", password)
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	require.Equal(t, http.StatusUnauthorized, get("guess one"))
	require.Contains(t, logs.String(), `msg="login failed"`)
	require.Contains(t, logs.String(), `entrance=river_ui ip=127.0.0.1 email=admin@example.com`)
	require.Equal(t, http.StatusTooManyRequests, get("correct horse battery"))
	require.Contains(t, logs.String(), `entrance=river_ui ip=127.0.0.1 email=admin@example.com retry_after_s=`)
	require.Contains(t, logs.String(), `msg="login throttled"`)
	require.NotContains(t, logs.String(), "guess one")
	require.NotContains(t, logs.String(), "correct horse battery")
}
