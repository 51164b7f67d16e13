package httpapi_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

func TestMetricsForScrapersAndPermittedUsers(t *testing.T) {
	t.Parallel()
	const scrape = "scrape-token-0123456789"
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"METRICS_TOKEN": scrape}})
	_, agent := in.CreateUser("agent@example.com", auth.RoleAgent)
	in.Do("GET", "/api/conversations", agent, nil, http.StatusOK, nil)

	resp := in.Request("GET", "/metrics", scrape, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	body := string(resp.Body)
	for _, name := range []string{
		`wainbox_http_requests_total{code="200",route="GET /api/conversations"}`,
		"wainbox_realtime_sockets",
		"go_goroutines",
	} {
		require.Contains(t, body, name)
	}
	require.False(t, strings.Contains(body, "/api/conversations/1"), "series are per route pattern, not per path")

	require.Equal(t, http.StatusForbidden, in.Request("GET", "/metrics", agent, nil).Status, "agents may not read metrics by default")
	require.Equal(t, http.StatusOK, in.Request("GET", "/metrics", in.AdminToken(), nil).Status)
	require.Equal(t, http.StatusUnauthorized, in.Request("GET", "/metrics", "wrong-scrape-token", nil).Status)
}
