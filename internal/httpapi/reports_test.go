package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/auth"
)

// reportWorld writes hand-built timelines straight into the tables, each row at the time it
// says, as the inbox would have written them: with the event that says so in the same
// transaction (reports follow the event log).
type reportWorld struct {
	t       *testing.T
	in      *apptest.Instance
	channel int64
}

func day(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }

func (w *reportWorld) exec(sql string, args ...any) {
	w.t.Helper()
	_, err := w.in.Pool().Exec(w.t.Context(), sql, args...)
	require.NoError(w.t, err, sql)
}

// change runs sql and writes the event of kind for conv in one transaction.
func (w *reportWorld) change(kind string, conv int64, sql string, args ...any) {
	w.t.Helper()
	tx, err := w.in.Pool().Begin(w.t.Context())
	require.NoError(w.t, err)
	defer func() { _ = tx.Rollback(w.t.Context()) }()
	_, err = tx.Exec(w.t.Context(), sql, args...)
	require.NoError(w.t, err, sql)
	_, err = tx.Exec(w.t.Context(), "INSERT INTO events (kind, conversation_id) VALUES ($1, $2)", kind, conv)
	require.NoError(w.t, err)
	require.NoError(w.t, tx.Commit(w.t.Context()))
}

// conversation creates a conversation of a new customer at created, in group (0: none).
func (w *reportWorld) conversation(waID string, created time.Time, group int64) int64 {
	w.t.Helper()
	var contact, id int64
	require.NoError(w.t, w.in.Pool().QueryRow(w.t.Context(),
		"INSERT INTO contacts (channel_id, wa_id, created_at) VALUES ($1, $2, $3) RETURNING id", w.channel, waID, created).Scan(&contact))
	var g *int64
	if group != 0 {
		g = &group
	}
	require.NoError(w.t, w.in.Pool().QueryRow(w.t.Context(),
		"INSERT INTO conversations (channel_id, contact_id, status, group_id, created_at, last_message_at) VALUES ($1, $2, 'open', $3, $4, $4) RETURNING id",
		w.channel, contact, g, created).Scan(&id))
	w.exec("INSERT INTO events (kind, conversation_id) VALUES ('conversation.created', $1)", id)
	return id
}

func (w *reportWorld) customer(conv int64, at time.Time) {
	w.change("message.created", conv, `WITH m AS (INSERT INTO messages (conversation_id, direction, sender, type, status, created_at)
		VALUES ($1, 'in', 'contact', 'text', 'received', $2))
		UPDATE conversations SET last_message_at = greatest(last_message_at, $2) WHERE id = $1`, conv, at)
}

func (w *reportWorld) reply(conv int64, sender string, user int64, at time.Time) {
	var u *int64
	if user != 0 {
		u = &user
	}
	w.change("message.created", conv, `WITH m AS (INSERT INTO messages (conversation_id, direction, sender, sender_user_id, type, status, created_at)
		VALUES ($1, 'out', $2, $3, 'text', 'sent', $4))
		UPDATE conversations SET last_message_at = greatest(last_message_at, $4) WHERE id = $1`, conv, sender, u, at)
}

func (w *reportWorld) history(conv int64, actor int64, action string, details map[string]any, at time.Time) {
	var a *int64
	if actor != 0 {
		a = &actor
	}
	b, err := json.Marshal(details)
	require.NoError(w.t, err)
	w.change("conversation.updated", conv, "INSERT INTO conversation_history (conversation_id, actor_id, action, details, created_at) VALUES ($1, $2, $3, $4, $5)", conv, a, action, b, at)
}

type figures struct {
	Opened        int `json:"opened"`
	Reopened      int `json:"reopened"`
	Resolved      int `json:"resolved"`
	MessagesIn    int `json:"messages_in"`
	MessagesOut   int `json:"messages_out"`
	FirstResponse struct {
		Count  int      `json:"count"`
		Median *float64 `json:"median_seconds"`
		P90    *float64 `json:"p90_seconds"`
	} `json:"first_response"`
	Resolution struct {
		Count  int      `json:"count"`
		Median *float64 `json:"median_seconds"`
	} `json:"resolution"`
	BotHandled     int      `json:"bot_handled"`
	BotContained   int      `json:"bot_contained"`
	BotContainment *float64 `json:"bot_containment"`
	Handoffs       int      `json:"handoffs"`
}

