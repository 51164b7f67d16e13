package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/reports"
)

// Size of the reports data set: 100,000 conversations of 30 messages each (3,000,000 messages)
// spread over 60 days, so that a 30-day summary reads about half of them.
const (
	reportConversations = 100_000
	reportMessagesEach  = 30
	reportDays          = 60
)

// reportData fills the database with the data set in a few set-based statements (parameters: the
// channel then the agent, or the agent alone when a statement names no channel): customers and conversations (a third in each of three teams), messages alternating
// customer and business (the business's half by the bot, half by the agent) two minutes apart, and
// each conversation resolved by the agent a minute after its last message.
var reportData = []string{
	`INSERT INTO groups (name) VALUES ('bench-a'), ('bench-b'), ('bench-c')`,
	fmt.Sprintf(`INSERT INTO contacts (channel_id, wa_id, created_at)
		SELECT $1, '1777' || lpad(g::text, 7, '0'), now() - interval '%d days' FROM generate_series(1, %d) g`, reportDays+1, reportConversations),
	fmt.Sprintf(`INSERT INTO conversations (channel_id, contact_id, status, group_id, assignee_id, created_at, last_message_at)
		SELECT $1, c.id, 'resolved', (SELECT min(id) FROM groups) + c.id %% 3, $2, c.t0, c.t0 + interval '%d minutes'
		FROM (SELECT id, now() - random() * interval '%d days' AS t0 FROM contacts WHERE wa_id LIKE '1777%%') c`, 2*(reportMessagesEach-1), reportDays),
	fmt.Sprintf(`INSERT INTO messages (conversation_id, direction, sender, sender_user_id, type, status, created_at)
		SELECT cv.id,
		       CASE WHEN k %% 2 = 0 THEN 'in' ELSE 'out' END,
		       CASE WHEN k %% 2 = 0 THEN 'contact' WHEN k %% 4 = 1 THEN 'bot' ELSE 'agent' END,
		       CASE WHEN k %% 4 = 3 THEN $1::bigint END,
		       'text',
		       CASE WHEN k %% 2 = 0 THEN 'received' ELSE 'sent' END,
		       cv.created_at + k * interval '2 minutes'
		FROM conversations cv, generate_series(0, %d) k`, reportMessagesEach-1),
	`INSERT INTO conversation_history (conversation_id, actor_id, action, details, created_at)
		SELECT id, $1, 'status', '{"from": "open", "to": "resolved"}', last_message_at + interval '1 minute'
		FROM conversations`,
}

// benchReports measures a 30-day summary over HTTP on the data set, next to the bare read of the
// rows it needs (the report's message query run through pgx with nothing done with its rows).
func benchReports(ctx context.Context, e *Env) ([]Row, error) {
	// The request timeout is raised so that a slow summary is measured rather than cut at 15 s.
	a, stop, err := instance(ctx, e, map[string]string{"BOT_ENABLED": "0", "HTTP_REQUEST_TIMEOUT": "300s"})
	if err != nil {
		return nil, err
	}
	defer stop()
	admin, err := a.Users.Create(ctx, auth.NewUser{Email: "reports@example.com", Name: "Bench", Role: auth.RoleAdmin, Password: "bench password"})
	if err != nil {
		return nil, err
	}
	token, err := login(a.BaseURL(), "reports@example.com", "bench password")
	if err != nil {
		return nil, err
	}
	var channel int64
	if err := a.Pool().QueryRow(ctx, "SELECT id FROM channels LIMIT 1").Scan(&channel); err != nil {
		return nil, err
	}
	start := time.Now()
	for _, stmt := range reportData {
		// Each statement takes the parameters it names: the channel and the agent, or the agent.
		var args []any
		switch {
		case strings.Contains(stmt, "$2"):
			args = []any{channel, admin.ID}
		case strings.Contains(stmt, "channel_id"):
			args = []any{channel}
		case strings.Contains(stmt, "$1"):
			args = []any{admin.ID}
		}
		if _, err := a.Pool().Exec(ctx, stmt, args...); err != nil {
			return nil, fmt.Errorf("error loading the reports data set: %w", err)
		}
	}
	if _, err := a.Pool().Exec(ctx, "ANALYZE"); err != nil {
		return nil, err
	}
	e.Logger.Warn("reports data set loaded", "took", time.Since(start).Round(time.Second))

	// The data set was written without the event log, as an import would be: the rollup is
	// rebuilt from scratch, as it is on an upgraded database.
	rollup := reports.NewRollup(a.Pool(), e.Logger)
	if _, err := a.Pool().Exec(ctx, "UPDATE report_rollup SET after_xid = NULL"); err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := rollup.CatchUp(ctx); err != nil {
		return nil, err
	}
	rebuild := time.Since(t0)
	if _, err := a.Pool().Exec(ctx, "ANALYZE report_episodes, report_message_hours"); err != nil {
		return nil, err
	}

	to := time.Now().UTC()
	from := to.Add(-30 * 24 * time.Hour)
	target := a.BaseURL() + "/api/reports/summary?" + url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	var api, raw latencies
	var rows int
	for range 5 {
		t0 := time.Now()
		req, _ := http.NewRequestWithContext(ctx, "GET", target, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("summary answered %d", resp.StatusCode)
		}
		api = append(api, time.Since(t0))

		// The ceiling: the rows the summary reads, read through pgx with nothing done with them.
		t0 = time.Now()
		eps, err := db.New().ReportEpisodes(ctx, a.Pool(), db.ReportEpisodesParams{RangeFrom: from, RangeTo: to})
		if err != nil {
			return nil, err
		}
		hours, err := db.New().ReportMessageTotals(ctx, a.Pool(), db.ReportMessageTotalsParams{FromHour: from.Truncate(time.Hour), ToHour: to.Truncate(time.Hour)})
		if err != nil {
			return nil, err
		}
		rows = len(eps) + len(hours)
		raw = append(raw, time.Since(t0))
	}
	v, c := api.percentile(0.5), raw.percentile(0.5)
	return []Row{{
		Section: "reports",
		Metric:  fmt.Sprintf("rollup rebuilt from scratch, %d conversations, %d messages", reportConversations, reportConversations*reportMessagesEach),
		Value:   fmt.Sprintf("%.1f s", rebuild.Seconds()), Target: "minutes",
	}, {
		Section: "reports",
		Metric:  fmt.Sprintf("30-day summary over HTTP (reads %d rollup rows), median of 5", rows),
		Value:   ms(v), Ceiling: ms(c) + " (its rows read, nothing computed)", Ratio: ratio(c.Seconds(), v.Seconds()), Target: "< 1000 ms",
	}}, nil
}
