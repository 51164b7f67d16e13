package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

type lockBody struct {
	LockedBy  *int64     `json:"locked_by"`
	ExpiresAt *time.Time `json:"expires_at"`
}

func TestFiftyAgentsRaceForOneLock(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"CONVERSATION_LOCK_TTL": "2s"}})
	conv, _ := openConversation(t, in, in.AdminToken(), "15550001111")
	path := fmt.Sprintf("/api/conversations/%d/lock", conv)

	const n = 50
	ids := make([]int64, n)
	tokens := make([]string, n)
	for i := range n {
		ids[i], tokens[i] = in.CreateUser(fmt.Sprintf("agent%d@example.com", i), auth.RoleAgent)
	}
	resps := make([]*apptest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resps[i] = in.Request("POST", path, tokens[i], nil)
		})
	}
	close(start)
	wg.Wait()
	holder := -1
	for i, r := range resps {
		if r.Status == http.StatusOK {
			require.Equal(t, -1, holder, "two agents hold the lock")
			holder = i
			continue
		}
		require.Equal(t, http.StatusConflict, r.Status, "%s", r.Body)
		var e struct {
			Error struct {
				Code      string    `json:"code"`
				LockedBy  int64     `json:"locked_by"`
				ExpiresAt time.Time `json:"expires_at"`
			} `json:"error"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &e))
		require.Equal(t, "locked", e.Error.Code)
		require.NotZero(t, e.Error.LockedBy)
		require.False(t, e.Error.ExpiresAt.IsZero())
	}
	require.NotEqual(t, -1, holder, "one agent holds the lock")
	for _, r := range resps {
		if r.Status == http.StatusConflict {
			require.Contains(t, string(r.Body), fmt.Sprintf(`"locked_by":%d`, ids[holder]))
		}
	}
	other := (holder + 1) % n

	var got lockBody
	in.Do("GET", path, tokens[other], nil, http.StatusOK, &got)
	require.Equal(t, ids[holder], *got.LockedBy)

	// Only the holder renews; renewal moves the expiry.
	var renewed lockBody
	in.Do("POST", path, tokens[holder], nil, http.StatusOK, &renewed)
	require.True(t, renewed.ExpiresAt.After(*got.ExpiresAt) || renewed.ExpiresAt.Equal(*got.ExpiresAt))
	require.Equal(t, http.StatusConflict, in.Request("POST", path, tokens[other], nil).Status)

	// Writing to a conversation locked by someone else is refused; the holder writes.
	send := func(tok string) int {
		return in.Request("POST", fmt.Sprintf("/api/conversations/%d/messages", conv), tok, map[string]any{
			"client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "hi"},
		}).Status
	}
	require.Equal(t, http.StatusConflict, send(tokens[other]))
	require.Equal(t, http.StatusAccepted, send(tokens[holder]))
	// Another agent cannot release it.
	require.Equal(t, http.StatusConflict, in.Request("DELETE", path, tokens[other], nil).Status)

	// Expiry frees it without any sweeper.
	require.Eventually(t, func() bool {
		return in.Request("POST", path, tokens[other], nil).Status == http.StatusOK
	}, 10*time.Second, 100*time.Millisecond)
	in.Do("GET", path, tokens[holder], nil, http.StatusOK, &got)
	require.Equal(t, ids[other], *got.LockedBy)
	require.Equal(t, http.StatusAccepted, send(tokens[other]))

	// The holder releases; the lock reads free. A supervisor may break a lock.
	in.Do("DELETE", path, tokens[other], nil, http.StatusNoContent, nil)
	in.Do("GET", path, tokens[holder], nil, http.StatusOK, &got)
	require.Nil(t, got.LockedBy)
	in.Do("POST", path, tokens[holder], nil, http.StatusOK, nil)
	in.Do("DELETE", path, in.AdminToken(), nil, http.StatusNoContent, nil)
	in.Do("GET", path, tokens[other], nil, http.StatusOK, &got)
	require.Nil(t, got.LockedBy)
}

type convBody struct {
	ID         int64  `json:"id"`
	Status     string `json:"status"`
	AssigneeID *int64 `json:"assignee_id"`
	GroupID    *int64 `json:"group_id"`
}

// toBot hands a conversation to the bot (as an admin).
func toBot(t *testing.T, in *apptest.Instance, conv int64) {
	t.Helper()
	var c convBody
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/release", conv), in.AdminToken(), nil, http.StatusOK, &c)
	require.Equal(t, "bot", c.Status)
	require.Nil(t, c.AssigneeID)
}

func TestTakeoverRace(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	conv, _ := openConversation(t, in, in.AdminToken(), "15550002222")
	toBot(t, in, conv)

	const n = 10
	ids := make([]int64, n)
	tokens := make([]string, n)
	for i := range n {
		ids[i], tokens[i] = in.CreateUser(fmt.Sprintf("agent%d@example.com", i), auth.RoleAgent)
	}
	resps := make([]*apptest.Response, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			resps[i] = in.Request("POST", fmt.Sprintf("/api/conversations/%d/takeover", conv), tokens[i], nil)
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, r := range resps {
		if r.Status == http.StatusOK {
			require.Equal(t, -1, winner, "two agents took the conversation over")
			winner = i
			continue
		}
		// The losers may not see the winner's conversation: it does not exist for them.
		require.Equal(t, http.StatusNotFound, r.Status, "%s", r.Body)
	}
	require.NotEqual(t, -1, winner)
	var c convBody
	require.NoError(t, json.Unmarshal(resps[winner].Body, &c))
	require.Equal(t, "open", c.Status)
	require.Equal(t, ids[winner], *c.AssigneeID)

	// The loser cannot release it or see it; the winner releases it back to the bot.
	loser := tokens[(winner+1)%n]
	require.Equal(t, http.StatusNotFound, in.Request("POST", fmt.Sprintf("/api/conversations/%d/release", conv), loser, nil).Status)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/release", conv), tokens[winner], nil, http.StatusOK, &c)
	require.Equal(t, "bot", c.Status)

	// Assignment races the same way: a supervisor's assign and an agent's takeover.
	_, sup := in.CreateUser("sup@example.com", auth.RoleSupervisor)
	var wg2 sync.WaitGroup
	var takeover, assign *apptest.Response
	wg2.Go(func() {
		takeover = in.Request("POST", fmt.Sprintf("/api/conversations/%d/takeover", conv), tokens[0], nil)
	})
	wg2.Go(func() {
		assign = in.Request("POST", fmt.Sprintf("/api/conversations/%d/assign", conv), sup, map[string]any{"agent_id": ids[1]})
	})
	wg2.Wait()
	require.Equal(t, http.StatusOK, assign.Status, "%s", assign.Body)
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", conv), sup, nil, http.StatusOK, &c)
	require.Equal(t, "open", c.Status)
	if takeover.Status == http.StatusOK {
		require.Equal(t, ids[1], *c.AssigneeID, "the assignment came second and holds")
	} else {
		require.Equal(t, http.StatusNotFound, takeover.Status, "another agent's conversation is invisible to the loser")
		require.Equal(t, ids[1], *c.AssigneeID)
	}

	// History records who did what.
	var h struct {
		Data []struct {
			Action  string `json:"action"`
			ActorID *int64 `json:"actor_id"`
		} `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/history", conv), sup, nil, http.StatusOK, &h)
	var actions []string
	for _, e := range h.Data {
		actions = append(actions, e.Action)
	}
	require.Subset(t, actions, []string{"takeover", "release", "assign"})
}

func TestStatusTagsNotesAndFilters(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	samID, sam := in.CreateUser("sam@example.com", auth.RoleAgent)
	kimID, kim := in.CreateUser("kim@example.com", auth.RoleAgent)
	c1, _ := openConversation(t, in, admin, "15550003331")
	c2, _ := openConversation(t, in, admin, "15550003332")
	c3, _ := openConversation(t, in, admin, "15550003333")

	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", c1), admin, map[string]any{"agent_id": samID}, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", c2), admin, map[string]any{"agent_id": kimID}, http.StatusOK, nil)

	// Status transitions.
	var c convBody
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), sam, map[string]any{"status": "pending"}, http.StatusOK, &c)
	require.Equal(t, "pending", c.Status)
	until := time.Now().Add(time.Hour).UTC()
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), sam, map[string]any{"status": "snoozed", "snoozed_until": until}, http.StatusOK, &c)
	require.Equal(t, "snoozed", c.Status)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), sam, map[string]any{"status": "snoozed", "snoozed_until": time.Now().Add(-time.Hour)}, http.StatusBadRequest, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), sam, map[string]any{"status": "closed"}, http.StatusBadRequest, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), sam, map[string]any{"status": "open"}, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c2), sam, map[string]any{"status": "resolved"}, http.StatusNotFound, nil)

	// Tags and notes.
	var tags struct {
		Tags []string `json:"tags"`
	}
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/tags", c1), sam, map[string]any{"tag": " VIP "}, http.StatusOK, &tags)
	require.Equal(t, []string{"vip"}, tags.Tags)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/tags", c1), sam, map[string]any{"tag": "billing"}, http.StatusOK, &tags)
	in.Do("DELETE", fmt.Sprintf("/api/conversations/%d/tags/billing", c1), sam, nil, http.StatusOK, &tags)
	require.Equal(t, []string{"vip"}, tags.Tags)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/notes", c1), sam, map[string]any{"body": "private: customer is upset"}, http.StatusCreated, nil)
	var notes struct {
		Data []struct {
			Body     string `json:"body"`
			AuthorID int64  `json:"author_id"`
		} `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/notes", c1), admin, nil, http.StatusOK, &notes)
	require.Len(t, notes.Data, 1)
	require.Equal(t, samID, notes.Data[0].AuthorID)
	// A note is not a message: nothing is sent to WhatsApp.
	var msgs struct {
		Data []struct {
			Body string `json:"body"`
		} `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/messages", c1), admin, nil, http.StatusOK, &msgs)
	for _, m := range msgs.Data {
		require.NotContains(t, m.Body, "private")
	}
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/notes", c2), sam, map[string]any{"body": "x"}, http.StatusNotFound, nil)

	list := func(tok, query string) []int64 {
		var out struct {
			Data []convBody `json:"data"`
		}
		in.Do("GET", "/api/conversations"+query, tok, nil, http.StatusOK, &out)
		var ids []int64
		for _, c := range out.Data {
			ids = append(ids, c.ID)
		}
		return ids
	}
	require.ElementsMatch(t, []int64{c1, c2, c3}, list(admin, ""))
	require.ElementsMatch(t, []int64{c1, c3}, list(sam, ""), "an agent sees its own and the free pool")
	require.ElementsMatch(t, []int64{c2, c3}, list(kim, ""))
	require.ElementsMatch(t, []int64{c1}, list(sam, "?assignee=me"))
	require.ElementsMatch(t, []int64{c2}, list(admin, fmt.Sprintf("?assignee=%d", kimID)))
	require.ElementsMatch(t, []int64{c3}, list(admin, "?assignee=unassigned"))
	require.ElementsMatch(t, []int64{c1}, list(admin, "?tag=VIP"))
	require.ElementsMatch(t, []int64{c1}, list(admin, "?status=open&tag=vip"))
	require.ElementsMatch(t, []int64{c2}, list(admin, "?q=3332"))
	require.ElementsMatch(t, []int64{c2}, list(admin, "?q=%2B1555000333%32"))
	require.Empty(t, list(admin, "?unread=true"))
	require.Empty(t, list(admin, "?q=%25"), "a % in the search is a literal")
	in.Do("GET", "/api/conversations?status=closed", admin, nil, http.StatusBadRequest, nil)
	in.Do("GET", "/api/conversations?assignee=someone", admin, nil, http.StatusBadRequest, nil)

	// Groups: an agent with read scope "group" sees its group's conversations, whoever has them.
	var g struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Billing", "member_ids": []int64{samID, kimID}}, http.StatusCreated, &g)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", c2), admin, map[string]any{"group_id": g.ID}, http.StatusOK, nil)
	require.ElementsMatch(t, []int64{c2}, list(admin, fmt.Sprintf("?group=%d", g.ID)))
	require.NotContains(t, list(sam, ""), c2)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", samID), admin, map[string]any{"can_read_chats": "group"}, http.StatusOK, nil)
	require.Contains(t, list(sam, ""), c2, "permission changes apply at the next request")
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", c2), sam, nil, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/notes", c2), sam, map[string]any{"body": "x"}, http.StatusForbidden, nil)
}

