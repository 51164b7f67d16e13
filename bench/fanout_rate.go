package main

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/internal/inbox"
)

// Fan-out targets: 1,000 agents and 50 messages a second, each message making four events
// (created, then the sent, delivered and read ticks of the simulator's status webhooks) or one
// (the send queue paused).
const (
	fanoutAgents = 1000
	fanoutRate   = 50.0
	fanoutConvs  = 10 // a conversation's sends go out in order: the rate is spread over several
)

// benchFanoutRows runs the rounds against the server and, in alternation, the same rates over
// the same number of sockets to the bare broadcaster, the ceiling: what coder/websocket and
// this machine's loopback deliver with no database and no hub in the path.
//
// Closed-loop rounds first (one message at a time, 1 to 5,000 agents; the 5,000 round also gives
// the RSS of an idle socket), then the targets' open-loop rounds at 50 messages a second.
func benchFanoutRows(ctx context.Context, e *Env, srv *serverProcess, bp *broadcastProcess) ([]Row, error) {
	token, err := login(srv.url, "bench@example.com", "bench password")
	if err != nil {
		return nil, err
	}
	httpc := &http.Client{Timeout: 30 * time.Second}
	convs := make([]int64, fanoutConvs)
	for i := range convs {
		waID := fmt.Sprintf("1650555%04d", 9000+i)
		if err := customerWroteTo(ctx, httpc, srv.dbURL, srv.url, waID); err != nil {
			return nil, err
		}
		if convs[i], err = openConversation(httpc, srv.url, token, waID); err != nil {
			return nil, err
		}
	}

	// The send queue is paused through River (a client of the benchmark on the same database):
	// each message then makes one fan-out, not four, so the rows measure the fan-out itself.
	// The ticks round resumes it.
	rc, closeRiver, err := riverInsertClient(ctx, srv.dbURL)
	if err != nil {
		return nil, err
	}
	defer closeRiver()
	if err := rc.QueuePause(ctx, inbox.QueueSend, nil); err != nil {
		return nil, err
	}
	clock, err := newCommitClock(ctx, srv.dbURL)
	if err != nil {
		return nil, err
	}
	defer clock.close()

	var rows []Row
	const messages = 20
	for _, n := range []int{1, 100, 1000, 5000} {
		base, _, err := clock.marks(ctx)
		if err != nil {
			return rows, err
		}
		before, err := rss(srv.cmd.Process.Pid)
		if err != nil {
			return rows, err
		}
		socks, err := connectSockets(ctx, srv.url, token, n, base)
		if err != nil {
			return rows, err
		}
		// Let the sockets settle before reading memory: each has done its auth and resume.
		time.Sleep(time.Second)
		after, _ := rss(srv.cmd.Process.Pid)
		lat, lost, err := fanOut(ctx, clock, socks, httpc, srv.url, token, convs[0], messages)
		closeSockets(socks)
		if err != nil {
			return rows, err
		}
		rows = append(rows, Row{"fanout", fmt.Sprintf("%s -> every socket, %d agents, one message at a time", clock.from(), n),
			fmt.Sprintf("p50 %s, p99 %s, max %s; %d of %d events lost", ms(lat.percentile(0.5)), ms(lat.percentile(0.99)), ms(lat.percentile(1)), lost, n*messages),
			"", "", ""})
		if n == 5000 {
			time.Sleep(500 * time.Millisecond)
			bare, err := idleSocketRSS(ctx, bp, n)
			if err != nil {
				return rows, err
			}
			per := float64(after-before) / float64(n)
			rows = append(rows, Row{"fanout", fmt.Sprintf("server RSS per idle socket (%d sockets)", n),
				fmt.Sprintf("%.1f KB (RSS %d MB -> %d MB)", per/1024, before>>20, after>>20),
				fmt.Sprintf("bare broadcaster: %.1f KB", bare/1024), ratio(per, bare), "<= 30 KB"})
		}
		// Give the server a moment to tear the closed sockets down before the next round.
		time.Sleep(500 * time.Millisecond)
	}

	// The targets, each beside the bare broadcast of the same frames at the same rate to as many
	// sockets, in alternating order (ceiling, subject, subject, ceiling).
	oneBare, err := ceilingRound(ctx, bp, fanoutAgents, 1, e.Duration)
	if err != nil {
		return rows, err
	}
	one, err := serverRound(ctx, srv, clock, token, convs, httpc, fanoutAgents, false, e.Duration)
	if err != nil {
		return rows, err
	}
	// The paused rounds' sends are dropped, not released at once as a burst.
	if err := dropQueued(ctx, srv.dbURL, inbox.QueueSend); err != nil {
		return rows, err
	}
	if err := rc.QueueResume(ctx, inbox.QueueSend, nil); err != nil {
		return rows, err
	}
	ticks, err := serverRound(ctx, srv, clock, token, convs, httpc, fanoutAgents, true, e.Duration)
	if err != nil {
		return rows, err
	}
	ticksBare, err := ceilingRound(ctx, bp, fanoutAgents, levels, e.Duration)
	if err != nil {
		return rows, err
	}
	rows = append(rows,
		Row{"fanout", fmt.Sprintf("%s -> every socket, %d agents, %.0f msg/s, 1 event per message", clock.from(), fanoutAgents, fanoutRate),
			one.String(), "bare broadcast: " + oneBare.short(), one.versus(oneBare), "p99 <= 30 ms; 0 lost"},
		Row{"fanout", fmt.Sprintf("%s -> every socket, %d agents, %.0f msg/s with status ticks (%.0f events/s)", clock.from(), fanoutAgents, fanoutRate, fanoutRate*levels),
			ticks.String(), "bare broadcast: " + ticksBare.short(), ticks.versus(ticksBare), "p99 <= 100 ms; 0 lost"})
	peak, err := procStatus(srv.cmd.Process.Pid, "VmHWM:")
	if err != nil {
		return rows, err
	}
	rows = append(rows, Row{"fanout", "server peak RSS through the fan-out rounds (VmHWM)", fmt.Sprintf("%d MB", peak>>20), "", "", "< 500 MB"})
	return rows, nil
}

