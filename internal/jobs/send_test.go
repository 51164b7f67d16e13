package jobs_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/require"

	"github.com/wainbox/wainbox/internal/apptest"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/dbtest"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/simulator"
)

// These tests hold the send path to its promise under faults (docs/delivery.md): every accepted
// message reaches Meta once, in order, through lost answers, database blips and dead instances.
// Meta is the simulator over real HTTP, running outside the instances where a test kills one.

// fakeMeta is a simulator served on its own, so that it outlives the instances it talks to. Its
// webhooks go through a forwarder whose target the test can change (to a live instance).
type fakeMeta struct {
	*simulator.Simulator
	URL    string
	target atomic.Value // string: the instance webhooks go to
}

func newFakeMeta(t *testing.T) *fakeMeta {
	t.Helper()
	m := &fakeMeta{}
	m.target.Store("")
	fwd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		target := m.target.Load().(string)
		if target == "" {
			http.Error(w, "no instance yet", http.StatusBadGateway)
			return
		}
		u, _ := url.Parse(target)
		httputil.NewSingleHostReverseProxy(u).ServeHTTP(w, r)
	}))
	t.Cleanup(fwd.Close)
	sim, err := simulator.New(&simulator.Config{
		AccessToken:  config.SimAccessToken,
		AppSecret:    config.SimAppSecret,
		WebhookURL:   fwd.URL + "/webhooks/whatsapp",
		AutoStatuses: true,
	})
	require.NoError(t, err)
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(func() {
		sim.Close()
		srv.Close()
	})
	m.Simulator, m.URL = sim, srv.URL
	return m
}

// deliverTo sends the fake Meta's webhooks to in.
func (m *fakeMeta) deliverTo(in *apptest.Instance) { m.target.Store(in.URL) }

// accepted returns the sends the fake Meta accepted for one message (by its callback data).
func (m *fakeMeta) accepted(messageID int64) []simulator.Send {
	var out []simulator.Send
	for _, s := range m.Sends() {
		if s.WAMessageID != "" && s.BizOpaqueCallbackData == strconv.FormatInt(messageID, 10) {
			out = append(out, s)
		}
	}
	return out
}

// startWithMeta starts an instance on databaseURL that talks to m instead of its own simulator.
func startWithMeta(t *testing.T, databaseURL string, m *fakeMeta, env map[string]string) *apptest.Instance {
	t.Helper()
	e := map[string]string{
		"SIMULATOR":                "0",
		"WHATSAPP_API_BASE_URL":    m.URL + "/simulator/graph",
		"WHATSAPP_ACCESS_TOKEN":    config.SimAccessToken,
		"WHATSAPP_PHONE_NUMBER_ID": config.SimPhoneNumberID,
		"WHATSAPP_APP_SECRET":      config.SimAppSecret,
		"WHATSAPP_VERIFY_TOKEN":    config.SimVerifyToken,
	}
	for k, v := range env {
		e[k] = v
	}
	return apptest.Start(t, &apptest.Options{DatabaseURL: databaseURL, Env: e})
}

// bundle is what most delivery tests work with: a fake Meta, one instance talking to it whose
// webhooks it receives, the instance's database and an admin's token.
type bundle struct {
	meta *fakeMeta
	pool *pgxpool.Pool
	in   *apptest.Instance
	tok  string
}

// setup starts a fake Meta and one instance on a fresh database (River's setup(t) style).
func setup(t *testing.T, env map[string]string) *bundle {
	t.Helper()
	meta := newFakeMeta(t)
	pool, url := dbtest.New(t)
	in := startWithMeta(t, url, meta, env)
	meta.deliverTo(in)
	return &bundle{meta: meta, pool: pool, in: in, tok: in.AdminToken()}
}

type row struct {
	Status        string
	WaMessageID   *string
	Attempts      int
	PendingReason string
	WaitingFor    *int64
}

