package main

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// The year data set: a year of one business number's customer service, the size at which the
// inbox's reads are measured (lists, search, threads, unread counts) and the reports computed.
// It is generated in Go and written with COPY (dataset_load.go), so that loading it takes about a
// minute rather than the hours a row-at-a-time load through the inbox would.
const (
	dsConversations = 100_000
	dsMessages      = 3_000_000
	dsTeams         = 5
	dsAgentsPerTeam = 10
	dsTags          = 100
	dsDays          = 365
	// A few customers write all year: their threads are long enough to page back 50 pages of 50.
	dsLongThreads        = 20
	dsLongThreadMessages = 3_000
	// dsUnresolvedShare of the conversations are still being worked (open, pending, snoozed or
	// the bot's), their latest episode within the last dsRecentDays days; the rest are resolved.
	dsUnresolvedShare = 0.05
	dsRecentDays      = 10
	dsTaggedShare     = 0.3
	dsPassword        = "bench password"
)

// Senders of generated messages.
const (
	gContact uint8 = iota
	gBot
	gAgent
	gSystem
)

// genMsg is one generated message: small, because three million of them are sorted by time so
// that ids grow with time across conversations, as they do when the inbox writes them.
type genMsg struct {
	at     int64 // unix microseconds
	conv   int32 // conversation index (before ids are given)
	sender uint8
	agent  int8 // index of the agent who wrote it, -1 for none
}

// genHist is one generated conversation_history row.
type genHist struct {
	at      int64
	conv    int32
	actor   int8 // agent index, -1 for the system
	action  string
	details string
}

// genConv is a generated conversation with what its row needs.
type genConv struct {
	createdAt, lastAt, lastInboundAt int64
	status                           string
	team, assignee                   int8 // assignee -1: nobody
	unread                           int32
	snoozedUntil                     int64
	tags                             []uint8
	tagger                           int8
	messages                         int32
}

// generator makes the year's conversations one at a time, appending their messages and history.
type generator struct {
	r      *rand.Rand
	now    int64
	agents []int64 // user ids, team by team
	teams  []int64 // group ids
	msgs   []genMsg
	hist   []genHist
}

// id is the user id of agent index a, 0 for none.
func (g *generator) id(a int8) int64 {
	if a < 0 {
		return 0
	}
	return g.agents[a]
}

