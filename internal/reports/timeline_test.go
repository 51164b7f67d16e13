package reports_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/reports"
)

// Hand-built timelines, one per rule. t0 is the conversation's creation; at(m) is m minutes later.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

func customer(m int) reports.Item {
	return reports.Item{At: at(m), Message: true, Direction: "in", Sender: "contact"}
}

func agent(m int, id int64) reports.Item {
	return reports.Item{At: at(m), Message: true, Direction: "out", Sender: "agent", UserID: &id}
}

func bot(m int) reports.Item {
	return reports.Item{At: at(m), Message: true, Direction: "out", Sender: "bot"}
}

func history(m int, actor *int64, action string, details map[string]any) reports.Item {
	b, _ := json.Marshal(details)
	return reports.HistoryItem(at(m), actor, action, b)
}

func status(m int, actor int64, from, to string) reports.Item {
	return history(m, &actor, "status", map[string]any{"from": from, "to": to})
}

func mins(d time.Duration) float64 { return d.Minutes() }

// A reopened conversation's first response is measured from the customer's message that reopened
// it, not from the first episode's messages; each opening is an episode of its own.
func TestFirstResponseIsMeasuredFromTheReopening(t *testing.T) {
	t.Parallel()
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), agent(5, 7), status(10, 7, "open", "resolved"),
		customer(2 * 24 * 60), // two days later: reopens
		agent(2*24*60+3, 8),
	})
	require.Len(t, eps, 2)
	require.False(t, eps[0].Reopened)
	frt, ok := eps[0].FirstResponse()
	require.True(t, ok)
	require.Equal(t, 5.0, mins(frt))
	require.True(t, eps[1].Reopened)
	require.Equal(t, at(2*24*60), eps[1].Start)
	frt, ok = eps[1].FirstResponse()
	require.True(t, ok)
	require.Equal(t, 3.0, mins(frt), "from the reopening message, not from two days before")
	require.Equal(t, int64(8), *eps[1].FirstResponder)
	_, resolved := eps[1].Resolution()
	require.False(t, resolved, "the second episode is still open")
}

// A person reopening a resolved conversation starts an episode too.
func TestStatusChangeFromResolvedReopens(t *testing.T) {
	t.Parallel()
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), agent(1, 7), status(2, 7, "open", "resolved"), status(30, 7, "resolved", "open"),
		status(40, 7, "open", "resolved"),
	})
	require.Len(t, eps, 2)
	require.True(t, eps[1].Reopened)
	rt, ok := eps[1].Resolution()
	require.True(t, ok)
	require.Equal(t, 10.0, mins(rt))
}

// The bot's replies are not a first response: the agent's message after the hand-off is, measured
// from the customer's first message (the time the customer spent with the bot counts).
func TestBotReplyIsNotAFirstResponse(t *testing.T) {
	t.Parallel()
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), bot(1), customer(2), bot(3),
		history(4, nil, "bot_handoff", map[string]any{"reason": "customer_asked"}),
		agent(9, 7),
	})
	require.Len(t, eps, 1)
	frt, ok := eps[0].FirstResponse()
	require.True(t, ok)
	require.Equal(t, 9.0, mins(frt))
	require.Equal(t, int64(7), *eps[0].FirstResponder)
	require.False(t, eps[0].Contained())
	require.Equal(t, []reports.Handoff{{At: at(4), Reason: "customer_asked"}}, eps[0].Handoffs)

	// The bot alone: no first response at all, and contained.
	eps = reports.Episodes(2, at(0), []reports.Item{customer(0), bot(1), customer(5), bot(6)})
	_, ok = eps[0].FirstResponse()
	require.False(t, ok)
	require.True(t, eps[0].Contained())
}

// An agent taking a conversation from the bot is a hand-off by takeover.
func TestTakeoverFromTheBotIsAHandoff(t *testing.T) {
	t.Parallel()
	seven := int64(7)
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), history(0, nil, "release", map[string]any{}), bot(1),
		history(2, &seven, "takeover", map[string]any{"assignee_id": 7}), agent(3, 7),
	})
	require.Len(t, eps, 1)
	require.Equal(t, []reports.Handoff{{At: at(2), Reason: "takeover"}}, eps[0].Handoffs)
	require.False(t, eps[0].Contained())

	// A conversation that started with the bot has no history row saying so: the bot answering
	// alone is what shows it held it. A takeover of a conversation a person already joined is
	// no hand-off.
	eps = reports.Episodes(1, at(0), []reports.Item{
		customer(0), bot(1), history(2, &seven, "takeover", map[string]any{"assignee_id": 7}), agent(3, 7),
	})
	require.Equal(t, []reports.Handoff{{At: at(2), Reason: "takeover"}}, eps[0].Handoffs)
	eps = reports.Episodes(1, at(0), []reports.Item{
		customer(0), agent(1, 8), history(2, &seven, "takeover", map[string]any{"assignee_id": 7}),
	})
	require.Empty(t, eps[0].Handoffs)
}

// Snoozed time is left out of the resolution time, whether the snooze ends by its timer (a history
// row), by the customer writing (no history row) or by resolving it while snoozed.
func TestSnoozedTimeIsExcludedFromResolution(t *testing.T) {
	t.Parallel()
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), agent(1, 7),
		status(10, 7, "open", "snoozed"),
		history(70, nil, "status", map[string]any{"from": "snoozed", "to": "open", "reason": "snooze_ended"}), // 60 min
		status(80, 7, "open", "snoozed"),
		customer(100), // wakes it: 20 min
		status(110, 7, "open", "snoozed"),
		status(115, 7, "snoozed", "resolved"), // resolved while snoozed: 5 min
	})
	require.Len(t, eps, 1)
	require.Equal(t, 85.0, mins(eps[0].Snoozed))
	require.Equal(t, []reports.Span{{From: at(10), To: at(70)}, {From: at(80), To: at(100)}, {From: at(110), To: at(115)}}, eps[0].Snoozes,
		"the stretches, for business hours")
	rt, ok := eps[0].Resolution()
	require.True(t, ok)
	require.Equal(t, 115.0-85.0, mins(rt))
	require.Equal(t, int64(7), *eps[0].ResolvedBy)
}

// A customer writing to a snoozed conversation wakes it; it is no reopening.
func TestWakingASnoozeIsNoReopening(t *testing.T) {
	t.Parallel()
	eps := reports.Episodes(1, at(0), []reports.Item{
		customer(0), agent(1, 7), status(2, 7, "open", "snoozed"), customer(30), status(31, 7, "open", "resolved"),
	})
	require.Len(t, eps, 1)
	rt, _ := eps[0].Resolution()
	require.Equal(t, 3.0, mins(rt))
}
