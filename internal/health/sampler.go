package health

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/inbox"
)

// SampleInterval is how often at most the database gauges are read, per instance: a scrape every
// 15 s or 15 scrapers a second cost the database the same few small queries.
const SampleInterval = 15 * time.Second

// deadLetterCap bounds the count of discarded jobs: River keeps them 30 days, and an exact count of
// a table that large on every sample is the full scan this package exists to avoid. Past the cap
// the gauge reads the cap, which is already far past any alert threshold.
const deadLetterCap = 10_000

// Jobs states sampled. available, running, retryable and scheduled are small (jobs waiting or
// working) and counted exactly through River's fetch index, whose first column is the state;
// discarded (the dead letters) is counted up to deadLetterCap.
var jobStates = []string{"available", "running", "retryable", "scheduled", "discarded"}

// Conversation statuses, each exported even at zero so that a rule over them always has a series.
var conversationStatuses = []string{
	inbox.ConversationBot, inbox.ConversationOpen, inbox.ConversationPending, inbox.ConversationSnoozed, inbox.ConversationResolved,
}

// pendingReasons maps the sentences inbox writes on a waiting message to bounded label values.
var pendingReasons = map[string]string{
	"":                     "queued",
	inbox.ReasonConfirming: "confirming",
	inbox.ReasonPacing:     "pacing",
	inbox.ReasonThrottled:  "throttled",
	inbox.ReasonRetrying:   "retrying",
}

// Snapshot is what the sampler last read from the database.
type Snapshot struct {
	At time.Time
	// Jobs counts River's jobs by queue and state (discarded up to deadLetterCap in all).
	Jobs map[string]map[string]int64
	// OldestAvailable is, per queue, how long its oldest available job has waited.
	OldestAvailable map[string]time.Duration
	// DeadLettersLastDay counts the jobs discarded in the last 24 hours (up to deadLetterCap).
	DeadLettersLastDay int64
	Conversations      map[string]int64
	// PendingMessages counts outbound messages not sent yet by why (queued, waiting, pacing, ...).
	PendingMessages map[string]int64
	// LastWebhook is when the newest stored webhook arrived; zero when none is stored.
	LastWebhook time.Time
	// Err is the sample's error; the other fields then hold the previous sample's values.
	Err error
}

// Sampler reads the database's gauges (River's queues, the dead letters, conversations by status,
// waiting messages) at most once per interval, on demand: a scrape or a health check reads the
// cached snapshot, and only a stale one runs the queries again, once for all concurrent readers.
// No timer runs, so an instance nobody scrapes queries nothing.
type Sampler struct {
	pool     *pgxpool.Pool
	q        *db.Queries
	queues   []string
	interval time.Duration

	mu   sync.Mutex // held while sampling: concurrent readers wait for the one sample
	last Snapshot
}

// NewSampler returns a sampler of pool that exports every queue of queues (zeros included) and
// samples at most once per interval.
func NewSampler(pool *pgxpool.Pool, queues []string, interval time.Duration) *Sampler {
	return &Sampler{pool: pool, q: db.New(), queues: queues, interval: interval}
}