const (
	second = int64(time.Second / time.Microsecond)
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// between is a uniform duration in [lo, hi).
func (g *generator) between(lo, hi int64) int64 { return lo + g.r.Int64N(hi-lo) }

// agentOf picks an agent of team t (agents are numbered team by team).
func (g *generator) agentOf(t int8) int8 {
	return t*dsAgentsPerTeam + int8(g.r.IntN(dsAgentsPerTeam))
}

// messageCounts draws each conversation's number of messages: most short exchanges, a long tail,
// the long threads, summing to exactly dsMessages.
func messageCounts(r *rand.Rand) []int {
	n := make([]int, dsConversations)
	sum := 0
	for i := range n {
		if i < dsLongThreads {
			n[i] = dsLongThreadMessages
		} else {
			n[i] = min(4+int(r.ExpFloat64()*24), 600)
		}
		sum += n[i]
	}
	for sum != dsMessages {
		i := dsLongThreads + r.IntN(dsConversations-dsLongThreads)
		switch {
		case sum < dsMessages:
			n[i]++
			sum++
		case n[i] > 4:
			n[i]--
			sum--
		}
	}
	return n
}

// conversation generates conversation ci with n messages: one or more episodes (opened by the
// customer, answered by the bot and/or an agent, resolved), the later ones reopening it days or
// weeks after. Unresolved conversations end with an episode still under way.
func (g *generator) conversation(ci int32, n int) genConv {
	c := genConv{team: int8(g.r.IntN(dsTeams)), assignee: -1, tagger: -1, messages: int32(n)}
	unresolved := g.r.Float64() < dsUnresolvedShare
	episodes := 1
	switch x := g.r.Float64(); {
	case n >= dsLongThreadMessages:
		episodes = n / 75
	case x < 0.7:
	case x < 0.9:
		episodes = 2
	default:
		episodes = 3 + g.r.IntN(3)
	}
	episodes = max(1, min(episodes, n/3))
	// The first episode starts anywhere in the year, the others 1 to 40 days after the previous
	// one ended; an unresolved conversation's timeline is shifted so that its last episode began
	// within the last dsRecentDays days.
	firstMsg, firstHist := len(g.msgs), len(g.hist)
	t := g.now - g.between(dsRecentDays*day, dsDays*day)
	if n >= dsLongThreadMessages {
		t = g.now - dsDays*day + g.between(0, day)
	}
	left := n
	var lastStart int64
	for e := range episodes {
		m := left / (episodes - e)
		if e < episodes-1 {
			m = max(3, min(left-3*(episodes-e-1), m/2+g.r.IntN(m+1)))
		} else {
			m = left
		}
		left -= m
		lastStart = t
		final := e == episodes-1
		t = g.episode(ci, &c, t, m, final && unresolved)
		if n >= dsLongThreadMessages {
			t += g.between(day, 12*day)
		} else {
			t += g.between(day, 40*day)
		}
	}
	// Nothing may lie in the future: the episode under way, or the resolution of the last one,
	// ends at least a minute ago.
	end := g.msgs[len(g.msgs)-1].at
	if len(g.hist) > firstHist {
		end = max(end, g.hist[len(g.hist)-1].at)
	}
	shift := int64(0)
	if unresolved {
		shift = g.now - g.between(10*minute, dsRecentDays*day) - lastStart
	}
	if end+shift > g.now-minute {
		shift = g.now - minute - g.between(0, hour) - end
	}
	for i := firstMsg; i < len(g.msgs); i++ {
		g.msgs[i].at += shift
	}
	for i := firstHist; i < len(g.hist); i++ {
		g.hist[i].at += shift
	}
	c.createdAt = g.msgs[firstMsg].at
	c.lastAt = g.msgs[len(g.msgs)-1].at
	for i := len(g.msgs) - 1; i >= firstMsg; i-- {
		if g.msgs[i].sender == gContact {
			c.lastInboundAt = g.msgs[i].at
			break
		}
	}
	if c.snoozedUntil != 0 {
		c.snoozedUntil = g.now + g.between(hour, 3*day)
	}
	if g.r.Float64() < dsTaggedShare {
		c.tagger = g.agentOf(c.team)
		for range 1 + g.r.IntN(3) {
			// Zipf-like popularity: a few tags are on most tagged conversations.
			tag := uint8(math.Min(dsTags-1, math.Floor(math.Pow(g.r.Float64(), 2.5)*dsTags)))
			if !slices.Contains(c.tags, tag) {
				c.tags = append(c.tags, tag)
			}
		}
	}
	return c
}

func (g *generator) msg(ci int32, at int64, sender uint8, agent int8) {
	g.msgs = append(g.msgs, genMsg{at: at, conv: ci, sender: sender, agent: agent})
}

func (g *generator) history(ci int32, at int64, actor int8, action, details string) {
	g.hist = append(g.hist, genHist{at: at, conv: ci, actor: actor, action: action, details: details})
}

// customerGap is how long a customer takes to answer; agentGap how long an agent does: mostly
// minutes, now and then hours (a customer who comes back after lunch, a busy queue).
func (g *generator) customerGap() int64 {
	if g.r.IntN(10) == 0 {
		return g.between(hour, 8*hour)
	}
	return g.between(10*second, 5*minute)
}

func (g *generator) agentGap() int64 {
	if g.r.IntN(12) == 0 {
		return g.between(hour, 6*hour)
	}
	return g.between(30*second, 10*minute)
}

var handoffReasons = []string{"customer_asked", "customer_asked", "customer_asked", "model", "model", "max_replies", "gemini_error"}

// episode generates one opening of conversation ci from t with m messages and returns when it
// ended. The customer writes first; the bot answers about half of the episodes, and either
// contains them or hands them to the team, which auto-assigns an agent (or an agent takes one
// over); the agent and the customer then exchange until the agent resolves it. An open episode
// (the conversation's last, unresolved) stops where it is and sets the conversation's status.
func (g *generator) episode(ci int32, c *genConv, t int64, m int, open bool) int64 {
	left := m
	g.msg(ci, t, gContact, -1)
	left--
	agent := int8(-1)
	if g.r.IntN(100) < 55 {
		rounds := min(left, 1+g.r.IntN(4))
		contained := g.r.IntN(100) < 35 || left < 3
		if open && g.r.IntN(4) == 0 {
			contained = true
		}
		for r := 0; r < rounds && left > 0; r++ {
			t += g.between(2*second, 8*second)
			g.msg(ci, t, gBot, -1)
			left--
			if left > 0 && (r < rounds-1 || !contained) {
				t += g.customerGap()
				g.msg(ci, t, gContact, -1)
				left--
			}
		}
		if contained && left <= 1 {
			if left == 1 { // the customer's thanks
				t += g.customerGap()
				g.msg(ci, t, gContact, -1)
				c.unread = 1
			}
			if open {
				c.status, c.assignee = "bot", -1
				return t
			}
			// A conversation the bot settled is resolved by an agent going through the queue.
			t += g.between(10*minute, 20*hour)
			g.history(ci, t, g.agentOf(c.team), "status", `{"from": "bot", "to": "resolved", "snoozed_until": null}`)
			c.status, c.unread = "resolved", 0
			return t
		}
		if g.r.IntN(10) == 0 {
			agent = g.agentOf(c.team)
			t += g.agentGap()
			g.history(ci, t, agent, "takeover", detailsJSON("assignee_id", g.id(agent), "previous_assignee_id", int64(0)))
		} else {
			reason := handoffReasons[g.r.IntN(len(handoffReasons))]
			g.history(ci, t, -1, "bot_handoff", `{"reason": "`+reason+`"}`)
			if left > 0 && g.r.IntN(2) == 0 {
				t += second
				g.msg(ci, t, gSystem, -1)
				left--
			}
		}
	}
	if agent < 0 {
		if open && left == 0 {
			c.status, c.assignee = "pending", -1
			c.unread = 1
			return t
		}
		agent = g.agentOf(c.team)
		t += g.between(time.Second.Microseconds(), 20*minute)
		g.history(ci, t, -1, "auto_assign", detailsJSON("assignee_id", g.id(agent), "group_id", g.teams[c.team], "previous_assignee_id", int64(0)))
	}
	c.assignee = agent
	unread := int32(0)
	for left > 0 {
		if open && left <= 2 && g.r.IntN(2) == 0 {
			// The customer's last words wait for the agent: unread.
			t += g.customerGap()
			g.msg(ci, t, gContact, -1)
			left--
			unread++
			continue
		}
		t += g.agentGap()
		g.msg(ci, t, gAgent, agent)
		left--
		unread = 0
		if left > 0 {
			t += g.customerGap()
			g.msg(ci, t, gContact, -1)
			left--
			unread = 1
		}
		if g.r.IntN(40) == 0 {
			// Reassigned within the team (a shift ends, a supervisor balances the load).
			next := g.agentOf(c.team)
			t += g.between(minute, hour)
			g.history(ci, t, next, "assign", detailsJSON("assignee_id", g.id(next), "group_id", g.teams[c.team],
				"previous_assignee_id", g.id(agent), "previous_group_id", g.teams[c.team]))
			agent, c.assignee = next, next
		}
	}
	if open {
		c.unread = unread
		switch x := g.r.IntN(10); {
		case x < 7:
			c.status = "open"
		case x < 9:
			c.status = "pending"
			g.history(ci, t+minute, agent, "status", `{"from": "open", "to": "pending", "snoozed_until": null}`)
		default:
			c.status, c.snoozedUntil = "snoozed", 1
			g.history(ci, t+minute, agent, "status", `{"from": "open", "to": "snoozed", "snoozed_until": null}`)
		}
		return t
	}
	if g.r.IntN(20) == 0 {
		// Snoozed until the customer's answer was due, then woken by the job.
		t += g.between(minute, 10*minute)
		g.history(ci, t, agent, "status", `{"from": "open", "to": "snoozed", "snoozed_until": null}`)
		t += g.between(hour, 2*day)
		g.history(ci, t, -1, "status", `{"from": "snoozed", "to": "open", "reason": "snooze_ended"}`)
	}
	t += g.between(minute, 2*hour)
	g.history(ci, t, agent, "status", `{"from": "open", "to": "resolved", "snoozed_until": null}`)
	c.status = "resolved"
	// A few are resolved without reading the customer's last message.
	if unread > 0 && g.r.IntN(30) == 0 {
		c.unread = unread
	} else {
		c.unread = 0
	}
	return t
}

// detailsJSON writes history details as the inbox does: keys with user or group ids, 0 for null.
func detailsJSON(kv ...any) string {
	b := []byte{'{'}
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = append(b, '"')
		b = append(b, kv[i].(string)...)
		b = append(b, `": `...)
		if v := kv[i+1].(int64); v == 0 {
			b = append(b, "null"...)
		} else {
			b = strconv.AppendInt(b, v, 10)
		}
	}
	return string(append(b, '}'))
}