func load(t *testing.T, pool *pgxpool.Pool, id int64) row {
	t.Helper()
	var r row
	err := pool.QueryRow(context.Background(),
		"SELECT status, wa_message_id, attempts, pending_reason, waiting_for FROM messages WHERE id = $1", id).
		Scan(&r.Status, &r.WaMessageID, &r.Attempts, &r.PendingReason, &r.WaitingFor)
	require.NoError(t, err)
	return r
}

// waitLeftPending waits until message id is no longer pending and returns it. When it does not
// leave, the failure shows the message and its send jobs.
func waitLeftPending(t *testing.T, pool *pgxpool.Pool, id int64, within time.Duration) row {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := load(t, pool, id)
		if r.Status != inbox.StatusPending {
			return r
		}
		if time.Now().After(deadline) {
			var jobs []string
			rows, err := pool.Query(context.Background(),
				"SELECT id, state, attempt, coalesce(errors::text, ''), scheduled_at FROM river_job WHERE kind = 'send_message' AND args @> jsonb_build_object('message_id', $1::bigint) ORDER BY id", id)
			require.NoError(t, err)
			for rows.Next() {
				var (
					jid, attempt int64
					state, errs  string
					at           time.Time
				)
				require.NoError(t, rows.Scan(&jid, &state, &attempt, &errs, &at))
				jobs = append(jobs, fmt.Sprintf("job %d %s attempt %d scheduled %s errors %s", jid, state, attempt, at.Format(time.StampMilli), errs))
			}
			require.NoError(t, rows.Err())
			t.Fatalf("message %d is still pending after %s: %+v; jobs: %v", id, within, r, jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// open starts a conversation with waID through the API and returns it and its first message.
func open(t *testing.T, in *apptest.Instance, tok, waID, text string) (conv, msg int64) {
	t.Helper()
	var ans struct {
		Conversation struct{ ID int64 } `json:"conversation"`
		Message      struct{ ID int64 } `json:"message"`
	}
	in.CustomerWrote(waID, time.Now())
	in.Do("POST", "/api/conversations", tok, map[string]any{
		"wa_id": waID, "client_id": uuid.NewString(), "type": "text", "text": map[string]any{"body": text},
	}, http.StatusAccepted, &ans)
	return ans.Conversation.ID, ans.Message.ID
}

// post sends a text to a conversation through the API and returns the message id.
func post(t *testing.T, in *apptest.Instance, tok string, conv int64, text string) int64 {
	t.Helper()
	var m struct{ ID int64 }
	in.Do("POST", fmt.Sprintf("/api/conversations/%d/messages", conv), tok, map[string]any{
		"client_id": uuid.NewString(), "type": "text", "text": map[string]any{"body": text},
	}, http.StatusAccepted, &m)
	return m.ID
}

// sendCount reads wainbox_send_total{outcome} from the instance's registry.
func sendCount(t *testing.T, in *apptest.Instance, outcome string) float64 {
	t.Helper()
	return counter(t, in, "wainbox_send_total", "outcome", outcome)
}

func counter(t *testing.T, in *apptest.Instance, name, label, value string) float64 {
	t.Helper()
	families, err := in.Metrics().Gather()
	require.NoError(t, err)
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabel(m, label, value) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// waitSendCount waits until the send outcome counter of in reaches want: the worker counts an
// outcome once its transaction has committed, so a test that saw the commit may look a moment
// before the count.
func waitSendCount(t *testing.T, in *apptest.Instance, outcome string, want float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for sendCount(t, in, outcome) != want {
		if time.Now().After(deadline) {
			require.Equal(t, want, sendCount(t, in, outcome), "send outcome %q", outcome)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

func TestLostAnswerIsReconciledFromStatusesNotSentAgain(t *testing.T) {
	t.Parallel()
	for _, hang := range []bool{false, true} {
		t.Run(fmt.Sprintf("hang=%v", hang), func(t *testing.T) {
			t.Parallel()
			b := setup(t, nil)
			meta, pool, in, tok := b.meta, b.pool, b.in, b.tok

			// Meta takes the message and posts its statuses, but its answer never arrives: the
			// connection is dropped, or held until the client gives up.
			meta.SetFaults(simulator.Faults{LostAnswerNext: 1, LostAnswerHang: hang})
			_, id := open(t, in, tok, "16505551001", "Your parcel left the warehouse")

			r := waitLeftPending(t, pool, id, 45*time.Second)
			require.Contains(t, []string{"sent", "delivered", "read"}, r.Status)
			got := meta.accepted(id)
			require.Len(t, got, 1, "Meta must have the message exactly once")
			require.Equal(t, got[0].WAMessageID, *r.WaMessageID, "the id Meta gave the lost answer is recorded")
			require.Equal(t, "lost_answer", got[0].Fault)
			waitSendCount(t, in, "reconciled", 1)
			require.Equal(t, 0.0, sendCount(t, in, "resent"))
		})
	}
}

func TestUnknownOutcomeWithoutStatusIsSentAgainAfterTheWindow(t *testing.T) {
	t.Parallel()
	b := setup(t, map[string]string{"SEND_RECONCILE_WINDOW": "2s"})
	meta, pool, in, tok := b.meta, b.pool, b.in, b.tok

	// A plain HTTP 500 without Meta's error body: something in front of Meta failed, perhaps
	// after Meta took the message. No status comes, so after the window it is sent again.
	meta.SetFaults(simulator.Faults{FailNext: []int{500}})
	_, id := open(t, in, tok, "16505551002", "Hello again")

	r := waitLeftPending(t, pool, id, 30*time.Second)
	require.Contains(t, []string{"sent", "delivered", "read"}, r.Status)
	require.Len(t, meta.accepted(id), 1)
	waitSendCount(t, in, "unknown", 1)
	waitSendCount(t, in, "resent", 1)
	require.Equal(t, 0.0, sendCount(t, in, "reconciled"))
}

func TestDatabaseBlipWhileMetaAnswersIsRecordedOnce(t *testing.T) {
	t.Parallel()
	meta := newFakeMeta(t)
	pool, url := dbtest.New(t)
	proxy := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	in := startWithMeta(t, proxy.URL(url), meta, map[string]string{"SESSION_CACHE_TTL": "10m"})
	meta.deliverTo(in)
	tok := in.AdminToken()
	conv, first := open(t, in, tok, "16505551003", "First")
	waitLeftPending(t, pool, first, 20*time.Second)

	// Meta answers after 1.5 s; the database is unreachable from 0.5 s to 4 s after the send.
	meta.SetFaults(simulator.Faults{Latency: 1500 * time.Millisecond})
	id := post(t, in, tok, conv, "Sent while the database blinks")
	time.Sleep(500 * time.Millisecond)
	proxy.Down()
	time.Sleep(3500 * time.Millisecond)
	proxy.Up()

	r := waitLeftPending(t, pool, id, 30*time.Second)
	require.Contains(t, []string{"sent", "delivered", "read"}, r.Status)
	require.Len(t, meta.accepted(id), 1, "the outcome was recorded after the blip, not sent again")
	require.Equal(t, 0.0, sendCount(t, in, "resent"))
}

func TestSendOfADeadInstanceIsFinishedByAnotherWithoutASecondSend(t *testing.T) {
	t.Parallel()
	meta := newFakeMeta(t)
	pool, url := dbtest.New(t)
	proxy := dbtest.NewProxy(t, dbtest.HostPort(t, url))
	// A is the only instance when the send starts; its way to the database is cut mid-send,
	// which to everyone else is a crash: it can never record anything again.
	a := startWithMeta(t, proxy.URL(url), meta, nil)
	meta.deliverTo(a)
	tok := a.AdminToken()
	meta.SetFaults(simulator.Faults{LostAnswerNext: 1, LostAnswerHang: true})
	_, id := open(t, a, tok, "16505551004", "Sent as the instance dies")
	require.Eventually(t, func() bool { return len(meta.accepted(id)) == 1 }, 20*time.Second, 10*time.Millisecond)
	proxy.Down()
	died := time.Now()

	b := startWithMeta(t, url, meta, nil)
	meta.deliverTo(b) // Meta's status webhooks, refused by nobody answering, are redelivered to B

	r := waitLeftPending(t, pool, id, 90*time.Second)
	t.Logf("message %s %s after the death", r.Status, time.Since(died).Round(time.Second))
	require.Contains(t, []string{"sent", "delivered", "read"}, r.Status)
	require.Less(t, time.Since(died), time.Minute, "finished within a minute of the death")
	require.Len(t, meta.accepted(id), 1, "B recorded A's send from its statuses instead of sending again")
	require.Equal(t, 1.0, counter(t, b, "wainbox_jobs_rescued_total", "kind", "send_message"))
	waitSendCount(t, b, "reconciled", 1)
}

func TestMessagesOfAConversationLeaveInTheOrderTheyWereWritten(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	meta, pool, in, tok := b.meta, b.pool, b.in, b.tok

	// The first message is refused for good, and a third of all sends fail and are retried.
	meta.SetFaults(simulator.Faults{FailNext: []int{131026}, ErrorRates: map[int]float64{131000: 0.3}})
	conv, first := open(t, in, tok, "16505551005", "message 0")
	ids := []int64{first}
	for i := 1; i < 15; i++ {
		ids = append(ids, post(t, in, tok, conv, fmt.Sprintf("message %d", i)))
	}
	for _, id := range ids {
		waitLeftPending(t, pool, id, 60*time.Second)
	}
	require.Equal(t, "failed", load(t, pool, first).Status, "refused for good")

	// The order in which Meta accepted them is the order they were written; the failed first
	// one held nobody back.
	var order []int64
	for _, s := range meta.Sends() {
		if s.WAMessageID != "" {
			id, err := strconv.ParseInt(s.BizOpaqueCallbackData, 10, 64)
			require.NoError(t, err)
			order = append(order, id)
		}
	}
	require.Equal(t, ids[1:], order)
	for _, id := range ids[1:] {
		require.Contains(t, []string{"sent", "delivered", "read"}, load(t, pool, id).Status)
	}
}

func TestAWaitingMessageSaysWhatItWaitsFor(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	meta, pool, in, tok := b.meta, b.pool, b.in, b.tok
	conv, first := open(t, in, tok, "16505551006", "hello")
	waitLeftPending(t, pool, first, 20*time.Second)

	// Meta refuses the next send with a transient error (retried after a second's backoff), so
	// the message after it waits, and says so.
	meta.SetFaults(simulator.Faults{FailNext: []int{131000}})
	held := post(t, in, tok, conv, "held by a retry")
	next := post(t, in, tok, conv, "waits its turn")
	require.Eventually(t, func() bool {
		r := load(t, pool, next)
		return r.Status == "pending" && r.WaitingFor != nil && *r.WaitingFor == held
	}, 10*time.Second, 10*time.Millisecond)
	var m struct {
		PendingReason string `json:"pending_reason"`
		WaitingFor    *int64 `json:"waiting_for"`
	}
	in.Do("GET", fmt.Sprintf("/api/messages/%d", next), tok, nil, http.StatusOK, &m)
	require.Contains(t, m.PendingReason, strconv.FormatInt(held, 10))
	require.Equal(t, held, *m.WaitingFor)

	// The earlier message's send hands over: the waiting one follows without any job of its own
	// polling.
	waitLeftPending(t, pool, held, 20*time.Second)
	r := waitLeftPending(t, pool, next, 20*time.Second)
	require.Nil(t, r.WaitingFor)
	require.Empty(t, r.PendingReason)
}

func TestPacingHoldsTheRateAcrossInstances(t *testing.T) {
	t.Parallel()
	meta := newFakeMeta(t)
	pool, url := dbtest.New(t)
	env := map[string]string{"WHATSAPP_MAX_MESSAGES_PER_SECOND": "10"}
	a := startWithMeta(t, url, meta, env)
	b := startWithMeta(t, url, meta, env)
	meta.deliverTo(a)
	tok := a.AdminToken()

	// 40 messages in 8 conversations, written through both instances at once.
	var (
		mu  sync.Mutex
		ids []int64
		wg  sync.WaitGroup
	)
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			in := a
			if c%2 == 1 {
				in = b
			}
			conv, first := open(t, in, tok, fmt.Sprintf("165055520%02d", c), "m0")
			mine := []int64{first}
			for i := 1; i < 5; i++ {
				mine = append(mine, post(t, in, tok, conv, fmt.Sprintf("m%d", i)))
			}
			mu.Lock()
			ids = append(ids, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, id := range ids {
		waitLeftPending(t, pool, id, 60*time.Second)
	}

	// The pacer hands out one slot every 100 ms across both instances; Meta sees each send at its
	// slot plus the time its request took to arrive, which varies, so arrivals can bunch by a slot
	// or two. Unpaced, the 40 sends would all arrive within well under a second.
	var at []time.Time
	for _, s := range meta.Sends() {
		if s.WAMessageID != "" {
			at = append(at, s.At)
		}
	}
	require.Len(t, at, 40)
	slices.SortFunc(at, func(a, b time.Time) int { return a.Compare(b) })
	require.GreaterOrEqual(t, at[len(at)-1].Sub(at[0]), 37*100*time.Millisecond,
		"40 sends at 10 per second span at least 39 slots, less two of arrival jitter")
	for i := range at {
		n := 0
		for j := i; j < len(at) && at[j].Sub(at[i]) < 2*time.Second; j++ {
			n++
		}
		require.LessOrEqual(t, n, 22, "sends in the two seconds from %s: 20 slots, one more at the window's edge, one of jitter",
			at[i].Format(time.StampMilli))
	}
}

func TestAnAgentsReplyGoesBeforeABacklogOfBotReplies(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	meta, pool, in, tok := b.meta, b.pool, b.in, b.tok
	ctx := context.Background()

	agentConv, first := open(t, in, tok, "16505553999", "hello")
	waitLeftPending(t, pool, first, 20*time.Second)
	meta.ResetSends()

	// With the send queues paused, the bot answers 200 other customers, then the agent writes.
	for _, q := range []string{inbox.QueueSend, inbox.QueueSendBot} {
		require.NoError(t, in.River().QueuePause(ctx, q, nil))
	}
	for i := range 200 {
		in.CustomerWrote(fmt.Sprintf("1655530%04d", i), time.Now())
		_, _, _, err := in.Inbox.StartConversationAutomated(ctx, fmt.Sprintf("1655530%04d", i), inbox.SendInput{
			ClientID: uuid.New(), Type: "text", Text: "a bot reply", Sender: inbox.SenderBot,
		})
		require.NoError(t, err)
	}
	agentMsg := post(t, in, tok, agentConv, "an agent's reply")
	for _, q := range []string{inbox.QueueSendBot, inbox.QueueSend} {
		require.NoError(t, in.River().QueueResume(ctx, q, nil))
	}

	waitLeftPending(t, pool, agentMsg, 60*time.Second)
	pos := -1
	n := 0
	for _, s := range meta.Sends() {
		if s.WAMessageID == "" {
			continue
		}
		if s.BizOpaqueCallbackData == strconv.FormatInt(agentMsg, 10) {
			pos = n
			break
		}
		n++
	}
	// The agent's reply has workers of its own and the first send slot free: it is not behind the
	// 200 bot replies queued before it, at most behind the few the bot's workers took first.
	require.GreaterOrEqual(t, pos, 0)
	require.Less(t, pos, 30, "the agent's reply left %d-th", pos)
}