type summaryJSON struct {
	Totals figures `json:"totals"`
	ByDay  []struct {
		Day string `json:"day"`
		figures
	} `json:"by_day"`
	ByTeam []struct {
		TeamID *int64 `json:"team_id"`
		figures
	} `json:"by_team"`
	ByAgent []struct {
		AgentID       int64 `json:"agent_id"`
		Resolved      int   `json:"resolved"`
		MessagesOut   int   `json:"messages_out"`
		FirstResponse struct {
			Count  int      `json:"count"`
			Median *float64 `json:"median_seconds"`
		} `json:"first_response"`
	} `json:"by_agent"`
	HandoffsByReason []struct {
		Reason string `json:"reason"`
		Count  int    `json:"count"`
	} `json:"handoffs_by_reason"`
}

// Three conversations over 2–3 March: Ann's, resolved on the 1st and reopened by its customer on
// the 2nd, snoozed an hour, resolved; one the bot hands to Bob; one the bot handles alone. Each
// figure of the summary follows from the rules: the reopened first response counts from the
// reopening (180 s, not a day), the bot's replies are no first response (Bob's is 540 s), the
// snoozed hour is out of the resolution (3600 s of two hours), only the bot-alone one is contained.
func TestReportSummaryFollowsTheRules(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	w := &reportWorld{t: t, in: in}
	require.NoError(t, in.Pool().QueryRow(t.Context(), "SELECT id FROM channels LIMIT 1").Scan(&w.channel))
	ann, _ := in.CreateUser("ann@example.com", auth.RoleAgent)
	bob, _ := in.CreateUser("bob@example.com", auth.RoleAgent)
	var team int64
	require.NoError(t, in.Pool().QueryRow(t.Context(), "INSERT INTO groups (name) VALUES ('Sales') RETURNING id").Scan(&team))

	a := w.conversation("16505550301", day(1, 9, 0), team)
	w.customer(a, day(1, 9, 0))
	w.reply(a, "agent", ann, day(1, 9, 5))
	w.history(a, ann, "status", map[string]any{"from": "open", "to": "resolved"}, day(1, 9, 10))
	w.customer(a, day(2, 10, 0)) // reopens it
	w.reply(a, "agent", ann, day(2, 10, 3))
	w.history(a, ann, "status", map[string]any{"from": "open", "to": "snoozed"}, day(2, 10, 10))
	w.customer(a, day(2, 11, 10)) // wakes it
	w.history(a, ann, "status", map[string]any{"from": "open", "to": "resolved"}, day(2, 12, 0))

	b := w.conversation("16505550302", day(2, 9, 0), 0)
	w.customer(b, day(2, 9, 0))
	w.reply(b, "bot", 0, day(2, 9, 1))
	w.customer(b, day(2, 9, 2))
	w.reply(b, "bot", 0, day(2, 9, 3))
	w.history(b, 0, "bot_handoff", map[string]any{"reason": "customer_asked"}, day(2, 9, 4))
	w.reply(b, "agent", bob, day(2, 9, 9))

	c := w.conversation("16505550303", day(3, 8, 0), 0)
	w.customer(c, day(3, 8, 0))
	w.reply(c, "bot", 0, day(3, 8, 1))

	var s summaryJSON
	in.Do("GET", "/api/reports/summary?from=2026-03-02&to=2026-03-03", admin, nil, http.StatusOK, &s)
	tot := s.Totals
	require.Equal(t, 3, tot.Opened)
	require.Equal(t, 1, tot.Reopened)
	require.Equal(t, 1, tot.Resolved, "the first episode was resolved before the range")
	require.Equal(t, 5, tot.MessagesIn)
	require.Equal(t, 5, tot.MessagesOut)
	require.Equal(t, 2, tot.FirstResponse.Count)
	require.Equal(t, 180.0, *tot.FirstResponse.Median, "from the reopening, not the first day")
	require.Equal(t, 540.0, *tot.FirstResponse.P90, "Bob's, from the customer's first message; the bot's replies are no response")
	require.Equal(t, 1, tot.Resolution.Count)
	require.Equal(t, 3600.0, *tot.Resolution.Median, "two hours open, one of them snoozed")
	require.Equal(t, 2, tot.BotHandled)
	require.Equal(t, 1, tot.BotContained)
	require.Equal(t, 0.5, *tot.BotContainment)
	require.Equal(t, 1, tot.Handoffs)
	require.Len(t, s.HandoffsByReason, 1)
	require.Equal(t, "customer_asked", s.HandoffsByReason[0].Reason)

	require.Len(t, s.ByDay, 2)
	require.Equal(t, "2026-03-02", s.ByDay[0].Day)
	require.Equal(t, 2, s.ByDay[0].Opened)
	require.Equal(t, 1, s.ByDay[0].Resolved)
	require.Equal(t, "2026-03-03", s.ByDay[1].Day)
	require.Equal(t, 1, s.ByDay[1].Opened)
	require.Equal(t, 1, s.ByDay[1].BotContained)

	require.Len(t, s.ByTeam, 2)
	require.Equal(t, team, *s.ByTeam[0].TeamID)
	require.Equal(t, 1, s.ByTeam[0].Opened)
	require.Equal(t, 1, s.ByTeam[0].Resolved)
	require.Nil(t, s.ByTeam[1].TeamID)
	require.Equal(t, 2, s.ByTeam[1].Opened)

	require.Len(t, s.ByAgent, 2)
	require.Equal(t, ann, s.ByAgent[0].AgentID)
	require.Equal(t, 1, s.ByAgent[0].Resolved)
	require.Equal(t, 1, s.ByAgent[0].MessagesOut)
	require.Equal(t, 180.0, *s.ByAgent[0].FirstResponse.Median)
	require.Equal(t, bob, s.ByAgent[1].AgentID)
	require.Equal(t, 540.0, *s.ByAgent[1].FirstResponse.Median)

	// Filters: Bob wrote only in b; the team has only a.
	in.Do("GET", fmt.Sprintf("/api/reports/summary?from=2026-03-02&to=2026-03-03&agent=%d", bob), admin, nil, http.StatusOK, &s)
	require.Equal(t, 1, s.Totals.Opened)
	require.Equal(t, 540.0, *s.Totals.FirstResponse.Median)
	in.Do("GET", fmt.Sprintf("/api/reports/summary?from=2026-03-02&to=2026-03-03&team=%d", team), admin, nil, http.StatusOK, &s)
	require.Equal(t, 1, s.Totals.Opened)
	require.Equal(t, 1, s.Totals.Reopened)

	// The same as CSV, one row per slice.
	resp := in.Request("GET", "/api/reports/summary?from=2026-03-02&to=2026-03-03&format=csv", admin, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Equal(t, "text/csv; charset=utf-8", resp.Header.Get("Content-Type"))
	lines := strings.Split(strings.TrimSpace(string(resp.Body)), "\n")
	require.Equal(t, "total,,3,1,1,5,5,2,180,540,1,3600,3600,2,1,1", lines[1])
	require.Equal(t, "day,2026-03-02,2,1,1,4,4,2,180,540,1,3600,3600,1,0,1", lines[2])

	// The detail: one row per opening in the range, asked for by Accept.
	req, err := http.NewRequest("GET", in.URL+"/api/reports/conversations?from=2026-03-02&to=2026-03-03", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Accept", "text/csv")
	res, err := in.Client.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.NoError(t, res.Body.Close())
	require.Equal(t, http.StatusOK, res.StatusCode, "%s", body)
	rows := strings.Split(strings.TrimSpace(string(body)), "\n")
	require.Len(t, rows, 4, "a header and three openings: a's first one ended before the range")
	require.True(t, strings.HasPrefix(rows[1], fmt.Sprintf("%d,16505550302,,2026-03-02T09:00:00Z,false,", b)), rows[1])
	require.True(t, strings.HasPrefix(rows[2], fmt.Sprintf("%d,16505550301,%d,2026-03-02T10:00:00Z,true,", a, team)), rows[2])
	require.Contains(t, rows[2], ",3600,3600,2,1,false,false,") // resolution 3600 s, snoozed 3600 s, 2 in, 1 out
	require.True(t, strings.HasSuffix(rows[1], ",true,false,customer_asked"), rows[1])
	require.True(t, strings.HasSuffix(rows[3], ",true,true,"), rows[3])
}

// Bad ranges and filters are refused naming the parameter; a supervisor reads the summary but may
// not export it, an agent may do neither.
func TestReportInputAndPermissions(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	for query, field := range map[string]string{
		"from=2026-13-01":               "from",
		"to=yesterday":                  "to",
		"from=2026-03-05&to=2026-03-01": "from",
		"from=2026-01-01&to=2026-06-01": "to",
		"team=abc":                      "team",
		"agent=-3":                      "agent",
		"format=xml":                    "format",
		"hours=nights":                  "hours",
		"hours=business":                "hours", // none configured
		"from=2026-03-02T10:00:00Z&to=2026-03-02T10:00:00Z": "from",
	} {
		var e struct {
			Error struct {
				Code  string `json:"code"`
				Field string `json:"field"`
			} `json:"error"`
		}
		resp := in.Do("GET", "/api/reports/summary?"+query, admin, nil, http.StatusBadRequest, &e)
		require.Equal(t, field, e.Error.Field, "%s: %s", query, resp.Body)
	}
	in.Do("GET", "/api/reports/summary?from=2026-03-01T00:00:00Z&to=2026-03-02T00:00:00Z", admin, nil, http.StatusOK, nil)

	_, sup := in.CreateUser("sup@example.com", auth.RoleSupervisor)
	in.Do("GET", "/api/reports/summary", sup, nil, http.StatusOK, nil)
	in.Do("GET", "/api/reports/summary?format=csv", sup, nil, http.StatusForbidden, nil)
	in.Do("GET", "/api/reports/conversations", sup, nil, http.StatusForbidden, nil)
	agentID, agent := in.CreateUser("agent@example.com", auth.RoleAgent)
	in.Do("GET", "/api/reports/summary", agent, nil, http.StatusForbidden, nil)
	// An admin grants an agent both.
	in.Do("PATCH", fmt.Sprintf("/api/users/%d", agentID), admin, map[string]any{"can_view_reports": true, "can_export_data": true}, http.StatusOK, nil)
	in.Do("GET", "/api/reports/conversations?format=csv", agent, nil, http.StatusOK, nil)
}

// A range need not fall on the hour: the rollup counts messages per hour, and the parts of an
// hour at a range's edges are counted from the messages themselves, as are the conversations an
// agent wrote in.
func TestReportCountsMessagesToTheMinute(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, nil)
	admin := in.AdminToken()
	w := &reportWorld{t: t, in: in}
	require.NoError(t, in.Pool().QueryRow(t.Context(), "SELECT id FROM channels LIMIT 1").Scan(&w.channel))
	ann, _ := in.CreateUser("ann@example.com", auth.RoleAgent)

	a := w.conversation("16505550401", day(4, 10, 0), 0)
	w.customer(a, day(4, 10, 10))
	w.reply(a, "agent", ann, day(4, 10, 20)) // before the range, in its first hour
	w.customer(a, day(4, 10, 50))
	w.reply(a, "bot", 0, day(4, 11, 5))
	w.customer(a, day(4, 11, 20))
	w.customer(a, day(4, 11, 40)) // after the range, in its last hour
	b := w.conversation("16505550402", day(4, 12, 0), 0)
	w.customer(b, day(4, 12, 0))

	var s summaryJSON
	in.Do("GET", "/api/reports/summary?from=2026-03-04T10:30:00Z&to=2026-03-04T11:30:00Z", admin, nil, http.StatusOK, &s)
	require.Equal(t, 2, s.Totals.MessagesIn, "10:50 and 11:20")
	require.Equal(t, 1, s.Totals.MessagesOut, "the bot's at 11:05; Ann's at 10:20 is before the range")
	require.Empty(t, s.ByAgent)
	in.Do("GET", fmt.Sprintf("/api/reports/summary?from=2026-03-04T10:30:00Z&to=2026-03-04T11:30:00Z&agent=%d", ann), admin, nil, http.StatusOK, &s)
	require.Zero(t, s.Totals.MessagesIn, "Ann wrote in no conversation during the range")
	in.Do("GET", fmt.Sprintf("/api/reports/summary?from=2026-03-04T10:15:00Z&to=2026-03-04T10:25:00Z&agent=%d", ann), admin, nil, http.StatusOK, &s)
	require.Equal(t, 1, s.Totals.MessagesOut, "both edges in one hour")
	require.Equal(t, 0, s.Totals.MessagesIn)
	require.Len(t, s.ByAgent, 1)
	// Ann wrote only in the part of an hour at the range's start: her conversation's whole hours
	// count too, the other conversation does not.
	in.Do("GET", fmt.Sprintf("/api/reports/summary?from=2026-03-04T10:15:00Z&to=2026-03-04T12:30:00Z&agent=%d", ann), admin, nil, http.StatusOK, &s)
	require.Equal(t, [2]int{3, 2}, [2]int{s.Totals.MessagesIn, s.Totals.MessagesOut})
	in.Do("GET", "/api/reports/summary?from=2026-03-04T10:15:00Z&to=2026-03-04T12:30:00Z", admin, nil, http.StatusOK, &s)
	require.Equal(t, [2]int{4, 2}, [2]int{s.Totals.MessagesIn, s.Totals.MessagesOut})
	require.Len(t, s.ByTeam, 1)
	require.Equal(t, 4, s.ByTeam[0].MessagesIn)
}

// With BUSINESS_HOURS, ?hours=business measures times within them: a customer who wrote an hour
// before closing on Friday and was answered a quarter past opening on Monday waited 75 working
// minutes; the working part of a snooze is left out of the resolution. Wall-clock stays the
// default.
func TestReportInBusinessHours(t *testing.T) {
	t.Parallel()
	in := apptest.Start(t, &apptest.Options{Env: map[string]string{"BUSINESS_HOURS": "mon-fri 09:00-17:00", "BUSINESS_TIMEZONE": "America/Bogota"}})
	admin := in.AdminToken()
	w := &reportWorld{t: t, in: in}
	require.NoError(t, in.Pool().QueryRow(t.Context(), "SELECT id FROM channels LIMIT 1").Scan(&w.channel))
	ann, _ := in.CreateUser("ann@example.com", auth.RoleAgent)
	bogota := func(d, h, m int) time.Time { return day(d, h+5, m) } // UTC-5 all year

	c := w.conversation("16505550501", bogota(6, 16, 0), 0) // Friday
	w.customer(c, bogota(6, 16, 0))
	w.reply(c, "agent", ann, bogota(9, 9, 15)) // Monday
	w.history(c, ann, "status", map[string]any{"from": "open", "to": "snoozed"}, bogota(9, 10, 0))
	w.customer(c, bogota(9, 12, 0)) // wakes it
	w.history(c, ann, "status", map[string]any{"from": "open", "to": "resolved"}, bogota(9, 13, 0))

	var s struct {
		summaryJSON
		Hours         string  `json:"hours"`
		BusinessHours *string `json:"business_hours"`
	}
	in.Do("GET", "/api/reports/summary?from=2026-03-06&to=2026-03-10&hours=business", admin, nil, http.StatusOK, &s)
	require.Equal(t, "business", s.Hours)
	require.Equal(t, "mon-fri 09:00-17:00 (America/Bogota)", *s.BusinessHours)
	require.Equal(t, 75*60.0, *s.Totals.FirstResponse.Median)
	require.Equal(t, 3*3600.0, *s.Totals.Resolution.Median, "Friday's hour and Monday's four, less the two snoozed")

	in.Do("GET", "/api/reports/summary?from=2026-03-06&to=2026-03-10", admin, nil, http.StatusOK, &s)
	require.Equal(t, "wall_clock", s.Hours)
	require.Equal(t, (2*24*60+17*60+15)*60.0, *s.Totals.FirstResponse.Median)

	resp := in.Request("GET", "/api/reports/conversations?from=2026-03-06&to=2026-03-10&hours=business&format=csv", admin, nil)
	require.Equal(t, http.StatusOK, resp.Status)
	require.Contains(t, string(resp.Body), ",4500,", "the export's first response in business hours")
}