// generate makes the whole year: conversations in the order they were created (so ids grow with
// time, as they do in a real inbox), and messages and history sorted by time.
func generate(seed uint64, now time.Time, agents, teams []int64) ([]genConv, []genMsg, []genHist) {
	g := &generator{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: now.UnixMicro(), agents: agents, teams: teams,
		msgs: make([]genMsg, 0, dsMessages), hist: make([]genHist, 0, dsConversations*4)}
	counts := messageCounts(g.r)
	convs := make([]genConv, dsConversations)
	for i := range convs {
		convs[i] = g.conversation(int32(i), counts[i])
	}
	// Renumber conversations by creation time.
	order := make([]int32, len(convs))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int { return cmp.Compare(convs[a].createdAt, convs[b].createdAt) })
	rank := make([]int32, len(convs))
	sorted := make([]genConv, len(convs))
	for r, i := range order {
		rank[i] = int32(r)
		sorted[r] = convs[i]
	}
	for i := range g.msgs {
		g.msgs[i].conv = rank[g.msgs[i].conv]
	}
	for i := range g.hist {
		g.hist[i].conv = rank[g.hist[i].conv]
	}
	slices.SortStableFunc(g.msgs, func(a, b genMsg) int { return cmp.Compare(a.at, b.at) })
	slices.SortStableFunc(g.hist, func(a, b genHist) int { return cmp.Compare(a.at, b.at) })
	return sorted, g.msgs, g.hist
}
