package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/realtime"
)

// TestSocketCapsAreConfigured: WS_MAX_SOCKETS_PER_USER and WS_MAX_UNAUTHENTICATED_SOCKETS reach
// the instance's WebSocket endpoint. One more socket of a user is closed with 4009 when it
// authenticates; one more socket still to authenticate is refused the upgrade with 503.
func TestSocketCapsAreConfigured(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{
		"WS_MAX_SOCKETS_PER_USER": "2", "WS_MAX_UNAUTHENTICATED_SOCKETS": "1",
	}})
	_, tok := in.CreateUser("tabs@example.com", auth.RoleAgent)
	wsConnect(t, in, tok)
	wsConnect(t, in, tok)

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	url := "ws" + strings.TrimPrefix(in.URL, "http") + "/api/ws"
	third, _, err := websocket.Dial(ctx, url, nil)
	require.NoError(t, err)
	defer third.CloseNow()
	msg, err := json.Marshal(map[string]any{"type": "auth", "token": tok})
	require.NoError(t, err)
	require.NoError(t, third.Write(ctx, websocket.MessageText, msg))
	events, code := wsEvents(t, third, 10*time.Second)
	require.Empty(t, events)
	require.Equal(t, realtime.CloseTooManySockets, code)
	require.Eventually(t, func() bool {
		var open dto.Metric
		return in.Realtime().Metrics().Sockets.Write(&open) == nil && open.GetGauge().GetValue() == 2
	}, 10*time.Second, 5*time.Millisecond, "the refused socket is gone")

	// One socket waits to authenticate: the next is refused before the upgrade.
	waiting, _, err := websocket.Dial(ctx, url, nil)
	require.NoError(t, err)
	defer waiting.CloseNow()
	_, resp, err := websocket.Dial(ctx, url, nil)
	require.Error(t, err)
	require.NotNil(t, resp)
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, "too_many_unauthenticated_sockets", errorCode(t, body))
}
