package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// apiErrorBody is the error answer of the API.
type apiErrorBody struct {
	Error struct {
		Code     string `json:"code"`
		Message  string `json:"message"`
		LockedBy int64  `json:"locked_by"`
	} `json:"error"`
}

func apiErrorOf(t *testing.T, resp *apptest.Response) apiErrorBody {
	t.Helper()
	var e apiErrorBody
	require.NoError(t, json.Unmarshal(resp.Body, &e), "body: %s", resp.Body)
	return e
}

// teamOfFour is an instance with an admin, the agent whose customer the tests are about, an agent
// who may not see that agent's conversations, a supervisor, and a reader (can_read_chats=all,
// can_write_chats=none).
type teamOfFour struct {
	in                                   *apptest.Instance
	admin, other, me, supervisor, reader string
	otherID                              int64
}

func newTeamOfFour(t *testing.T) *teamOfFour {
	t.Helper()
	in := apptest.Start(t, nil)
	tm := &teamOfFour{in: in, admin: in.AdminToken()}
	tm.otherID, tm.other = in.CreateUser("other@example.com", auth.RoleAgent)
	_, tm.me = in.CreateUser("me@example.com", auth.RoleAgent)
	_, tm.supervisor = in.CreateUser("sup@example.com", auth.RoleSupervisor)
	readerID, _ := in.CreateUser("reader@example.com", auth.RoleAgent)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", readerID), tm.admin,
		map[string]any{"can_read_chats": "all", "can_write_chats": "none"}, http.StatusOK, nil)
	tm.reader = login(t, in, "reader@example.com").AccessToken
	return tm
}

// othersConversation opens a conversation with waID and assigns it to the other agent.
func (tm *teamOfFour) othersConversation(t *testing.T, waID string) int64 {
	t.Helper()
	conv, _ := openConversation(t, tm.in, tm.admin, waID)
	tm.in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", conv), tm.admin, map[string]any{"agent_id": tm.otherID}, http.StatusOK, nil)
	return conv
}

// TestTakeoverConflictIsForThoseWhoMayRead: taking over another agent's conversation fails, and
// the answer says why (status, assignee) only to those who may read the conversation; to an agent
// who may not, it does not exist. Nothing is written either way.
func TestTakeoverConflictIsForThoseWhoMayRead(t *testing.T) {
	t.Parallel()
	tm := newTeamOfFour(t)
	in := tm.in
	conv := tm.othersConversation(t, "16505557001")
	path := fmt.Sprintf("/api/conversations/%d/takeover", conv)
	history := count(t, in, "conversation_history")

	resp := in.Request("POST", path, tm.me, nil)
	require.Equal(t, http.StatusNotFound, resp.Status, "%s", resp.Body)
	hidden := apiErrorOf(t, resp)
	require.Equal(t, "not_found", hidden.Error.Code)
	missing := apiErrorOf(t, in.Request("POST", "/api/conversations/987654/takeover", tm.me, nil))
	require.Equal(t, fmt.Sprintf("conversation %d does not exist", conv), hidden.Error.Message)
	require.Equal(t, "conversation 987654 does not exist", missing.Error.Message, "the same answer as for an id that does not exist")

	for _, tok := range []string{tm.supervisor, tm.reader} {
		resp = in.Request("POST", path, tok, nil)
		require.Equal(t, http.StatusConflict, resp.Status, "%s", resp.Body)
		e := apiErrorOf(t, resp)
		require.Equal(t, "conflict", e.Error.Code)
		require.Contains(t, e.Error.Message, "status open")
		require.Contains(t, e.Error.Message, fmt.Sprintf("assigned to %d", tm.otherID))
	}

	require.Equal(t, history, count(t, in, "conversation_history"), "nothing written")
	var c convBody
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", conv), tm.admin, nil, http.StatusOK, &c)
	require.Equal(t, tm.otherID, *c.AssigneeID)
}

// TestStartConversationWithAnotherAgentsCustomer: starting a conversation with a customer whose
// conversation the caller may not read answers 404 as if there were none, without naming the
// conversation, whatever its lock, and writes nothing (the transaction that stored the message is
// rolled back). Those who may read it get the helpful answers: 403 to a reader, 409 locked to a
// supervisor while another agent holds the composer lock.
func TestStartConversationWithAnotherAgentsCustomer(t *testing.T) {
	t.Parallel()
	tm := newTeamOfFour(t)
	in := tm.in
	const waID = "16505557002"
	conv := tm.othersConversation(t, waID)
	start := func(tok string) *apptest.Response {
		b := text()
		b["wa_id"] = "+" + waID
		return in.Request("POST", "/api/conversations", tok, b)
	}
	written := []string{"messages", sendJobs, "events WHERE kind IN ('message.created', 'conversation.created')", "contacts", "conversations"}
	counts := func() []int {
		n := make([]int, len(written))
		for i, table := range written {
			n[i] = count(t, in, table)
		}
		return n
	}
	before := counts()

	hiddenFromMe := func() {
		t.Helper()
		resp := start(tm.me)
		require.Equal(t, http.StatusNotFound, resp.Status, "%s", resp.Body)
		e := apiErrorOf(t, resp)
		require.Equal(t, "not_found", e.Error.Code)
		require.Equal(t, "conversation with wa_id "+waID+" does not exist", e.Error.Message)
		require.NotContains(t, string(resp.Body), fmt.Sprintf("conversation %d", conv))
	}
	hiddenFromMe()

	resp := start(tm.reader)
	require.Equal(t, http.StatusForbidden, resp.Status, "%s", resp.Body)
	require.Equal(t, "forbidden", apiErrorOf(t, resp).Error.Code)

	// The other agent holds the composer lock: still nothing for me, the lock for the supervisor.
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/lock", conv), tm.other, nil, http.StatusOK, nil)
	hiddenFromMe()
	resp = start(tm.supervisor)
	require.Equal(t, http.StatusConflict, resp.Status, "%s", resp.Body)
	locked := apiErrorOf(t, resp)
	require.Equal(t, "locked", locked.Error.Code)
	require.Equal(t, tm.otherID, locked.Error.LockedBy)

	require.Equal(t, before, counts(), "nothing written: %v", written)

	// The agent whose customer it is writes to it.
	b := text()
	b["wa_id"] = waID
	var ans startAnswer
	in.Do("POST", "/api/conversations", tm.other, b, http.StatusAccepted, &ans)
	require.Equal(t, conv, ans.Conversation.ID)
}
