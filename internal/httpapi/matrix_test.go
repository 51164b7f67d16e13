package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/httpapi"
)

// The callers of the permission matrix: the three roles, and agents with permission overrides.
const (
	asAdmin      = "admin"
	asSupervisor = "supervisor"
	asAgent      = "agent"   // role defaults: reads and writes its own conversations and the free pool
	asManager    = "manager" // an agent with can_manage_users
	asReader     = "reader"  // an agent with can_read_chats=all, can_write_chats=none
	asNobody     = "nobody"  // an agent with can_read_chats=none
)

var matrixCallers = []string{asAdmin, asSupervisor, asAgent, asManager, asReader, asNobody}

// matrixEnv is what fixtures build on: another agent's conversation in a group none of the
// callers belongs to, so only "all" scopes reach it.
type matrixEnv struct {
	t       *testing.T
	in      *apptest.Instance
	admin   string
	otherID int64
	groupID int64
	seq     atomic.Int64
}

// conversation makes a fresh conversation of the other agent, in the group, and returns its id
// and its first message's id.
func (e *matrixEnv) conversation() (int64, int64) {
	n := e.seq.Add(1)
	conv, msg := openConversation(e.t, e.in, e.admin, fmt.Sprintf("1666%07d", n))
	e.in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", conv), e.admin, map[string]any{"agent_id": e.otherID, "group_id": e.groupID}, http.StatusOK, nil)
	return conv, msg
}

func (e *matrixEnv) unique() int64 { return e.seq.Add(1) }

// fixture returns the concrete path and body of one call.
type fixture func(e *matrixEnv) (path string, body any)

func conv(suffix string, body any) fixture {
	return func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		return fmt.Sprintf("/api/conversations/%d%s", id, suffix), body
	}
}

func static(path string, body any) fixture {
	return func(*matrixEnv) (string, any) { return path, body }
}

// groupQuickReply makes a quick reply of the group none of the callers belongs to.
func groupQuickReply(body any) fixture {
	return func(e *matrixEnv) (string, any) {
		var q struct {
			ID int64 `json:"id"`
		}
		e.in.Do("POST", "/api/quick-replies", e.admin, map[string]any{
			"scope": "group", "group_id": e.groupID, "shortcut": fmt.Sprintf("qr%d", e.unique()), "body": "hi",
		}, http.StatusCreated, &q)
		return fmt.Sprintf("/api/quick-replies/%d", q.ID), body
	}
}

// expect builds a row: the status each caller gets.
// templateDraft is a template in Meta's creation shape.
func templateDraft(name string) map[string]any {
	return map[string]any{"name": name, "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Your order {{1}} is ready.",
			"example": map[string]any{"body_text": [][]string{{"#42"}}}}}}
}

// newTemplate creates a template at (simulated) Meta as the admin and returns its path.
func newTemplate(e *matrixEnv) (string, any) {
	var tb struct {
		ID int64 `json:"id"`
	}
	e.in.Do("POST", "/api/templates", e.admin, templateDraft(fmt.Sprintf("matrix_%d", e.unique())), http.StatusCreated, &tb)
	return fmt.Sprintf("/api/templates/%d", tb.ID), nil
}

func expect(admin, supervisor, agent, manager, reader, nobody int) map[string]int {
	return map[string]int{asAdmin: admin, asSupervisor: supervisor, asAgent: agent, asManager: manager, asReader: reader, asNobody: nobody}
}

func all(status int) map[string]int { return expect(status, status, status, status, status, status) }

type matrixRow struct {
	fixture fixture
	want    map[string]int
}

const (
	s200 = http.StatusOK
	s201 = http.StatusCreated
	s202 = http.StatusAccepted
	s204 = http.StatusNoContent
	s400 = http.StatusBadRequest
	s401 = http.StatusUnauthorized
	s403 = http.StatusForbidden
	s404 = http.StatusNotFound
	s409 = http.StatusConflict
)

// Conversation routes: read ones answer 404 to those who may not see the conversation, write ones
// also 403 to those who may see but not write it.
var (
	readConv  = expect(s200, s200, s404, s404, s200, s404)
	manageAll = expect(s200, s403, s403, s200, s403, s403)
)

