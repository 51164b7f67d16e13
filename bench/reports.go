package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
)

// benchReports measures a 30-day summary over HTTP on the year data set (loadDataset), next to the
// bare read of the rows it needs (the report's message query run through pgx with nothing done
// with its rows).
func benchReports(ctx context.Context, e *Env) ([]Row, error) {
	// The request timeout is raised so that a slow summary is measured rather than cut at 15 s.
	a, stop, err := instance(ctx, e, map[string]string{"BOT_ENABLED": "0", "HTTP_REQUEST_TIMEOUT": "300s"})
	if err != nil {
		return nil, err
	}
	defer stop()
	_, err = a.Users.Create(ctx, auth.NewUser{Email: "reports@example.com", Name: "Bench", Role: auth.RoleAdmin, Password: "bench password"})
	if err != nil {
		return nil, err
	}
	token, err := login(a.BaseURL(), "reports@example.com", "bench password")
	if err != nil {
		return nil, err
	}
	d, err := loadDataset(ctx, a)
	if err != nil {
		return nil, fmt.Errorf("error loading the data set: %w", err)
	}
	e.Logger.Warn("reports data set loaded", "took", d.Took.Round(time.Second))

	to := time.Now().UTC()
	from := to.Add(-30 * 24 * time.Hour)
	target := a.BaseURL() + "/api/reports/summary?" + url.Values{"from": {from.Format(time.RFC3339)}, "to": {to.Format(time.RFC3339)}}.Encode()
	var api, raw latencies
	var rows int
	for range 3 {
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

		t0 = time.Now()
		ids, err := db.New().ReportConversations(ctx, a.Pool(), db.ReportConversationsParams{RangeFrom: from, RangeTo: to})
		if err != nil {
			return nil, err
		}
		convIDs := make([]int64, len(ids))
		for i := range ids {
			convIDs[i] = ids[i].ID
		}
		msgs, err := db.New().ReportMessages(ctx, a.Pool(), db.ReportMessagesParams{ConversationIds: convIDs, Since: from.Add(-30 * 24 * time.Hour), RangeTo: to})
		if err != nil {
			return nil, err
		}
		rows = len(msgs)
		raw = append(raw, time.Since(t0))
	}
	v, c := api.percentile(0.5), raw.percentile(0.5)
	return []Row{{
		Section: "reports",
		Metric:  fmt.Sprintf("30-day summary over HTTP, a year of %d conversations, %d messages (reads %d), median of 3", d.Conversations, d.Messages, rows),
		Value:   ms(v), Ceiling: ms(c) + " (its rows read, nothing computed)", Ratio: ratio(c.Seconds(), v.Seconds()), Target: "< 1000 ms",
	}}, nil
}
