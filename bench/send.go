package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/app"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
)

const twoInsertSetup = `
CREATE TABLE bench_a (id bigserial PRIMARY KEY, body text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE bench_b (id bigserial PRIMARY KEY, ref bigint NOT NULL, created_at timestamptz NOT NULL DEFAULT now());`

const twoInsertScript = `BEGIN;
INSERT INTO bench_a (body) VALUES ('hello from pgbench');
INSERT INTO bench_b (ref) VALUES (1);
END;
`

// asUser is u as the caller of the inbox's use cases, with its role's permissions, as the API
// passes it on once u's access token is checked.
func asUser(u *db.User) *auth.Principal { return &auth.Principal{UserID: u.ID, Role: u.Role} }

// agentWithConversations creates an admin, logs it in and opens n conversations with customers
// whose numbers start with prefix, each with a first message from the admin.
func agentWithConversations(ctx context.Context, a *app.App, email, prefix string, n int) (db.User, string, []int64, error) {
	admin, err := a.Users.Create(ctx, auth.NewUser{Email: email, Name: "Bench", Role: auth.RoleAdmin, Password: "bench password"})
	if err != nil {
		return db.User{}, "", nil, err
	}
	token, err := login(a.BaseURL(), email, "bench password")
	if err != nil {
		return db.User{}, "", nil, err
	}
	convs := make([]int64, n)
	for i := range convs {
		if err := customerWrote(ctx, a, fmt.Sprintf("%s%04d", prefix, i)); err != nil {
			return db.User{}, "", nil, err
		}
		row, _, _, err := a.Inbox.StartConversation(ctx, asUser(&admin), fmt.Sprintf("%s%04d", prefix, i), inbox.SendInput{
			ClientID: uuid.New(), Type: "text", Text: "hello",
		})
		if err != nil {
			return db.User{}, "", nil, err
		}
		convs[i] = row.Conversation.ID
	}
	return admin, token, convs, nil
}

