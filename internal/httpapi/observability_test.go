package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/simulator"
)

const obsScrape = "scrape-token-0123456789"

// scrape reads /metrics as Prometheus does.
func scrape(t *testing.T, in *apptest.Instance) string {
	t.Helper()
	resp := in.Request("GET", "/metrics", obsScrape, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	return string(resp.Body)
}

// A send Meta refuses is counted by its code and class, a refused webhook by its reason, and the
// sampled gauges (River per queue and state, the pool, conversations by status, the token) are
// exported: what the alert rules read.
func TestMetricsCountSendsWebhooksAndQueues(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"METRICS_TOKEN": obsScrape}})
	admin := in.AdminToken()

	in.Simulator().SetFaults(simulator.Faults{FailNext: []int{131026}})
	_, msgID := openConversation(t, in, admin, "16505550191")
	require.Eventually(t, func() bool {
		var m struct {
			Status string `json:"status"`
		}
		in.Do("GET", fmt.Sprintf("/api/messages/%d", msgID), admin, nil, http.StatusOK, &m)
		return m.Status == "failed"
	}, 15*time.Second, 20*time.Millisecond)

	req, err := http.NewRequest("POST", in.URL+"/webhooks/whatsapp", bytes.NewReader([]byte(`{"object":"whatsapp_business_account"}`)))
	require.NoError(t, err)
	req.Header.Set("X-Hub-Signature-256", "sha256=00")
	res, err := in.Client.Do(req)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)

	var body string
	require.Eventually(t, func() bool {
		body = scrape(t, in)
		// The worker counts after recording the failure, and River's hook times the attempt after
		// the worker returns: a test may see the message failed before either.
		return strings.Contains(body, `wainbox_send_errors_total{class="permanent",code="131026"} 1`) &&
			strings.Contains(body, `wainbox_job_duration_seconds_count{kind="send_message",result="cancel"} 1`)
	}, 15*time.Second, 50*time.Millisecond, "the refused send is counted by code and its attempt timed")
	for _, want := range []string{
		`wainbox_webhooks_refused_total{reason="invalid_signature"} 1`,
		`wainbox_webhooks_received_total 1`,
		`wainbox_river_jobs{queue="send",state="available"}`,
		`wainbox_river_jobs{queue="webhooks",state="discarded"} 0`,
		`wainbox_river_oldest_available_seconds{queue="send_bot"}`,
		`wainbox_db_pool_connections{state="idle"}`,
		`wainbox_db_pool_waits_total`,
		`wainbox_conversations{status="open"} 1`,
		`wainbox_messages_pending{reason="waiting"} 0`,
		`wainbox_whatsapp_token_valid 1`,
		`wainbox_whatsapp_quality_rating{rating="GREEN"} 1`,
		`wainbox_realtime_listener_lag_seconds`,
		`wainbox_metrics_sample_error 0`,
	} {
		require.Contains(t, body, want)
	}
}

// healthReport is the detailed health as a client reads it.
type healthReport struct {
	Status     string `json:"status"`
	Components []struct {
		Name    string         `json:"name"`
		Status  string         `json:"status"`
		Problem string         `json:"problem"`
		Details map[string]any `json:"details"`
	} `json:"components"`
}

func (h *healthReport) component(t *testing.T, name string) (string, map[string]any) {
	t.Helper()
	for _, c := range h.Components {
		if c.Name == name {
			return c.Status, c.Details
		}
	}
	require.Failf(t, "no component", "%s in %+v", name, h)
	return "", nil
}

// The detailed health names every component; Meta refusing the token (190) makes the number down,
// the whole report down and the answer 503, and the token gauge 0, until the token works again.
func TestDetailedHealth(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"METRICS_TOKEN": obsScrape, "WHATSAPP_NUMBER_CHECK_INTERVAL": "1ms",
	}})
	admin := in.AdminToken()

	var rep healthReport
	in.Do("GET", "/api/health/detailed", admin, nil, http.StatusOK, &rep)
	require.Equal(t, "ok", rep.Status, "%+v", rep)
	names := []string{}
	for _, c := range rep.Components {
		names = append(names, c.Name)
	}
	require.Equal(t, []string{"database", "migrations", "queues", "dead_letters", "webhooks", "realtime", "whatsapp", "gemini", "media"}, names)
	st, wa := rep.component(t, "whatsapp")
	require.Equal(t, "ok", st)
	require.Equal(t, true, wa["token_valid"])
	require.Equal(t, "GREEN", wa["quality_rating"])
	require.Equal(t, "TIER_1K", wa["messaging_limit_tier"])
	_, rt := rep.component(t, "realtime")
	require.Equal(t, "connected", rt["state"])
	_, q := rep.component(t, "queues")
	require.Equal(t, true, q["started"])
	require.Len(t, q["queues"], 5, "default, send, send_bot, webhooks, media")
	st, md := rep.component(t, "media")
	require.Equal(t, "ok", st)
	require.Equal(t, map[string]any{"configured": true, "store": "postgres"}, md)

	in.Simulator().SetNumber(simulator.NumberSettings{QualityRating: "YELLOW"})
	in.Do("GET", "/api/health/detailed", admin, nil, http.StatusOK, &rep)
	require.Equal(t, "degraded", rep.Status)

	in.Simulator().SetNumber(simulator.NumberSettings{TokenExpired: true})
	in.Do("GET", "/api/health/detailed", admin, nil, http.StatusServiceUnavailable, &rep)
	require.Equal(t, "down", rep.Status)
	st, wa = rep.component(t, "whatsapp")
	require.Equal(t, "down", st)
	require.Equal(t, false, wa["token_valid"])
	require.Contains(t, scrape(t, in), "wainbox_whatsapp_token_valid 0")

	in.Simulator().SetNumber(simulator.NumberSettings{QualityRating: "GREEN"})
	in.Do("GET", "/api/health/detailed", admin, nil, http.StatusOK, &rep)
	require.Equal(t, "ok", rep.Status)

	// Agents may not read it; a supervisor may (can_view_metrics by default).
	_, agent := in.CreateUser("agent@example.com", auth.RoleAgent)
	in.Do("GET", "/api/health/detailed", agent, nil, http.StatusForbidden, nil)
	_, sup := in.CreateUser("sup@example.com", auth.RoleSupervisor)
	in.Do("GET", "/api/health/detailed", sup, nil, http.StatusOK, nil)
}
