package httpapi_test

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/waformat"
)

type templateBody struct {
	ID             int64  `json:"id"`
	MetaID         string `json:"meta_id"`
	Name           string `json:"name"`
	Language       string `json:"language"`
	Category       string `json:"category"`
	Status         string `json:"status"`
	RejectedReason string `json:"rejected_reason"`
}

type templateList struct {
	Data []templateBody `json:"data"`
}

func templateNamed(t *testing.T, in *apptest.Instance, tok, name, lang string) (templateBody, bool) {
	t.Helper()
	var list templateList
	in.Do("GET", "/api/templates?name="+url.QueryEscape(name), tok, nil, http.StatusOK, &list)
	for _, tb := range list.Data {
		if tb.Name == name && tb.Language == lang {
			return tb, true
		}
	}
	return templateBody{}, false
}

// A sync copies every template of the business account from the simulated Meta, page by page;
// anyone who works conversations may read them, filtered by status, language and name.
func TestTemplatesSyncFromMetaAndList(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	_, agent := in.CreateUser("agent@example.com", auth.RoleAgent)

	var res struct{ Seen, Deleted, Pages int }
	in.Do("POST", "/api/templates/sync", admin, nil, http.StatusOK, &res)
	require.Equal(t, len(in.Simulator().Templates()), res.Seen)
	require.Positive(t, res.Seen)

	var all templateList
	in.Do("GET", "/api/templates", agent, nil, http.StatusOK, &all)
	require.Len(t, all.Data, res.Seen)

	hello, ok := templateNamed(t, in, agent, "hello_world", "en_US")
	require.True(t, ok)
	require.Equal(t, "APPROVED", hello.Status)
	var one templateBody
	in.Do("GET", fmt.Sprintf("/api/templates/%d", hello.ID), agent, nil, http.StatusOK, &one)
	require.Equal(t, hello, one)

	var approved templateList
	in.Do("GET", "/api/templates?status=APPROVED", agent, nil, http.StatusOK, &approved)
	for _, tb := range approved.Data {
		require.Equal(t, "APPROVED", tb.Status)
	}
	require.Less(t, len(approved.Data), len(all.Data), "the samples include templates that are not approved")

	// Agents read templates but do not sync, create or delete them.
	in.Do("POST", "/api/templates/sync", agent, nil, http.StatusForbidden, nil)
	in.Do("DELETE", fmt.Sprintf("/api/templates/%d", hello.ID), agent, nil, http.StatusForbidden, nil)
	in.Do("GET", "/api/templates/999999", agent, nil, http.StatusNotFound, nil)

	// A template deleted at Meta is gone after the next sync.
	in.Do("DELETE", fmt.Sprintf("/api/templates/%d", hello.ID), admin, nil, http.StatusNoContent, nil)
	in.Do("POST", "/api/templates/sync", admin, nil, http.StatusOK, &res)
	_, ok = templateNamed(t, in, agent, "hello_world", "en_US")
	require.False(t, ok)
}

// A template created from wainbox is checked, submitted to Meta and stored PENDING; Meta's verdict
// arrives as a message_template_status_update webhook and changes the stored status, as does a
// later pause.
func TestTemplateCreatedAtMetaFollowsItsStatusWebhooks(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	_, agent := in.CreateUser("agent@example.com", auth.RoleAgent)
	in.Do("POST", "/api/templates/sync", admin, nil, http.StatusOK, nil)

	tpl := map[string]any{
		"name": "order_ready", "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is ready.",
			"example": map[string]any{"body_text": [][]string{{"Ana", "#42"}}}}},
	}
	in.Do("POST", "/api/templates", agent, tpl, http.StatusForbidden, nil)

	// Bad input is refused before Meta is called, and nothing is stored.
	bad := map[string]any{"name": "Order Ready", "language": "en_US", "category": "UTILITY",
		"components": []map[string]any{{"type": "BODY", "text": "Hi"}}}
	resp := in.Do("POST", "/api/templates", admin, bad, http.StatusBadRequest, nil)
	require.Contains(t, string(resp.Body), `"name"`)
	_, ok := templateNamed(t, in, admin, "Order Ready", "en_US")
	require.False(t, ok)

	var created templateBody
	in.Do("POST", "/api/templates", admin, tpl, http.StatusCreated, &created)
	require.Equal(t, "PENDING", created.Status)
	require.NotEmpty(t, created.MetaID)
	in.Do("POST", "/api/templates", admin, tpl, http.StatusConflict, nil)

	// The simulator approves it after its review delay and says so by webhook.
	require.Eventually(t, func() bool {
		got, ok := templateNamed(t, in, admin, "order_ready", "en_US")
		return ok && got.Status == "APPROVED"
	}, 20*time.Second, 50*time.Millisecond)

	require.NoError(t, in.Simulator().SetTemplateStatus("order_ready", "en_US", waformat.StatusPaused, "LOW_QUALITY"))
	require.Eventually(t, func() bool {
		got, ok := templateNamed(t, in, admin, "order_ready", "en_US")
		return ok && got.Status == "PAUSED"
	}, 20*time.Second, 50*time.Millisecond)
}
