package panel_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/simulator"
)

// listHas is a JavaScript test that the conversation list shows a conversation with name.
func listHas(name string) string {
	return fmt.Sprintf(`[...document.querySelectorAll('.conversations .conv .name')].some(e => e.textContent === %s)`, js(name))
}

// openConversation clicks the conversation of name in the list and waits for its thread.
func (p *page) openConversation(name string) {
	p.t.Helper()
	p.waitJS(5*time.Second, listHas(name))
	p.do(fmt.Sprintf(`[...document.querySelectorAll('.conversations .conv')].find(e => e.querySelector('.name').textContent === %s).click()`, js(name)))
	p.waitJS(5*time.Second, fmt.Sprintf(`document.querySelector('.thread-header h2')?.textContent === %s`, js(name)))
}

// TestCustomerMessageAppearsAndAgentRepliesToRead: a customer's message reaches the agent's list
// within a second; the agent opens it, takes it over from the bot and replies with Enter; the
// reply's ticks go to read.
func TestCustomerMessageAppearsAndAgentRepliesToRead(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("ana.agent@example.com", auth.RoleAgent)
	p := newPage(t)
	p.login(in.URL, "ana.agent@example.com")

	start := time.Now()
	_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: "5491155550001", Name: "Lucía", Text: "Hola, ¿tienen envío?"})
	require.NoError(t, err)
	p.waitJS(time.Second, listHas("Lucía"))
	t.Logf("customer message in the list after %s", time.Since(start))

	p.openConversation("Lucía")
	p.waitJS(5*time.Second, `[...document.querySelectorAll('.msg.in .body')].some(e => e.textContent === 'Hola, ¿tienen envío?')`)
	p.must(chromedp.Click(chromedp.CSS(`.thread-header .takeover`)))
	p.waitJS(5*time.Second, `document.querySelector('.thread-header .chip.status-open') !== null`)

	p.must(
		chromedp.Focus(chromedp.CSS(`.compose-text`)),
		chromedp.SendKeys(chromedp.CSS(`.compose-text`), "Sí, a todo el país"),
		chromedp.KeyEvent("\r"),
	)
	p.waitJS(10*time.Second, `[...document.querySelectorAll('.msg.out')].some(e => e.querySelector('.body')?.textContent === 'Sí, a todo el país' && e.dataset.status === 'read')`)
	require.Empty(t, eval[string](p, `document.querySelector('.compose-text').value`), "the composer is empty after sending")

	sends := 0
	for _, s := range in.Simulator().Sends() {
		if s.Body == "Sí, a todo el país" {
			sends++
		}
	}
	require.Equal(t, 1, sends, "sent once")
}
