package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// riverUIAs requests River UI's page with HTTP Basic credentials.
func riverUIAs(t *testing.T, in *apptest.Instance, email, password string) *apptest.Response {
	t.Helper()
	req, err := http.NewRequest("GET", in.URL+"/admin/river/", nil)
	require.NoError(t, err)
	req.SetBasicAuth(email, password)
	resp, err := in.Client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return &apptest.Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func loginFailures(t *testing.T, in *apptest.Instance, email string) int {
	t.Helper()
	var n int
	require.NoError(t, in.Pool().QueryRow(t.Context(), "SELECT count(*) FROM login_failures WHERE email = $1", email).Scan(&n))
	return n
}

func requireLocked(t *testing.T, resp *apptest.Response, msg string) {
	t.Helper()
	require.Equal(t, http.StatusTooManyRequests, resp.Status, "%s: %s", msg, resp.Body)
	require.Equal(t, "too_many_attempts", errorCode(t, resp.Body), msg)
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err, msg)
	require.InDelta(t, 3600, retry, 10, msg)
}

// River UI takes an admin's password: it is throttled, counted and locked exactly like the login,
// whichever entrance the failures came through, and its cache of verified credentials does not
// outlast a lock.
func TestRiverUIIsThrottledLikeTheLogin(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_IP": "1000", "LOGIN_FAILURE_WINDOW": "1h",
	}})
	in.AdminToken()

	statuses := map[int]int{}
	var last *apptest.Response
	for range 30 {
		last = riverUIAs(t, in, "admin@example.com", "wrong password")
		statuses[last.Status]++
	}
	require.Equal(t, map[int]int{http.StatusUnauthorized: 3, http.StatusTooManyRequests: 27}, statuses,
		"three guesses are checked, the rest refused")
	requireLocked(t, last, "the 30th guess")
	require.Equal(t, 3, loginFailures(t, in, "admin@example.com"), "River UI's failures are recorded")

	// The account is locked at every entrance, to its right password too.
	requireLocked(t, riverUIAs(t, in, "admin@example.com", testPassword), "River UI, right password")
	requireLocked(t, in.Request("POST", "/api/auth/login", "", map[string]string{"email": "admin@example.com", "password": testPassword}),
		"login, right password")

	// An admin whose credentials River UI verified and remembers: failures at the login lock
	// River UI too, remembered credentials or not.
	in.CreateUser("boss@example.com", auth.RoleAdmin)
	require.Equal(t, http.StatusOK, riverUIAs(t, in, "boss@example.com", testPassword).Status)
	require.Equal(t, http.StatusOK, riverUIAs(t, in, "boss@example.com", testPassword).Status)
	for range 3 {
		in.Do("POST", "/api/auth/login", "", map[string]string{"email": "boss@example.com", "password": "wrong password"}, http.StatusUnauthorized, nil)
	}
	requireLocked(t, riverUIAs(t, in, "boss@example.com", testPassword), "River UI, remembered credentials of a locked account")
}

// Password guesses are bcrypt comparisons, slow on purpose; only a few run at once, so a burst of
// them leaves the API answering. Each guess names another (unknown) account, so no throttle
// refuses it before its comparison.
func TestRiverUIGuessesDoNotStarveTheAPI(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"LOGIN_MAX_FAILURES": "1000", "LOGIN_MAX_FAILURES_PER_IP": "100000",
	}})
	_, tok := in.CreateUser("agent@example.com", auth.RoleAgent)
	in.Do("GET", "/api/auth/session", tok, nil, http.StatusOK, nil)

	const n = 40
	var (
		wg       sync.WaitGroup
		answered atomic.Int32
		statuses [n]int
		retries  [n]string
	)
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			req, err := http.NewRequest("GET", in.URL+"/admin/river/", nil)
			if err != nil {
				panic(err)
			}
			req.SetBasicAuth(fmt.Sprintf("guess%d@example.com", i), "wrong password")
			resp, err := in.Client.Do(req)
			if err == nil {
				statuses[i], retries[i] = resp.StatusCode, resp.Header.Get("Retry-After")
				resp.Body.Close()
			}
			answered.Add(1)
		})
	}
	close(start)
	began := time.Now()
	in.Do("GET", "/api/auth/session", tok, nil, http.StatusOK, nil)
	read := time.Since(began)
	pending := n - int(answered.Load())
	wg.Wait()
	burst := time.Since(began)

	t.Logf("API read %s while %d of %d guesses were pending; the guesses took %s: %v", read, pending, n, burst, statuses)
	require.Positive(t, pending, "the read answered while guesses were still being checked")
	require.Less(t, read, burst/2, "the read did not wait for the guesses")
	for i, s := range statuses {
		// Wrong (401), or refused for want of a bcrypt slot (503 busy): never let through.
		require.Contains(t, []int{http.StatusUnauthorized, http.StatusServiceUnavailable}, s, "guess %d", i)
		if s == http.StatusServiceUnavailable {
			require.Equal(t, "1", retries[i], "a busy answer says when to retry")
		}
	}
}
