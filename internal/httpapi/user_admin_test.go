package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// newManager makes an agent with can_manage_users (not an admin) and returns its id and token.
func newManager(t *testing.T, in *apptest.Instance, email string) (int64, string) {
	t.Helper()
	id, _ := in.CreateUser(email, auth.RoleAgent)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), in.AdminToken(), map[string]any{"can_manage_users": true}, http.StatusOK, nil)
	return id, login(t, in, email).AccessToken
}

type adminView struct {
	Role     string  `json:"role"`
	Disabled bool    `json:"disabled"`
	Name     string  `json:"name"`
	GroupIDs []int64 `json:"group_ids"`
}

// A manager who is not an admin changes no admin, through any route that changes a user: it
// cannot log them out, edit them, reset their password, or move them between groups.
func TestOnlyAdminsActOnAdmins(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	bossID, boss := in.CreateUser("boss@example.com", auth.RoleAdmin)
	_, mgr := newManager(t, in, "mgr@example.com")
	var g struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Support"}, http.StatusCreated, &g)
	user := fmt.Sprintf("/api/users/%d", bossID)

	in.Do("POST", user+"/revoke-sessions", mgr, nil, http.StatusForbidden, nil)
	for _, patch := range []map[string]any{
		{"name": "Renamed"}, {"role": "agent"}, {"disabled": true}, {"can_read_chats": "none"},
		{"can_manage_users": false}, {"max_conversations": 1}, {"password": "taken over by mgr"}, {"group_ids": []int64{g.ID}},
	} {
		resp := in.Request("PATCH", user, mgr, patch)
		require.Equal(t, http.StatusForbidden, resp.Status, "%v: %s", patch, resp.Body)
		require.Equal(t, "forbidden", errorCode(t, resp.Body))
	}
	in.Do("POST", "/api/groups", mgr, map[string]any{"name": "Annex", "member_ids": []int64{bossID}}, http.StatusForbidden, nil)
	in.Do("PATCH", fmt.Sprintf("/api/groups/%d", g.ID), mgr, map[string]any{"member_ids": []int64{bossID}}, http.StatusForbidden, nil)
	in.Do("PATCH", fmt.Sprintf("/api/groups/%d", g.ID), admin, map[string]any{"member_ids": []int64{bossID}}, http.StatusOK, nil)
	in.Do("PATCH", fmt.Sprintf("/api/groups/%d", g.ID), mgr, map[string]any{"member_ids": []int64{}}, http.StatusForbidden, nil)
	in.Do("DELETE", fmt.Sprintf("/api/groups/%d", g.ID), mgr, nil, http.StatusForbidden, nil)
	// Changes of the group that leave the admin's membership alone are the manager's to make.
	in.Do("PATCH", fmt.Sprintf("/api/groups/%d", g.ID), mgr, map[string]any{"name": "Support L1", "member_ids": []int64{bossID}}, http.StatusOK, nil)

	// The admin is untouched: same session, name, role, groups and password.
	in.Do("GET", "/api/auth/session", boss, nil, http.StatusOK, nil)
	var v adminView
	in.Do("GET", user, admin, nil, http.StatusOK, &v)
	require.Equal(t, adminView{Role: "admin", Name: "boss@example.com", GroupIDs: []int64{g.ID}}, v)
	login(t, in, "boss@example.com")

	// An admin may.
	in.Do("POST", user+"/revoke-sessions", admin, nil, http.StatusNoContent, nil)
	require.Equal(t, http.StatusUnauthorized, in.Request("GET", "/api/auth/session", boss, nil).Status)
}

