package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/realtime"
)

const testPassword = "correct horse battery"

type grant struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	SessionID    string `json:"session_id"`
	ExpiresIn    int    `json:"expires_in"`
}

func login(t *testing.T, in *apptest.Instance, email string) grant {
	t.Helper()
	var g grant
	in.Do("POST", "/api/auth/login", "", map[string]string{"email": email, "password": testPassword}, http.StatusOK, &g)
	require.NotEmpty(t, g.AccessToken)
	require.NotEmpty(t, g.RefreshToken)
	return g
}

func errorCode(t *testing.T, body []byte) string {
	t.Helper()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(body, &e), "body: %s", body)
	return e.Error.Code
}

func TestRefreshRotationAndReuseDetection(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("sam@example.com", auth.RoleAgent)
	first := login(t, in, "sam@example.com")

	var second grant
	in.Do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken}, http.StatusOK, &second)
	require.NotEqual(t, first.RefreshToken, second.RefreshToken, "the refresh token rotates")
	require.Equal(t, first.SessionID, second.SessionID, "rotation stays in the session")
	require.InDelta(t, 900, second.ExpiresIn, 2)
	in.Do("GET", "/api/auth/session", second.AccessToken, nil, http.StatusOK, nil)
	in.Do("GET", "/api/auth/session", first.AccessToken, nil, http.StatusOK, nil)

	var third grant
	in.Do("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": second.RefreshToken}, http.StatusOK, &third)

	// Presenting the used first token again: theft. The whole session is revoked.
	resp := in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": first.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "refresh_token_reused", errorCode(t, resp.Body))
	resp = in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": third.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, resp.Status, "the newest token of the family is revoked too")
	require.Equal(t, "invalid_refresh_token", errorCode(t, resp.Body))
	resp = in.Request("GET", "/api/auth/session", third.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status, "and so are the session's access tokens")
	require.Equal(t, "session_revoked", errorCode(t, resp.Body))

	// Another login is another session, untouched.
	other := login(t, in, "sam@example.com")
	in.Do("GET", "/api/auth/session", other.AccessToken, nil, http.StatusOK, nil)

	for name, body := range map[string]any{
		"unknown": map[string]string{"refresh_token": "nope"},
		"empty":   map[string]string{"refresh_token": ""},
		"extra":   map[string]string{"refresh_token": "x", "other": "y"},
	} {
		resp := in.Request("POST", "/api/auth/refresh", "", body)
		require.Contains(t, []int{http.StatusBadRequest, http.StatusUnauthorized}, resp.Status, name)
	}
}

func TestConcurrentRefreshWithOneTokenHasOneWinner(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("sam@example.com", auth.RoleAgent)
	g := login(t, in, "sam@example.com")

	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": g.RefreshToken}).Status
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for _, s := range statuses {
		if s == http.StatusOK {
			won++
		} else {
			require.Equal(t, http.StatusUnauthorized, s)
		}
	}
	require.Equal(t, 1, won, "exactly one refresh wins: %v", statuses)
}

func TestLogoutAndSession(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	id, _ := in.CreateUser("sam@example.com", auth.RoleSupervisor)
	g := login(t, in, "sam@example.com")

	var s struct {
		User struct {
			ID    int64  `json:"id"`
			Email string `json:"email"`
		} `json:"user"`
		Role        string           `json:"role"`
		Permissions auth.Permissions `json:"permissions"`
		SessionID   string           `json:"session_id"`
		ExpiresAt   time.Time        `json:"expires_at"`
	}
	in.Do("GET", "/api/auth/session", g.AccessToken, nil, http.StatusOK, &s)
	require.Equal(t, id, s.User.ID)
	require.Equal(t, "supervisor", s.Role)
	require.Equal(t, auth.RolePermissions(auth.RoleSupervisor), s.Permissions)
	require.Equal(t, g.SessionID, s.SessionID)
	require.WithinDuration(t, time.Now().Add(15*time.Minute), s.ExpiresAt, 5*time.Second)

	in.Do("POST", "/api/auth/logout", g.AccessToken, nil, http.StatusNoContent, nil)
	resp := in.Request("GET", "/api/auth/session", g.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status, "logout ends the access token at once")
	require.Equal(t, "session_revoked", errorCode(t, resp.Body))
	resp = in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": g.RefreshToken})
	require.Equal(t, http.StatusUnauthorized, resp.Status, "and the refresh token")
}