// roundResult is a round's delays, from each event's commit (or broadcast) to each socket.
type roundResult struct {
	lat         latencies
	lost, total int
	cut         int // sockets the server closed during the round (slow consumers)
	refused     int // sends the server refused
}

func (r roundResult) String() string {
	s := fmt.Sprintf("p50 %s, p99 %s, max %s; %d of %d events lost", ms(r.lat.percentile(0.5)), ms(r.lat.percentile(0.99)), ms(r.lat.percentile(1)), r.lost, r.total)
	if r.cut > 0 {
		s += fmt.Sprintf(" (%d sockets cut)", r.cut)
	}
	if r.refused > 0 {
		s += fmt.Sprintf(" (%d sends refused)", r.refused)
	}
	return s
}

func (r roundResult) short() string {
	return fmt.Sprintf("p50 %s, p99 %s, %d lost", ms(r.lat.percentile(0.5)), ms(r.lat.percentile(0.99)), r.lost)
}

func (r roundResult) versus(bare roundResult) string {
	return fmt.Sprintf("p99 %+.1f ms", float64(r.lat.percentile(0.99)-bare.lat.percentile(0.99))/float64(time.Millisecond))
}

// measureStates compares what the sockets saw with what happened: commits[i][lvl] is when message
// base+i reached lvl (unix nanoseconds; 0: it did not). A socket that never saw a level the
// message reached lost an event.
func measureStates(socks []*socket, commits [][levels]int64) roundResult {
	var r roundResult
	for _, s := range socks {
		select {
		case <-s.done:
			r.cut++
		default:
		}
		s.mu.Lock()
		for i, c := range commits {
			for lvl, at := range c {
				if at == 0 {
					continue
				}
				r.total++
				if i >= len(s.seen) || s.seen[i][lvl] == 0 {
					r.lost++
					continue
				}
				r.lat = append(r.lat, time.Duration(s.seen[i][lvl]-at))
			}
		}
		s.mu.Unlock()
	}
	return r
}

// allSeen reports whether every socket has seen every level of commits.
func allSeen(socks []*socket, commits [][levels]int64) bool {
	for _, s := range socks {
		s.mu.Lock()
		for i, c := range commits {
			for lvl, at := range c {
				if at != 0 && (i >= len(s.seen) || s.seen[i][lvl] == 0) {
					s.mu.Unlock()
					return false
				}
			}
		}
		s.mu.Unlock()
	}
	return true
}

