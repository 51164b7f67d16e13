package reports

import (
	"strconv"
	"time"

	"github.com/wainbox/wainbox/internal/apperr"
)

// Limits of a report's range.
const (
	// MaxRange bounds one report: a quarter, whose days fit one chart and whose rows one answer.
	MaxRange = 92 * 24 * time.Hour
	// DefaultRange is the range when from is not given: the last seven days.
	DefaultRange = 7 * 24 * time.Hour
)

// Query is a report's range [From, To) and its filters.
type Query struct {
	From, To time.Time
	// TeamID keeps the conversations of one group (team); AgentID those an agent was assigned or
	// wrote in within the range.
	TeamID, AgentID *int64
	// Business measures first response and resolution times in business hours (BUSINESS_HOURS)
	// instead of wall-clock time.
	Business bool
}

// Ways a report measures times (the hours parameter).
const (
	WallClock = "wall_clock"
	Business  = "business"
)

// ParseQuery reads a report's parameters as the API receives them. from and to are RFC 3339
// times or dates (YYYY-MM-DD, UTC; a date as to includes that whole day); to defaults to now and
// from to seven days before to; hours is wall_clock (the default) or business. Bad input is a
// FieldError naming the parameter.
func ParseQuery(from, to, team, agent, hours string, now time.Time) (Query, error) {
	var q Query
	var err error
	q.To = now.UTC()
	if to != "" {
		if q.To, err = parseTime(to, true); err != nil {
			return Query{}, &apperr.FieldError{Field: "to", Message: err.Error()}
		}
	}
	q.From = q.To.Add(-DefaultRange)
	if from != "" {
		if q.From, err = parseTime(from, false); err != nil {
			return Query{}, &apperr.FieldError{Field: "from", Message: err.Error()}
		}
	}
	if !q.From.Before(q.To) {
		return Query{}, &apperr.FieldError{Field: "from", Message: "must be before to"}
	}
	if q.To.Sub(q.From) > MaxRange {
		return Query{}, &apperr.FieldError{Field: "to", Message: "must be at most 92 days after from"}
	}
	if q.TeamID, err = parseID(team); err != nil {
		return Query{}, &apperr.FieldError{Field: "team", Message: err.Error()}
	}
	if q.AgentID, err = parseID(agent); err != nil {
		return Query{}, &apperr.FieldError{Field: "agent", Message: err.Error()}
	}
	switch hours {
	case "", WallClock:
	case Business:
		q.Business = true
	default:
		return Query{}, &apperr.FieldError{Field: "hours", Message: "must be wall_clock or business"}
	}
	return q, nil
}

type parseError string

func (e parseError) Error() string { return string(e) }

func parseTime(s string, end bool) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, parseError("must be a date (2006-01-02) or an RFC 3339 time (2006-01-02T15:04:05Z)")
	}
	if end {
		d = d.AddDate(0, 0, 1)
	}
	return d, nil
}

func parseID(s string) (*int64, error) {
	if s == "" {
		return nil, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return nil, parseError("must be a positive integer id")
	}
	return &id, nil
}
