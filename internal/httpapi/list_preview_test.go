package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
)

// TestConversationListShowsTheLastMessage: each listed conversation carries its latest message
// (the last one sent, whatever came before), its body cut to a 100-character preview.
func TestConversationListShowsTheLastMessage(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	tok := in.AdminToken()
	first, _ := startConversation(t, in, tok, "15550001001")
	second, _ := startConversation(t, in, tok, "15550001002")
	long := strings.Repeat("ñ", 150)
	var last struct {
		ID int64 `json:"id"`
	}
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", first), tok, textBody(uuid.NewString(), "second message"), http.StatusAccepted, nil)
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", first), tok, textBody(uuid.NewString(), long), http.StatusAccepted, &last)

	var page struct {
		Data []struct {
			ID          int64 `json:"id"`
			LastMessage *struct {
				ID        int64  `json:"id"`
				Direction string `json:"direction"`
				Type      string `json:"type"`
				Preview   string `json:"preview"`
				Status    string `json:"status"`
			} `json:"last_message"`
		} `json:"data"`
	}
	in.Do("GET", "/api/conversations", tok, nil, http.StatusOK, &page)
	require.Len(t, page.Data, 2)
	seen := map[int64]bool{}
	for _, c := range page.Data {
		require.NotNil(t, c.LastMessage, "conversation %d", c.ID)
		require.Equal(t, "out", c.LastMessage.Direction)
		require.Equal(t, "text", c.LastMessage.Type)
		require.NotEmpty(t, c.LastMessage.Status)
		seen[c.ID] = true
		if c.ID == first {
			require.Equal(t, last.ID, c.LastMessage.ID)
			require.Equal(t, strings.Repeat("ñ", 100)+"…", c.LastMessage.Preview)
		}
	}
	require.True(t, seen[first] && seen[second])
}

// TestColleaguesNameEveryEnabledUser: any user, an agent too, reads the ids, names and roles of
// the enabled users (no emails), and a disabled user is not among them.
func TestColleaguesNameEveryEnabledUser(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	_, agentTok := in.CreateUser("ana@example.com", "agent")
	goneID, _ := in.CreateUser("gone@example.com", "agent")
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", goneID), admin, map[string]any{"disabled": true}, http.StatusOK, nil)

	resp := in.Do("GET", "/api/colleagues", agentTok, nil, http.StatusOK, nil)
	require.NotContains(t, string(resp.Body), `"email"`, "no emails")
	var list struct {
		Data []struct {
			ID   int64  `json:"id"`
			Name string `json:"name"`
			Role string `json:"role"`
		} `json:"data"`
	}
	require.NoError(t, jsonUnmarshal(resp.Body, &list))
	roles := map[string]int{}
	for _, c := range list.Data {
		require.NotEqual(t, goneID, c.ID, "a disabled user is not listed")
		require.NotEmpty(t, c.Name)
		roles[c.Role]++
	}
	require.Equal(t, map[string]int{"admin": 1, "agent": 1}, roles)
}