func text() map[string]any {
	return map[string]any{"client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "hi"}}
}

// permissionMatrix has one row per /api/ route. A route added to the route table without a row
// fails TestPermissionMatrix: whoever adds a route decides here who may call it.
var permissionMatrix = map[string]matrixRow{
	"POST /api/auth/login": {func(e *matrixEnv) (string, any) {
		return "/api/auth/login", map[string]string{"email": fmt.Sprintf("who%d@example.com", e.unique()), "password": "wrong password"}
	}, all(s401)},
	"POST /api/auth/refresh":        {static("/api/auth/refresh", map[string]string{"refresh_token": "not-a-token"}), all(s401)},
	"POST /api/auth/logout":         {static("/api/auth/logout", nil), all(s204)},
	"GET /api/auth/session":         {static("/api/auth/session", nil), all(s200)},
	"GET /api/conversations":        {static("/api/conversations", nil), all(s200)},
	"GET /api/conversations/unread": {static("/api/conversations/unread", nil), all(s200)},
	"POST /api/conversations": {func(e *matrixEnv) (string, any) {
		b := text()
		b["wa_id"] = fmt.Sprintf("1777%07d", e.unique())
		e.in.CustomerWrote(b["wa_id"].(string), time.Now())
		return "/api/conversations", b
	}, expect(s202, s202, s202, s202, s403, s404)},
	"GET /api/conversations/{id}":          {conv("", nil), readConv},
	"GET /api/conversations/{id}/messages": {conv("/messages", nil), readConv},
	"POST /api/conversations/{id}/messages": {func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		return fmt.Sprintf("/api/conversations/%d/messages", id), text()
	}, expect(s202, s202, s404, s404, s403, s404)},
	"GET /api/messages/{id}": {func(e *matrixEnv) (string, any) {
		_, msg := e.conversation()
		return fmt.Sprintf("/api/messages/%d", msg), nil
	}, readConv},
	// Retrying a message that has not failed is a conflict, once the caller may write.
	"POST /api/messages/{id}/retry": {func(e *matrixEnv) (string, any) {
		_, msg := e.conversation()
		return fmt.Sprintf("/api/messages/%d/retry", msg), nil
	}, expect(s409, s409, s404, s404, s403, s404)},
	// Uploading a file to send is a write, like sending; reading a file, like reading messages.
	"POST /api/conversations/{id}/media": {func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		return fmt.Sprintf("/api/conversations/%d/media?filename=note.txt", id), "a note for the customer"
	}, expect(s201, s201, s404, s404, s403, s404)},
	"GET /api/media/{id}": {func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		var up struct {
			ID int64 `json:"id"`
		}
		e.in.Do("POST", fmt.Sprintf("/api/conversations/%d/media", id), e.admin, "a note for the customer", http.StatusCreated, &up)
		return fmt.Sprintf("/api/media/%d", up.ID), nil
	}, readConv},
	// Marking read sends the customer a read receipt: a write, like sending.
	"POST /api/conversations/{id}/read": {conv("/read", nil), expect(s200, s200, s404, s404, s403, s404)},
	"GET /api/users":                    {static("/api/users", nil), manageAll},
	"POST /api/users": {func(e *matrixEnv) (string, any) {
		return "/api/users", map[string]any{"email": fmt.Sprintf("new%d@example.com", e.unique()), "name": "New", "role": "agent", "password": "long enough pw"}
	}, expect(s201, s403, s403, s201, s403, s403)},
	"GET /api/users/{id}": {func(e *matrixEnv) (string, any) {
		return fmt.Sprintf("/api/users/%d", e.otherID), nil
	}, manageAll},
	"PATCH /api/users/{id}": {func(e *matrixEnv) (string, any) {
		return fmt.Sprintf("/api/users/%d", e.otherID), map[string]any{"name": "Other"}
	}, manageAll},
	"POST /api/users/{id}/revoke-sessions": {func(e *matrixEnv) (string, any) {
		return fmt.Sprintf("/api/users/%d/revoke-sessions", e.otherID), nil
	}, expect(s204, s403, s403, s204, s403, s403)},
	"PATCH /api/me/availability": {static("/api/me/availability", map[string]string{"availability": "busy"}), all(s200)},
	"GET /api/groups":            {static("/api/groups", nil), all(s200)},
	"GET /api/colleagues":        {static("/api/colleagues", nil), all(s200)},
	// Everyone may change their own password; the fixture's new one is too short, so no caller's
	// password changes and no current password is checked (a wrong one would count as a failure).
	"POST /api/me/password": {static("/api/me/password", map[string]string{"current_password": "not checked", "new_password": "short"}), all(s400)},
	"POST /api/groups": {func(e *matrixEnv) (string, any) {
		return "/api/groups", map[string]any{"name": fmt.Sprintf("Team %d", e.unique())}
	}, expect(s201, s403, s403, s201, s403, s403)},
	"PATCH /api/groups/{id}": {func(e *matrixEnv) (string, any) {
		return fmt.Sprintf("/api/groups/%d", e.groupID), map[string]any{"auto_assign": false}
	}, manageAll},
	"DELETE /api/groups/{id}": {func(e *matrixEnv) (string, any) {
		var g struct {
			ID int64 `json:"id"`
		}
		e.in.Do("POST", "/api/groups", e.admin, map[string]any{"name": fmt.Sprintf("Doomed %d", e.unique())}, http.StatusCreated, &g)
		return fmt.Sprintf("/api/groups/%d", g.ID), nil
	}, expect(s204, s403, s403, s204, s403, s403)},
	"POST /api/conversations/{id}/status": {conv("/status", map[string]string{"status": "pending"}), expect(s200, s200, s404, s404, s403, s404)},
	// Takeover of a bot conversation of another team: those who write everything win it.
	"POST /api/conversations/{id}/takeover": {func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		toBot(e.t, e.in, id)
		e.in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", id), e.admin, map[string]any{"group_id": e.groupID}, http.StatusOK, nil)
		return fmt.Sprintf("/api/conversations/%d/takeover", id), nil
	}, expect(s200, s200, s404, s404, s403, s404)},
	"POST /api/conversations/{id}/release": {conv("/release", nil), expect(s200, s200, s404, s404, s403, s404)},
	"POST /api/conversations/{id}/assign": {func(e *matrixEnv) (string, any) {
		id, _ := e.conversation()
		return fmt.Sprintf("/api/conversations/%d/assign", id), map[string]any{"group_id": nil}
	}, expect(s200, s200, s404, s404, s403, s404)},
	"GET /api/conversations/{id}/lock":          {conv("/lock", nil), readConv},
	"POST /api/conversations/{id}/lock":         {conv("/lock", nil), expect(s200, s200, s404, s404, s403, s404)},
	"DELETE /api/conversations/{id}/lock":       {conv("/lock", nil), expect(s204, s204, s404, s404, s403, s404)},
	"GET /api/conversations/{id}/tags":          {conv("/tags", nil), readConv},
	"POST /api/conversations/{id}/tags":         {conv("/tags", map[string]string{"tag": "vip"}), expect(s200, s200, s404, s404, s403, s404)},
	"DELETE /api/conversations/{id}/tags/{tag}": {conv("/tags/vip", nil), expect(s200, s200, s404, s404, s403, s404)},
	"GET /api/conversations/{id}/notes":         {conv("/notes", nil), readConv},
	"POST /api/conversations/{id}/notes":        {conv("/notes", map[string]string{"body": "private"}), expect(s201, s201, s404, s404, s403, s404)},
	"GET /api/conversations/{id}/history":       {conv("/history", nil), readConv},
	// Handing a conversation to the human queue is a write.
	"POST /api/conversations/{id}/bot": {conv("/bot", map[string]bool{"enabled": false}), expect(s200, s200, s404, s404, s403, s404)},
	// Quick replies: a group's are seen by its members and by those who read every chat, and
	// changed by those who also hold can_manage_templates (not the user manager); adding a team's
	// needs can_manage_templates.
	"GET /api/quick-replies": {static("/api/quick-replies?prefix=q", nil), all(s200)},
	"POST /api/quick-replies": {func(e *matrixEnv) (string, any) {
		return "/api/quick-replies", map[string]any{"scope": "team", "shortcut": fmt.Sprintf("team%d", e.unique()), "body": "hi"}
	}, expect(s201, s201, s403, s403, s403, s403)},
	"GET /api/quick-replies/{id}":    {groupQuickReply(nil), readConv},
	"PATCH /api/quick-replies/{id}":  {groupQuickReply(map[string]string{"body": "changed"}), expect(s200, s200, s404, s404, s403, s404)},
	"DELETE /api/quick-replies/{id}": {groupQuickReply(nil), expect(s204, s204, s404, s404, s403, s404)},
	// Templates: read by whoever reads conversations (they are what is sent outside the window);
	// synced, created and deleted at Meta by those with can_manage_templates.
	"GET /api/templates":         {static("/api/templates", nil), expect(s200, s200, s200, s200, s200, s403)},
	"POST /api/templates/sync":   {static("/api/templates/sync", nil), expect(s200, s200, s403, s403, s403, s403)},
	"GET /api/templates/{id}":    {newTemplate, expect(s200, s200, s200, s200, s200, s403)},
	"DELETE /api/templates/{id}": {newTemplate, expect(s204, s204, s403, s403, s403, s403)},
	"POST /api/templates": {func(e *matrixEnv) (string, any) {
		return "/api/templates", templateDraft(fmt.Sprintf("matrix_%d", e.unique()))
	}, expect(s201, s201, s403, s403, s403, s403)},
	// The detailed health: admins and those with can_view_metrics (supervisors by default).
	"GET /api/health/detailed": {static("/api/health/detailed", nil), expect(s200, s200, s403, s403, s403, s403)},
	// Reports: read by admins and supervisors (can_view_reports); the per-conversation rows, with
	// customers' numbers, by admins (can_export_data).
	"GET /api/reports/summary":       {static("/api/reports/summary", nil), expect(s200, s200, s403, s403, s403, s403)},
	"GET /api/reports/conversations": {static("/api/reports/conversations", nil), expect(s200, s403, s403, s403, s403, s403)},
	// The WebSocket authenticates in its first message; a plain GET is refused the upgrade.
	"GET /api/ws": {static("/api/ws", nil), all(http.StatusUpgradeRequired)},
	"/api/":       {static("/api/no-such-route", nil), all(s404)},
}