func TestLoginThrottling(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_IP": "6", "LOGIN_FAILURE_WINDOW": "1h",
	}})
	in.CreateUser("sam@example.com", auth.RoleAgent)
	in.CreateUser("kim@example.com", auth.RoleAgent)
	bad := func(email string) *apptest.Response {
		return in.Request("POST", "/api/auth/login", "", map[string]string{"email": email, "password": "wrong password!"})
	}
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, bad("Sam@example.com").Status)
	}
	resp := bad("sam@example.com")
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	require.Equal(t, "too_many_attempts", errorCode(t, resp.Body))
	retry, err := strconv.Atoi(resp.Header.Get("Retry-After"))
	require.NoError(t, err)
	require.InDelta(t, 3600, retry, 10)
	// The right password does not get through a locked account either.
	resp = in.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": testPassword})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
	// Another account is unaffected, and its success clears only its own failures.
	login(t, in, "kim@example.com")

	// Unknown accounts are throttled like known ones (nothing to learn from the answer), and the
	// address limit (6) catches spraying across accounts.
	require.Equal(t, http.StatusUnauthorized, bad("who1@example.com").Status)
	require.Equal(t, http.StatusUnauthorized, bad("who2@example.com").Status)
	require.Equal(t, http.StatusUnauthorized, bad("who3@example.com").Status)
	resp = bad("who4@example.com")
	require.Equal(t, http.StatusTooManyRequests, resp.Status, "the address has 6 failures")
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	resp = in.Request("POST", "/api/auth/login", "", map[string]string{"email": "kim@example.com", "password": testPassword})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)

	// The limit lives in PostgreSQL: a second instance on the same database enforces it.
	in2 := apptest.Start(t, &apptest.Options{DatabaseURL: in.Config.DatabaseURL, Env: map[string]string{
		"LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_IP": "6", "LOGIN_FAILURE_WINDOW": "1h",
	}})
	resp = in2.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": testPassword})
	require.Equal(t, http.StatusTooManyRequests, resp.Status)
}

func TestDisabledUserAndRevokedSessions(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	id, _ := in.CreateUser("sam@example.com", auth.RoleAgent)
	a := login(t, in, "sam@example.com")
	b := login(t, in, "sam@example.com")

	// An admin revokes every session: both logins end, access and refresh tokens alike.
	in.Do("POST", fmt.Sprintf("/api/users/%d/revoke-sessions", id), admin, nil, http.StatusNoContent, nil)
	for _, g := range []grant{a, b} {
		require.Equal(t, http.StatusUnauthorized, in.Request("GET", "/api/conversations", g.AccessToken, nil).Status)
		require.Equal(t, http.StatusUnauthorized, in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": g.RefreshToken}).Status)
	}
	// The user can log in again.
	c := login(t, in, "sam@example.com")
	in.Do("GET", "/api/conversations", c.AccessToken, nil, http.StatusOK, nil)

	// Disabling ends the sessions and refuses logins, with the answer of a wrong password.
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), admin, map[string]any{"disabled": true}, http.StatusOK, nil)
	resp := in.Request("GET", "/api/conversations", c.AccessToken, nil)
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "session_revoked", errorCode(t, resp.Body))
	require.Equal(t, http.StatusUnauthorized, in.Request("POST", "/api/auth/refresh", "", map[string]string{"refresh_token": c.RefreshToken}).Status)
	resp = in.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": testPassword})
	require.Equal(t, http.StatusUnauthorized, resp.Status)
	require.Equal(t, "invalid_credentials", errorCode(t, resp.Body))

	// Enabled again, the user logs in; an admin cannot disable themselves.
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), admin, map[string]any{"disabled": false}, http.StatusOK, nil)
	login(t, in, "sam@example.com")
	var me struct {
		User struct {
			ID int64 `json:"id"`
		} `json:"user"`
	}
	in.Do("GET", "/api/auth/session", admin, nil, http.StatusOK, &me)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", me.User.ID), admin, map[string]any{"disabled": true}, http.StatusBadRequest, nil)
}

