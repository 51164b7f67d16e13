package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// TestUnreadCountIsOfTheCallersConversations: GET /api/conversations/unread counts the
// conversations assigned to the caller that hold unread messages, and those messages; another
// agent's unread conversations are not in it, and marking one read takes it out.
func TestUnreadCountIsOfTheCallersConversations(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	meID, meTok := in.CreateUser("me@example.com", auth.RoleAgent)
	otherID, otherTok := in.CreateUser("other@example.com", auth.RoleAgent)
	unread := map[int64]int{}
	for i, c := range []struct {
		assignee int64
		unread   int
	}{{meID, 2}, {meID, 0}, {meID, 1}, {otherID, 3}} {
		id, _ := openConversation(t, in, admin, fmt.Sprintf("1889000%04d", i))
		in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", id), admin, map[string]any{"agent_id": c.assignee}, http.StatusOK, nil)
		// The customers' messages are counted by the inbound path (its own tests); here they are
		// set as it would leave them.
		_, err := in.Pool().Exec(context.Background(), "UPDATE conversations SET unread_count = $2 WHERE id = $1", id, c.unread)
		require.NoError(t, err)
		unread[id] = c.unread
	}
	type count struct {
		Conversations int64 `json:"conversations"`
		Messages      int64 `json:"messages"`
	}
	var got count
	in.Do("GET", "/api/conversations/unread", meTok, nil, http.StatusOK, &got)
	require.Equal(t, count{Conversations: 2, Messages: 3}, got)
	in.Do("GET", "/api/conversations/unread", otherTok, nil, http.StatusOK, &got)
	require.Equal(t, count{Conversations: 1, Messages: 3}, got)
	in.Do("GET", "/api/conversations/unread", admin, nil, http.StatusOK, &got)
	require.Equal(t, count{}, got, "nothing is assigned to the admin")

	for id, n := range unread {
		var c struct {
			AssigneeID *int64 `json:"assignee_id"`
		}
		in.Do("GET", fmt.Sprintf("/api/conversations/%d", id), admin, nil, http.StatusOK, &c)
		if n == 2 && c.AssigneeID != nil && *c.AssigneeID == meID {
			in.Do("POST", fmt.Sprintf("/api/conversations/%d/read", id), meTok, nil, http.StatusOK, nil)
		}
	}
	in.Do("GET", "/api/conversations/unread", meTok, nil, http.StatusOK, &got)
	require.Equal(t, count{Conversations: 1, Messages: 1}, got, "the conversation read is no longer counted")
}

// TestConversationPagesMergeWhatTheCallerMayRead: an agent's list is their own conversations and
// the free pool, merged newest first; paged two by two through next_cursor it holds each of them
// once, in order, and nothing of another agent's.
func TestConversationPagesMergeWhatTheCallerMayRead(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	meID, meTok := in.CreateUser("me@example.com", auth.RoleAgent)
	otherID, _ := in.CreateUser("other@example.com", auth.RoleAgent)
	var team struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Team", "member_ids": []int64{meID, otherID}}, http.StatusCreated, &team)
	var want []int64 // newest first
	for i := range 9 {
		id, _ := openConversation(t, in, admin, fmt.Sprintf("1889100%04d", i))
		var agent *int64
		switch i % 3 {
		case 0:
			agent = &meID
		case 1:
			agent = &otherID
		}
		in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", id), admin, map[string]any{"agent_id": agent, "group_id": team.ID}, http.StatusOK, nil)
		// Activity interleaves the sets: conversation i was active i minutes before the next.
		_, err := in.Pool().Exec(context.Background(),
			"UPDATE conversations SET last_message_at = now() - make_interval(mins => $2) WHERE id = $1", id, 9-i)
		require.NoError(t, err)
		if i%3 != 1 {
			want = append([]int64{id}, want...)
		}
	}
	var got []int64
	path := "/api/conversations?limit=2"
	for range 10 {
		var page struct {
			Data       []convBody `json:"data"`
			NextCursor *string    `json:"next_cursor"`
		}
		in.Do("GET", path, meTok, nil, http.StatusOK, &page)
		for _, c := range page.Data {
			got = append(got, c.ID)
		}
		if page.NextCursor == nil {
			break
		}
		path = "/api/conversations?limit=2&cursor=" + *page.NextCursor
	}
	require.Equal(t, want, got)
}