func TestAutoAssignmentRoundRobin(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	a1, t1 := in.CreateUser("a1@example.com", auth.RoleAgent)
	a2, t2 := in.CreateUser("a2@example.com", auth.RoleAgent)
	a3, _ := in.CreateUser("a3@example.com", auth.RoleAgent) // stays offline
	in.Do("PATCH", "/api/me/availability", t1, map[string]any{"availability": "online"}, http.StatusOK, nil)
	in.Do("PATCH", "/api/me/availability", t2, map[string]any{"availability": "online"}, http.StatusOK, nil)
	in.Do("PATCH", "/api/me/availability", t2, map[string]any{"availability": "away"}, http.StatusBadRequest, nil)
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", a2), admin, map[string]any{"max_conversations": 1}, http.StatusOK, nil)
	var g struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Sales", "auto_assign": true, "member_ids": []int64{a1, a2, a3}}, http.StatusCreated, &g)

	var got []int64
	for i := range 4 {
		conv, _ := openConversation(t, in, admin, fmt.Sprintf("1555000444%d", i))
		var c convBody
		in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", conv), admin, map[string]any{"group_id": g.ID}, http.StatusOK, &c)
		require.Equal(t, g.ID, *c.GroupID)
		require.NotNil(t, c.AssigneeID, "conversation %d was not assigned", i)
		got = append(got, *c.AssigneeID)
	}
	// a1 and a2 alternate until a2 is full (capacity 1); a3 is offline and never gets one.
	require.Equal(t, []int64{a1, a2, a1, a1}, got)
}