func TestPermissionMatrix(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	e := &matrixEnv{t: t, in: in, admin: in.AdminToken()}
	e.otherID, _ = in.CreateUser("other@example.com", auth.RoleAgent)
	var g struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", e.admin, map[string]any{"name": "Elsewhere", "member_ids": []int64{e.otherID}}, http.StatusCreated, &g)
	e.groupID = g.ID

	emails := map[string]string{asAdmin: "admin@example.com"}
	for _, c := range matrixCallers[1:] {
		role := auth.RoleAgent
		if c == asSupervisor {
			role = auth.RoleSupervisor
		}
		id, _ := in.CreateUser(c+"@example.com", role)
		emails[c] = c + "@example.com"
		patch := map[string]any{}
		switch c {
		case asManager:
			patch["can_manage_users"] = true
		case asReader:
			patch["can_read_chats"], patch["can_write_chats"] = "all", "none"
		case asNobody:
			patch["can_read_chats"] = "none"
		}
		if len(patch) > 0 {
			in.Do("PATCH", fmt.Sprintf("/api/users/%d", id), e.admin, patch, http.StatusOK, nil)
		}
	}

	covered := 0
	for _, rt := range in.Routes() {
		_, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok {
			path = rt.Pattern
		}
		if !strings.HasPrefix(path, "/api/") {
			continue
		}
		row, ok := permissionMatrix[rt.Pattern]
		require.True(t, ok, "route %q has no row in permissionMatrix: decide who may call it", rt.Pattern)
		covered++
		method, _ := concretePath(rt.Pattern)
		for _, caller := range matrixCallers {
			want, ok := row.want[caller]
			require.True(t, ok, "route %q has no expectation for %s", rt.Pattern, caller)
			// A fresh login per call: some calls end their session (logout).
			tok := ""
			if rt.Access != httpapi.Public || strings.HasSuffix(rt.Pattern, "/api/ws") {
				tok = login(t, in, emails[caller]).AccessToken
			}
			p, body := row.fixture(e)
			resp := in.Request(method, p, tok, body)
			require.Equal(t, want, resp.Status, "%s %s as %s: %s", method, p, caller, resp.Body)
		}
	}
	require.Len(t, permissionMatrix, covered, "permissionMatrix has rows for routes that no longer exist")
}