// serverRound posts messages at fanoutRate for d, open loop, to the conversations in turn, with n
// agents connected, then waits for the last events (and, with ticks, for every message to be
// read) and measures every level each message reached.
func serverRound(ctx context.Context, srv *serverProcess, clock *commitClock, token string, convs []int64, c *http.Client, n int, ticks bool, d time.Duration) (roundResult, error) {
	base, evBase, err := clock.marks(ctx)
	if err != nil {
		return roundResult{}, err
	}
	socks, err := connectSockets(ctx, srv.url, token, n, base)
	if err != nil {
		return roundResult{}, err
	}
	defer closeSockets(socks)
	time.Sleep(500 * time.Millisecond)
	// A send the server refuses (503 when the machine is too busy for its pool) is counted and
	// shown, not fatal: the round measures the messages that were committed.
	var refused atomic.Int64
	sent := paced(fanoutRate, d, func(i int, _ time.Time) {
		if _, _, err := postForFanout(c, srv.url, token, convs[i%len(convs)]); err != nil {
			refused.Add(1)
		}
	})
	sent -= int(refused.Load())
	deadline := time.Now().Add(30 * time.Second)
	for {
		commits, read, err := clock.states(ctx, base, evBase)
		if err != nil {
			return roundResult{}, err
		}
		if allSeen(socks, commits) && (!ticks || read >= sent) {
			r := measureStates(socks, commits)
			r.refused = int(refused.Load())
			return r, nil
		}
		if time.Now().After(deadline) {
			// Still flowing: what had committed by now gets a last while to arrive, so that only
			// what never comes counts as lost (a late event counts by its delay).
			for end := time.Now().Add(10 * time.Second); !allSeen(socks, commits) && time.Now().Before(end); {
				time.Sleep(250 * time.Millisecond)
			}
			r := measureStates(socks, commits)
			r.refused = int(refused.Load())
			return r, nil
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// ceilingRound broadcasts the frames of d at fanoutRate messages a second, per frames each, to n
// sockets of the bare broadcaster.
func ceilingRound(ctx context.Context, bp *broadcastProcess, n, per int, d time.Duration) (roundResult, error) {
	socks, err := connectSockets(ctx, bp.url, "-", n, 1)
	if err != nil {
		return roundResult{}, err
	}
	defer closeSockets(socks)
	time.Sleep(500 * time.Millisecond)
	commits, err := bp.broadcast(fanoutRate, per, int(fanoutRate*d.Seconds()))
	if err != nil {
		return roundResult{}, err
	}
	for deadline := time.Now().Add(10 * time.Second); !allSeen(socks, commits) && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	return measureStates(socks, commits), nil
}

// idleSocketRSS is the broadcaster's RSS per idle socket with n connected.
func idleSocketRSS(ctx context.Context, bp *broadcastProcess, n int) (float64, error) {
	before, err := rss(bp.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	socks, err := connectSockets(ctx, bp.url, "-", n, 1)
	if err != nil {
		return 0, err
	}
	defer closeSockets(socks)
	time.Sleep(time.Second)
	after, err := rss(bp.cmd.Process.Pid)
	return float64(after-before) / float64(n), err
}

// marks returns the next message id and the last event id, from which a round's messages and
// events count.
func (c *commitClock) marks(ctx context.Context) (nextMessage, lastEvent int64, err error) {
	err = c.conn.QueryRow(ctx, `SELECT (SELECT coalesce(max(id), 0) + 1 FROM messages), (SELECT coalesce(max(id), 0) FROM events)`).
		Scan(&nextMessage, &lastEvent)
	return nextMessage, lastEvent, err
}

// states reads when each message of the round reached each level (its events' commits), and how
// many were read.
func (c *commitClock) states(ctx context.Context, base, evBase int64) ([][levels]int64, int, error) {
	at := "created_at"
	if c.enabled {
		at = "pg_xact_commit_timestamp(xmin)"
	}
	rows, err := c.conn.Query(ctx, `
		SELECT (payload->>'message_id')::bigint, kind, coalesce(payload->>'status', ''), `+at+`
		FROM events
		WHERE id > $1 AND kind IN ('message.created', 'message.status') AND (payload->>'message_id')::bigint >= $2`,
		evBase, base)
	if err != nil {
		return nil, 0, fmt.Errorf("error reading the round's events: %w", err)
	}
	var (
		commits [][levels]int64
		read    int
		id      int64
		kind    string
		status  string
		t       time.Time
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &kind, &status, &t}, func() error {
		lvl := levelCreated
		if kind != "message.created" {
			if lvl = statusLevel([]byte(status)); lvl < 0 {
				return nil
			}
		}
		i := int(id - base)
		for len(commits) <= i {
			commits = append(commits, [levels]int64{})
		}
		if commits[i][lvl] == 0 || t.UnixNano() < commits[i][lvl] {
			commits[i][lvl] = t.UnixNano()
		}
		if lvl == levelRead {
			read++
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("error reading the round's events: %w", err)
	}
	return commits, read, nil
}
