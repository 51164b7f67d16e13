package realtime

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/auth"
)

// waitSockets waits until the instance counts n open sockets: a socket stops being counted only
// after its slot is released.
func waitSockets(t *testing.T, in *instance, n float64) {
	t.Helper()
	require.Eventually(t, func() bool { return metricValue(in.svc.Metrics().Sockets) == n },
		waitFor, 5*time.Millisecond, "want %v open sockets", n)
}

// TestSocketsPerUserAreCapped: a user's sockets on one instance beyond the cap are closed with
// 4009 when they authenticate, before anything is delivered; other users are not affected, and
// closing one of the user's sockets makes room for another.
func TestSocketsPerUserAreCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := f.start(func(c *Config) { c.MaxSocketsPerUser = 3 })
	id, tok := f.user(auth.RoleAgent)
	// Another token of the same user (another session, another tab) counts the same.
	other, _ := f.login(id, f.tokens)
	_, someoneElse := f.user(auth.RoleAgent)

	first, _, _ := connect(t, in.url, tok, nil)
	connect(t, in.url, tok, nil)
	connect(t, in.url, other, nil)
	over, _, err := dial(t, in.url, testOrigin)
	require.NoError(t, err)
	over.send(map[string]any{"type": "auth", "token": other})
	require.Empty(t, over.expectClose(CloseTooManySockets), "nothing is sent before the close")
	connect(t, in.url, someoneElse, nil)

	// A renewal on a socket that is in is not a new socket.
	first.send(map[string]any{"type": "auth", "token": tok})
	require.Equal(t, id, first.nextOf("authenticated").UserID)

	require.NoError(t, first.conn.Close(websocket.StatusNormalClosure, ""))
	waitSockets(t, in, 3)
	connect(t, in.url, tok, nil)
	require.Equal(t, 1.0, metricValue(in.svc.Metrics().Closes.WithLabelValues("4009")))
}

// TestUnauthenticatedSocketsAreCapped: sockets that have not authenticated yet are capped per
// instance, and one more is refused before the upgrade with 503; a socket that authenticates, or
// goes away, frees its place, and a request refused the upgrade holds none.
func TestUnauthenticatedSocketsAreCapped(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	in := f.start(func(c *Config) { c.MaxUnauthenticated = 2; c.AuthTimeout = time.Minute })
	_, tok := f.user(auth.RoleAgent)
	httpURL := "http" + strings.TrimPrefix(in.url, "ws")

	// Plain GETs are refused the upgrade (426) and keep no place.
	for range 3 {
		resp, err := http.Get(httpURL)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		require.Equal(t, http.StatusUpgradeRequired, resp.StatusCode)
	}

	waiting, _, err := dial(t, in.url, testOrigin)
	require.NoError(t, err)
	silent, _, err := dial(t, in.url, "")
	require.NoError(t, err)
	refused := func() {
		t.Helper()
		_, resp, err := dial(t, in.url, testOrigin)
		require.Error(t, err)
		require.NotNil(t, resp)
		require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
		require.Equal(t, "5", resp.Header.Get("Retry-After"))
		var body struct {
			Error struct{ Code, Message string }
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
		require.Equal(t, "too_many_unauthenticated_sockets", body.Error.Code)
	}
	refused()

	// Authenticating moves a socket out of the unauthenticated count.
	waiting.send(map[string]any{"type": "auth", "token": tok})
	require.Equal(t, "authenticated", waiting.next().Type)
	next, _, err := dial(t, in.url, testOrigin)
	require.NoError(t, err)
	refused()

	// So does going away.
	require.NoError(t, silent.conn.CloseNow())
	waitSockets(t, in, 2)
	next.send(map[string]any{"type": "auth", "token": tok})
	require.Equal(t, "authenticated", next.next().Type)
	for range 2 {
		_, _, err := dial(t, in.url, testOrigin)
		require.NoError(t, err)
	}
	refused()
	require.Equal(t, 3.0, metricValue(in.svc.Metrics().Refused))
}