// wsConnect opens a socket, authenticates and subscribes from now.
func wsConnect(t *testing.T, in *apptest.Instance, token string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.URL, "http") + "/api/ws"
	conn, _, err := websocket.Dial(ctx, url, nil)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.CloseNow() })
	send := func(v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		require.NoError(t, conn.Write(ctx, websocket.MessageText, b))
	}
	expect := func(typ string) {
		_, b, err := conn.Read(ctx)
		require.NoError(t, err)
		var m struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(b, &m))
		require.Equal(t, typ, m.Type, "message: %s", b)
	}
	send(map[string]any{"type": "auth", "token": token})
	expect("authenticated")
	send(map[string]any{"type": "resume"})
	expect("ready")
	return conn
}

// wsEvents reads events until the socket closes, and returns them with the close status.
func wsEvents(t *testing.T, conn *websocket.Conn, timeout time.Duration) ([]map[string]any, websocket.StatusCode) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	var events []map[string]any
	for {
		_, b, err := conn.Read(ctx)
		if err != nil {
			return events, websocket.CloseStatus(err)
		}
		var m map[string]any
		require.NoError(t, json.Unmarshal(b, &m))
		if m["type"] == "event" {
			events = append(events, m)
		}
	}
}

func TestRevokedSessionsCloseSockets(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	id, _ := in.CreateUser("sam@example.com", auth.RoleAgent)
	in.CreateUser("kim@example.com", auth.RoleAgent)
	a := login(t, in, "sam@example.com")
	b := login(t, in, "sam@example.com")
	kim := login(t, in, "kim@example.com")

	sockA := wsConnect(t, in, a.AccessToken)
	sockB := wsConnect(t, in, b.AccessToken)
	sockKim := wsConnect(t, in, kim.AccessToken)

	// Logging out of one session closes that session's socket only.
	in.Do("POST", "/api/auth/logout", a.AccessToken, nil, http.StatusNoContent, nil)
	_, code := wsEvents(t, sockA, 10*time.Second)
	require.Equal(t, realtime.CloseSessionRevoked, code)

	// Disabling the user closes the rest; another user's socket stays open.
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), admin, map[string]any{"disabled": true}, http.StatusOK, nil)
	_, code = wsEvents(t, sockB, 10*time.Second)
	require.Equal(t, realtime.CloseSessionRevoked, code)
	_, code = wsEvents(t, sockKim, 500*time.Millisecond)
	require.Equal(t, websocket.StatusCode(-1), code, "kim's socket is still open")

	// A revoked session cannot open a socket.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(in.URL, "http")+"/api/ws", nil)
	require.NoError(t, err)
	defer conn.CloseNow()
	msg, _ := json.Marshal(map[string]any{"type": "auth", "token": b.AccessToken})
	require.NoError(t, conn.Write(ctx, websocket.MessageText, msg))
	_, code = wsEvents(t, conn, 10*time.Second)
	require.Equal(t, realtime.CloseInvalidToken, code)
}

// openConversation opens a conversation with a new number as token's user and returns its id
// and first message id.
func openConversation(t *testing.T, in *apptest.Instance, token, waID string) (int64, int64) {
	t.Helper()
	var out struct {
		Conversation struct {
			ID int64 `json:"id"`
		} `json:"conversation"`
		Message struct {
			ID int64 `json:"id"`
		} `json:"message"`
	}
	in.CustomerWrote(waID, time.Now())
	in.Do("POST", "/api/conversations", token, map[string]any{
		"wa_id": waID, "client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "hello"},
	}, http.StatusAccepted, &out)
	return out.Conversation.ID, out.Message.ID
}

