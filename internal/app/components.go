package app

// This file builds the components New needs more than a line for: the media store, the bot's
// worker, the detailed health, and the registration of workers.

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/wainbox/wainbox/internal/bot"
	"github.com/wainbox/wainbox/internal/config"
	"github.com/wainbox/wainbox/internal/health"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/jobs"
	"github.com/wainbox/wainbox/internal/media"
	"github.com/wainbox/wainbox/internal/simulator"
	"github.com/wainbox/wainbox/internal/webhook"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// newMediaStore opens the store files are kept in (MEDIA_STORE).
func newMediaStore(pool *pgxpool.Pool, cfg *config.Media) (media.Store, error) {
	if cfg.Store != "s3" {
		return media.NewPGStore(pool), nil
	}
	s3, err := media.NewS3Store(media.S3Config{
		Endpoint: cfg.S3.Endpoint, Region: cfg.S3.Region, Bucket: cfg.S3.Bucket,
		AccessKey: cfg.S3.AccessKey, SecretKey: cfg.S3.SecretKey, PathStyle: cfg.S3.PathStyle,
	})
	if err != nil {
		return nil, fmt.Errorf("error opening the S3 media store: %w", err)
	}
	return s3, nil
}

// addBotWorker builds the Gemini bot (when config says it runs, cfg.Bot.Enabled; with the simulator
// it asks the fake Gemini) and the bot_reply worker. Without the bot the worker still runs: it hands every
// conversation left in bot mode to a person.
func (a *App) addBotWorker(ctx context.Context, workers *river.Workers) error {
	cfg := a.cfg
	var b *bot.Bot
	if cfg.Bot.Enabled {
		apiKey, baseURL := cfg.Gemini.APIKey, cfg.Gemini.BaseURL
		if a.sim != nil {
			apiKey, baseURL = simulator.GeminiAPIKey, a.baseURL+"/simulator/gemini/"
		}
		var err error
		b, err = bot.New(ctx, &bot.Config{
			APIKey:         apiKey,
			BaseURL:        baseURL,
			Model:          cfg.Gemini.Model,
			Timeout:        cfg.Gemini.Timeout,
			Instructions:   cfg.Bot.Instructions,
			HistoryChars:   cfg.Bot.HistoryChars,
			HandoffPhrases: cfg.Bot.HandoffPhrases,
			Registerer:     a.metrics,
			Logger:         a.logger.With("component", "bot"),
		})
		if err != nil {
			return err
		}
	}
	w, err := jobs.NewBotWorker(&jobs.BotWorkerConfig{
		Inbox:           a.Inbox,
		Bot:             b,
		HistoryMessages: cfg.Bot.HistoryMessages,
		MaxReplies:      cfg.Bot.MaxReplies,
		HandoffMessage:  cfg.Bot.HandoffMessage,
		Debounce:        cfg.Bot.Debounce,
		RetryBase:       cfg.Bot.RetryBase,
		Logger:          a.logger.With("component", "bot"),
	})
	if err != nil {
		return err
	}
	addWorker(a, workers, w)
	a.bot = b
	return nil
}

// buildHealth builds the detailed health and registers the sampled gauges: River's queues, the
// business series, the pool and the business number (internal/health says what each costs).
func (a *App) buildHealth(wa *whatsapp.Client) error {
	sampler := health.NewSampler(a.pool, []string{river.QueueDefault, inbox.QueueSend, inbox.QueueSendBot, webhook.QueueWebhooks, inbox.QueueMedia}, health.SampleInterval)
	number := health.NewNumber(wa, a.cfg.WhatsApp.PhoneNumberID, a.cfg.NumberCheckInterval)
	for _, c := range []prometheus.Collector{sampler, health.NewPoolCollector(a.pool), number} {
		if err := a.metrics.Register(c); err != nil {
			return fmt.Errorf("error registering health metrics: %w", err)
		}
	}
	var err error
	a.health, err = health.NewChecker(&health.Config{
		Pool: a.pool, Sampler: sampler, Realtime: a.realtime, QueueStarted: a.riverStarted.Load, Bot: a.bot, Number: number,
		// Asking for an object that cannot exist is one cheap round trip to the store.
		Media:      func(ctx context.Context) error { _, err := a.media.Exists(ctx, media.Sum{}); return err },
		MediaStore: a.cfg.Media.Store,
	})
	return err
}

// addWorker registers w with River and notes its kind's attempt timeout.
func addWorker[T river.JobArgs](a *App, workers *river.Workers, w river.Worker[T]) {
	river.AddWorker(workers, w)
	if a.workerTimeouts == nil {
		a.workerTimeouts = map[string]time.Duration{}
	}
	var args T
	a.workerTimeouts[args.Kind()] = w.Timeout(&river.Job[T]{JobRow: &rivertype.JobRow{}})
}

// WorkerTimeouts is the attempt timeout of every job kind this instance works; 0 means River's
// JobTimeout.
func (a *App) WorkerTimeouts() map[string]time.Duration { return a.workerTimeouts }

// countWaiting reads the number of waiting messages for a scrape, giving up quickly when the
// database is slow to answer.
func (a *App) countWaiting() float64 {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	n, err := a.Inbox.CountWaiting(ctx)
	if err != nil {
		return -1
	}
	return float64(n)
}
