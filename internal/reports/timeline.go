package reports

import (
	"encoding/json"
	"time"

	"github.com/wainbox/wainbox/internal/inbox"
)

// An Item is one thing that happened to a conversation: a message or a history row. A timeline is
// a conversation's items in time order; Episodes reads it.
type Item struct {
	At time.Time
	// Message: Direction "in" (the customer) or "out", Sender contact, agent, bot or system, and
	// the agent's id for an agent's message.
	Message   bool
	Direction string
	Sender    string
	UserID    *int64
	// History: Action (status, takeover, release, assign, auto_assign, bot_handoff, bot_off), its
	// actor (nil: the system) and, for a status change, To; Reason is a hand-off's.
	Action  string
	ActorID *int64
	To      string
	Reason  string
}

// HistoryItem reads a conversation_history row's action and details into an Item.
func HistoryItem(at time.Time, actor *int64, action string, details json.RawMessage) Item {
	var d struct {
		To     string `json:"to"`
		Reason string `json:"reason"`
	}
	_ = json.Unmarshal(details, &d) // details are written by inbox; an unreadable one changes no status
	it := Item{At: at, Action: action, ActorID: actor, To: d.To, Reason: d.Reason}
	switch action {
	case inbox.ActionTakeover:
		it.To = inbox.ConversationOpen
	case inbox.ActionRelease:
		it.To = inbox.ConversationBot
	case inbox.ActionHandoff, inbox.ActionBotOff:
		it.To = inbox.ConversationPending
	case inbox.ActionStatus:
	default:
		it.To = "" // assignments leave the status as it is
	}
	return it
}

// Episode is one opening of a conversation, from its creation or reopening to its resolution: the
// unit every report figure counts. A conversation is one row per customer that is resolved and
// reopened many times; each time is an episode.
type Episode struct {
	ConversationID int64
	Start          time.Time
	// Reopened: the episode began by reopening a resolved conversation (the customer wrote again,
	// or a person set it back to open or pending), not by its creation.
	Reopened bool
	// FirstCustomerAt is the customer's first message of the episode; FirstResponseAt the first
	// agent's message after it, by FirstResponder. The bot's and the system's messages are not
	// responses: they answer for nobody.
	FirstCustomerAt *time.Time
	FirstResponseAt *time.Time
	FirstResponder  *int64
	// ResolvedAt ends the episode, by ResolvedBy (nil: not by a person).
	ResolvedAt *time.Time
	ResolvedBy *int64
	// Snoozed is the time the episode spent snoozed, which resolution time leaves out; Snoozes
	// are those stretches (business hours leave out their working part).
	Snoozed time.Duration
	Snoozes []Span
	// BotReplied: the bot answered in the episode. PersonJoined: a person took part (a hand-off,
	// a takeover or an assignment, or an agent's message). Contained: the bot replied and no
	// person joined. The instants of the first of each let a report cut the episode at its
	// range's end (AsOf).
	BotReplied     bool
	PersonJoined   bool
	BotRepliedAt   *time.Time
	PersonJoinedAt *time.Time
	// MessagesIn and MessagesOut count the episode's messages (those the report loaded).
	MessagesIn, MessagesOut int
	// Handoffs are the reasons the bot gave conversations to people in the episode: the bot's own
	// (customer_asked, max_replies, model, gemini_error, ...), bot_off (an agent turned it off),
	// takeover (an agent took it from the bot).
	Handoffs []Handoff
}

// Span is a stretch of time, [From, To).
type Span struct{ From, To time.Time }

// Handoff is one hand-off from the bot to people.
type Handoff struct {
	At     time.Time
	Reason string
}

// FirstResponse is the time from the customer's first message of the episode to the first agent's
// message, and false when there is none yet.
func (e *Episode) FirstResponse() (time.Duration, bool) {
	if e.FirstCustomerAt == nil || e.FirstResponseAt == nil {
		return 0, false
	}
	return e.FirstResponseAt.Sub(*e.FirstCustomerAt), true
}

// Resolution is the time from the episode's start to its resolution without the time it spent
// snoozed, and false while it is not resolved.
func (e *Episode) Resolution() (time.Duration, bool) {
	if e.ResolvedAt == nil {
		return 0, false
	}
	return max(0, e.ResolvedAt.Sub(e.Start)-e.Snoozed), true
}

// Contained reports whether the bot handled the episode alone.
func (e *Episode) Contained() bool { return e.BotReplied && !e.PersonJoined }

// join records that a person took part at at, the first time.
func (e *Episode) join(at time.Time) {
	if !e.PersonJoined {
		e.PersonJoined, e.PersonJoinedAt = true, ptr(at)
	}
}

