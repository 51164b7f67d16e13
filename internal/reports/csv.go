package reports

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// CSV exports: the summary as one row per slice (the total, each day, each team, each agent) with
// the same columns, so that a spreadsheet filters it by the first column; the detail as one row per
// conversation opening. Empty cells are figures that do not exist (no first response yet).

var summaryHeader = []string{
	"scope", "key", "opened", "reopened", "resolved", "messages_in", "messages_out",
	"first_response_count", "first_response_median_seconds", "first_response_p90_seconds",
	"resolution_count", "resolution_median_seconds", "resolution_p90_seconds",
	"bot_handled", "bot_contained", "handoffs",
}

// WriteSummaryCSV writes s as CSV to w.
func WriteSummaryCSV(w io.Writer, s *Summary) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(summaryHeader)
	figures := func(scope, key string, f *Figures) {
		_ = cw.Write([]string{
			scope, key, itoa(f.Opened), itoa(f.Reopened), itoa(f.Resolved), itoa(f.MessagesIn), itoa(f.MessagesOut),
			itoa(f.FirstResponse.Count), secs(f.FirstResponse.MedianSeconds), secs(f.FirstResponse.P90Seconds),
			itoa(f.Resolution.Count), secs(f.Resolution.MedianSeconds), secs(f.Resolution.P90Seconds),
			itoa(f.BotHandled), itoa(f.BotContained), itoa(f.Handoffs),
		})
	}
	figures("total", "", &s.Totals)
	for i := range s.ByDay {
		figures("day", s.ByDay[i].Day, &s.ByDay[i].Figures)
	}
	for i := range s.ByTeam {
		key := "none"
		if s.ByTeam[i].TeamID != nil {
			key = strconv.FormatInt(*s.ByTeam[i].TeamID, 10)
		}
		figures("team", key, &s.ByTeam[i].Figures)
	}
	for _, a := range s.ByAgent {
		_ = cw.Write([]string{
			"agent", strconv.FormatInt(a.AgentID, 10), "", "", itoa(a.Resolved), "", itoa(a.MessagesOut),
			itoa(a.FirstResponse.Count), secs(a.FirstResponse.MedianSeconds), secs(a.FirstResponse.P90Seconds),
			itoa(a.Resolution.Count), secs(a.Resolution.MedianSeconds), secs(a.Resolution.P90Seconds),
			"", "", "",
		})
	}
	for _, r := range s.HandoffsByReason {
		row := make([]string, len(summaryHeader))
		row[0], row[1], row[len(row)-1] = "handoff_reason", r.Reason, itoa(r.Count)
		_ = cw.Write(row)
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("error writing the summary CSV: %w", err)
	}
	return nil
}

var conversationsHeader = []string{
	"conversation_id", "customer", "team_id", "opened_at", "reopened", "first_customer_message_at",
	"first_response_at", "first_response_seconds", "first_responder_id", "resolved_at", "resolved_by_id",
	"resolution_seconds", "snoozed_seconds", "messages_in", "messages_out", "bot_replied", "bot_contained", "handoffs",
}

// WriteConversationsCSV writes the detail rows as CSV to w, one row per conversation opening.
func WriteConversationsCSV(w io.Writer, rows []ConversationRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(conversationsHeader)
	for i := range rows {
		r := &rows[i]
		_ = cw.Write([]string{
			strconv.FormatInt(r.ConversationID, 10), csvSafe(r.Customer), id(r.TeamID), r.OpenedAt.Format(time.RFC3339),
			strconv.FormatBool(r.Reopened), ts(r.FirstCustomerAt), ts(r.FirstResponseAt), secs(r.FirstResponseSeconds),
			id(r.FirstResponderID), ts(r.ResolvedAt), id(r.ResolvedByID), secs(r.ResolutionSeconds),
			strconv.FormatFloat(r.SnoozedSeconds, 'f', 0, 64), itoa(r.MessagesIn), itoa(r.MessagesOut),
			strconv.FormatBool(r.BotReplied), strconv.FormatBool(r.BotContained), strings.Join(r.Handoffs, ";"),
		})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("error writing the conversations CSV: %w", err)
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }

func secs(v *float64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatFloat(*v, 'f', 0, 64)
}

func id(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

func ts(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

// csvSafe keeps a spreadsheet from reading a cell as a formula (CSV injection): a value that
// starts with =, +, - or @ is prefixed with a quote.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@", rune(s[0])) {
		return "'" + s
	}
	return s
}