// TestListScopeMatchesPolicy keeps the SQL of the conversation list and auth.CanReadConversation
// in step: for every read scope and every kind of conversation (assigned to the caller, to
// another, to nobody × in the caller's group, another group, none), the list holds exactly the
// conversations the per-object check lets the caller open.
func TestListScopeMatchesPolicy(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	meID, _ := in.CreateUser("me@example.com", auth.RoleAgent)
	otherID, _ := in.CreateUser("other@example.com", auth.RoleAgent)
	var mine, theirs struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Mine", "member_ids": []int64{meID}}, http.StatusCreated, &mine)
	in.Do("POST", "/api/groups", admin, map[string]any{"name": "Theirs", "member_ids": []int64{otherID}}, http.StatusCreated, &theirs)

	type kind struct {
		conv     int64
		assignee *int64
		group    *int64
	}
	var kinds []kind
	n := 0
	for _, a := range []*int64{&meID, &otherID, nil} {
		for _, g := range []*int64{&mine.ID, &theirs.ID, nil} {
			n++
			c, _ := openConversation(t, in, admin, fmt.Sprintf("1888000%04d", n))
			in.Do("POST", fmt.Sprintf("/api/conversations/%d/assign", c), admin, map[string]any{"agent_id": a, "group_id": g}, http.StatusOK, nil)
			kinds = append(kinds, kind{c, a, g})
		}
	}
	for _, scope := range []string{auth.ScopeAll, auth.ScopeGroup, auth.ScopeAssigned, auth.ScopeNone} {
		in.Do("PATCH", fmt.Sprintf("/api/users/%d", meID), admin, map[string]any{"can_read_chats": scope}, http.StatusOK, nil)
		tok := login(t, in, "me@example.com").AccessToken
		perms := auth.Resolve(auth.RoleAgent, auth.Overrides{ReadChats: &scope})
		p := &auth.Principal{UserID: meID, Role: auth.RoleAgent, Permissions: &perms, GroupIDs: []int64{mine.ID}}
		var listed struct {
			Data []convBody `json:"data"`
		}
		in.Do("GET", "/api/conversations", tok, nil, http.StatusOK, &listed)
		got := map[int64]bool{}
		for _, c := range listed.Data {
			got[c.ID] = true
		}
		for _, k := range kinds {
			want := auth.CanReadConversation(p, auth.ConversationRef{AssigneeID: k.assignee, GroupID: k.group})
			require.Equal(t, want, got[k.conv], "scope %s, conversation %+v: list", scope, k)
			status := in.Request("GET", fmt.Sprintf("/api/conversations/%d", k.conv), tok, nil).Status
			require.Equal(t, want, status == http.StatusOK, "scope %s, conversation %+v: GET answered %d", scope, k, status)
		}
	}
}

