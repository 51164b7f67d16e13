package main

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/simulator"
)

// metaLatency is how long the simulated Graph API takes to answer a send in the priority section:
// a realistic round trip to Meta, so that "one send" has its real weight.
const metaLatency = 100 * time.Millisecond

// benchPriority measures how long an agent's reply takes to reach Meta while 1,000 bot replies
// are queued ahead of it, beside the same reply on an idle queue: the backlog should delay it by
// at most one send. It runs at Meta's default throughput (80 messages per second, paced), so the
// backlog takes more than ten seconds to drain and every worker is busy with it.
func benchPriority(ctx context.Context, e *Env) ([]Row, error) {
	a, stop, err := instance(ctx, e, map[string]string{"WHATSAPP_MAX_MESSAGES_PER_SECOND": "80"})
	if err != nil {
		return nil, err
	}
	defer stop()
	sim := a.Simulator()
	sim.SetFaults(simulator.Faults{Latency: metaLatency})

	// The agent's conversations: one per reply, so no reply waits for an earlier one of its own.
	const replies = 10
	_, token, convs, err := agentWithConversations(ctx, a, "prio@example.com", "1555100", 2*replies)
	if err != nil {
		return nil, err
	}
	if err := waitQueuesIdle(ctx, a); err != nil {
		return nil, err
	}

	client := newLoadClient(4)
	// reply posts one agent reply and returns the time from its POST to the simulator receiving it
	// (before its answer's latency), and how many other sends the simulator received from the
	// moment the POST was answered until the reply: the sends that overtook it.
	reply := func(conv int64) (time.Duration, int, error) {
		start := time.Now()
		id, err := postMessage(client, a.BaseURL(), token, conv, uuid.NewString())
		if err != nil {
			return 0, 0, err
		}
		committed := time.Now()
		want := strconv.FormatInt(id, 10)
		for time.Since(start) < time.Minute {
			sends := sim.Sends()
			for _, s := range sends {
				if s.BizOpaqueCallbackData != want || s.WAMessageID == "" {
					continue
				}
				overtaken := 0
				for _, o := range sends {
					if o.BizOpaqueCallbackData != want && o.At.After(committed) && o.At.Before(s.At) {
						overtaken++
					}
				}
				return s.At.Sub(start), overtaken, nil
			}
			time.Sleep(2 * time.Millisecond)
		}
		return 0, 0, fmt.Errorf("reply %d never reached the simulator", id)
	}

	var idle latencies
	for i := range replies {
		d, _, err := reply(convs[i])
		if err != nil {
			return nil, err
		}
		idle = append(idle, d)
	}

	// 1,000 bot replies queued while the workers are paused, then released all at once.
	if err := a.River().QueuePause(ctx, inbox.QueueSendBot, nil); err != nil {
		return nil, err
	}
	for i := range 1000 {
		if err := customerWrote(ctx, a, fmt.Sprintf("1555200%04d", i)); err != nil {
			return nil, err
		}
		if _, _, _, err := a.Inbox.StartConversationAutomated(ctx, fmt.Sprintf("1555200%04d", i), inbox.SendInput{
			ClientID: uuid.New(), Type: "text", Text: "a bot reply", Sender: inbox.SenderBot,
		}); err != nil {
			return nil, err
		}
	}
	sim.ResetSends()
	if err := a.River().QueueResume(ctx, inbox.QueueSendBot, nil); err != nil {
		return nil, err
	}
	time.Sleep(time.Second) // every worker is busy with the backlog now
	var busy latencies
	botsBefore, mostOvertaken := 0, 0
	for i := range replies {
		d, overtaken, err := reply(convs[replies+i])
		if err != nil {
			return nil, err
		}
		busy = append(busy, d)
		mostOvertaken = max(mostOvertaken, overtaken)
		time.Sleep(300 * time.Millisecond)
	}
	for _, s := range sim.Sends() {
		if s.WAMessageID != "" {
			botsBefore++
		}
	}
	botsBefore -= replies
	if err := waitQueuesIdle(ctx, a); err != nil {
		return nil, err
	}
	return []Row{{
		Section: "priority",
		Metric:  fmt.Sprintf("agent reply POST -> Meta received, 1,000 bot replies queued (%d sent meanwhile)", botsBefore),
		Value:   fmt.Sprintf("p50 %s, max %s", ms(busy.percentile(0.5)), ms(busy.percentile(1))),
		Ceiling: fmt.Sprintf("idle queue: p50 %s, max %s", ms(idle.percentile(0.5)), ms(idle.percentile(1))),
		Ratio:   fmt.Sprintf("+%s p50, +%s max", ms(busy.percentile(0.5)-idle.percentile(0.5)), ms(busy.percentile(1)-idle.percentile(0.5))),
		Target:  fmt.Sprintf("extra <= one send (%s Graph call)", ms(metaLatency)),
	}, {
		Section: "priority",
		Metric:  "bot replies that reached Meta after an agent reply was posted and before it",
		Value:   fmt.Sprintf("at most %d (of %d replies)", mostOvertaken, replies),
		Ceiling: "at 80 sends/s one send slot is 12.5 ms",
		Target:  "<= the sends already holding a slot",
	}}, nil
}
