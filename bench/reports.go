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
	"github.com/wainbox/wainbox/internal/reports"
)

// benchReports measures the rollup's rebuild of the year data set (loadDataset), then a 30-day
// summary over HTTP next to the bare read of the rows it needs (the rollup's episodes and message
// totals read through pgx with nothing done with them).
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
		Metric:  fmt.Sprintf("rollup rebuilt from scratch, a year of %d conversations, %d messages", d.Conversations, d.Messages),
		Value:   fmt.Sprintf("%.1f s", rebuild.Seconds()), Target: "minutes",
	}, {
		Section: "reports",
		Metric:  fmt.Sprintf("30-day summary over HTTP (reads %d rollup rows), median of 5", rows),
		Value:   ms(v), Ceiling: ms(c) + " (its rows read, nothing computed)", Ratio: ratio(c.Seconds(), v.Seconds()), Target: "< 1000 ms",
	}}, nil
}
