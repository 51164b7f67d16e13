package httpapi

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/reports"
)

// Handlers of the reports (reports.Service decides who may read and who may export). Both answer
// JSON, or CSV with ?format=csv or Accept: text/csv.

// wantsCSV reads the answer's format: ?format= wins over Accept.
func wantsCSV(r *http.Request) (bool, error) {
	switch r.URL.Query().Get("format") {
	case "csv":
		return true, nil
	case "json":
		return false, nil
	case "":
		return strings.Contains(r.Header.Get("Accept"), "text/csv"), nil
	default:
		return false, &apperr.FieldError{Field: "format", Message: "must be json or csv"}
	}
}

func reportQuery(r *http.Request) (reports.Query, error) {
	v := r.URL.Query()
	return reports.ParseQuery(v.Get("from"), v.Get("to"), v.Get("team"), v.Get("agent"), v.Get("hours"), time.Now())
}

func (s *Server) reportSummary(w http.ResponseWriter, r *http.Request) {
	csv, err := wantsCSV(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := reportQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	p := auth.FromContext(r.Context())
	if !csv {
		sum, err := s.cfg.Reports.Summary(r.Context(), p, q)
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, sum)
		return
	}
	sum, err := s.cfg.Reports.ExportSummary(r.Context(), p, q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	startCSV(w, "summary", q)
	if err := reports.WriteSummaryCSV(w, sum); err != nil {
		logger(r).Warn("summary CSV cut short", "error", err)
	}
}

func (s *Server) reportConversations(w http.ResponseWriter, r *http.Request) {
	csv, err := wantsCSV(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q, err := reportQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rows, err := s.cfg.Reports.Conversations(r.Context(), auth.FromContext(r.Context()), q)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if !csv {
		writeJSON(w, http.StatusOK, conversationsReportJSON{From: q.From, To: q.To, Conversations: rows})
		return
	}
	startCSV(w, "conversations", q)
	if err := reports.WriteConversationsCSV(w, rows); err != nil {
		logger(r).Warn("conversations CSV cut short", "error", err)
	}
}

// conversationsReportJSON is GET /api/reports/conversations as JSON.
type conversationsReportJSON struct {
	From          time.Time                 `json:"from"`
	To            time.Time                 `json:"to"`
	Conversations []reports.ConversationRow `json:"conversations"`
}

// startCSV writes the headers of a CSV download named for the report and its range.
func startCSV(w http.ResponseWriter, name string, q reports.Query) {
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="wainbox-%s-%s-%s.csv"`,
		name, q.From.Format("20060102T150405Z"), q.To.Format("20060102T150405Z")))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}
