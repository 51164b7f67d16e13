package panel_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/simulator"
)

// inboundExactlyOnce is a JavaScript test that every text is on screen as one customer message.
func inboundExactlyOnce(texts []string) string {
	quoted := make([]string, len(texts))
	for i, s := range texts {
		quoted[i] = js(s)
	}
	return fmt.Sprintf(`(() => { const seen = [...document.querySelectorAll('.msg.in .body')].map(e => e.textContent);
		return [%s].every(t => seen.filter(s => s === t).length === 1); })()`, strings.Join(quoted, ","))
}

// TestReconnectShowsEveryMissedMessageOnce: the browser reaches the instance through a proxy.
// The network is cut while the customer writes, then the instance itself is replaced by another
// one on the same database while the customer writes again. After each reconnection the panel
// resumes from the last event it saw, and every message is on screen exactly once.
func TestReconnectShowsEveryMissedMessageOnce(t *testing.T) {
	t.Parallel()
	_, dbURL := dbtest.New(t)
	proxy := dbtest.NewProxy(t, "127.0.0.1:1")
	origin := map[string]string{"ALLOWED_ORIGINS": "http://" + proxy.Addr()}
	a := apptest.Start(t, &apptest.Options{DatabaseURL: dbURL, Env: origin})
	proxy.SetTarget(strings.TrimPrefix(a.URL, "http://"))
	a.CreateUser("ana.agent@example.com", auth.RoleAgent)

	p := newPage(t)
	p.login("http://"+proxy.Addr(), "ana.agent@example.com")
	const waID, name = "5491155550006", "Nora"
	customerAndTakeover(t, a, p, waID, name, "mensaje 0")

	var texts []string
	write := func(in *apptest.Instance, n int) {
		for range n {
			text := fmt.Sprintf("mensaje %d", len(texts)+1)
			_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: waID, Name: name, Text: text})
			require.NoError(t, err)
			texts = append(texts, text)
		}
	}

	// The network is cut: the socket and REST calls fail while messages arrive.
	write(a, 2)
	proxy.Down()
	p.waitJS(eventually, `document.querySelector('.conn').dataset.state === 'offline'`)
	write(a, 5)
	proxy.Up()
	write(a, 2)
	p.waitJS(30*time.Second, `document.querySelector('.conn').dataset.state === 'live'`)
	p.waitJS(eventually, inboundExactlyOnce(texts))

	// The instance goes away (its sockets close with 1001) and another takes its place.
	require.NoError(t, a.Shutdown(10*time.Second))
	p.waitJS(eventually, `document.querySelector('.conn').dataset.state === 'offline'`)
	b := apptest.Start(t, &apptest.Options{DatabaseURL: dbURL, Env: origin})
	write(b, 4)
	proxy.SetTarget(strings.TrimPrefix(b.URL, "http://"))
	write(b, 2)
	p.waitJS(30*time.Second, `document.querySelector('.conn').dataset.state === 'live'`)
	p.waitJS(eventually, inboundExactlyOnce(texts))
	require.Equal(t, len(texts)+1, eval[int](p, `document.querySelectorAll('.msg.in').length`), "nothing twice, nothing else")
	require.Equal(t, 1, eval[int](p, fmt.Sprintf(`[...document.querySelectorAll('.conversations .conv .name')].filter(e => e.textContent === %s).length`, js(name))), "one list entry")
}
