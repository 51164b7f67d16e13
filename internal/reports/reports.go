// Package reports answers supervisors' questions about the team: how many conversations opened,
// reopened and were resolved, how fast people answered and resolved them, how many messages came
// and went, how much the bot handled alone and why it handed over; in total, by day, per agent and
// per team, and as one row per conversation opening for export.
//
// Figures are computed from the records the inbox keeps anyway (messages and the conversation
// history) read into episodes (timeline.go), so that every rule lives in one function that tests
// pin with hand-built timelines. A rollup (rollup.go) stores each conversation's episodes and
// hourly message counts as that function gives them, recomputed whenever the event log names the
// conversation, so a report reads a month in a few indexed rows without counters that could drift
// from what happened; a rebuild derives them again from the records.
package reports

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/businesshours"
)

// Service builds reports.
type Service struct {
	pool   *pgxpool.Pool
	q      *db.Queries
	rollup *Rollup
	hours  *businesshours.Hours
}

// New returns a report service on pool that reads what rollup keeps; hours is the team's working
// week (nil: none, and reports in business hours are refused).
func New(pool *pgxpool.Pool, rollup *Rollup, hours *businesshours.Hours) *Service {
	return &Service{pool: pool, q: db.New(), rollup: rollup, hours: hours}
}

// measure takes an episode's first response and resolution times: wall-clock, or within the
// working hours when hours is set.
type measure struct{ hours *businesshours.Hours }

func (m measure) firstResponse(e *Episode) (time.Duration, bool) {
	if m.hours == nil || e.FirstCustomerAt == nil || e.FirstResponseAt == nil {
		return e.FirstResponse()
	}
	return m.hours.Between(*e.FirstCustomerAt, *e.FirstResponseAt), true
}

// resolution in business hours leaves out the working part of each snooze.
func (m measure) resolution(e *Episode) (time.Duration, bool) {
	if m.hours == nil || e.ResolvedAt == nil {
		return e.Resolution()
	}
	d := m.hours.Between(e.Start, *e.ResolvedAt)
	for _, sp := range e.Snoozes {
		d -= m.hours.Between(sp.From, sp.To)
	}
	return max(0, d), true
}

// measureFor is how q measures times, or a FieldError when it asks for business hours and none
// are configured.
func (s *Service) measureFor(q Query) (measure, error) {
	if !q.Business {
		return measure{}, nil
	}
	if s.hours == nil {
		return measure{}, &apperr.FieldError{Field: "hours", Message: "no business hours are configured (BUSINESS_HOURS)"}
	}
	return measure{hours: s.hours}, nil
}

// CanView reports whether p may read reports (can_view_reports).
func CanView(p *auth.Principal) bool {
	return p != nil && auth.ValidRole(p.Role) && p.Perms().CanViewReports
}

// CanExport reports whether p may download reports and their per-conversation rows, which carry
// customers' numbers (can_export_data as well as can_view_reports).
func CanExport(p *auth.Principal) bool { return CanView(p) && p.Perms().CanExportData }

// Durations summarize a set of durations in seconds; Median and P90 are null when Count is 0.
type Durations struct {
	Count         int      `json:"count"`
	MedianSeconds *float64 `json:"median_seconds"`
	P90Seconds    *float64 `json:"p90_seconds"`
}

// Figures are the counts of one slice of a report (the whole range, a day, a team). Conversations
// opened and reopened, first responses and the bot's figures count the episodes that began in the
// slice; resolutions those resolved in it; messages and hand-offs those that happened in it.
type Figures struct {
	Opened        int       `json:"opened"`
	Reopened      int       `json:"reopened"`
	Resolved      int       `json:"resolved"`
	MessagesIn    int       `json:"messages_in"`
	MessagesOut   int       `json:"messages_out"`
	FirstResponse Durations `json:"first_response"`
	Resolution    Durations `json:"resolution"`
	// BotHandled counts the episodes the bot replied in; BotContained those of them no person
	// joined; BotContainment is their ratio (null when the bot handled none).
	BotHandled     int      `json:"bot_handled"`
	BotContained   int      `json:"bot_contained"`
	BotContainment *float64 `json:"bot_containment"`
	Handoffs       int      `json:"handoffs"`

	firstResponses, resolutions []time.Duration
}

