package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/quickreplies"
)

type quickReplyBody struct {
	ID       int64           `json:"id"`
	Scope    string          `json:"scope"`
	OwnerID  *int64          `json:"owner_id"`
	GroupID  *int64          `json:"group_id"`
	Shortcut string          `json:"shortcut"`
	Body     string          `json:"body"`
	Message  json.RawMessage `json:"message"`
	Editable bool            `json:"editable"`
}

type quickReplyPage struct {
	Data       []quickReplyBody `json:"data"`
	NextCursor *string          `json:"next_cursor"`
}

// qrTeam is a team on one instance: alice (agent) and carol (agent with can_manage_templates) in
// Sales, bob (agent) in Support, sup (supervisor) in no group.
type qrTeam struct {
	in                            *apptest.Instance
	admin, alice, bob, carol, sup string
	aliceID                       int64
	sales, support                int64
}

func newQRTeam(t *testing.T) *qrTeam {
	in := apptest.Start(t, nil)
	tm := &qrTeam{in: in, admin: in.AdminToken()}
	var bobID, carolID int64
	tm.aliceID, _ = in.CreateUser("alice@example.com", auth.RoleAgent)
	bobID, _ = in.CreateUser("bob@example.com", auth.RoleAgent)
	carolID, _ = in.CreateUser("carol@example.com", auth.RoleAgent)
	in.CreateUser("sup@example.com", auth.RoleSupervisor)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", carolID), tm.admin, map[string]any{"can_manage_templates": true}, http.StatusOK, nil)
	var g struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", tm.admin, map[string]any{"name": "Sales", "member_ids": []int64{tm.aliceID, carolID}}, http.StatusCreated, &g)
	tm.sales = g.ID
	in.Do("POST", "/api/groups", tm.admin, map[string]any{"name": "Support", "member_ids": []int64{bobID}}, http.StatusCreated, &g)
	tm.support = g.ID
	tm.alice = login(t, in, "alice@example.com").AccessToken
	tm.bob = login(t, in, "bob@example.com").AccessToken
	tm.carol = login(t, in, "carol@example.com").AccessToken
	tm.sup = login(t, in, "sup@example.com").AccessToken
	return tm
}

func (tm *qrTeam) create(token string, body map[string]any, want int) quickReplyBody {
	var q quickReplyBody
	resp := tm.in.Do("POST", "/api/quick-replies", token, body, want, nil)
	if want == http.StatusCreated {
		require.NoError(tm.in.T, json.Unmarshal(resp.Body, &q))
	}
	return q
}

func (tm *qrTeam) list(token, query string) []string {
	var page quickReplyPage
	tm.in.Do("GET", "/api/quick-replies?"+query, token, nil, http.StatusOK, &page)
	out := make([]string, len(page.Data))
	for i, q := range page.Data {
		out[i] = fmt.Sprintf("%s:%s", q.Scope, q.Shortcut)
	}
	return out
}