func TestSocketsDeliverOnlyPermittedConversationEvents(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	samID, _ := in.CreateUser("sam@example.com", auth.RoleAgent)
	kimID, _ := in.CreateUser("kim@example.com", auth.RoleAgent)
	sam := login(t, in, "sam@example.com")
	kim := login(t, in, "kim@example.com")
	samConv, _ := openConversation(t, in, admin, "15550005551")
	kimConv, _ := openConversation(t, in, admin, "15550005552")
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", samConv), admin, map[string]any{"agent_id": samID}, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", kimConv), admin, map[string]any{"agent_id": kimID}, http.StatusOK, nil)

	sock := wsConnect(t, in, sam.AccessToken)
	// Activity on kim's conversation first, then on sam's: when sam's event arrives, kim's
	// would have arrived before it.
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/notes", kimConv), kim.AccessToken, map[string]any{"body": "kim's secret"}, http.StatusCreated, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/tags", kimConv), kim.AccessToken, map[string]any{"tag": "kim"}, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/lock", kimConv), kim.AccessToken, nil, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/notes", samConv), sam.AccessToken, map[string]any{"body": "sam's"}, http.StatusCreated, nil)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := sock.Read(ctx)
		require.NoError(t, err)
		var m struct {
			Type           string `json:"type"`
			Kind           string `json:"kind"`
			ConversationID *int64 `json:"conversation_id"`
			Data           struct {
				Action  string         `json:"action"`
				Details map[string]any `json:"details"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(b, &m))
		if m.Type != "event" {
			continue
		}
		require.NotNil(t, m.ConversationID, "%s", b)
		if *m.ConversationID == kimConv && m.Kind == "conversation.updated" && m.Data.Action == "assign" {
			// The one event of kim's conversation sam may get: its assignment to kim, which took
			// it out of the queue sam saw it in (the socket may connect before the listener has
			// read that commit).
			prev, ok := m.Data.Details["previous_assignee_id"]
			require.True(t, ok && prev == nil, "%s", b)
			continue
		}
		require.Equal(t, samConv, *m.ConversationID, "sam received an event of kim's conversation: %s", b)
		if m.Kind == "note.created" {
			break
		}
	}
}

func TestConcurrentLoginAttemptsRespectTheLimit(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"LOGIN_MAX_FAILURES": "3", "LOGIN_MAX_FAILURES_PER_IP": "1000"}})
	in.CreateUser("sam@example.com", auth.RoleAgent)
	const n = 20
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			statuses[i] = in.Request("POST", "/api/auth/login", "", map[string]string{"email": "sam@example.com", "password": "guess " + strconv.Itoa(i)}).Status
		})
	}
	close(start)
	wg.Wait()
	checked := 0
	for _, s := range statuses {
		if s == http.StatusUnauthorized {
			checked++
		} else {
			require.Equal(t, http.StatusTooManyRequests, s)
		}
	}
	require.LessOrEqual(t, checked, 3, "a parallel burst gets no more password checks than the limit: %v", statuses)
}

func TestUserAndGroupAdministration(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	// A supervisor who manages users: it may grant the scopes and the role it holds itself.
	mgrID, _ := in.CreateUser("mgr@example.com", auth.RoleSupervisor)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", mgrID), admin, map[string]any{"can_manage_users": true}, http.StatusOK, nil)
	mgr := login(t, in, "mgr@example.com").AccessToken

	type user struct {
		ID          int64            `json:"id"`
		Role        string           `json:"role"`
		Permissions auth.Permissions `json:"permissions"`
		Overrides   map[string]any   `json:"overrides"`
		GroupIDs    []int64          `json:"group_ids"`
	}
	var u user
	in.Do("POST", "/api/users", mgr, map[string]any{
		"email": "new@example.com", "name": "New", "role": "agent", "password": testPassword, "can_read_chats": "group",
	}, http.StatusCreated, &u)
	require.Equal(t, "group", u.Permissions.ReadChats)
	require.Equal(t, "assigned", u.Permissions.WriteChats)
	login(t, in, "new@example.com")

	resp := in.Request("POST", "/api/users", mgr, map[string]any{"email": "bad", "name": "X", "role": "agent", "password": "long enough pw"})
	require.Equal(t, http.StatusBadRequest, resp.Status)
	require.Contains(t, string(resp.Body), `"field":"email"`)
	in.Do("POST", "/api/users", mgr, map[string]any{"email": "new@example.com", "name": "X", "role": "agent", "password": "long enough pw"}, http.StatusConflict, nil)
	in.Do("POST", "/api/users", mgr, map[string]any{"email": "x@example.com", "name": "X", "role": "agent", "password": "short"}, http.StatusBadRequest, nil)
	in.Do("POST", "/api/users", mgr, map[string]any{"email": "x@example.com", "name": "X", "role": "agent", "password": "long enough pw", "level": 3}, http.StatusBadRequest, nil)
	// No escalation through another account.
	in.Do("POST", "/api/users", mgr, map[string]any{"email": "boss@example.com", "name": "B", "role": "admin", "password": "long enough pw"}, http.StatusForbidden, nil)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", u.ID), mgr, map[string]any{"can_manage_users": true}, http.StatusForbidden, nil)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", u.ID), mgr, map[string]any{"can_read_chats": "everything"}, http.StatusBadRequest, nil)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", u.ID), mgr, map[string]any{"role": "boss"}, http.StatusBadRequest, nil)
	in.Do("PATCH", "/api/users/999999", mgr, map[string]any{"name": "x"}, http.StatusNotFound, nil)

	// Null goes back to the role's default; a role change moves the defaults.
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", u.ID), mgr, map[string]any{"can_read_chats": nil, "role": "supervisor"}, http.StatusOK, &u)
	require.Equal(t, auth.RolePermissions(auth.RoleSupervisor), u.Permissions)
	require.Nil(t, u.Overrides["can_read_chats"])

	// Groups: members both ways; names are unique; deleting frees the members.
	var g struct {
		ID        int64   `json:"id"`
		MemberIDs []int64 `json:"member_ids"`
	}
	in.Do("POST", "/api/groups", mgr, map[string]any{"name": "Support", "member_ids": []int64{u.ID}}, http.StatusCreated, &g)
	require.Equal(t, []int64{u.ID}, g.MemberIDs)
	in.Do("POST", "/api/groups", mgr, map[string]any{"name": "support"}, http.StatusConflict, nil)
	in.Do("POST", "/api/groups", mgr, map[string]any{"name": " "}, http.StatusBadRequest, nil)
	in.Do("POST", "/api/groups", mgr, map[string]any{"name": "Ghosts", "member_ids": []int64{999999}}, http.StatusBadRequest, nil)
	in.Do("GET", fmt.Sprintf("/api/users/%d", u.ID), mgr, nil, http.StatusOK, &u)
	require.Equal(t, []int64{g.ID}, u.GroupIDs)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", mgrID), admin, map[string]any{"group_ids": []int64{g.ID}}, http.StatusOK, nil)
	in.Do("PATCH", fmt.Sprintf("/api/groups/%d", g.ID), mgr, map[string]any{"name": "Support L1"}, http.StatusOK, &g)
	require.ElementsMatch(t, []int64{u.ID, mgrID}, g.MemberIDs)
	var groups struct {
		Data []map[string]any `json:"data"`
	}
	_, agent := in.CreateUser("plain@example.com", auth.RoleAgent)
	in.Do("GET", "/api/groups", agent, nil, http.StatusOK, &groups)
	require.Len(t, groups.Data, 1)
	require.NotContains(t, groups.Data[0], "member_ids", "agents see teams, not their members")
	in.Do("DELETE", fmt.Sprintf("/api/groups/%d", g.ID), mgr, nil, http.StatusNoContent, nil)
	in.Do("DELETE", fmt.Sprintf("/api/groups/%d", g.ID), mgr, nil, http.StatusNotFound, nil)
	in.Do("GET", fmt.Sprintf("/api/users/%d", u.ID), mgr, nil, http.StatusOK, &u)
	require.Empty(t, u.GroupIDs)
}