func TestSnoozeEndsOnTime(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	c1, _ := openConversation(t, in, admin, "15550006661")
	c2, _ := openConversation(t, in, admin, "15550006662")
	soon := time.Now().Add(time.Second)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c1), admin, map[string]any{"status": "snoozed", "snoozed_until": soon}, http.StatusOK, nil)
	// c2 is snoozed briefly, then again until much later: the first wake-up must not reopen it.
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c2), admin, map[string]any{"status": "snoozed", "snoozed_until": soon}, http.StatusOK, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/status", c2), admin, map[string]any{"status": "snoozed", "snoozed_until": time.Now().Add(time.Hour)}, http.StatusOK, nil)

	require.Eventually(t, func() bool {
		var c convBody
		resp := in.Request("GET", fmt.Sprintf("/api/conversations/%d", c1), admin, nil)
		return resp.Status == http.StatusOK && jsonUnmarshal(resp.Body, &c) == nil && c.Status == "open"
	}, 15*time.Second, 100*time.Millisecond)
	var h struct {
		Data []struct {
			Action  string         `json:"action"`
			ActorID *int64         `json:"actor_id"`
			Details map[string]any `json:"details"`
		} `json:"data"`
	}
	in.Do("GET", fmt.Sprintf("/api/conversations/%d/history", c1), admin, nil, http.StatusOK, &h)
	require.Equal(t, "snooze_ended", h.Data[0].Details["reason"])
	require.Nil(t, h.Data[0].ActorID)

	// By now c2's first wake-up job has run too (it was due at the same time).
	require.Eventually(t, func() bool {
		var n int
		err := in.Pool().QueryRow(t.Context(), `SELECT count(*) FROM river_job WHERE kind = 'wake_snoozed' AND state = 'completed'`).Scan(&n)
		return err == nil && n >= 2
	}, 15*time.Second, 100*time.Millisecond)
	var c convBody
	in.Do("GET", fmt.Sprintf("/api/conversations/%d", c2), admin, nil, http.StatusOK, &c)
	require.Equal(t, "snoozed", c.Status, "a snooze moved later is not ended by the earlier wake-up")
}

