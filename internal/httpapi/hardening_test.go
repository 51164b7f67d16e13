package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// /readyz is public: when the database is unreachable it says so by component name, and the
// error, which names the database's user, database and address, goes to the log only.
func TestReadyzNamesTheComponentAndNothingElse(t *testing.T) {
	t.Parallel()
	_, url := dbtest.New(t)
	proxy := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	in := apptest.Start(t, &apptest.Options{DatabaseURL: proxy.URL(url)})
	in.Do("GET", "/readyz", "", nil, http.StatusOK, nil)

	proxy.Down()
	resp := in.Request("GET", "/readyz", "", nil)
	require.Equal(t, http.StatusServiceUnavailable, resp.Status)
	require.JSONEq(t, `{"status":"unavailable","reason":"database"}`, string(resp.Body))
	for _, secret := range []string{proxy.Addr(), "user=", "wainbox_test", "postgres", "dial", "connect"} {
		require.NotContains(t, string(resp.Body), secret)
	}
	proxy.Up()
}

// Answers that carry tokens are never cached.
func TestTokenAnswersAreNotCached(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("sam@example.com", auth.RoleAgent)
	resp := in.Do("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": testPassword}, http.StatusOK, nil)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	var g grant
	require.NoError(t, jsonUnmarshal(resp.Body, &g))
	resp = in.Do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": g.RefreshToken}, http.StatusOK, nil)
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
}

// River UI may not be framed by another site, and its refusal of a cross-origin change is JSON
// in the API's error shape.
func TestRiverUIRefusesFramingAndCrossOriginChangesInJSON(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.AdminToken()
	do := func(method, path string, header map[string]string) (*http.Response, string) {
		req, err := http.NewRequest(method, in.URL+path, strings.NewReader(`{"ids":[1]}`))
		require.NoError(t, err)
		req.SetBasicAuth("admin@example.com", testPassword)
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := in.Client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(b)
	}
	for _, path := range []string{"/admin/river/", "/admin/river/api/states"} {
		resp, _ := do("GET", path, nil)
		require.Equal(t, http.StatusOK, resp.StatusCode, path)
		require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"), path)
		require.Equal(t, "frame-ancestors 'none'", resp.Header.Get("Content-Security-Policy"), path)
	}
	resp, body := do("POST", "/admin/river/api/jobs/retry", map[string]string{"Sec-Fetch-Site": "cross-site", "Content-Type": "application/json"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode, body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.Equal(t, "cross_origin_request", errorCode(t, []byte(body)))
	require.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
}

// A body that arrived within HTTP_BODY_TIMEOUT is not cut short by that deadline while its handler
// still works: a send waiting on a frozen database runs to HTTP_REQUEST_TIMEOUT and answers 503,
// the outage answer, not an error of a cancelled request.
func TestABodyThatArrivedInTimeOutlivesItsDeadline(t *testing.T) {
	t.Parallel()
	const bodyTimeout, requestTimeout = 500 * time.Millisecond, 2 * time.Second
	in, proxy, tok, convID := startBehindProxy(t, map[string]string{
		"HTTP_BODY_TIMEOUT": bodyTimeout.String(), "HTTP_REQUEST_TIMEOUT": requestTimeout.String(),
	})
	proxy.Freeze()
	t.Cleanup(proxy.Up)
	start := time.Now()
	resp := in.Request("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), tok, textBody("6f1c2b9e-2f4a-4c1e-9a43-0c8c2b1e7d11", "hi"))
	requireUnavailable(t, resp)
	require.GreaterOrEqual(t, time.Since(start), requestTimeout)
}