// benchSend measures the send API: throughput and latency at 8 and 32 clients next to
// the same outbox transaction called directly in Go and pgbench's two-INSERT ceiling, then the
// end-to-end latency from POST to the simulator receiving the send, at half the measured rate.
func benchSend(ctx context.Context, e *Env) ([]Row, error) {
	clients := []int{8, 32}
	pg, err := pgbenchTPS(ctx, e, twoInsertSetup, twoInsertScript, clients...)
	if err != nil {
		return nil, err
	}

	// Pacing at Meta's highest standard throughput (1,000 messages per second) keeps its cost in
	// the figures without making it the limit; the priority section runs at the default 80.
	a, stop, err := instance(ctx, e, map[string]string{"WHATSAPP_MAX_MESSAGES_PER_SECOND": "1000"})
	if err != nil {
		return nil, err
	}
	defer stop()

	// One conversation per client in the write phases: sends to one conversation serialize on its
	// row (that is how their order is kept). The phases with the workers running spread their
	// messages over 512 conversations, as a support team's load spreads over many customers: the
	// messages of one conversation leave one after the other (each waits until the one before it
	// is sent), so a few clients hammering a few conversations would measure that wait instead.
	admin, token, convs, err := agentWithConversations(ctx, a, "bench@example.com", "1555000", 512)
	if err != nil {
		return nil, err
	}
	if err := waitQueuesIdle(ctx, a); err != nil {
		return nil, err
	}
	if _, err := a.Templates.Sync(ctx); err != nil {
		return nil, err
	}

	// The throughput phases measure the write path alone: the send queue is paused so the workers'
	// calls to the simulator do not share the two cores with it.
	if err := a.River().QueuePause(ctx, inbox.QueueSend, nil); err != nil {
		return nil, err
	}

	var rows []Row
	apiMax := 0.0
	textRatio := map[int]string{} // the text path's ratio to its Go transaction, by clients
	sender := asUser(&admin)
	for _, c := range clients {
		httpc := newLoadClient(c)
		goRate, goLat, apiRate, apiLat := loadPair(e.Duration, c, func(i, n int) error {
			_, _, err := a.Inbox.Send(ctx, sender, inbox.SendInput{
				ConversationID: convs[i], ClientID: uuid.New(), Type: "text", Text: "benchmark message",
			})
			return err
		}, func(i, n int) error {
			_, err := postMessage(httpc, a.BaseURL(), token, convs[i], uuid.NewString())
			return err
		})
		apiMax = max(apiMax, apiRate)
		textRatio[c] = ratio(apiRate, goRate)
		rows = append(rows,
			Row{"send", fmt.Sprintf("Go outbox tx, %d writers", c), fmt.Sprintf("%.0f tx/s (p50 %s, p99 %s)", goRate, ms(goLat.percentile(0.5)), ms(goLat.percentile(0.99))),
				fmt.Sprintf("pgbench 2 INSERTs: %.0f tx/s", pg[c]), ratio(goRate, pg[c]) + " of pgbench", ""},
			Row{"send", fmt.Sprintf("POST /messages, %d clients", c), fmt.Sprintf("%.0f req/s (p50 %s, p99 %s)", apiRate, ms(apiLat.percentile(0.5)), ms(apiLat.percentile(0.99))),
				fmt.Sprintf("Go outbox tx: %.0f tx/s", goRate), ratio(apiRate, goRate) + " of Go, " + ratio(apiRate, pg[c]) + " of pgbench", ">= 80% of Go"},
		)
	}

	// End to end at half the best API rate: drop the backlog, resume the workers, and time each
	// message from its POST to the simulator receiving it.
	if err := dropSends(ctx, a.Pool(), inbox.QueueSend); err != nil {
		return nil, err
	}
	if err := a.River().QueueResume(ctx, inbox.QueueSend, nil); err != nil {
		return nil, err
	}
	// Each send costs far more than its API write once it is worked: the Graph call, the sent
	// transaction, and three status webhooks (sent, delivered, read) that the simulator posts back
	// and that are stored and processed like Meta's. So the whole path's maximum is measured first:
	// workers running, clients posting as fast as they can for the phase, then the time until every
	// one of those messages has been sent and has reached `read`. Counting only until the simulator
	// has received the sends would leave two thirds of the work (the statuses) still queued: that
	// burst rate is shown too, but it is not one the system can keep up, so the fixed-rate target
	// is taken at half the sustained maximum. Half the burst rate and half the write path's maximum
	// are shown for comparison; at the latter the queue grows for the whole run.
	burst, sustained, err := sustainedRate(ctx, a, token, convs, e.Duration)
	if err != nil {
		return rows, err
	}
	rows = append(rows,
		Row{"send", "max end-to-end rate (POST -> sent and read, statuses applied)",
			fmt.Sprintf("%.0f msg/s", sustained), fmt.Sprintf("write path alone: %.0f req/s", apiMax), ratio(sustained, apiMax) + " of it", ""},
		Row{"send", "burst rate (POST -> simulator received, statuses still queued)",
			fmt.Sprintf("%.0f msg/s", burst), "", "", ""})
	if err := waitQueuesIdle(ctx, a); err != nil {
		return rows, err
	}
	for _, fixed := range []struct {
		rate   float64
		label  string
		target string
	}{
		{sustained / 2, "half the end-to-end max", "p99 < 50 ms"},
		{burst / 2, "half the burst rate", ""},
		{apiMax / 2, "half the write-path max", ""},
	} {
		e2e, sent, err := endToEnd(ctx, a, token, convs, fixed.rate, e.Duration)
		if err != nil {
			return rows, err
		}
		rows = append(rows, Row{"send", fmt.Sprintf("POST -> simulator received, %.0f msg/s (%s)", fixed.rate, fixed.label),
			fmt.Sprintf("p50 %s, p99 %s (%d messages)", ms(e2e.percentile(0.5)), ms(e2e.percentile(0.99)), sent), "", "", fixed.target})
		if err := waitQueuesIdle(ctx, a); err != nil {
			return rows, err
		}
	}

	// Last, so their backlog weighs on no other phase: the write path of a template with header,
	// body and button parameters (checked against the stored template and rendered in the send
	// transaction) beside the same Go outbox transaction of a text, and the text's ratio above.
	if err := a.River().QueuePause(ctx, inbox.QueueSend, nil); err != nil {
		return rows, err
	}
	for _, c := range clients {
		httpc := newLoadClient(c)
		goRate, _, tplRate, tplLat := loadPair(e.Duration, c, func(i, n int) error {
			_, _, err := a.Inbox.Send(ctx, sender, inbox.SendInput{
				ConversationID: convs[i], ClientID: uuid.New(), Type: "text", Text: "benchmark message",
			})
			return err
		}, func(i, n int) error {
			_, err := postTemplate(httpc, a.BaseURL(), token, convs[i], uuid.NewString())
			return err
		})
		rows = append(rows, Row{"send", fmt.Sprintf("POST /messages template (5 parameters), %d clients", c),
			fmt.Sprintf("%.0f req/s (p50 %s, p99 %s)", tplRate, ms(tplLat.percentile(0.5)), ms(tplLat.percentile(0.99))),
			fmt.Sprintf("Go outbox tx (text): %.0f tx/s", goRate), ratio(tplRate, goRate) + " of Go (text: " + textRatio[c] + ")", ""})
	}
	return rows, dropSends(ctx, a.Pool(), inbox.QueueSend)
}