// requireError checks an error answer's status, code and field.
func requireError(t *testing.T, resp *apptest.Response, status int, code, field string) {
	t.Helper()
	require.Equal(t, status, resp.Status, "%s", resp.Body)
	var e struct {
		Error struct {
			Code  string `json:"code"`
			Field string `json:"field"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(resp.Body, &e), "%s", resp.Body)
	require.Equal(t, code, e.Error.Code, "%s", resp.Body)
	require.Equal(t, field, e.Error.Field, "%s", resp.Body)
}

func TestQuickReplyVisibilityAndEdits(t *testing.T) {
	t.Parallel()
	tm := newQRTeam(t)
	in := tm.in
	path := func(q quickReplyBody) string { return fmt.Sprintf("/api/quick-replies/%d", q.ID) }
	get := func(token string, q quickReplyBody, want int) quickReplyBody {
		var got quickReplyBody
		resp := in.Do("GET", path(q), token, nil, want, nil)
		if want == http.StatusOK {
			require.NoError(t, json.Unmarshal(resp.Body, &got))
		} else {
			requireError(t, resp, want, "not_found", "")
		}
		return got
	}
	patch := map[string]string{"body": "changed"}

	// Personal: the owner's alone; to everyone else, admins included, it does not exist.
	mine := tm.create(tm.alice, map[string]any{"shortcut": "thanks", "body": "Thank you!"}, http.StatusCreated)
	require.Equal(t, "personal", mine.Scope, "personal by default")
	require.Equal(t, tm.aliceID, *mine.OwnerID)
	require.True(t, get(tm.alice, mine, http.StatusOK).Editable)
	for _, tok := range []string{tm.bob, tm.carol, tm.sup, tm.admin} {
		get(tok, mine, http.StatusNotFound)
		requireError(t, in.Request("PATCH", path(mine), tok, patch), http.StatusNotFound, "not_found", "")
		requireError(t, in.Request("DELETE", path(mine), tok, nil), http.StatusNotFound, "not_found", "")
		require.NotContains(t, tm.list(tok, "prefix=thanks"), "personal:thanks")
	}
	in.Do("PATCH", path(mine), tm.alice, map[string]any{"shortcut": "ty"}, http.StatusOK, nil)

	// A group's: its members see it, supervisors and admins see every group's; managers (admins,
	// supervisors, can_manage_templates) change it, members who are agents may not (403).
	refund := tm.create(tm.admin, map[string]any{"scope": "group", "group_id": tm.sales, "shortcut": "refund", "body": "5 days"}, http.StatusCreated)
	require.Equal(t, tm.sales, *refund.GroupID)
	require.False(t, get(tm.alice, refund, http.StatusOK).Editable)
	require.True(t, get(tm.carol, refund, http.StatusOK).Editable)
	require.True(t, get(tm.sup, refund, http.StatusOK).Editable)
	get(tm.bob, refund, http.StatusNotFound)
	requireError(t, in.Request("PATCH", path(refund), tm.alice, patch), http.StatusForbidden, "forbidden", "")
	requireError(t, in.Request("DELETE", path(refund), tm.alice, nil), http.StatusForbidden, "forbidden", "")
	requireError(t, in.Request("PATCH", path(refund), tm.bob, patch), http.StatusNotFound, "not_found", "")
	var changed quickReplyBody
	in.Do("PATCH", path(refund), tm.carol, patch, http.StatusOK, &changed)
	require.Equal(t, "changed", changed.Body)
	require.Equal(t, "refund", changed.Shortcut)
	// Managers add to their own groups only; agents to none.
	tm.create(tm.carol, map[string]any{"scope": "group", "group_id": tm.support, "shortcut": "x", "body": "x"}, http.StatusForbidden)
	tm.create(tm.alice, map[string]any{"scope": "group", "group_id": tm.sales, "shortcut": "x", "body": "x"}, http.StatusForbidden)
	tm.create(tm.sup, map[string]any{"scope": "group", "group_id": tm.support, "shortcut": "x", "body": "x"}, http.StatusCreated)

	// The team's: everyone sees it; only managers change it or add one.
	hours := tm.create(tm.sup, map[string]any{"scope": "team", "shortcut": "hours", "body": "9 to 5"}, http.StatusCreated)
	require.Nil(t, hours.OwnerID)
	require.Nil(t, hours.GroupID)
	for _, tok := range []string{tm.alice, tm.bob} {
		require.False(t, get(tok, hours, http.StatusOK).Editable)
		requireError(t, in.Request("PATCH", path(hours), tok, patch), http.StatusForbidden, "forbidden", "")
		requireError(t, in.Request("DELETE", path(hours), tok, nil), http.StatusForbidden, "forbidden", "")
	}
	requireError(t, in.Request("POST", "/api/quick-replies", tm.bob, map[string]any{"scope": "team", "shortcut": "x", "body": "x"}),
		http.StatusForbidden, "forbidden", "")
	in.Do("DELETE", path(hours), tm.carol, nil, http.StatusNoContent, nil)
	get(tm.carol, hours, http.StatusNotFound)
	requireError(t, in.Request("GET", "/api/quick-replies/abc", tm.alice, nil), http.StatusNotFound, "not_found", "")
}

func TestQuickReplyShortcutConflictsAndSearch(t *testing.T) {
	t.Parallel()
	tm := newQRTeam(t)
	in := tm.in
	tm.create(tm.admin, map[string]any{"scope": "team", "shortcut": "Hello", "body": "Hello!"}, http.StatusCreated)
	// The same shortcut, whatever its case, conflicts within a scope only.
	resp := in.Request("POST", "/api/quick-replies", tm.sup, map[string]any{"scope": "team", "shortcut": "hELLO", "body": "again"})
	requireError(t, resp, http.StatusConflict, "conflict", "")
	require.Contains(t, string(resp.Body), "hELLO")
	tm.create(tm.admin, map[string]any{"scope": "group", "group_id": tm.sales, "shortcut": "hello", "body": "Sales"}, http.StatusCreated)
	tm.create(tm.admin, map[string]any{"scope": "group", "group_id": tm.support, "shortcut": "hello", "body": "Support"}, http.StatusCreated)
	requireError(t, in.Request("POST", "/api/quick-replies", tm.carol, map[string]any{"scope": "group", "group_id": tm.sales, "shortcut": "HELLO", "body": "x"}),
		http.StatusConflict, "conflict", "")
	tm.create(tm.alice, map[string]any{"shortcut": "hello", "body": "mine"}, http.StatusCreated)
	tm.create(tm.bob, map[string]any{"shortcut": "hello", "body": "mine"}, http.StatusCreated)
	hi := tm.create(tm.alice, map[string]any{"shortcut": "hi", "body": "mine"}, http.StatusCreated)
	requireError(t, in.Request("PATCH", fmt.Sprintf("/api/quick-replies/%d", hi.ID), tm.alice, map[string]any{"shortcut": "HeLLo"}),
		http.StatusConflict, "conflict", "")
	tm.create(tm.admin, map[string]any{"scope": "team", "shortcut": "help_desk", "body": "x"}, http.StatusCreated)
	tm.create(tm.admin, map[string]any{"scope": "team", "shortcut": "bye", "body": "x"}, http.StatusCreated)

	// Search by prefix, case-insensitive, a leading / ignored, _ literal; only what the caller sees,
	// by shortcut whatever its case, then oldest first.
	require.Equal(t, []string{"team:Hello", "group:hello", "personal:hello", "team:help_desk"}, tm.list(tm.alice, "prefix=HEL"))
	require.Equal(t, []string{"team:Hello", "group:hello", "personal:hello", "team:help_desk"}, tm.list(tm.alice, "prefix="+url.QueryEscape("/hel")))
	require.Equal(t, []string{"team:help_desk"}, tm.list(tm.alice, "prefix=help_"))
	require.Empty(t, tm.list(tm.alice, "prefix=hel%25"))
	require.Equal(t, []string{"personal:hello", "personal:hi"}, tm.list(tm.alice, "scope=personal"))
	require.Equal(t, []string{"group:hello", "group:hello"}, tm.list(tm.sup, "scope=group"), "supervisors see every group's")
	require.Equal(t, []string{"team:bye", "team:Hello", "team:help_desk"}, tm.list(tm.bob, "scope=team"))

	// Pages: limit and next_cursor, as every list.
	var all []string
	q := "limit=2"
	for {
		var page quickReplyPage
		in.Do("GET", "/api/quick-replies?"+q, tm.alice, nil, http.StatusOK, &page)
		for _, r := range page.Data {
			all = append(all, r.Scope+":"+r.Shortcut)
		}
		if page.NextCursor == nil {
			break
		}
		q = "limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	require.Equal(t, tm.list(tm.alice, ""), all)
	require.Len(t, all, 6)

	for _, tt := range []struct{ query, code, field string }{
		{"scope=everyone", "invalid_request", "scope"},
		{"prefix=" + strings.Repeat("a", 33), "invalid_request", "prefix"},
		{"cursor=not-a-cursor", "invalid_cursor", ""},
		{"limit=0", "invalid_limit", ""},
	} {
		requireError(t, in.Request("GET", "/api/quick-replies?"+tt.query, tm.alice, nil), http.StatusBadRequest, tt.code, tt.field)
	}
}

func TestQuickReplyValidation(t *testing.T) {
	t.Parallel()
	tm := newQRTeam(t)
	in := tm.in
	buttons := func(body string) map[string]any {
		return map[string]any{"type": "interactive", "interactive": map[string]any{
			"type": "button", "body": map[string]any{"text": body},
			"action": map[string]any{"buttons": []any{map[string]any{"type": "reply", "reply": map[string]any{"id": "yes", "title": "Yes"}}}},
		}}
	}
	for _, tt := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"space in shortcut", map[string]any{"shortcut": "two words", "body": "x"}, "shortcut"},
		{"long shortcut", map[string]any{"shortcut": strings.Repeat("a", 33), "body": "x"}, "shortcut"},
		{"no body", map[string]any{"shortcut": "a"}, "body"},
		{"long body", map[string]any{"shortcut": "a", "body": strings.Repeat("a", 4097)}, "body"},
		{"unknown scope", map[string]any{"shortcut": "a", "body": "x", "scope": "everyone"}, "scope"},
		{"group without group_id", map[string]any{"shortcut": "a", "body": "x", "scope": "group"}, "group_id"},
		{"group that does not exist", map[string]any{"shortcut": "a", "body": "x", "scope": "group", "group_id": tm.support + 100}, "group_id"},
		{"text message", map[string]any{"shortcut": "a", "message": map[string]any{"type": "text", "text": map[string]any{"body": "x"}}}, "message.type"},
		{"interactive without body text", map[string]any{"shortcut": "a", "message": buttons("")}, "message.interactive.body.text"},
		{"unknown field in message", map[string]any{"shortcut": "a", "message": map[string]any{"type": "template", "tempalte": map[string]any{}}}, "tempalte"},
	} {
		requireError(t, in.Request("POST", "/api/quick-replies", tm.admin, tt.body), http.StatusBadRequest, "invalid_request", tt.field)
	}

	// A message stands for the body, and comes back in Meta's shape.
	q := tm.create(tm.admin, map[string]any{"scope": "team", "shortcut": "menu", "message": buttons("Pick one")}, http.StatusCreated)
	require.JSONEq(t, `{"type":"interactive","interactive":{"type":"button","body":{"text":"Pick one"},
		"action":{"buttons":[{"type":"reply","reply":{"id":"yes","title":"Yes"}}]}}}`, string(q.Message))
	p := fmt.Sprintf("/api/quick-replies/%d", q.ID)
	// Removing the message of one without a body is refused; a message is checked on PATCH too,
	// strictly.
	requireError(t, in.Request("PATCH", p, tm.admin, map[string]any{"message": nil}), http.StatusBadRequest, "invalid_request", "body")
	requireError(t, in.Request("PATCH", p, tm.admin, map[string]any{"message": buttons("")}), http.StatusBadRequest, "invalid_request", "message.interactive.body.text")
	requireError(t, in.Request("PATCH", p, tm.admin, map[string]any{"message": map[string]any{"type": "interactive", "nope": 1}}),
		http.StatusBadRequest, "invalid_request", "nope")
	requireError(t, in.Request("PATCH", p, tm.admin, map[string]any{"scope": "personal"}), http.StatusBadRequest, "invalid_request", "scope")
	var got quickReplyBody
	in.Do("PATCH", p, tm.admin, map[string]any{"body": "Our menu", "message": nil}, http.StatusOK, &got)
	require.Equal(t, "null", string(got.Message))
	require.Equal(t, "Our menu", got.Body)
}

// The send path expands a quick reply with quickreplies.Use: a quick reply made over the API,
// used by an agent in a real conversation.
func TestQuickReplyVariablesExpandForAConversation(t *testing.T) {
	t.Parallel()
	tm := newQRTeam(t)
	in := tm.in
	ctx := context.Background()
	q := tm.create(tm.admin, map[string]any{"scope": "team", "shortcut": "order",
		"body": "Hi {{contact.name | there}}, {{agent.first_name}} here about conversation {{conversation.id}} ({{contact.phone}}). {{unknown}}",
		"message": map[string]any{"type": "template", "template": map[string]any{"name": "order_update", "language": map[string]any{"code": "en"},
			"components": []any{map[string]any{"type": "body", "parameters": []any{map[string]any{"type": "text", "text": "{{contact.name|customer}}"}}}}}},
	}, http.StatusCreated)

	convID, _ := openConversation(t, in, tm.alice, "15550007777")
	conv, err := in.Inbox.LoadConversation(ctx, convID)
	require.NoError(t, err)
	p, err := in.Sessions.Authenticate(ctx, tm.alice)
	require.NoError(t, err)
	agent, err := in.Users.Me(ctx, p)
	require.NoError(t, err)
	got, err := in.QuickReplies.Use(ctx, p, q.ID, quickreplies.VarsFor(convID, &conv.Contact, &agent.User))
	require.NoError(t, err)
	// A customer the business wrote to first has no profile name yet: the fallback stands in.
	require.Equal(t, fmt.Sprintf("Hi there, alice@example.com here about conversation %d (+15550007777). {{unknown}}", convID), got.Text)
	require.Equal(t, "customer", got.Message.Template.Components[0].Parameters[0].Text)

	bob, err := in.Sessions.Authenticate(ctx, tm.bob)
	require.NoError(t, err)
	mine := tm.create(tm.alice, map[string]any{"shortcut": "mine", "body": "{{agent.email}}"}, http.StatusCreated)
	_, err = in.QuickReplies.Use(ctx, bob, mine.ID, quickreplies.Vars{})
	require.ErrorAs(t, err, new(*apperr.NotFoundError), "another agent's personal quick reply")
}