// AsOf is the episode as a report of a range ending at to sees it: what happened from to on (a
// first response, a resolution, the bot's first reply, a person joining, a hand-off) has not
// happened yet. Its message counts stay the whole episode's.
func (e Episode) AsOf(to time.Time) Episode {
	before := func(t *time.Time) bool { return t != nil && t.Before(to) }
	if !before(e.FirstCustomerAt) {
		e.FirstCustomerAt = nil
	}
	if !before(e.FirstResponseAt) {
		e.FirstResponseAt, e.FirstResponder = nil, nil
	}
	if !before(e.ResolvedAt) {
		e.ResolvedAt, e.ResolvedBy = nil, nil
	}
	if !before(e.BotRepliedAt) {
		e.BotReplied, e.BotRepliedAt = false, nil
	}
	if !before(e.PersonJoinedAt) {
		e.PersonJoined, e.PersonJoinedAt = false, nil
	}
	var kept []Handoff
	for _, h := range e.Handoffs {
		if h.At.Before(to) {
			kept = append(kept, h)
		}
	}
	e.Handoffs = kept
	return e
}

// Episodes reads a conversation's timeline, created at created, into its episodes, oldest first.
// items must be in time order (history rows before messages at the same instant). The rules:
//
//   - an episode starts when the conversation is created, and again each time a resolved
//     conversation reopens: the customer writes (inbox reopens it without a history row) or a
//     person sets another status;
//   - the first response is the first agent's message after the episode's first customer
//     message, so a reopened conversation's first response is measured from its reopening, never
//     from an older message, and the bot's replies are not a first response;
//   - time snoozed (from a change to snoozed until the next status change, or the customer's
//     message that wakes it) is left out of the resolution time.
func Episodes(conversationID int64, created time.Time, items []Item) []Episode {
	var out []Episode
	ep := &Episode{ConversationID: conversationID, Start: created}
	status := ""
	var snoozedAt *time.Time
	endSnooze := func(at time.Time) {
		if snoozedAt != nil {
			ep.Snoozed += at.Sub(*snoozedAt)
			ep.Snoozes = append(ep.Snoozes, Span{From: *snoozedAt, To: at})
			snoozedAt = nil
		}
	}
	reopen := func(at time.Time) {
		out = append(out, *ep)
		ep = &Episode{ConversationID: conversationID, Start: at, Reopened: true}
	}
	for i := range items {
		it := &items[i]
		if it.Message {
			if it.Direction == "in" {
				switch status {
				case inbox.ConversationResolved:
					reopen(it.At)
					status = inbox.ConversationOpen
				case inbox.ConversationSnoozed:
					endSnooze(it.At)
					status = inbox.ConversationOpen
				}
				ep.MessagesIn++
				if ep.FirstCustomerAt == nil {
					at := it.At
					ep.FirstCustomerAt = &at
				}
				continue
			}
			ep.MessagesOut++
			switch it.Sender {
			case "agent":
				ep.join(it.At)
				if ep.FirstCustomerAt != nil && ep.FirstResponseAt == nil {
					at := it.At
					ep.FirstResponseAt, ep.FirstResponder = &at, it.UserID
				}
			case "bot":
				if !ep.BotReplied {
					ep.BotReplied, ep.BotRepliedAt = true, ptr(it.At)
				}
			}
			continue
		}
		switch it.Action {
		case inbox.ActionHandoff:
			ep.Handoffs = append(ep.Handoffs, Handoff{At: it.At, Reason: it.Reason})
			ep.join(it.At)
		case inbox.ActionBotOff:
			ep.Handoffs = append(ep.Handoffs, Handoff{At: it.At, Reason: "bot_off"})
			ep.join(it.At)
		case inbox.ActionTakeover:
			// From the bot: its status says so, or, where no history row set one (a conversation
			// starts in bot, and a customer's message reopens to it, without one), the bot has
			// been answering this episode alone: it only answers conversations it holds.
			if status == inbox.ConversationBot || (status == "" || status == inbox.ConversationOpen) && ep.BotReplied && !ep.PersonJoined {
				ep.Handoffs = append(ep.Handoffs, Handoff{At: it.At, Reason: "takeover"})
			}
			ep.join(it.At)
		case inbox.ActionAssign, inbox.ActionAutoAssign:
			ep.join(it.At)
		}
		if it.To == "" || it.To == status {
			continue
		}
		if status == inbox.ConversationResolved {
			reopen(it.At)
		}
		endSnooze(it.At)
		switch it.To {
		case inbox.ConversationSnoozed:
			at := it.At
			snoozedAt = &at
		case inbox.ConversationResolved:
			at := it.At
			ep.ResolvedAt, ep.ResolvedBy = &at, it.ActorID
		}
		status = it.To
	}
	return append(out, *ep)
}