// sustainedRate posts from 16 clients for d with the workers running. It returns two rates over
// the messages posted, both counted from the first POST: burst, until the simulator had received
// every one of them, and sustained, until every one had also reached `read` (its three status
// webhooks stored and processed).
func sustainedRate(ctx context.Context, a *app.App, token string, convs []int64, d time.Duration) (burst, sustained float64, err error) {
	sim := a.Simulator()
	sim.ResetSends()
	var floor int64
	if err := a.Pool().QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM messages").Scan(&floor); err != nil {
		return 0, 0, err
	}
	httpc := newLoadClient(16)
	start := time.Now()
	var posted atomic.Int64
	var next atomic.Int64
	load(d, 16, func(i, n int) error {
		_, err := postMessage(httpc, a.BaseURL(), token, convs[int(next.Add(1))%len(convs)], uuid.NewString())
		if err == nil {
			posted.Add(1)
		}
		return err
	})
	waitCtx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	sends, err := sim.WaitForSends(waitCtx, int(posted.Load()))
	if err != nil {
		return 0, 0, fmt.Errorf("simulator received %d of %d sends: %w", len(sim.Sends()), posted.Load(), err)
	}
	last := start
	for _, s := range sends {
		if s.At.After(last) {
			last = s.At
		}
	}
	// A 20 ms poll of an index range of a few thousand rows: its error is a fraction of a percent
	// of the ten-odd seconds it measures, and it costs the processing it waits for little.
	for {
		var unread int
		if err := a.Pool().QueryRow(waitCtx, "SELECT count(*) FROM messages WHERE id > $1 AND direction = 'out' AND status <> 'read'", floor).Scan(&unread); err != nil {
			return 0, 0, fmt.Errorf("waiting for the statuses of %d sends: %w", len(sends), err)
		}
		if unread == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return perSec(len(sends), last.Sub(start)), perSec(len(sends), time.Since(start)), nil
}

// waitQueuesIdle waits until no job is available or running.
func waitQueuesIdle(ctx context.Context, a *app.App) error {
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		var n int
		if err := a.Pool().QueryRow(ctx, "SELECT count(*) FROM river_job WHERE state IN ('available', 'running', 'retryable')").Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("queues did not drain")
}

// load runs fn from c goroutines for d and returns the completed calls per second and their
// latencies. Goroutine i of n always passes i, so each can own a conversation.
func load(d time.Duration, c int, fn func(i, n int) error) (float64, latencies) {
	p := run(d, c, fn)
	return p.rate(), p.lat
}

// loadPair measures a subject against its ceiling on the same machine, in four alternating
// phases of d/2 each (ceiling, subject, subject, ceiling), and returns both. Measured one after
// the other, the second would always run on larger tables and on whatever the machine's drift
// (other tenants, checkpoints) happened to be then; in this order a linear drift weighs on both
// alike.
func loadPair(d time.Duration, c int, ceiling, subject func(i, n int) error) (ceilRate float64, ceilLat latencies, subjRate float64, subjLat latencies) {
	var ceil, subj phase
	ceil.add(run(d/2, c, ceiling))
	subj.add(run(d/2, c, subject))
	subj.add(run(d/2, c, subject))
	ceil.add(run(d/2, c, ceiling))
	return ceil.rate(), ceil.lat, subj.rate(), subj.lat
}

// phase is what one or more load runs completed.
type phase struct {
	calls   int
	elapsed time.Duration
	lat     latencies
}

func (p *phase) add(q phase) {
	p.calls += q.calls
	p.elapsed += q.elapsed
	p.lat = append(p.lat, q.lat...)
}

func (p phase) rate() float64 { return perSec(p.calls, p.elapsed) }