// Get returns a snapshot no older than maxAge (the sampler's interval when maxAge is 0), sampling
// again when the last one is older.
func (s *Sampler) Get(ctx context.Context, maxAge time.Duration) Snapshot {
	if maxAge <= 0 {
		maxAge = s.interval
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.last.At.IsZero() && time.Since(s.last.At) < maxAge {
		return s.last
	}
	next, err := s.sample(ctx)
	if err != nil {
		s.last.Err = err
		s.last.At = time.Now()
		return s.last
	}
	s.last = next
	return s.last
}

func (s *Sampler) sample(ctx context.Context) (Snapshot, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	snap := Snapshot{
		At: time.Now(), Jobs: map[string]map[string]int64{}, OldestAvailable: map[string]time.Duration{},
		Conversations: map[string]int64{}, PendingMessages: map[string]int64{},
	}
	for _, q := range s.queues {
		snap.Jobs[q] = map[string]int64{}
		for _, st := range jobStates {
			snap.Jobs[q][st] = 0
		}
		snap.OldestAvailable[q] = 0
	}
	// River's tables belong to River's migrations, outside sqlc's schema: these few reads are
	// written here, each shaped for River's indexes.
	rows, err := s.pool.Query(ctx, `
		SELECT queue, state::text, count(*) FROM river_job
		WHERE state IN ('available', 'running', 'retryable', 'scheduled')
		GROUP BY 1, 2
		UNION ALL
		SELECT queue, 'discarded', count(*) FROM (
			SELECT queue FROM river_job WHERE state = 'discarded' AND finalized_at IS NOT NULL LIMIT $1
		) d GROUP BY 1`, deadLetterCap)
	if err != nil {
		return snap, fmt.Errorf("error counting River's jobs: %w", err)
	}
	for rows.Next() {
		var queue, state string
		var n int64
		if err := rows.Scan(&queue, &state, &n); err != nil {
			return snap, fmt.Errorf("error counting River's jobs: %w", err)
		}
		if snap.Jobs[queue] == nil {
			snap.Jobs[queue] = map[string]int64{}
		}
		snap.Jobs[queue][state] = n
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("error counting River's jobs: %w", err)
	}
	rows, err = s.pool.Query(ctx, `
		SELECT queue, extract(epoch FROM now() - min(scheduled_at))::float8 FROM river_job
		WHERE state = 'available' GROUP BY queue`)
	if err != nil {
		return snap, fmt.Errorf("error reading River's oldest jobs: %w", err)
	}
	for rows.Next() {
		var queue string
		var secs float64
		if err := rows.Scan(&queue, &secs); err != nil {
			return snap, fmt.Errorf("error reading River's oldest jobs: %w", err)
		}
		snap.OldestAvailable[queue] = time.Duration(max(0, secs) * float64(time.Second))
	}
	if err := rows.Err(); err != nil {
		return snap, fmt.Errorf("error reading River's oldest jobs: %w", err)
	}
	err = s.pool.QueryRow(ctx, `
		SELECT count(*) FROM (
			SELECT 1 FROM river_job WHERE state = 'discarded' AND finalized_at > now() - interval '24 hours' LIMIT $1
		) d`, deadLetterCap).Scan(&snap.DeadLettersLastDay)
	if err != nil {
		return snap, fmt.Errorf("error counting recent dead letters: %w", err)
	}

	for _, st := range conversationStatuses {
		snap.Conversations[st] = 0
	}
	convs, err := s.q.ConversationCountByStatus(ctx, s.pool)
	if err != nil {
		return snap, fmt.Errorf("error counting conversations: %w", err)
	}
	for _, c := range convs {
		snap.Conversations[c.Status] = c.N
	}
	for _, r := range pendingReasons {
		snap.PendingMessages[r] = 0
	}
	snap.PendingMessages["waiting"], snap.PendingMessages["other"] = 0, 0
	pending, err := s.q.MessageCountPendingByReason(ctx, s.pool)
	if err != nil {
		return snap, fmt.Errorf("error counting pending messages: %w", err)
	}
	for _, p := range pending {
		reason, ok := pendingReasons[p.PendingReason]
		switch {
		case p.Waiting:
			reason = "waiting"
		case !ok:
			reason = "other"
		}
		snap.PendingMessages[reason] += p.N
	}
	last, err := s.q.WebhookEventLast(ctx, s.pool)
	switch {
	case err == nil:
		snap.LastWebhook = last
	case !isNoRows(err):
		return snap, fmt.Errorf("error reading the last webhook: %w", err)
	}
	return snap, nil
}

// Describe implements prometheus.Collector (unchecked: the series are known only once sampled).
func (s *Sampler) Describe(chan<- *prometheus.Desc) {}

var (
	jobsDesc = prometheus.NewDesc("wainbox_river_jobs",
		"River jobs by queue and state (available, running, retryable, scheduled, discarded: the dead letters, counted up to 10,000), sampled at most every 15 s per instance.",
		[]string{"queue", "state"}, nil)
	oldestDesc = prometheus.NewDesc("wainbox_river_oldest_available_seconds",
		"How long the oldest available job of each queue has waited for a worker (0: none waits).",
		[]string{"queue"}, nil)
	deadLastDayDesc = prometheus.NewDesc("wainbox_river_dead_letters_last_day",
		"Jobs discarded (out of attempts) in the last 24 hours, counted up to 10,000.", nil, nil)
	conversationsDesc = prometheus.NewDesc("wainbox_conversations",
		"Conversations by status: bot, open, pending, snoozed, resolved.", []string{"status"}, nil)
	pendingDesc = prometheus.NewDesc("wainbox_messages_pending",
		"Outbound messages not sent yet, by why: queued, waiting (for an earlier message), pacing, throttled (snoozed by Meta's rate limit), retrying, confirming, other.",
		[]string{"reason"}, nil)
	lastWebhookDesc = prometheus.NewDesc("wainbox_webhook_last_received_timestamp_seconds",
		"Unix time of the newest stored webhook (0: none).", nil, nil)
	sampleErrorDesc = prometheus.NewDesc("wainbox_metrics_sample_error",
		"1 when the last sample of the database gauges failed (the gauges then repeat the previous sample).", nil, nil)
)

// Collect implements prometheus.Collector from a snapshot no older than the interval.
func (s *Sampler) Collect(ch chan<- prometheus.Metric) {
	snap := s.Get(context.Background(), 0)
	for q, states := range snap.Jobs {
		for st, n := range states {
			ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), q, st)
		}
	}
	for q, d := range snap.OldestAvailable {
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, d.Seconds(), q)
	}
	ch <- prometheus.MustNewConstMetric(deadLastDayDesc, prometheus.GaugeValue, float64(snap.DeadLettersLastDay))
	for st, n := range snap.Conversations {
		ch <- prometheus.MustNewConstMetric(conversationsDesc, prometheus.GaugeValue, float64(n), st)
	}
	for r, n := range snap.PendingMessages {
		ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n), r)
	}
	var last float64
	if !snap.LastWebhook.IsZero() {
		last = float64(snap.LastWebhook.UnixMilli()) / 1000
	}
	ch <- prometheus.MustNewConstMetric(lastWebhookDesc, prometheus.GaugeValue, last)
	var failed float64
	if snap.Err != nil {
		failed = 1
	}
	ch <- prometheus.MustNewConstMetric(sampleErrorDesc, prometheus.GaugeValue, failed)
}
