package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/realtime"
)

func errorField(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Field string `json:"field"`
		} `json:"error"`
	}
	require.NoError(t, jsonUnmarshal(body, &e), "body: %s", body)
	return e.Error.Field
}

func requireBadField(t *testing.T, resp *apptest.Response, field string) {
	t.Helper()
	require.Equal(t, http.StatusBadRequest, resp.Status, "%s", resp.Body)
	require.Equal(t, field, errorField(t, resp.Body), "%s", resp.Body)
}

func loginWith(in *apptest.Instance, email, password string) int {
	return in.Request("POST", "/api/auth/login", "", map[string]string{"email": email, "password": password}).Status
}

// An admin's reset of a user's password ends every session of the user, access and refresh
// tokens and sockets alike: whoever knew the old password, or logged in with it, is out.
func TestPasswordResetEndsEverySession(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	id, _ := in.CreateUser("sam@example.com", auth.RoleAgent)
	a := login(t, in, "sam@example.com")
	b := login(t, in, "sam@example.com")
	sock := wsConnect(t, in, a.AccessToken)

	const next = "a brand new passphrase"
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), admin, map[string]any{"password": next}, http.StatusOK, nil)
	for _, g := range []grant{a, b} {
		resp := in.Request("GET", "/api/auth/session", g.AccessToken, nil)
		require.Equal(t, http.StatusUnauthorized, resp.Status)
		require.Equal(t, "session_revoked", errorCode(t, resp.Body))
		require.Equal(t, http.StatusUnauthorized, in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": g.RefreshToken}).Status)
	}
	_, code := wsEvents(t, sock, 10*time.Second)
	require.Equal(t, realtime.CloseSessionRevoked, code)
	require.Equal(t, http.StatusUnauthorized, loginWith(in, "sam@example.com", testPassword))
	require.Equal(t, http.StatusOK, loginWith(in, "sam@example.com", next))
	in.Do("GET", "/api/auth/session", admin, nil, http.StatusOK, nil)

	// Passwords past bcrypt's 72 bytes are refused, naming the field, not truncated or a 500.
	requireBadField(t, in.Request("PATCH", fmt.Sprintf("/api/users/%d", id), admin, map[string]any{"password": strings.Repeat("p", 73)}), "password")
	requireBadField(t, in.Request("POST", "/api/users", admin, map[string]any{
		"email": "long@example.com", "name": "Long", "role": "agent", "password": strings.Repeat("p", 73),
	}), "password")
	// Nobody resets their own password without the current one.
	var me struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	in.Do("GET", "/api/auth/session", admin, nil, http.StatusOK, &me)
	requireBadField(t, in.Request("PATCH", fmt.Sprintf("/api/users/%d", me.User.ID), admin, map[string]any{"password": next}), "password")
}

// POST /api/me/password: the current password is checked like a login's (counted, throttled),
// the new one is bounded, and every other session of the user ends while the caller's stays.
func TestChangeOwnPassword(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_IP": "1000", "LOGIN_FAILURE_WINDOW": "1h",
	}})
	in.CreateUser("sam@example.com", auth.RoleAgent)
	in.CreateUser("kim@example.com", auth.RoleAgent)
	mine := login(t, in, "sam@example.com")
	other := login(t, in, "sam@example.com")
	kim := login(t, in, "kim@example.com")
	mySock := wsConnect(t, in, mine.AccessToken)
	otherSock := wsConnect(t, in, other.AccessToken)
	kimSock := wsConnect(t, in, kim.AccessToken)
	change := func(current, next string) *apptest.Response {
		return in.Request("POST", "/api/me/password", mine.AccessToken, map[string]string{"current_password": current, "new_password": next})
	}

	next := strings.Repeat("n", 72) // bcrypt's limit is allowed
	requireBadField(t, change(testPassword, "too short"), "new_password")
	requireBadField(t, change(testPassword, next+"x"), "new_password")
	requireBadField(t, change("", next), "current_password")
	require.Zero(t, loginFailures(t, in, "sam@example.com"), "bad input checks no password")
	resp := change("not my password", next)
	require.Equal(t, http.StatusForbidden, resp.Status, "%s", resp.Body)
	require.Equal(t, "invalid_credentials", errorCode(t, resp.Body))
	require.Equal(t, "current_password", errorField(t, resp.Body))
	require.Equal(t, 1, loginFailures(t, in, "sam@example.com"), "a wrong current password is a failed login")
	in.Do("GET", "/api/auth/session", mine.AccessToken, nil, http.StatusOK, nil)

	in.Do("POST", "/api/me/password", mine.AccessToken, map[string]string{"current_password": testPassword, "new_password": next}, http.StatusNoContent, nil)
	require.Zero(t, loginFailures(t, in, "sam@example.com"), "proving the password clears the account's failures")
	// The other session is over, its socket closed; this one, and another user's, go on.
	_, code := wsEvents(t, otherSock, 10*time.Second)
	require.Equal(t, realtime.CloseSessionRevoked, code)
	require.Equal(t, http.StatusUnauthorized, in.Request("GET", "/api/auth/session", other.AccessToken, nil).Status)
	require.Equal(t, http.StatusUnauthorized, in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": other.RefreshToken}).Status)
	in.Do("GET", "/api/auth/session", mine.AccessToken, nil, http.StatusOK, nil)
	in.Do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": mine.RefreshToken}, http.StatusOK, nil)
	for _, s := range []*websocket.Conn{mySock, kimSock} {
		_, code = wsEvents(t, s, 300*time.Millisecond)
		require.Equal(t, websocket.StatusCode(-1), code, "the caller's and other users' sockets stay open")
	}
	require.Equal(t, http.StatusUnauthorized, loginWith(in, "sam@example.com", testPassword))
	require.Equal(t, http.StatusOK, loginWith(in, "sam@example.com", next))

	// Guessing the current password locks the account like guessing at the login does.
	for range 3 {
		require.Equal(t, http.StatusForbidden, change("still not mine", testPassword).Status)
	}
	requireLocked(t, change(next, testPassword), "the right current password of a locked account")
	requireLocked(t, in.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": next}), "login")
}
