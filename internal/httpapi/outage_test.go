package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
)

// startBehindProxy starts an instance whose database is reached through a proxy the test can cut
// or freeze, with sessions cached long enough that a token check does not need the database, and
// opens a conversation with the admin's token (which caches the session).
func startBehindProxy(t *testing.T, env map[string]string) (*apptest.Instance, *dbtest.Proxy, string, int64) {
	t.Helper()
	_, url := dbtest.New(t)
	proxy := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	env["SESSION_CACHE_TTL"] = "1h"
	in := apptest.Start(t, &apptest.Options{DatabaseURL: proxy.URL(url), Env: env})
	tok := in.AdminToken()
	convID, _ := startConversation(t, in, tok, "16505550199")
	return in, proxy, tok, convID
}

// requireUnavailable checks an outage answer: 503, code unavailable, Retry-After, and nothing of
// the internal error on the wire.
func requireUnavailable(t *testing.T, resp *apptest.Response) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, resp.Status, "%s", resp.Body)
	require.Equal(t, "5", resp.Header.Get("Retry-After"))
	require.NotEmpty(t, resp.Header.Get("X-Request-Id"))
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, jsonUnmarshal(resp.Body, &body), "%s", resp.Body)
	require.Equal(t, "unavailable", body.Error.Code)
	require.Equal(t, "the service is temporarily unavailable; retry shortly", body.Error.Message)
}

// sendUntilServed repeats a send, as a client does after a 503, until the instance serves it.
// Right after the database comes back a request may still meet a pooled connection the outage
// broke: the pool finds it broken only by using it.
func sendUntilServed(t *testing.T, in *apptest.Instance, tok, path string, body any) *apptest.Response {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp := in.Request("POST", path, tok, body)
		if resp.Status != http.StatusServiceUnavailable || time.Now().After(deadline) {
			return resp
		}
		requireUnavailable(t, resp)
		<-tick.C
	}
}

func countClientID(t *testing.T, in *apptest.Instance, clientID string) int {
	t.Helper()
	var n int
	require.NoError(t, in.Pool().QueryRow(context.Background(),
		"SELECT count(*) FROM messages WHERE client_id = $1", clientID).Scan(&n))
	return n
}

// A send while the database is unreachable is an outage (503, retry), not a bug, and writes
// nothing: the client's retry with the same client_id is accepted once the database is back.
func TestSendAnswers503WhileTheDatabaseIsDownAndTheRetryIsAcceptedOnce(t *testing.T) {
	t.Parallel()
	in, proxy, tok, convID := startBehindProxy(t, map[string]string{})
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	clientID := uuid.NewString()
	body := textBody(clientID, "Your order is ready")

	// A second user who logged in but whose session this instance has not checked yet.
	_, agentTok := in.CreateUser("agent@example.com", auth.RoleAgent)

	proxy.Down()
	requireUnavailable(t, in.Request("POST", path, tok, body))
	requireUnavailable(t, in.Request("POST", path, tok, body))
	// The places that answer on their own: the token check, login, and River UI's password check.
	requireUnavailable(t, in.Request("GET", "/api/conversations", agentTok, nil))
	requireUnavailable(t, in.Request("POST", "/api/auth/login", "",
		map[string]string{"email": "agent@example.com", "password": "correct horse battery"}))
	req, err := http.NewRequest("GET", in.URL+"/admin/river/", nil)
	require.NoError(t, err)
	req.SetBasicAuth("admin@example.com", "correct horse battery")
	riverUI, err := in.Client.Do(req)
	require.NoError(t, err)
	riverUI.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, riverUI.StatusCode)
	require.Empty(t, riverUI.Header.Get("WWW-Authenticate"), "an outage is not a wrong password")

	proxy.Up()
	resp := sendUntilServed(t, in, tok, path, body)
	require.Equal(t, http.StatusAccepted, resp.Status, "%s", resp.Body)
	in.Do("POST", path, tok, body, http.StatusOK, nil) // the same client_id again: already queued
	require.Equal(t, 1, countClientID(t, in, clientID))
}

// A send while the database is frozen ends at HTTP_REQUEST_TIMEOUT with a 503 instead of hanging
// as long as the freeze; once the database thaws the instance serves again.
func TestSendAnswers503AtTheRequestTimeoutWhileTheDatabaseIsFrozen(t *testing.T) {
	t.Parallel()
	in, proxy, tok, convID := startBehindProxy(t, map[string]string{"HTTP_REQUEST_TIMEOUT": "2s"})
	path := fmt.Sprintf("/api/conversations/%d/messages", convID)
	clientID := uuid.NewString()
	body := textBody(clientID, "Still there?")

	proxy.Freeze()
	start := time.Now()
	resp := in.Request("POST", path, tok, body)
	took := time.Since(start)
	requireUnavailable(t, resp)
	require.Less(t, took, 10*time.Second, "the request must end near its 2s deadline, not with the freeze")

	proxy.Up()
	resp = sendUntilServed(t, in, tok, path, body)
	require.Equal(t, http.StatusAccepted, resp.Status, "%s", resp.Body)
	require.Equal(t, 1, countClientID(t, in, clientID))
}
