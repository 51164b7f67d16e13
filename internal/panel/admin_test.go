package panel_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/simulator"
)

// TestAdminManagesUsers: an admin creates an agent in the panel, makes them a supervisor and
// disables them; the API shows each change.
func TestAdminManagesUsers(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.AdminToken() // creates admin@example.com
	p := newPage(t)
	p.login(in.URL, "admin@example.com")
	p.click(`.admin-link`)
	p.must(
		chromedp.WaitVisible(chromedp.CSS(`form.create-user`)),
		chromedp.SendKeys(chromedp.CSS(`form.create-user input[type=email]`), "nuevo@example.com"),
		chromedp.SendKeys(chromedp.CSS(`form.create-user input[type=text]`), "Nuevo Agente"),
		chromedp.SendKeys(chromedp.CSS(`form.create-user input[type=password]`), "una clave larga"),
	)
	p.click(`form.create-user button[type=submit]`)
	row := `tr[data-user="nuevo@example.com"]`
	p.waitJS(eventually, fmt.Sprintf(`!!document.querySelector(%s)`, js(row)))
	p.do(fmt.Sprintf(`(() => { const s = document.querySelector(%s); s.value = 'supervisor'; s.dispatchEvent(new Event('change')); })()`, js(row+` td:nth-child(3) select`)))
	p.waitJS(eventually, fmt.Sprintf(`document.querySelector(%s)?.value === 'supervisor'`, js(row+` td:nth-child(3) select`)))
	p.click(row + ` .toggle-disabled`)
	p.waitJS(eventually, fmt.Sprintf(`document.querySelector(%s)?.textContent === 'Enable'`, js(row+` .toggle-disabled`)))

	var users struct {
		Data []struct {
			Email    string `json:"email"`
			Role     string `json:"role"`
			Disabled bool   `json:"disabled"`
		} `json:"data"`
	}
	in.Do("GET", "/api/users", in.AdminToken(), nil, http.StatusOK, &users)
	found := false
	for _, u := range users.Data {
		if u.Email == "nuevo@example.com" {
			found = true
			require.Equal(t, "supervisor", u.Role)
			require.True(t, u.Disabled)
		}
	}
	require.True(t, found)
}

// TestSpanishAndKeyboard: the panel switches to Spanish and remembers it; the list is worked
// with the arrow keys and Enter goes to the composer.
func TestSpanishAndKeyboard(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("ana.agent@example.com", "agent")
	for i, name := range []string{"Uno", "Dos"} {
		_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: fmt.Sprintf("54911555020%d", i), Name: name, Text: "hola"})
		require.NoError(t, err)
	}
	p := newPage(t)
	p.login(in.URL, "ana.agent@example.com")
	p.click(`.top .lang`)
	p.waitJS(eventually, `document.querySelector('.logout')?.textContent === 'Salir' && document.documentElement.lang === 'es'`)
	p.waitJS(eventually, listHas("Uno")+" && "+listHas("Dos"))

	// Newest activity first (the bot's answers decide which of the two is newer): the arrow keys
	// walk the list in the order it shows. The bot is done first, so the order holds.
	sendsSettled(t, in)
	var names []string
	rows, err := in.Pool().Query(t.Context(), `SELECT ct.profile_name FROM conversations c JOIN contacts ct ON ct.id = c.contact_id
		ORDER BY c.last_message_at DESC, c.id DESC`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	require.ElementsMatch(t, []string{"Uno", "Dos"}, names)
	p.waitJS(eventually, fmt.Sprintf(`[...document.querySelectorAll('.conversations .conv .name')].map(e => e.textContent).join() === %q`, strings.Join(names, ",")))
	p.must(chromedp.Focus(chromedp.CSS(`.conversations`)), chromedp.KeyEvent(kb.ArrowDown))
	p.waitJS(eventually, fmt.Sprintf(`document.querySelector('.thread-header h2')?.textContent === %q`, names[0]))
	p.must(chromedp.KeyEvent(kb.ArrowDown))
	p.waitJS(eventually, fmt.Sprintf(`document.querySelector('.thread-header h2')?.textContent === %q && document.activeElement.classList.contains('conversations')`, names[1]))
	p.must(chromedp.KeyEvent("\r"))
	p.waitJS(eventually, `document.activeElement.classList.contains('compose-text')`)
	require.Equal(t, "Mensaje", eval[string](p, `document.activeElement.getAttribute('aria-label')`))

	// Remembered after a reload.
	p.must(chromedp.Navigate(in.URL + "/"))
	p.waitJS(eventually, `document.querySelector('.logout')?.textContent === 'Salir'`)
}

// TestPhoneWidth: in a phone-sized window the list and the conversation take the screen in
// turn, with a back button between them.
func TestPhoneWidth(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	in.CreateUser("ana.agent@example.com", "agent")
	_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: "5491155550300", Name: "Tomás", Text: "hola"})
	require.NoError(t, err)
	p := newPage(t)
	p.must(chromedp.EmulateViewport(390, 800))
	p.login(in.URL, "ana.agent@example.com")
	visible := func(sel string) string {
		return fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.getBoundingClientRect().width > 0; })()`, js(sel))
	}
	p.waitJS(eventually, visible(`.list-pane`)+` && !`+visible(`.thread-pane`))
	p.openConversation("Tomás")
	p.waitJS(eventually, `!`+visible(`.list-pane`)+` && `+visible(`.thread .compose-text`)+` && `+visible(`.thread-header .back`))
	require.LessOrEqual(t, eval[int](p, `document.documentElement.scrollWidth`), 390, "nothing wider than the phone")
	p.click(`.thread-header .back`)
	p.waitJS(eventually, visible(`.list-pane`)+` && !`+visible(`.thread-pane`))
}
