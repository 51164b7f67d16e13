package panel_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/simulator"
)

// reportSummary is the part of GET /api/reports/summary the dashboard shows.
type reportSummary struct {
	Totals struct {
		Opened        int `json:"opened"`
		Resolved      int `json:"resolved"`
		MessagesIn    int `json:"messages_in"`
		MessagesOut   int `json:"messages_out"`
		Handoffs      int `json:"handoffs"`
		FirstResponse struct {
			Count         int      `json:"count"`
			MedianSeconds *float64 `json:"median_seconds"`
		} `json:"first_response"`
	} `json:"totals"`
	ByDay []struct {
		Day string `json:"day"`
	} `json:"by_day"`
}

// TestReportsDashboard: an admin opens the reports page and sees the figures the API answers for
// a small history (two customers today through the simulator, one answered by the admin through
// the API, and a few conversations written into earlier days), a chart with one group of bars
// and one point per day, a refetch when the range changes, and the two CSV downloads. An agent,
// who may not read reports, has no link to them and is shown the API's refusal at #/reports.
// The team works every hour of the week, so the business-hours switch is offered and changes
// nothing but the query.
func TestReportsDashboard(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"BUSINESS_HOURS": "mon-sun 00:00-24:00"}})
	admin := in.AdminToken()
	_, agent := in.CreateUser("ana.agent@example.com", auth.RoleAgent)
	adminID := int64(0)
	pool := in.Pool()
	require.NoError(t, pool.QueryRow(t.Context(), `SELECT id FROM users WHERE email = 'admin@example.com'`).Scan(&adminID))

	// Today: two customers write; the admin takes the first over and answers.
	for i, name := range []string{"Lucía", "Martín"} {
		_, err := in.Simulator().SendInbound(t.Context(), &simulator.InboundInput{From: fmt.Sprintf("54911555070%d", i), Name: name, Text: "hola, ¿tienen envío?"})
		require.NoError(t, err)
	}
	var convID, channelID int64
	require.Eventually(t, func() bool {
		return pool.QueryRow(t.Context(), `SELECT c.id, c.channel_id FROM conversations c JOIN contacts ct ON ct.id = c.contact_id WHERE ct.wa_id = '549115550700'`).Scan(&convID, &channelID) == nil
	}, eventually, 20*time.Millisecond)
	in.Request("POST", fmt.Sprintf("/api/conversations/%d/takeover", convID), admin, nil) // from the bot, if it holds it
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", convID), admin, map[string]any{
		"client_id": uuid.NewString(), "type": "text", "text": map[string]string{"body": "¡Sí! A todo el país."},
	}, http.StatusAccepted, nil)

	// Earlier days: a few conversations each, answered after a few minutes, written with the
	// events the inbox writes beside them (reports follow the event log).
	today := time.Now().UTC().Truncate(24 * time.Hour)
	for d := 1; d <= 5; d++ {
		for i := range d%3 + 1 {
			at := today.AddDate(0, 0, -d).Add(time.Duration(9+2*i) * time.Hour)
			var contact, conv int64
			require.NoError(t, pool.QueryRow(t.Context(), `INSERT INTO contacts (channel_id, wa_id, created_at) VALUES ($1, $2, $3) RETURNING id`,
				channelID, fmt.Sprintf("5491155580%d%d", d, i), at).Scan(&contact))
			require.NoError(t, pool.QueryRow(t.Context(), `INSERT INTO conversations (channel_id, contact_id, status, created_at, last_message_at) VALUES ($1, $2, 'open', $3, $3) RETURNING id`,
				channelID, contact, at).Scan(&conv))
			answered := at.Add(time.Duration(2+3*d+i) * time.Minute)
			_, err := pool.Exec(t.Context(), `
				INSERT INTO messages (conversation_id, direction, sender, sender_user_id, type, status, created_at) VALUES
				($1, 'in', 'contact', NULL, 'text', 'received', $2),
				($1, 'out', 'agent', $3, 'text', 'sent', $4),
				($1, 'in', 'contact', NULL, 'text', 'received', $5),
				($1, 'out', 'agent', $3, 'text', 'sent', $6)`,
				conv, at, adminID, answered, answered.Add(time.Minute), answered.Add(3*time.Minute))
			require.NoError(t, err)
			_, err = pool.Exec(t.Context(), `UPDATE conversations SET last_message_at = $2 WHERE id = $1`, conv, answered.Add(3*time.Minute))
			require.NoError(t, err)
			_, err = pool.Exec(t.Context(), `INSERT INTO events (kind, conversation_id) VALUES ('message.created', $1)`, conv)
			require.NoError(t, err)
		}
	}

	// What the API answers for the page's default range (the last 7 UTC days), once today's
	// messages are all in.
	summary := func(query string) reportSummary {
		var s reportSummary
		in.Do("GET", "/api/reports/summary?"+query, admin, nil, http.StatusOK, &s)
		return s
	}
	require.Eventually(t, func() bool {
		s := summary("from=" + today.AddDate(0, 0, -6).Format(time.DateOnly) + "&to=" + today.Format(time.DateOnly))
		return s.Totals.MessagesIn >= 2+2*11 && s.Totals.MessagesOut >= 1+2*11
	}, eventually, 50*time.Millisecond)

	p := newPage(t)
	p.login(in.URL, "admin@example.com")
	p.click(`.reports-link`)
	p.waitJS(eventually, `document.querySelector('.reports')?.dataset.loads === '1'`)
	query := eval[string](p, `document.querySelector('.reports').dataset.query`)
	want := summary(query)
	require.Len(t, want.ByDay, 7)
	figure := func(key string) (string, string) {
		sel := js(fmt.Sprintf(`.kpis li[data-figure=%q]`, key))
		return eval[string](p, fmt.Sprintf(`document.querySelector(%s)?.querySelector('.kpi-value')?.textContent ?? ''`, sel)),
			eval[string](p, fmt.Sprintf(`document.querySelector(%s)?.dataset.value ?? ''`, sel))
	}
	for key, n := range map[string]int{"opened": want.Totals.Opened, "resolved": want.Totals.Resolved, "messages_in": want.Totals.MessagesIn,
		"messages_out": want.Totals.MessagesOut, "handoffs": want.Totals.Handoffs} {
		text, value := figure(key)
		require.Equal(t, strconv.Itoa(n), text, key)
		require.Equal(t, strconv.Itoa(n), value, key)
	}
	require.Equal(t, 2+11, want.Totals.Opened)
	require.NotNil(t, want.Totals.FirstResponse.MedianSeconds)
	_, median := figure("first_response")
	got, err := strconv.ParseFloat(median, 64)
	require.NoError(t, err)
	require.InDelta(t, *want.Totals.FirstResponse.MedianSeconds, got, 1e-6)

	// The charts: one group of bars and one point per day, titled, and the numbers in a table.
	require.Equal(t, 7, eval[int](p, `document.querySelectorAll('svg.chart-volume g.day').length`))
	require.Equal(t, 21, eval[int](p, `document.querySelectorAll('svg.chart-volume g.day rect').length`))
	require.Equal(t, 7, eval[int](p, `document.querySelectorAll('svg.chart-response circle').length`))
	require.True(t, eval[bool](p, `[...document.querySelectorAll('svg.chart')].every(s => s.querySelector(':scope > title')?.textContent && s.getAttribute('aria-label'))`))
	require.Equal(t, 7, eval[int](p, `document.querySelectorAll('table.report-days tbody tr').length`))
	days, err := json.Marshal(want.ByDay)
	require.NoError(t, err)
	require.True(t, eval[bool](p, fmt.Sprintf(`JSON.stringify([...document.querySelectorAll('svg.chart-volume g.day')].map(g => ({day: g.dataset.day}))) === %s`, js(string(days)))))
	require.True(t, eval[bool](p, `[...document.querySelectorAll('svg.chart-volume g.day rect')].some(r => Number(r.getAttribute('height')) > 0)`))
	p.must(chromedp.EmulateViewport(1280, 1280)) // both charts in the picture
	p.screenshot("panel-reports.png")
	p.must(chromedp.EmulateViewport(1280, 800))

	// A longer range is fetched again: 14 days.
	from := today.AddDate(0, 0, -13).Format(time.DateOnly)
	p.do(fmt.Sprintf(`(() => { const i = document.querySelector('.range-from'); i.value = %s; i.dispatchEvent(new Event('change', {bubbles: true})); })()`, js(from)))
	p.waitJS(eventually, fmt.Sprintf(`document.querySelector('.reports').dataset.loads === '2' && document.querySelector('.reports').dataset.query.includes(%s)`, js("from="+from)))
	require.Equal(t, 14, eval[int](p, `document.querySelectorAll('svg.chart-volume g.day').length`))
	require.Equal(t, 14, eval[int](p, `document.querySelectorAll('svg.chart-response circle').length`))

	// Business hours: offered because the team has them, named in the switch's title.
	require.True(t, eval[bool](p, `!document.querySelector('.range-business-label').hidden && document.querySelector('.range-business-label').title.startsWith('mon-sun 00:00-24:00')`))
	p.click(`.range-business`)
	p.waitJS(eventually, `document.querySelector('.reports').dataset.loads === '3' && document.querySelector('.reports').dataset.query.includes('hours=business')`)
	_, businessMedian := figure("first_response")
	require.Equal(t, median, businessMedian, "every hour is a working hour")
	p.click(`.range-business`)
	p.waitJS(eventually, `document.querySelector('.reports').dataset.loads === '4'`)

	// The CSV downloads: fetched with the token, saved from a blob: URL under the server's name.
	// The page's link clicks are recorded instead of downloading.
	p.do(`window.saved = []; const blobs = new Map(), create = URL.createObjectURL;
	URL.createObjectURL = (b) => { const u = create.call(URL, b); blobs.set(u, b); return u; };
	HTMLAnchorElement.prototype.click = function () {
		const a = this; blobs.get(a.href)?.text().then(text => window.saved.push({name: a.download, blob: a.href.startsWith('blob:'), text}));
	}`)
	p.click(`.export-summary`)
	p.waitJS(eventually, `window.saved.length === 1`)
	require.True(t, eval[bool](p, `window.saved[0].blob && window.saved[0].name.startsWith('wainbox-summary-') && window.saved[0].text.startsWith('scope,key,opened,')`))
	p.click(`.export-conversations`)
	p.waitJS(eventually, `window.saved.length === 2`)
	require.True(t, eval[bool](p, `window.saved[1].blob && window.saved[1].name.startsWith('wainbox-conversations-') && window.saved[1].text.startsWith('conversation_id,customer,')`))
	require.Equal(t, 1+want.Totals.Opened, eval[int](p, `window.saved[1].text.trim().split('\n').length`), "a header and one row per opening")

	// An agent: no link; the page at #/reports shows the API's 403.
	in.Do("GET", "/api/reports/summary", agent, nil, http.StatusForbidden, nil)
	a := newPage(t)
	a.login(in.URL, "ana.agent@example.com")
	require.False(t, eval[bool](a, `!!document.querySelector('.reports-link')`))
	require.True(t, eval[bool](a, `!!document.querySelector('.logout')`), "the header is drawn")
	a.do(`location.hash = '#/reports'`)
	a.waitJS(eventually, `document.querySelector('.reports-status')?.dataset.error === '403'`)
	require.Equal(t, 0, eval[int](a, `document.querySelectorAll('.reports svg, .reports .exports').length`))
}
