// Package app wires wainbox together: it builds every component from the configuration, starts
// them in order and stops them in reverse, so main stays a few lines and tests can run whole
// instances (several against one database) in-process.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivertype"
	"riverqueue.com/riverui"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/bot"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/health"
	"github.com/wainbox/wainbox/internal/httpapi"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
	"github.com/wainbox/wainbox/internal/lograte"
	"github.com/wainbox/wainbox/internal/media"
	"github.com/wainbox/wainbox/internal/pacing"
	"github.com/wainbox/wainbox/internal/panel"
	"github.com/wainbox/wainbox/internal/quickreplies"
	"github.com/wainbox/wainbox/internal/realtime"
	"github.com/wainbox/wainbox/internal/reports"
	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/templates"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// App is one running wainbox instance.
type App struct {
	cfg      *config.Config
	logger   *slog.Logger
	listener net.Listener
	baseURL  string

	pool *pgxpool.Pool
	// media keeps the files of messages (MEDIA_STORE).
	media media.Store
	// rollup keeps the tables reports read; a periodic job and every report catch it up.
	rollup  *reports.Rollup
	river   *river.Client[pgx.Tx]
	riverUI *lazyRiverUI
	queue   *jobs.Inserter
	// rescuer puts back the jobs of dead instances sooner than River's own rescuer alone.
	rescuer *jobs.Rescuer
	// stopRiverUI ends River UI's background queries, which would otherwise outlive the pool.
	stopRiverUI context.CancelFunc
	doorbell    *eventlog.Doorbell
	realtime    *realtime.Service
	metrics     *prometheus.Registry
	sim         *simulator.Simulator
	bot         *bot.Bot
	health      *health.Checker
	server      *http.Server
	api         *httpapi.Server

	Inbox     *inbox.Service
	Users     *auth.Users
	Templates *templates.Service
	// QuickReplies are agents' saved responses, for the send path to expand.
	QuickReplies *quickreplies.Service
	// Sessions are the logins (refresh tokens, revocation); tests use them to mint and revoke.
	Sessions *auth.Sessions

	// workerTimeouts is each job kind's attempt timeout (0: River's JobTimeout), for the test that
	// holds them under the rescue delay.
	workerTimeouts map[string]time.Duration

	riverStarted atomic.Bool
	serveErr     chan error
}

// Options adjusts an App for tests and benchmarks.
type Options struct {
	// BcryptCost lowers password hashing cost (tests); 0 is bcrypt's default.
	BcryptCost int
}