// A manager who is not an admin grants nobody, itself included, more than it holds, and does not
// take over an account that holds more by setting its password.
func TestManagersGrantOnlyWhatTheyHold(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	mgrID, mgr := newManager(t, in, "mgr@example.com")
	agentID, _ := in.CreateUser("agent@example.com", auth.RoleAgent)
	supID, _ := in.CreateUser("sup@example.com", auth.RoleSupervisor)
	agent, me := fmt.Sprintf("/api/users/%d", agentID), fmt.Sprintf("/api/users/%d", mgrID)

	for _, c := range []struct {
		path  string
		patch map[string]any
	}{
		{agent, map[string]any{"role": "admin"}},
		{agent, map[string]any{"role": "supervisor"}},
		{agent, map[string]any{"can_manage_users": true}},
		{agent, map[string]any{"can_read_chats": "all"}},
		{agent, map[string]any{"can_write_chats": "group"}},
		{agent, map[string]any{"can_view_metrics": true}},
		{agent, map[string]any{"can_manage_templates": true}},
		{me, map[string]any{"can_read_chats": "all"}},
		{fmt.Sprintf("/api/users/%d", supID), map[string]any{"password": "taken over by mgr"}},
	} {
		resp := in.Request("PATCH", c.path, mgr, c.patch)
		require.Equal(t, http.StatusForbidden, resp.Status, "%s %v: %s", c.path, c.patch, resp.Body)
	}
	for _, body := range []map[string]any{
		{"role": "supervisor"}, {"role": "agent", "can_read_chats": "group"}, {"role": "agent", "can_view_metrics": true},
	} {
		body["email"], body["name"], body["password"] = "new@example.com", "New", testPassword
		in.Do("POST", "/api/users", mgr, body, http.StatusForbidden, nil)
	}

	// What it holds, it may hand out, take away and give back; and an agent's password it may set.
	in.Do("PATCH", agent, mgr, map[string]any{"can_read_chats": "none", "can_use_tags": false}, http.StatusOK, nil)
	in.Do("PATCH", agent, mgr, map[string]any{"can_read_chats": nil, "can_use_tags": true}, http.StatusOK, nil)
	in.Do("PATCH", agent, mgr, map[string]any{"password": "reset by mgr!"}, http.StatusOK, nil)
	in.Do("POST", "/api/users", mgr, map[string]any{"email": "new@example.com", "name": "New", "role": "agent", "password": testPassword}, http.StatusCreated, nil)
}

// Whether a manager may act on a user is decided under the user's row lock, in the transaction of
// the change: a promotion to admin committed while the manager's request waits is what it sees.
func TestAdminRuleIsDecidedUnderTheUsersRowLock(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	_, mgr := newManager(t, in, "mgr@example.com")
	id, tok := in.CreateUser("sam@example.com", auth.RoleAgent)
	ctx := t.Context()
	waiting := func() bool {
		var n int
		require.NoError(t, in.Pool().QueryRow(ctx,
			"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'").Scan(&n))
		return n > 0
	}

	promoteWhileWaiting := func(method, path string, body any) *apptest.Response {
		tx, err := in.Pool().Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }() // after Commit, a no-op
		_, err = tx.Exec(ctx, "UPDATE users SET role = 'admin' WHERE id = $1", id)
		require.NoError(t, err)
		answer := make(chan *apptest.Response, 1)
		go func() { answer <- in.Request(method, path, mgr, body) }()
		require.Eventually(t, waiting, 10*time.Second, 5*time.Millisecond, "%s waits for the user's row lock", path)
		require.NoError(t, tx.Commit(ctx))
		return <-answer
	}
	for _, call := range []struct {
		method, path string
		body         any
	}{
		{"POST", fmt.Sprintf("/api/users/%d/revoke-sessions", id), nil},
		{"PATCH", fmt.Sprintf("/api/users/%d", id), map[string]any{"name": "Renamed"}},
	} {
		resp := promoteWhileWaiting(call.method, call.path, call.body)
		require.Equal(t, http.StatusForbidden, resp.Status, "%s %s: %s", call.method, call.path, resp.Body)
		in.Do("GET", "/api/auth/session", tok, nil, http.StatusOK, nil)
		_, err := in.Pool().Exec(ctx, "UPDATE users SET role = 'agent' WHERE id = $1", id)
		require.NoError(t, err)
	}
}
