package httpapi_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// Instances cache verified sessions for a few seconds; a logout on one instance must still end the
// session on the other at once (through the events log), not after the cache expires.
func TestLogoutOnOneInstanceEndsTheSessionOnAnother(t *testing.T) {
	t.Parallel()
	a := apptest.Start(t, &apptest.Options{Env: map[string]string{"SESSION_CACHE_TTL": "1h"}})
	b := apptest.Start(t, &apptest.Options{DatabaseURL: a.Config.DatabaseURL, Env: map[string]string{"SESSION_CACHE_TTL": "1h"}})
	_, tok := a.CreateUser("agent@example.com", auth.RoleAgent)

	// B has verified, and cached, the session.
	b.Do("GET", "/api/auth/session", tok, nil, http.StatusOK, nil)
	b.Do("GET", "/api/conversations", tok, nil, http.StatusOK, nil)

	a.Do("POST", "/api/auth/logout", tok, nil, http.StatusNoContent, nil)
	require.Equal(t, http.StatusUnauthorized, a.Request("GET", "/api/conversations", tok, nil).Status, "at once on the instance that logged out")
	require.Eventually(t, func() bool {
		return b.Request("GET", "/api/conversations", tok, nil).Status == http.StatusUnauthorized
	}, 5*time.Second, 5*time.Millisecond, "within milliseconds on the other, long before the cache's hour")
}