// New builds an instance: it listens on cfg.HTTPAddr (so the base URL is known before the
// clients that need it are built), connects to the database and refuses to go on when the schema
// is behind.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts *Options) (_ *App, err error) {
	if opts == nil {
		opts = &Options{}
	}
	a := &App{cfg: cfg, logger: logger, serveErr: make(chan error, 1)}
	defer func() {
		if err != nil {
			a.closeResources()
		}
	}()

	a.listener, err = net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("error listening on %s: %w", cfg.HTTPAddr, err)
	}
	a.baseURL = cfg.BaseURL(a.listener.Addr())

	a.pool, err = database.Open(ctx, cfg.DatabaseURL, cfg.DatabaseMaxConns)
	if err != nil {
		return nil, err
	}
	if err := database.CheckMigrations(ctx, a.pool); err != nil {
		return nil, err
	}

	waCfg := &whatsapp.Config{
		BaseURL:     cfg.WhatsApp.APIBaseURL,
		Version:     cfg.WhatsApp.APIVersion,
		AccessToken: cfg.WhatsApp.AccessToken,
		Logger:      logger,
	}
	if cfg.Simulator {
		a.sim, err = simulator.New(&simulator.Config{
			AccessToken:        cfg.WhatsApp.AccessToken,
			AppSecret:          cfg.WhatsApp.AppSecret,
			WebhookURL:         a.baseURL + "/webhooks/whatsapp",
			PhoneNumberID:      cfg.WhatsApp.PhoneNumberID,
			DisplayPhoneNumber: cfg.WhatsApp.DisplayPhoneNumber,
			BusinessAccountID:  cfg.WhatsApp.BusinessAccountID,
			AutoStatuses:       true,
			// Like Meta: a free-form message to a customer who has not written in 24 hours is
			// refused (131047). The API refuses such a send before storing it; this proves it.
			EnforceWindow: true,
			Logger:        logger.With("component", "simulator"),
		})
		if err != nil {
			return nil, fmt.Errorf("error creating simulator: %w", err)
		}
		waCfg.BaseURL = a.baseURL + "/simulator/graph"
	}
	wa, err := whatsapp.NewClient(waCfg)
	if err != nil {
		return nil, fmt.Errorf("error creating WhatsApp client: %w", err)
	}

	a.doorbell = eventlog.NewDoorbell(a.pool, logger)
	events := eventlog.New(a.doorbell)

	a.metrics = prometheus.NewRegistry()
	a.metrics.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	rescues, err := jobs.NewRescueHook(a.metrics, logger.With("component", "river"))
	if err != nil {
		return nil, err
	}
	durations, err := jobs.NewDurationHook(a.metrics)
	if err != nil {
		return nil, err
	}

	// River consults the workers bundle when it starts and when jobs are inserted, so workers that
	// need the inbox (which needs the River client to queue jobs) are added after the client is
	// built and before it starts.
	workers := river.NewWorkers()
	driver := riverpgxv5.New(a.pool)
	riverCfg := &river.Config{
		// An outage makes River's loops log an error per failed query: one line per message per 10 s.
		Logger:  slog.New(lograte.New(logger.Handler(), 10*time.Second)).With("component", "river"),
		Workers: workers,
		Queues: map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: 20},
			// Agents wait on sends (their ticks) and on webhooks (customers' messages): their
			// queues also poll every 20 ms, at the cost of 50 small fetches per second each. Every
			// commit that queues a job is announced (jobs.Inserter), but back-to-back runs with the
			// 50 ms default gave a lower end-to-end maximum and a worse tail (docs/benchmarks.md).
			inbox.QueueSend: {MaxWorkers: 50, FetchPollInterval: 20 * time.Millisecond},
			// The bot's replies have workers of their own: a backlog of them never keeps an
			// agent's reply waiting for a worker, only (by priority) for the next send slot.
			inbox.QueueSendBot: {MaxWorkers: 30, FetchPollInterval: 20 * time.Millisecond},
			// process_webhook jobs are short database transactions; more workers than the pool
			// has connections would only wait for one.
			webhook.QueueWebhooks: {MaxWorkers: 20, FetchPollInterval: 20 * time.Millisecond},
			// Media transfers are long and each streams through a pooled connection: few at once.
			inbox.QueueMedia: {MaxWorkers: cfg.Media.Workers},
		},
		// Measured here: the default 100 ms cooldown put p99 pickup at ~320 ms; 10 ms brings it to ~3 ms.
		FetchCooldown: 10 * time.Millisecond,
		// The poll finds what no announcement reached (a lost NOTIFY, a job made available by
		// River itself). 50 ms costs 20 small fetch queries per queue per second on each instance.
		FetchPollInterval: 50 * time.Millisecond,
		MaxAttempts:       cfg.SendMaxAttempts,
		RetryPolicy:       &jobs.RetryPolicy{},
		// A job whose instance died runs again on a live one within a minute (jobs.RescueAfter
		// says how), instead of River's default of an hour; no worker's Timeout exceeds JobTimeout.
		JobTimeout:           jobs.JobTimeout,
		RescueStuckJobsAfter: jobs.RescueAfter,
		Hooks:                []rivertype.Hook{rescues, durations},
		// Discarded jobs are the dead-letter queue: keep them long enough for someone to look.
		DiscardedJobRetentionPeriod: 30 * 24 * time.Hour,
		CancelledJobRetentionPeriod: 30 * 24 * time.Hour,
		ErrorHandler:                &jobs.ErrorHandler{Logger: logger},
		// The leader instance queues the prune job; it deletes what is past its retention.
		PeriodicJobs: []*river.PeriodicJob{jobs.PeriodicPrune(), jobs.PeriodicResumeSends(), jobs.PeriodicMediaRetention(), jobs.PeriodicReportRollup()},
	}
	if cfg.WhatsApp.BusinessAccountID != "" {
		// Without a business account there are no templates to sync.
		riverCfg.PeriodicJobs = append(riverCfg.PeriodicJobs, jobs.PeriodicSyncTemplates())
	}
	if a.river, err = river.NewClient(driver, riverCfg); err != nil {
		return nil, fmt.Errorf("error creating River client: %w", err)
	}
	a.rescuer = jobs.NewRescuer(driver.GetExecutor(), riverCfg.RetryPolicy,
		func(kind string) time.Duration { return a.workerTimeouts[kind] }, logger.With("component", "river"))
	// Jobs are queued through the Inserter: River's new-job NOTIFY goes out after each commit
	// (through the doorbell) instead of inside the transaction (jobs.Inserter says why).
	var schema string
	if err := a.pool.QueryRow(ctx, "SELECT coalesce(current_schema(), '')").Scan(&schema); err != nil {
		return nil, fmt.Errorf("error reading the current schema: %w", err)
	}
	if a.queue, err = jobs.NewInserter(driver, riverCfg, a.river, a.doorbell, schema); err != nil {
		return nil, err
	}

	store, err := newMediaStore(a.pool, &cfg.Media)
	if err != nil {
		return nil, err
	}
	a.media = store
	a.Inbox, err = inbox.New(&inbox.Config{
		Pool: a.pool, Queue: a.queue, Events: events, Logger: logger, SendMaxAttempts: cfg.SendMaxAttempts,
		BotEnabled: cfg.Bot.Enabled, BusinessAccountID: cfg.WhatsApp.BusinessAccountID, Media: store,
	})
	if err != nil {
		return nil, err
	}
	mediaCfg := &jobs.MediaWorkerConfig{
		Inbox: a.Inbox, WhatsApp: wa, Store: store, Timeout: cfg.Media.TransferTimeout, RetryBase: cfg.Media.RetryBase,
		Logger: logger.With("component", "media"),
	}
	fetchWorker, err := jobs.NewFetchMediaWorker(mediaCfg)
	if err != nil {
		return nil, err
	}
	addWorker(a, workers, fetchWorker)
	uploadWorker, err := jobs.NewUploadMediaWorker(mediaCfg)
	if err != nil {
		return nil, err
	}
	addWorker(a, workers, uploadWorker)
	addWorker(a, workers, jobs.NewMediaRetentionWorker(a.Inbox, cfg.Media.Retention, logger.With("component", "media")))
	a.rollup = reports.NewRollup(a.pool, logger.With("component", "reports"))
	addWorker(a, workers, jobs.NewReportRollupWorker(a.rollup, logger.With("component", "reports")))
	pacer, err := pacing.New(&pacing.Config{Pool: a.pool, PerSecond: cfg.MaxMessagesPerSecond, Logger: logger.With("component", "pacing")})
	if err != nil {
		return nil, err
	}
	sendWorker, err := jobs.NewSendWorker(&jobs.SendWorkerConfig{
		Inbox: a.Inbox, WhatsApp: wa, Pacer: pacer, ReconcileWindow: cfg.SendReconcileWindow,
		Registerer: a.metrics, Logger: logger.With("component", "send"),
	})
	if err != nil {
		return nil, err
	}
	addWorker(a, workers, sendWorker)
	addWorker(a, workers, jobs.NewResumeSendsWorker(a.Inbox, logger.With("component", "send")))
	if err := a.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "wainbox_send_waiting_messages",
		Help: "Outbound messages waiting for an earlier message of their conversation to be sent first.",
	}, a.countWaiting)); err != nil {
		return nil, fmt.Errorf("error registering metrics: %w", err)
	}
	a.Templates, err = templates.New(&templates.Config{
		Pool: a.pool, Graph: wa, WABAID: cfg.WhatsApp.BusinessAccountID, Queue: a.queue,
		Logger: logger.With("component", "templates"),
	})
	if err != nil {
		return nil, err
	}
	addWorker(a, workers, jobs.NewSyncTemplatesWorker(a.Templates))
	webhookWorker, err := jobs.NewProcessWebhookWorker(a.pool, a.Inbox, a.Templates, a.metrics, logger.With("component", "webhook"))
	if err != nil {
		return nil, err
	}
	addWorker(a, workers, webhookWorker)
	addWorker(a, workers, jobs.NewMarkReadWorker(a.Inbox, wa, logger.With("component", "mark_read")))
	addWorker(a, workers, jobs.NewWakeSnoozedWorker(a.Inbox))
	addWorker(a, workers, jobs.NewPruneWorker(a.pool, logger.With("component", "prune")))
	webhookHandler, err := webhook.New(&webhook.Config{
		Pool:        a.pool,
		Queue:       a.queue,
		AppSecret:   cfg.WhatsApp.AppSecret,
		VerifyToken: cfg.WhatsApp.VerifyToken,
		Registerer:  a.metrics,
		Logger:      logger.With("component", "webhook"),
	})
	if err != nil {
		return nil, err
	}

	if _, err := a.Inbox.EnsureChannel(ctx, db.ChannelUpsertParams{
		PhoneNumberID:      cfg.WhatsApp.PhoneNumberID,
		DisplayPhoneNumber: cfg.WhatsApp.DisplayPhoneNumber,
		BusinessAccountID:  cfg.WhatsApp.BusinessAccountID,
	}); err != nil {
		return nil, err
	}

	a.Users = auth.NewUsers(a.pool, opts.BcryptCost)
	tokens, err := auth.NewTokens(&auth.Config{Secret: cfg.AuthSecret, TTL: cfg.AccessTokenTTL})
	if err != nil {
		return nil, err
	}
	// Sessions check every request and every socket against the database: a revoked session or a
	// disabled user is out at once, not one access-token lifetime later (docs/agents.md).
	a.Sessions, err = auth.NewSessions(&auth.SessionsConfig{
		Pool: a.pool, Tokens: tokens, RefreshTTL: cfg.RefreshTokenTTL, Events: events, CacheTTL: cfg.SessionCacheTTL,
	})
	if err != nil {
		return nil, err
	}
	throttle := auth.NewThrottle(&auth.ThrottleConfig{
		Pool: a.pool, MaxPerAccount: cfg.LoginMaxFailures, MaxPerIP: cfg.LoginMaxFailuresPerIP, Window: cfg.LoginFailureWindow,
	})
	// Every entrance that takes a password (login, River UI, a password change) goes through the
	// one throttle and shares the instance's bcrypt slots.
	logins, err := auth.NewLogins(&auth.LoginsConfig{Users: a.Users, Throttle: throttle})
	if err != nil {
		return nil, err
	}

	// The public base URL is always an allowed origin: it is where the agent panel is served.
	a.realtime, err = realtime.New(&realtime.Config{
		Pool:           a.pool,
		Tokens:         a.Sessions,
		OnAccessChange: a.Sessions.Forget,
		AllowedOrigins: append([]string{a.baseURL}, cfg.AllowedOrigins...),
		Logger:         logger.With("component", "realtime"),
		Registerer:     a.metrics,

		MaxSocketsPerUser:  cfg.WSMaxSocketsPerUser,
		MaxUnauthenticated: cfg.WSMaxUnauthenticatedSockets,
	})
	if err != nil {
		return nil, err
	}
	a.doorbell.WakeLocally(a.realtime.Wake)

	// The bot's worker needs the metrics registry; River has not started, so adding it here is in time.
	if err := a.addBotWorker(ctx, workers); err != nil {
		return nil, err
	}

	ui, err := riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints: riverui.NewEndpoints(a.river, nil),
		Logger:    logger.With("component", "riverui"),
		Prefix:    "/admin/river",
	})
	if err != nil {
		return nil, fmt.Errorf("error creating River UI: %w", err)
	}
	uiCtx, stopUI := context.WithCancel(context.Background())
	a.riverUI, a.stopRiverUI = &lazyRiverUI{h: ui, ctx: uiCtx}, stopUI

	if err := a.buildHealth(wa); err != nil {
		return nil, err
	}

	a.QuickReplies = quickreplies.New(a.pool)
	apiCfg := &httpapi.Config{
		Inbox:     a.Inbox,
		Users:     a.Users,
		Templates: a.Templates,
		Logger:    logger,

		QuickReplies: a.QuickReplies,

		Sessions: a.Sessions,
		Logins:   logins,
		LockTTL:  cfg.ConversationLockTTL,

		TrustedProxies: cfg.TrustedProxies,

		Ready:   a.ready,
		RiverUI: a.riverUI,
		Webhook: webhookHandler,

		Metrics:      promhttp.HandlerFor(a.metrics, promhttp.HandlerOpts{}),
		MetricsToken: cfg.MetricsToken,
		HTTPMetrics:  httpapi.NewHTTPMetrics(a.metrics),
		Health:       a.health,
		Reports:      reports.New(a.pool, a.rollup, cfg.BusinessHours),

		RequestTimeout:  cfg.HTTPRequestTimeout,
		BodyTimeout:     cfg.HTTPBodyTimeout,
		MaxPublicBodies: cfg.HTTPMaxPublicBodies,
		MediaTimeout:    cfg.Media.TransferTimeout,
	}
	apiCfg.Realtime = a.realtime.Handler()
	if apiCfg.Panel, err = panel.New(); err != nil {
		return nil, err
	}
	if a.sim != nil {
		apiCfg.Simulator = a.sim.Handler()
	}
	a.api, err = httpapi.New(apiCfg)
	if err != nil {
		return nil, err
	}
	a.server = &http.Server{
		Handler:           a.api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	return a, nil
}

// BaseURL is where this instance is reached.
func (a *App) BaseURL() string { return a.baseURL }

// Pool is the instance's database pool.
func (a *App) Pool() *pgxpool.Pool { return a.pool }

// River is the instance's River client.
func (a *App) River() *river.Client[pgx.Tx] { return a.river }

// Queue is how the instance queues jobs in its transactions (jobs.Inserter).
func (a *App) Queue() *jobs.Inserter { return a.queue }

// Simulator is the in-process simulator, or nil when SIMULATOR is off.
func (a *App) Simulator() *simulator.Simulator { return a.sim }

// Routes is the HTTP route table.
func (a *App) Routes() []httpapi.Route { return a.api.Routes() }

// Realtime is the instance's real-time fan-out (listener, hub, WebSocket endpoint).
func (a *App) Realtime() *realtime.Service { return a.realtime }

// Metrics is the instance's Prometheus registry.
func (a *App) Metrics() *prometheus.Registry { return a.metrics }