// DayFigures are one UTC day's figures.
type DayFigures struct {
	Day string `json:"day"`
	Figures
}

// TeamFigures are the figures of one team's conversations (its current group; null: no team).
type TeamFigures struct {
	TeamID *int64 `json:"team_id"`
	Figures
}

// AgentFigures are what one agent did in the range: the first responses that were theirs (of
// episodes opened in it), the episodes they resolved and the messages they wrote.
type AgentFigures struct {
	AgentID       int64     `json:"agent_id"`
	FirstResponse Durations `json:"first_response"`
	Resolved      int       `json:"resolved"`
	Resolution    Durations `json:"resolution"`
	MessagesOut   int       `json:"messages_out"`

	firstResponses, resolutions []time.Duration
}

// ReasonCount is the number of hand-offs for one reason.
type ReasonCount struct {
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

// Summary is GET /api/reports/summary.
type Summary struct {
	From    time.Time `json:"from"`
	To      time.Time `json:"to"`
	TeamID  *int64    `json:"team_id"`
	AgentID *int64    `json:"agent_id"`
	// Hours is how times are measured: wall_clock or business. BusinessHours is the configured
	// working week and its time zone (null: none, and business is refused).
	Hours         string         `json:"hours"`
	BusinessHours *string        `json:"business_hours"`
	Totals        Figures        `json:"totals"`
	ByDay         []DayFigures   `json:"by_day"`
	ByTeam        []TeamFigures  `json:"by_team"`
	ByAgent       []AgentFigures `json:"by_agent"`
	// HandoffsByReason counts the bot's hand-offs in the range by reason, most frequent first.
	HandoffsByReason []ReasonCount `json:"handoffs_by_reason"`
}

// ConversationRow is one episode (an opening of a conversation) that began or was resolved in
// the range: the detail export.
type ConversationRow struct {
	ConversationID       int64      `json:"conversation_id"`
	Customer             string     `json:"customer"`
	TeamID               *int64     `json:"team_id"`
	OpenedAt             time.Time  `json:"opened_at"`
	Reopened             bool       `json:"reopened"`
	FirstCustomerAt      *time.Time `json:"first_customer_message_at"`
	FirstResponseAt      *time.Time `json:"first_response_at"`
	FirstResponseSeconds *float64   `json:"first_response_seconds"`
	FirstResponderID     *int64     `json:"first_responder_id"`
	ResolvedAt           *time.Time `json:"resolved_at"`
	ResolvedByID         *int64     `json:"resolved_by_id"`
	ResolutionSeconds    *float64   `json:"resolution_seconds"`
	SnoozedSeconds       float64    `json:"snoozed_seconds"`
	MessagesIn           int        `json:"messages_in"`
	MessagesOut          int        `json:"messages_out"`
	BotReplied           bool       `json:"bot_replied"`
	BotContained         bool       `json:"bot_contained"`
	Handoffs             []string   `json:"handoffs"`
}

// Summary computes the report of q for p, who needs can_view_reports.
func (s *Service) Summary(ctx context.Context, p *auth.Principal, q Query) (*Summary, error) {
	if !CanView(p) {
		return nil, apperr.Forbidden("you may not view reports (can_view_reports)")
	}
	m, err := s.measureFor(q)
	if err != nil {
		return nil, err
	}
	l, err := s.load(ctx, q)
	if err != nil {
		return nil, err
	}
	sum := summarize(q, m, l)
	if s.hours != nil {
		sum.BusinessHours = ptr(s.hours.String() + " (" + s.hours.Location.String() + ")")
	}
	return sum, nil
}

// ExportSummary is Summary for a download (CSV), which needs can_export_data too.
func (s *Service) ExportSummary(ctx context.Context, p *auth.Principal, q Query) (*Summary, error) {
	if !CanExport(p) {
		return nil, apperr.Forbidden("you may not export data (can_export_data)")
	}
	return s.Summary(ctx, p, q)
}

// Conversations lists the episodes that began or were resolved in q's range, for p, who needs
// can_export_data: the rows carry customers' numbers.
func (s *Service) Conversations(ctx context.Context, p *auth.Principal, q Query) ([]ConversationRow, error) {
	if !CanExport(p) {
		return nil, apperr.Forbidden("you may not export data (can_export_data)")
	}
	m, err := s.measureFor(q)
	if err != nil {
		return nil, err
	}
	l, err := s.load(ctx, q)
	if err != nil {
		return nil, err
	}
	var eps []*episode
	var ids []int64
	for i := range l.episodes {
		e := &l.episodes[i]
		if in(q, e.Start) || e.ResolvedAt != nil && in(q, *e.ResolvedAt) {
			eps, ids = append(eps, e), append(ids, e.ConversationID)
		}
	}
	customers, err := s.q.ReportCustomers(ctx, s.pool, ids)
	if err != nil {
		return nil, fmt.Errorf("error reading the report's customers: %w", err)
	}
	numbers := make(map[int64]string, len(customers))
	for _, c := range customers {
		numbers[c.ID] = c.WaID
	}
	out := make([]ConversationRow, 0, len(eps))
	for _, e := range eps {
		out = append(out, conversationRow(m, e, numbers[e.ConversationID]))
	}
	slices.SortFunc(out, func(a, b ConversationRow) int {
		if c := a.OpenedAt.Compare(b.OpenedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ConversationID, b.ConversationID)
	})
	return out, nil
}

func conversationRow(m measure, e *episode, customer string) ConversationRow {
	r := ConversationRow{
		ConversationID: e.ConversationID, Customer: customer, TeamID: e.groupID, OpenedAt: e.Start.UTC(), Reopened: e.Reopened,
		FirstCustomerAt: utc(e.FirstCustomerAt), FirstResponseAt: utc(e.FirstResponseAt), FirstResponderID: e.FirstResponder,
		ResolvedAt: utc(e.ResolvedAt), ResolvedByID: e.ResolvedBy, SnoozedSeconds: e.Snoozed.Seconds(),
		MessagesIn: e.MessagesIn, MessagesOut: e.MessagesOut, BotReplied: e.BotReplied, BotContained: e.Contained(),
		Handoffs: []string{},
	}
	if d, ok := m.firstResponse(&e.Episode); ok {
		r.FirstResponseSeconds = ptr(d.Seconds())
	}
	if d, ok := m.resolution(&e.Episode); ok {
		r.ResolutionSeconds = ptr(d.Seconds())
	}
	for _, h := range e.Handoffs {
		r.Handoffs = append(r.Handoffs, h.Reason)
	}
	return r
}

func in(q Query, t time.Time) bool { return !t.Before(q.From) && t.Before(q.To) }

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

func summarize(q Query, m measure, l *loaded) *Summary {
	s := &Summary{From: q.From, To: q.To, TeamID: q.TeamID, AgentID: q.AgentID, Hours: WallClock, ByDay: []DayFigures{}, ByTeam: []TeamFigures{}, ByAgent: []AgentFigures{}}
	days := map[string]*Figures{}
	var dayKeys []string
	for d := q.From.UTC().Truncate(24 * time.Hour); d.Before(q.To); d = d.Add(24 * time.Hour) {
		days[day(d)] = &Figures{}
		dayKeys = append(dayKeys, day(d))
	}
	teams := map[int64]*Figures{}
	var noTeam *Figures
	teamOf := func(group *int64) *Figures {
		if group == nil {
			if noTeam == nil {
				noTeam = &Figures{}
			}
			return noTeam
		}
		f := teams[*group]
		if f == nil {
			f = &Figures{}
			teams[*group] = f
		}
		return f
	}
	agents := map[int64]*AgentFigures{}
	agentOf := func(id int64) *AgentFigures {
		a := agents[id]
		if a == nil {
			a = &AgentFigures{AgentID: id}
			agents[id] = a
		}
		return a
	}
	reasons := map[string]int{}

	if m.hours != nil {
		s.Hours = Business
	}
	for _, c := range l.messages {
		for _, f := range []*Figures{&s.Totals, days[day(c.at)], teamOf(c.groupID)} {
			f.MessagesIn += c.in
			f.MessagesOut += c.out
		}
		if c.agentID != 0 {
			agentOf(c.agentID).MessagesOut += c.out
		}
	}
	for i := range l.episodes {
		e := &l.episodes[i]
		team := teamOf(e.groupID)
		if in(q, e.Start) {
			for _, f := range []*Figures{&s.Totals, days[day(e.Start)], team} {
				f.Opened++
				if e.Reopened {
					f.Reopened++
				}
				if d, ok := m.firstResponse(&e.Episode); ok {
					f.firstResponses = append(f.firstResponses, d)
				}
				if e.BotReplied {
					f.BotHandled++
					if e.Contained() {
						f.BotContained++
					}
				}
			}
			if d, ok := m.firstResponse(&e.Episode); ok && e.FirstResponder != nil {
				a := agentOf(*e.FirstResponder)
				a.firstResponses = append(a.firstResponses, d)
			}
		}
		if e.ResolvedAt != nil && in(q, *e.ResolvedAt) {
			d, _ := m.resolution(&e.Episode)
			for _, f := range []*Figures{&s.Totals, days[day(*e.ResolvedAt)], team} {
				f.Resolved++
				f.resolutions = append(f.resolutions, d)
			}
			if e.ResolvedBy != nil {
				a := agentOf(*e.ResolvedBy)
				a.Resolved++
				a.resolutions = append(a.resolutions, d)
			}
		}
		for _, h := range e.Handoffs {
			if !in(q, h.At) {
				continue
			}
			reasons[h.Reason]++
			for _, f := range []*Figures{&s.Totals, days[day(h.At)], team} {
				f.Handoffs++
			}
		}
	}

	s.Totals.finish()
	for _, k := range dayKeys {
		days[k].finish()
		s.ByDay = append(s.ByDay, DayFigures{Day: k, Figures: *days[k]})
	}
	for id, f := range teams {
		f.finish()
		s.ByTeam = append(s.ByTeam, TeamFigures{TeamID: ptr(id), Figures: *f})
	}
	slices.SortFunc(s.ByTeam, func(a, b TeamFigures) int { return cmp.Compare(*a.TeamID, *b.TeamID) })
	if noTeam != nil {
		noTeam.finish()
		s.ByTeam = append(s.ByTeam, TeamFigures{Figures: *noTeam})
	}
	for _, a := range agents {
		a.FirstResponse, a.Resolution = summarizeDurations(a.firstResponses), summarizeDurations(a.resolutions)
		s.ByAgent = append(s.ByAgent, *a)
	}
	slices.SortFunc(s.ByAgent, func(a, b AgentFigures) int { return cmp.Compare(a.AgentID, b.AgentID) })
	s.HandoffsByReason = []ReasonCount{}
	for r, n := range reasons {
		s.HandoffsByReason = append(s.HandoffsByReason, ReasonCount{Reason: r, Count: n})
	}
	slices.SortFunc(s.HandoffsByReason, func(a, b ReasonCount) int {
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return cmp.Compare(a.Reason, b.Reason)
	})
	return s
}

func (f *Figures) finish() {
	f.FirstResponse, f.Resolution = summarizeDurations(f.firstResponses), summarizeDurations(f.resolutions)
	if f.BotHandled > 0 {
		f.BotContainment = ptr(float64(f.BotContained) / float64(f.BotHandled))
	}
}

// summarizeDurations takes the median and the 90th percentile by nearest rank: each is a duration
// that happened, never an interpolation between two.
func summarizeDurations(ds []time.Duration) Durations {
	out := Durations{Count: len(ds)}
	if len(ds) == 0 {
		return out
	}
	sorted := slices.Clone(ds)
	slices.Sort(sorted)
	rank := func(p float64) float64 {
		i := int(math.Ceil(float64(len(sorted))*p)) - 1
		return sorted[max(0, min(i, len(sorted)-1))].Seconds()
	}
	out.MedianSeconds, out.P90Seconds = ptr(rank(0.5)), ptr(rank(0.9))
	return out
}

func ptr[T any](v T) *T { return &v }

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	return ptr(t.UTC())
}
