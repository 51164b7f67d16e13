// Package health tells operators how the pipeline is doing: the detailed health report (each
// component's status, latency and facts), the database gauges behind /metrics sampled at most once
// per interval (River's queues and dead letters, conversations by status, waiting messages), the
// pgx pool's statistics, and the business number's rating and token as Meta reports them, cached
// for minutes. /healthz and /readyz stay in httpapi: this package is for people and Prometheus.
package health

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/bot"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/realtime"
	"github.com/wainbox/wainbox/internal/webhook"
)

// Status is a component's state, and the overall one.
type Status string

// Statuses, from good to bad. Down means the component does not do its work (the database does not
// answer, Meta refuses the token); degraded means it works with a problem someone should look at.
const (
	StatusOK       Status = "ok"
	StatusDegraded Status = "degraded"
	StatusDown     Status = "down"
)

func worse(a, b Status) Status {
	rank := map[Status]int{StatusOK: 0, StatusDegraded: 1, StatusDown: 2}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// Thresholds past which a component is degraded.
const (
	// OldestJobDegraded: a job that waited this long for a worker means a queue is behind.
	OldestJobDegraded = time.Minute
	// ListenerLagDegraded: an event this late reached the sockets.
	ListenerLagDegraded = 5 * time.Second
)

// Config holds the checker's dependencies. Bot, Number and Media are optional: a component
// without them reports itself as not configured.
type Config struct {
	Pool     *pgxpool.Pool
	Sampler  *Sampler
	Realtime *realtime.Service
	// QueueStarted reports whether this instance's River client runs.
	QueueStarted func() bool
	Bot          *bot.Bot
	Number       *Number
	// Media checks the media store; nil: no store is configured. MediaStore names it (postgres,
	// s3).
	Media      func(ctx context.Context) error
	MediaStore string
}

// Checker builds the detailed health report.
type Checker struct {
	cfg Config
}

// NewChecker validates cfg and returns a checker.
func NewChecker(cfg *Config) (*Checker, error) {
	if cfg.Pool == nil || cfg.Sampler == nil || cfg.Realtime == nil || cfg.QueueStarted == nil {
		return nil, errors.New("health: Pool, Sampler, Realtime and QueueStarted are required")
	}
	return &Checker{cfg: *cfg}, nil
}

// Report is the detailed health: an overall status a load balancer or a status page reads (the
// worst of the components'), and each component.
type Report struct {
	Status     Status      `json:"status"`
	CheckedAt  time.Time   `json:"checked_at"`
	Components []Component `json:"components"`
}

// Component is one part of the system: its status, how long its check took, why it is not ok
// (Problem) and the facts an operator needs (Details, one struct per component).
type Component struct {
	Name      string  `json:"name"`
	Status    Status  `json:"status"`
	LatencyMS float64 `json:"latency_ms"`
	Problem   string  `json:"problem,omitempty"`
	Details   any     `json:"details"`
}

// CanView reports whether p may read the detailed health: admins and users with can_view_metrics.
func CanView(p *auth.Principal) bool {
	return p != nil && auth.ValidRole(p.Role) && (p.Role == auth.RoleAdmin || p.Perms().CanViewMetrics)
}

// Detailed checks every component for p, who must be allowed to see them.
func (c *Checker) Detailed(ctx context.Context, p *auth.Principal) (*Report, error) {
	if !CanView(p) {
		return nil, apperr.Forbidden("you may not view the system's health (can_view_metrics)")
	}
	r := &Report{Status: StatusOK, CheckedAt: time.Now().UTC()}
	db := c.database(ctx)
	r.add(db)
	if db.Status == StatusDown {
		// Everything else reads the database: their checks would only repeat its error slowly.
		r.add(Component{Name: "migrations", Status: StatusDown, Problem: "the database does not answer", Details: struct{}{}})
	} else {
		r.add(c.migrations(ctx))
		snap := c.cfg.Sampler.Get(ctx, 5*time.Second)
		r.add(c.queues(snap))
		r.add(c.deadLetters(snap))
		r.add(c.webhooks(snap))
	}
	r.add(c.realtime())
	r.add(c.whatsapp(ctx))
	r.add(c.gemini())
	r.add(c.media(ctx))
	return r, nil
}

func (r *Report) add(c Component) {
	if c.Details == nil {
		c.Details = struct{}{}
	}
	r.Components = append(r.Components, c)
	r.Status = worse(r.Status, c.Status)
}

func since(start time.Time) float64 { return float64(time.Since(start).Microseconds()) / 1000 }

// DatabaseDetails are the pool's figures.
type DatabaseDetails struct {
	MaxConns      int32   `json:"max_conns"`
	Acquired      int32   `json:"acquired"`
	Idle          int32   `json:"idle"`
	Waits         int64   `json:"waits"`
	WaitSeconds   float64 `json:"acquire_seconds"`
	CanceledWaits int64   `json:"canceled_acquires"`
}

func (c *Checker) database(ctx context.Context) Component {
	start := time.Now()
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	err := c.cfg.Pool.Ping(pctx)
	st := c.cfg.Pool.Stat()
	comp := Component{Name: "database", Status: StatusOK, LatencyMS: since(start), Details: DatabaseDetails{
		MaxConns: st.MaxConns(), Acquired: st.AcquiredConns(), Idle: st.IdleConns(),
		Waits: st.EmptyAcquireCount(), WaitSeconds: st.AcquireDuration().Seconds(), CanceledWaits: st.CanceledAcquireCount(),
	}}
	switch {
	case err != nil:
		comp.Status, comp.Problem = StatusDown, "the database does not answer"
	case st.AcquiredConns() >= st.MaxConns() && st.IdleConns() == 0:
		comp.Status, comp.Problem = StatusDegraded, "every connection of the pool is in use: requests wait for one"
	}
	return comp
}

func (c *Checker) migrations(ctx context.Context) Component {
	start := time.Now()
	err := database.CheckMigrations(ctx, c.cfg.Pool)
	comp := Component{Name: "migrations", Status: StatusOK, LatencyMS: since(start)}
	if err != nil {
		comp.Status, comp.Problem = StatusDown, "the schema is not the one this binary expects: run wainbox migrate"
	}
	return comp
}

// QueueDetails are one River queue's jobs by state and the wait of its oldest available job.
type QueueDetails struct {
	Queue               string           `json:"queue"`
	Jobs                map[string]int64 `json:"jobs"`
	OldestAvailableSecs float64          `json:"oldest_available_seconds"`
	SampledSecondsAgo   float64          `json:"sampled_seconds_ago"`
}

// QueuesDetails lists the queues; Started says whether this instance works them.
type QueuesDetails struct {
	Started bool           `json:"started"`
	Queues  []QueueDetails `json:"queues"`
}

func (c *Checker) queues(snap Snapshot) Component {
	comp := Component{Name: "queues", Status: StatusOK}
	d := QueuesDetails{Started: c.cfg.QueueStarted(), Queues: []QueueDetails{}}
	for _, q := range c.cfg.Sampler.queues {
		old := snap.OldestAvailable[q]
		d.Queues = append(d.Queues, QueueDetails{
			Queue: q, Jobs: snap.Jobs[q], OldestAvailableSecs: old.Seconds(), SampledSecondsAgo: time.Since(snap.At).Seconds(),
		})
		if old > OldestJobDegraded {
			comp.Status, comp.Problem = StatusDegraded, "queue "+q+" is behind: its oldest job waited over a minute"
		}
	}
	switch {
	case snap.Err != nil:
		comp.Status, comp.Problem = StatusDegraded, "the queues could not be counted"
	case !d.Started:
		comp.Status, comp.Problem = StatusDown, "this instance's job queue is not started"
	}
	comp.Details = d
	return comp
}

// DeadLetterDetails count the discarded jobs (River UI's dead letters), each up to 10,000.
type DeadLetterDetails struct {
	Total   int64 `json:"total"`
	LastDay int64 `json:"last_24h"`
}

func (c *Checker) deadLetters(snap Snapshot) Component {
	var total int64
	for _, states := range snap.Jobs {
		total += states["discarded"]
	}
	comp := Component{Name: "dead_letters", Status: StatusOK, Details: DeadLetterDetails{Total: total, LastDay: snap.DeadLettersLastDay}}
	if snap.DeadLettersLastDay > 0 {
		comp.Status, comp.Problem = StatusDegraded, "jobs were discarded in the last 24 hours: see River UI"
	}
	return comp
}

// WebhookDetails say when Meta last reached this system and how many webhooks wait.
type WebhookDetails struct {
	LastReceivedAt *time.Time `json:"last_received_at"`
	Waiting        int64      `json:"waiting"`
	OldestWaitSecs float64    `json:"oldest_waiting_seconds"`
}

func (c *Checker) webhooks(snap Snapshot) Component {
	d := WebhookDetails{}
	if !snap.LastWebhook.IsZero() {
		t := snap.LastWebhook.UTC()
		d.LastReceivedAt = &t
	}
	if jobs := snap.Jobs[webhook.QueueWebhooks]; jobs != nil {
		d.Waiting = jobs["available"] + jobs["retryable"]
	}
	d.OldestWaitSecs = snap.OldestAvailable[webhook.QueueWebhooks].Seconds()
	comp := Component{Name: "webhooks", Status: StatusOK, Details: d}
	if snap.OldestAvailable[webhook.QueueWebhooks] > OldestJobDegraded {
		comp.Status, comp.Problem = StatusDegraded, "webhooks wait over a minute to be processed"
	}
	return comp
}

// ListenerDetails are the realtime listener's connection and lag.
type ListenerDetails struct {
	State      string     `json:"state"`
	Since      time.Time  `json:"since"`
	LastReadAt *time.Time `json:"last_read_at"`
	LagSeconds float64    `json:"lag_seconds"`
}

func (c *Checker) realtime() Component {
	st := c.cfg.Realtime.ListenerStatus()
	d := ListenerDetails{State: st.State, Since: st.Since.UTC(), LagSeconds: st.Lag.Seconds()}
	if !st.LastRead.IsZero() {
		t := st.LastRead.UTC()
		d.LastReadAt = &t
	}
	comp := Component{Name: "realtime", Status: StatusOK, Details: d}
	switch {
	case st.Err != nil:
		comp.Status, comp.Problem = StatusDown, "the realtime listener is not reading the event log: agents see no live updates"
	case st.Lag > ListenerLagDegraded:
		comp.Status, comp.Problem = StatusDegraded, "live updates reach agents late"
	}
	return comp
}

// WhatsAppDetails are Meta's view of the business number, from a check made at most every five
// minutes (CheckedAt).
type WhatsAppDetails struct {
	Configured         bool       `json:"configured"`
	TokenValid         bool       `json:"token_valid"`
	QualityRating      string     `json:"quality_rating,omitempty"`
	MessagingLimitTier string     `json:"messaging_limit_tier,omitempty"`
	Throughput         string     `json:"throughput,omitempty"`
	CheckedAt          *time.Time `json:"checked_at,omitempty"`
}

func (c *Checker) whatsapp(ctx context.Context) Component {
	if c.cfg.Number == nil {
		return Component{Name: "whatsapp", Status: StatusOK, Details: WhatsAppDetails{}}
	}
	chk := c.cfg.Number.Get(ctx)
	at := chk.At.UTC()
	d := WhatsAppDetails{Configured: true, TokenValid: chk.TokenValid, CheckedAt: &at}
	if chk.Number != nil {
		d.QualityRating, d.MessagingLimitTier, d.Throughput = chk.Number.QualityRating, chk.Number.MessagingLimitTier, chk.Number.Throughput.Level
	}
	comp := Component{Name: "whatsapp", Status: StatusOK, LatencyMS: float64(chk.Latency.Microseconds()) / 1000, Details: d}
	switch {
	case !chk.TokenValid:
		comp.Status, comp.Problem = StatusDown, "Meta refuses the access token (code 190): every send fails until WHATSAPP_ACCESS_TOKEN is replaced"
	case chk.Err != nil:
		comp.Status, comp.Problem = StatusDegraded, "the Graph API did not answer the number check"
	case d.QualityRating == "RED" || d.QualityRating == "YELLOW":
		comp.Status, comp.Problem = StatusDegraded, "Meta rates the number "+d.QualityRating+": customers block or report it; its messaging limit may be lowered"
	}
	return comp
}

// GeminiDetails are this instance's last Gemini call.
type GeminiDetails struct {
	Enabled        bool       `json:"enabled"`
	LastResult     string     `json:"last_result,omitempty"`
	LastCallAt     *time.Time `json:"last_call_at,omitempty"`
	LastDurationMS float64    `json:"last_duration_ms,omitempty"`
}

func (c *Checker) gemini() Component {
	if c.cfg.Bot == nil {
		return Component{Name: "gemini", Status: StatusOK, Details: GeminiDetails{}}
	}
	d := GeminiDetails{Enabled: true}
	comp := Component{Name: "gemini", Status: StatusOK}
	if last := c.cfg.Bot.Last(); last != nil {
		at := last.At.UTC()
		d.LastResult, d.LastCallAt, d.LastDurationMS = last.Result, &at, float64(last.Duration.Microseconds())/1000
		if last.Result == "error" {
			comp.Status, comp.Problem = StatusDegraded, "the last Gemini call failed: the bot hands conversations to people after its retries"
		}
	}
	comp.Details = d
	return comp
}

// MediaDetails say whether a media store is configured, and which.
type MediaDetails struct {
	Configured bool   `json:"configured"`
	Store      string `json:"store,omitempty"`
}

func (c *Checker) media(ctx context.Context) Component {
	if c.cfg.Media == nil {
		return Component{Name: "media", Status: StatusOK, Details: MediaDetails{}}
	}
	start := time.Now()
	err := c.cfg.Media(ctx)
	comp := Component{Name: "media", Status: StatusOK, LatencyMS: since(start), Details: MediaDetails{Configured: true, Store: c.cfg.MediaStore}}
	if err != nil {
		comp.Status, comp.Problem = StatusDown, "the media store does not answer"
	}
	return comp
}

func isNoRows(err error) bool { return errors.Is(err, pgx.ErrNoRows) }
