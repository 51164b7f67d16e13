package reports

import (
	"context"
	"fmt"
	"time"

	"github.com/wainbox/wainbox/db"
)

// What a report reads: the rollup's episodes of its range and its message counts (rollup.go
// keeps both).

// episode is one stored episode as the report's range sees it, with its conversation's team and
// assignee.
type episode struct {
	Episode
	groupID, assigneeID *int64
}

// messageCount is a number of messages written in one hour or day (or the part of it in the
// range), by one agent (0: the customer, the bot, the system), in one conversation (0: added up
// over the conversations of a team).
type messageCount struct {
	conversationID, agentID int64
	groupID, assigneeID     *int64
	at                      time.Time
	in, out                 int
}

// loaded is what a report reads: its range's episodes and message counts.
type loaded struct {
	episodes []episode
	messages []messageCount
}

// load reads q's episodes and message counts from the rollup, after bringing it up to date: the
// report sees every change committed before it was asked for.
func (s *Service) load(ctx context.Context, q Query) (*loaded, error) {
	if err := s.rollup.CatchUp(ctx); err != nil {
		return nil, err
	}
	eps, err := s.q.ReportEpisodes(ctx, s.pool, db.ReportEpisodesParams{RangeFrom: q.From, RangeTo: q.To, TeamID: q.TeamID})
	if err != nil {
		return nil, fmt.Errorf("error reading the report's episodes: %w", err)
	}
	msgs, err := s.messageCounts(ctx, q)
	if err != nil {
		return nil, err
	}
	keep := func(int64, *int64) bool { return true }
	if q.AgentID != nil {
		// The agent's conversations: assigned to them, or written in by them in the range.
		wrote := map[int64]bool{}
		for _, m := range msgs {
			if m.agentID == *q.AgentID {
				wrote[m.conversationID] = true
			}
		}
		keep = func(conv int64, assignee *int64) bool {
			return wrote[conv] || assignee != nil && *assignee == *q.AgentID
		}
	}
	out := &loaded{episodes: make([]episode, 0, len(eps)), messages: make([]messageCount, 0, len(msgs))}
	for i := range eps {
		r := &eps[i]
		if keep(r.ConversationID, r.AssigneeID) {
			out.episodes = append(out.episodes, episode{Episode: storedEpisode(r).AsOf(q.To), groupID: r.GroupID, assigneeID: r.AssigneeID})
		}
	}
	for _, m := range msgs {
		if keep(m.conversationID, m.assigneeID) {
			out.messages = append(out.messages, m)
		}
	}
	return out, nil
}

// messageCounts reads the range's message counts: the whole hours from the rollup's counts (added
// up per day, team and agent by the database unless the report is an agent's, which needs each
// conversation's), and the parts of an hour at the range's edges exactly, from the messages of the
// conversations those hours name.
func (s *Service) messageCounts(ctx context.Context, q Query) ([]messageCount, error) {
	fullFrom, fullTo := q.From.Truncate(time.Hour), q.To.Truncate(time.Hour)
	if fullFrom.Before(q.From) {
		fullFrom = fullFrom.Add(time.Hour)
	}
	var out []messageCount
	if fullFrom.Before(fullTo) && q.AgentID == nil {
		rows, err := s.q.ReportMessageTotals(ctx, s.pool, db.ReportMessageTotalsParams{FromHour: fullFrom, ToHour: fullTo, TeamID: q.TeamID})
		if err != nil {
			return nil, fmt.Errorf("error reading the report's message counts: %w", err)
		}
		for _, r := range rows {
			out = append(out, messageCount{agentID: r.AgentID, groupID: r.GroupID, at: r.Day, in: int(r.MessagesIn), out: int(r.MessagesOut)})
		}
	} else if fullFrom.Before(fullTo) {
		rows, err := s.q.ReportMessageHours(ctx, s.pool, db.ReportMessageHoursParams{
			FromHour: fullFrom, ToHour: fullTo, TeamID: q.TeamID, AgentID: q.AgentID, AgentFrom: q.From.Truncate(time.Hour),
		})
		if err != nil {
			return nil, fmt.Errorf("error reading the report's message counts: %w", err)
		}
		for _, r := range rows {
			out = append(out, messageCount{
				conversationID: r.ConversationID, agentID: r.AgentID, groupID: r.GroupID, assigneeID: r.AssigneeID,
				at: r.Hour, in: int(r.MessagesIn), out: int(r.MessagesOut),
			})
		}
	}
	var edges []time.Time
	if h := q.From.Truncate(time.Hour); h.Before(q.From) {
		edges = append(edges, h)
	}
	if h := q.To.Truncate(time.Hour); h.Before(q.To) && (len(edges) == 0 || !h.Equal(edges[0])) {
		edges = append(edges, h)
	}
	for _, hour := range edges {
		counted, err := s.edgeCounts(ctx, q, hour)
		if err != nil {
			return nil, err
		}
		out = append(out, counted...)
	}
	return out, nil
}

// edgeCounts counts one message at a time the part of hour inside q's range.
func (s *Service) edgeCounts(ctx context.Context, q Query, hour time.Time) ([]messageCount, error) {
	// Every conversation with messages in that hour: which of them an agent's report keeps is
	// decided with the others, from who wrote when.
	rows, err := s.q.ReportMessageHours(ctx, s.pool, db.ReportMessageHoursParams{FromHour: hour, ToHour: hour.Add(time.Hour), TeamID: q.TeamID, AgentFrom: hour})
	if err != nil {
		return nil, fmt.Errorf("error reading the report's message counts: %w", err)
	}
	type conv struct{ groupID, assigneeID *int64 }
	convs := map[int64]conv{}
	ids := make([]int64, 0, len(rows))
	for _, r := range rows {
		if _, ok := convs[r.ConversationID]; !ok {
			convs[r.ConversationID] = conv{r.GroupID, r.AssigneeID}
			ids = append(ids, r.ConversationID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	from, to := hour, hour.Add(time.Hour)
	if from.Before(q.From) {
		from = q.From
	}
	if to.After(q.To) {
		to = q.To
	}
	msgs, err := s.q.ReportMessagesBetween(ctx, s.pool, db.ReportMessagesBetweenParams{Ids: ids, RangeFrom: from, RangeTo: to})
	if err != nil {
		return nil, fmt.Errorf("error reading the report's messages: %w", err)
	}
	out := make([]messageCount, 0, len(msgs))
	for _, m := range msgs {
		c := convs[m.ConversationID]
		mc := messageCount{conversationID: m.ConversationID, agentID: writer(m.Sender, m.SenderUserID), groupID: c.groupID, assigneeID: c.assigneeID, at: m.CreatedAt}
		if m.Direction == "in" {
			mc.in = 1
		} else {
			mc.out = 1
		}
		out = append(out, mc)
	}
	return out, nil
}
