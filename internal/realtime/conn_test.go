package realtime

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/stretchr/testify/require"
)

// TestFramesReachALibraryClient writes events the way sessions do, pre-encoded frames of every
// length class in one writev, between messages the library writes itself, through the small
// buffers of a socket whose handler has returned; a coder/websocket client reads each whole and in
// order, and the client's messages still reach the server.
func TestFramesReachALibraryClient(t *testing.T) {
	t.Parallel()
	var sizes = []int{0, 1, 125, 126, 127, 300, 65535, 65536, 70000}
	want := make([]string, 0, len(sizes)+3)
	received := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := &smallBuffers{ResponseWriter: w}
		conn, err := websocket.Accept(sb, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			return
		}
		go func() { // as serveWS does: the socket outlives the handler
			defer conn.CloseNow()
			ctx := context.Background()
			_, hello, err := conn.Read(ctx)
			if err != nil {
				return
			}
			received <- string(hello)
			go func() { // the reader a session runs, which also reads the pong
				for {
					if _, _, err := conn.Read(ctx); err != nil {
						return
					}
				}
			}()
			if conn.Write(ctx, websocket.MessageText, []byte("before")) != nil {
				return
			}
			frames := make([][]byte, 0, len(sizes))
			for _, n := range sizes {
				frames = append(frames, textFrame([]byte(strings.Repeat("x", n))))
			}
			if sb.conn.writeFrames(frames) != nil {
				return
			}
			if conn.Write(ctx, websocket.MessageText, []byte("after")) != nil {
				return
			}
			// Pings and their pongs cross the same connection while frames are read.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			if conn.Ping(pctx) != nil {
				return
			}
			_ = conn.Close(websocket.StatusNormalClosure, "")
		}()
	}))
	defer srv.Close()

	want = append(want, "before")
	for _, n := range sizes {
		want = append(want, strings.Repeat("x", n))
	}
	want = append(want, "after")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	require.NoError(t, err)
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	require.NoError(t, c.Write(ctx, websocket.MessageText, []byte(`{"type":"ping"}`)))
	require.Equal(t, `{"type":"ping"}`, <-received)
	var got []string
	for {
		typ, b, err := c.Read(ctx)
		if err != nil {
			require.Equal(t, websocket.StatusNormalClosure, websocket.CloseStatus(err), "closed with %v", err)
			break
		}
		require.Equal(t, websocket.MessageText, typ)
		got = append(got, string(b))
	}
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.Equal(t, want[i], got[i], "message %d", i)
	}
}
