package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
)

// loginVia tries a wrong password for email, the request saying it was forwarded for xff.
func loginVia(t *testing.T, in *apptest.Instance, xff, email string) int {
	t.Helper()
	b, err := json.Marshal(map[string]string{"email": email, "password": "wrong password"})
	require.NoError(t, err)
	req, err := http.NewRequest("POST", in.URL+"/api/auth/login", bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func failureIPs(t *testing.T, in *apptest.Instance) []string {
	t.Helper()
	rows, err := in.Pool().Query(t.Context(), "SELECT DISTINCT ip FROM login_failures ORDER BY ip")
	require.NoError(t, err)
	defer rows.Close()
	var ips []string
	for rows.Next() {
		var ip string
		require.NoError(t, rows.Scan(&ip))
		ips = append(ips, ip)
	}
	require.NoError(t, rows.Err())
	return ips
}

var perAddressLimit = map[string]string{
	"LOGIN_MAX_FAILURES": "1000", "LOGIN_MAX_FAILURES_PER_IP": "3", "LOGIN_FAILURE_WINDOW": "1h",
}

// Behind a trusted reverse proxy the per-address limit counts the client the proxy saw, not the
// proxy, and not what the client wrote into X-Forwarded-For itself.
func TestThrottleCountsTheClientBehindATrustedProxy(t *testing.T) {
	t.Parallel()
	env := map[string]string{"TRUSTED_PROXIES": "127.0.0.0/8, ::1, 10.0.0.0/8"}
	for k, v := range perAddressLimit {
		env[k] = v
	}
	in := apptest.Start(t, &apptest.Options{Env: env})

	for i := range 3 {
		require.Equal(t, http.StatusUnauthorized, loginVia(t, in, "203.0.113.7", "who@example.com"), "failure %d", i+1)
	}
	require.Equal(t, http.StatusTooManyRequests, loginVia(t, in, "203.0.113.7", "who@example.com"))
	// Another client behind the same proxy is not locked out with it...
	require.Equal(t, http.StatusUnauthorized, loginVia(t, in, "203.0.113.8", "who@example.com"))
	// ...and the locked one cannot pose as someone else by writing addresses of its own.
	require.Equal(t, http.StatusTooManyRequests, loginVia(t, in, "198.51.100.1, 203.0.113.7", "who@example.com"))
	// Through a second trusted proxy it is still itself.
	require.Equal(t, http.StatusTooManyRequests, loginVia(t, in, "203.0.113.7, 10.0.0.5", "who@example.com"))
	require.Equal(t, []string{"203.0.113.7", "203.0.113.8"}, failureIPs(t, in))
}

// A peer that is no trusted proxy has its X-Forwarded-For ignored: a client cannot escape the
// per-address limit by writing a new address into every request.
func TestThrottleIgnoresForwardedForFromUntrustedPeers(t *testing.T) {
	t.Parallel()
	for name, proxies := range map[string]string{"none trusted": "", "others trusted": "10.0.0.0/8"} {
		env := map[string]string{"TRUSTED_PROXIES": proxies}
		for k, v := range perAddressLimit {
			env[k] = v
		}
		in := apptest.Start(t, &apptest.Options{Env: env})
		for _, xff := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
			require.Equal(t, http.StatusUnauthorized, loginVia(t, in, xff, "who@example.com"), name)
		}
		require.Equal(t, http.StatusTooManyRequests, loginVia(t, in, "203.0.113.4", "who@example.com"), name)
		require.Equal(t, []string{"127.0.0.1"}, failureIPs(t, in), name)
	}
}