func run(d time.Duration, c int, fn func(i, n int) error) phase {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		all  latencies
		errs atomic.Int64
	)
	deadline := time.Now().Add(d)
	start := time.Now()
	for i := range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local latencies
			for time.Now().Before(deadline) {
				t := time.Now()
				if err := fn(i, c); err != nil {
					errs.Add(1)
					continue
				}
				local = append(local, time.Since(t))
			}
			mu.Lock()
			all = append(all, local...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if n := errs.Load(); n > 0 {
		fmt.Printf("warning: %d calls failed\n", n)
	}
	return phase{calls: len(all), elapsed: time.Since(start), lat: all}
}

func postMessage(c *loadClient, base, token string, conv int64, clientID string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"client_id": clientID, "type": "text", "text": map[string]string{"body": "benchmark message"}})
	return post(c, base, token, conv, body)
}

// templateParams are the parameters of a send of the simulator's order_shipped template: a
// header, three body and a URL button parameter, the template path's worst common case.
var templateParams = []map[string]any{
	{"type": "header", "parameters": []map[string]any{{"type": "text", "text": "A-2002"}}},
	{"type": "body", "parameters": []map[string]any{{"type": "text", "text": "Ana"}, {"type": "text", "text": "A-2002"}, {"type": "text", "text": "Friday"}}},
	{"type": "button", "sub_type": "url", "index": "0", "parameters": []map[string]any{{"type": "text", "text": "A-2002"}}},
}

func postTemplate(c *loadClient, base, token string, conv int64, clientID string) (int64, error) {
	body, _ := json.Marshal(map[string]any{"client_id": clientID, "type": "template", "template": map[string]any{
		"name": "order_shipped", "language": map[string]string{"code": "en_US"}, "components": templateParams}})
	return post(c, base, token, conv, body)
}

func post(c *loadClient, base, token string, conv int64, body []byte) (int64, error) {
	var id int64
	err := c.post(fmt.Sprintf("%s/api/conversations/%d/messages", base, conv), []string{"Authorization", "Bearer " + token}, body,
		func(status int, b []byte) error {
			if status != http.StatusAccepted {
				return fmt.Errorf("status %d: %s", status, b)
			}
			var m struct {
				ID int64 `json:"id"`
			}
			err := json.Unmarshal(b, &m)
			id = m.ID
			return err
		})
	return id, err
}

func login(base, email, password string) (string, error) {
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/api/auth/login", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		return "", fmt.Errorf("login failed: %d %v", resp.StatusCode, err)
	}
	return out.AccessToken, nil
}

// endToEnd posts messages at a fixed rate and measures the time each POST was due -> simulator
// receipt.
func endToEnd(ctx context.Context, a *app.App, token string, convs []int64, rate float64, d time.Duration) (latencies, int, error) {
	sim := a.Simulator()
	sim.ResetSends()
	httpc := newLoadClient(64)
	var (
		mu      sync.Mutex
		started = map[string]time.Time{}
		errs    atomic.Int64
	)
	paced(rate, d, func(i int, due time.Time) {
		id, err := postMessage(httpc, a.BaseURL(), token, convs[i%len(convs)], uuid.NewString())
		if err != nil {
			errs.Add(1)
			return
		}
		mu.Lock()
		started[strconv.FormatInt(id, 10)] = due
		mu.Unlock()
	})
	want := len(started)
	waitCtx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	sends, err := sim.WaitForSends(waitCtx, want)
	if err != nil {
		return nil, 0, fmt.Errorf("simulator received %d of %d sends: %w", len(sim.Sends()), want, err)
	}
	var lat latencies
	for _, s := range sends {
		if t, ok := started[s.BizOpaqueCallbackData]; ok {
			lat = append(lat, s.At.Sub(t))
		}
	}
	if n := errs.Load(); n > 0 {
		return lat, want, fmt.Errorf("%d posts failed", n)
	}
	return lat, want, nil
}

// customerWrote opens the 24-hour window of customer waID, as their message would, in wainbox and
// at the simulated Meta: the benchmark measures replies, which Meta accepts only inside it.
func customerWrote(ctx context.Context, a *app.App, waID string) error {
	now := time.Now()
	if err := dbtest.CustomerWrote(ctx, a.Pool(), waID, now); err != nil {
		return err
	}
	if sim := a.Simulator(); sim != nil {
		sim.SetLastInbound(waID, now)
	}
	return nil
}