func TestReassignmentFreesTheLock(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	_, a := in.CreateUser("a@example.com", auth.RoleAgent)
	bID, b := in.CreateUser("b@example.com", auth.RoleAgent)
	conv, _ := openConversation(t, in, admin, "15550007771")
	path := fmt.Sprintf("/api/conversations/%d", conv)
	send := func(tok string) int {
		return in.Request("POST", path+"/messages", tok, map[string]any{
			"client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "hi"},
		}).Status
	}
	in.Do("POST", path+"/lock", a, nil, http.StatusOK, nil)
	require.Equal(t, http.StatusConflict, send(b))
	in.Do("POST", path+"/takeover", b, nil, http.StatusOK, nil)
	require.Equal(t, http.StatusAccepted, send(b), "the takeover freed a's lock")

	in.Do("POST", path+"/lock", b, nil, http.StatusOK, nil)
	in.Do("POST", path+"/assign", admin, map[string]any{"agent_id": bID}, http.StatusOK, nil)
	var l lockBody
	in.Do("GET", path+"/lock", b, nil, http.StatusOK, &l)
	require.NotNil(t, l.LockedBy, "assigning the same agent keeps its lock")
	in.Do("POST", path+"/assign", admin, map[string]any{"agent_id": nil}, http.StatusOK, nil)
	in.Do("GET", path+"/lock", a, nil, http.StatusOK, &l)
	require.Nil(t, l.LockedBy, "a change of agent frees the lock")
}
