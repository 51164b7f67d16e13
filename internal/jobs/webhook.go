package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/webhook"
)

// ProcessWebhookWorker works process_webhook jobs. A job applies its own stored webhook together
// with up to BatchSize-1 of the oldest other unprocessed ones, in one transaction that also marks
// them processed. That mark, not the job's state, makes a webhook apply exactly once: a job whose
// webhook another job's batch applied finds it processed and does nothing, and a job run again
// (River rescuing it after a crash between the commit and the job's completion) does the same. So
// jobs are left to River's batched completer instead of being completed in the transaction, which
// would cost every webhook one more statement.
//
// A job completes only once its own webhook is processed: when another transaction holds it (a
// batch in flight), the job waits for that transaction and, should it roll back, applies the
// webhook alone. When a batch fails, the job applies its own webhook alone, and the others go back
// to their jobs; a webhook that fails alone is counted (webhook_events.process_failures), left out
// of batches from then on and retried alone by River, so that one poison webhook never holds the
// others back.
type ProcessWebhookWorker struct {
	river.WorkerDefaults[webhook.ProcessWebhookArgs]
	pool      *pgxpool.Pool
	processor *webhook.Processor
	q         *db.Queries
	logger    *slog.Logger
	metrics   *webhookMetrics
}

// webhookMetrics are what processing tells of the pipeline: webhooks processed and how long after
// their arrival, the customers' messages stored, and how long Meta took from accepting a message
// to delivering it.
type webhookMetrics struct {
	processed prometheus.Counter
	lag       prometheus.Histogram
	inbound   prometheus.Counter
	delivered prometheus.Histogram
}

func newWebhookMetrics(reg prometheus.Registerer) (*webhookMetrics, error) {
	m := &webhookMetrics{
		processed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_webhooks_processed_total",
			Help: "Stored webhooks applied (messages, statuses, errors) by process_webhook.",
		}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wainbox_webhook_processing_lag_seconds",
			Help:    "Time from a webhook's storing (the start of its intake transaction) to the end of its processing.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}),
		inbound: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wainbox_messages_received_total",
			Help: "Customers' messages stored (redeliveries not counted).",
		}),
		delivered: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wainbox_send_delivery_seconds",
			Help:    "Time from Meta's acceptance of an outbound message (sent) to its delivered status.",
			Buckets: []float64{.25, .5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 21600, 86400},
		}),
	}
	if reg != nil {
		if err := registerAll(reg, m.processed, m.lag, m.inbound, m.delivered); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// NewProcessWebhookWorker returns a process_webhook worker writing through in (and ts, for
// template status changes; nil records them as unhandled), with its metrics on reg (nil: none).
func NewProcessWebhookWorker(pool *pgxpool.Pool, in *inbox.Service, ts webhook.TemplateStatuses, reg prometheus.Registerer, logger *slog.Logger) (*ProcessWebhookWorker, error) {
	if pool == nil {
		return nil, errors.New("jobs: a pool is required")
	}
	p, err := webhook.NewProcessor(in, ts)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m, err := newWebhookMetrics(reg)
	if err != nil {
		return nil, err
	}
	return &ProcessWebhookWorker{pool: pool, processor: p, q: db.New(), logger: logger, metrics: m}, nil
}

// Timeout leaves room for Meta's largest batches (a thousand statuses take a few hundred
// milliseconds) on a slow database, and no more, so that a webhook whose instance died is
// processed by another within a minute (RescueAfter).
func (w *ProcessWebhookWorker) Timeout(*river.Job[webhook.ProcessWebhookArgs]) time.Duration {
	return JobTimeout
}

// BatchSize is how many webhooks one processing transaction applies at most. A batch's statuses
// cost a fixed handful of statements; larger batches would hold their messages' row locks longer
// (a send's completion waits on them) for little more gain.
const BatchSize = 50

// Work makes sure the job's webhook is processed: it is already, it is applied in a batch, or,
// when a batch fails or another transaction holds it, alone. A status webhook's job looks first
// (one read), because another job's batch has usually applied it; an inbound webhook's job goes
// straight to its batch, which is then as cheap as processing it alone.
func (w *ProcessWebhookWorker) Work(ctx context.Context, job *river.Job[webhook.ProcessWebhookArgs]) error {
	id := job.Args.EventID
	if job.Args.Batchable {
		st, err := w.q.WebhookEventState(ctx, w.pool, id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			w.logger.WarnContext(ctx, "webhook to process does not exist; nothing done", "webhook_event_id", id, "job_id", job.ID)
			return nil
		case err != nil:
			return fmt.Errorf("error loading webhook %d: %w", id, err)
		case st.Processed:
			return nil
		case st.ProcessFailures > 0:
			return w.alone(ctx, job, false)
		}
	}
	var results []*webhook.Result
	err := database.InTx(ctx, w.pool, func(tx pgx.Tx) error {
		var err error
		results, err = w.processor.ProcessBatch(ctx, tx, id, BatchSize)
		return err
	})
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("error processing webhooks with %d: %w", id, err)
		}
		w.logger.WarnContext(ctx, "webhook batch failed and rolled back; processing this job's webhook alone",
			"webhook_event_id", id, "job_id", job.ID, "error", err)
		return w.alone(ctx, job, true)
	}
	own := false
	for _, res := range results {
		w.count(res)
		w.report(ctx, job, res)
		own = own || res.EventID == id
	}
	if own {
		return nil
	}
	// Processed before, held by another transaction, failed before, or missing: Process tells.
	return w.alone(ctx, job, false)
}

// alone applies the job's webhook by itself, waiting for a transaction that holds it. After a
// failed batch, a failure here is counted on the webhook, which leaves batches from then on, before
// River retries the job.
func (w *ProcessWebhookWorker) alone(ctx context.Context, job *river.Job[webhook.ProcessWebhookArgs], afterBatch bool) error {
	id := job.Args.EventID
	var res *webhook.Result
	err := database.InTx(ctx, w.pool, func(tx pgx.Tx) error {
		var err error
		res, err = w.processor.Process(ctx, tx, id)
		return err
	})
	if err != nil {
		if afterBatch && ctx.Err() == nil {
			if rerr := w.q.WebhookEventRecordFailure(ctx, w.pool, id); rerr != nil {
				w.logger.WarnContext(ctx, "could not count the failure of a webhook", "webhook_event_id", id, "error", rerr)
			}
		}
		return fmt.Errorf("error processing webhook %d: %w", id, err)
	}
	w.count(res)
	w.report(ctx, job, res)
	return nil
}

// count feeds the metrics from a committed webhook.
func (w *ProcessWebhookWorker) count(res *webhook.Result) {
	if res.Missing || res.AlreadyProcessed {
		return
	}
	w.metrics.processed.Inc()
	w.metrics.lag.Observe(time.Since(res.ReceivedAt).Seconds())
	w.metrics.inbound.Add(float64(len(res.Received)))
	for _, s := range res.Statuses {
		m := s.Result.Message
		if s.Result.Outcome == inbox.StatusApplied && s.Update.Status == inbox.StatusDelivered && m.SentAt != nil && m.DeliveredAt != nil {
			w.metrics.delivered.Observe(max(0, m.DeliveredAt.Sub(*m.SentAt).Seconds()))
		}
	}
}

// report logs a processed webhook: one line per stored message (ids only, never the text), per
// status that failed a message or was ignored, per message error and per recorded problem.
func (w *ProcessWebhookWorker) report(ctx context.Context, job *river.Job[webhook.ProcessWebhookArgs], res *webhook.Result) {
	log := w.logger.With("webhook_event_id", res.EventID, "job_id", job.ID)
	switch {
	case res.Missing:
		log.WarnContext(ctx, "webhook to process does not exist; nothing done")
		return
	case res.AlreadyProcessed:
		log.DebugContext(ctx, "webhook was processed before; nothing done")
		return
	}
	for _, r := range res.Received {
		log.InfoContext(ctx, "inbound message stored",
			"message_id", r.Message.ID, "conversation_id", r.Message.ConversationID, "type", r.Message.Type,
			"conversation_status", r.Conversation.Status, "conversation_created", r.ConversationCreated,
			"bot_reply_queued", r.BotReplyQueued)
	}
	for _, e := range res.MessageErrors {
		log.WarnContext(ctx, "inbound message carries an error from Meta",
			"message_id", e.MessageID, "conversation_id", e.ConversationID, "error_code", e.Code, "error_title", e.Title)
	}
	applied := 0
	for _, s := range res.Statuses {
		r, u := s.Result, s.Update
		switch r.Outcome {
		case inbox.StatusApplied:
			applied++
			if u.Status == inbox.StatusFailed {
				log.WarnContext(ctx, "message failed at Meta", "message_id", r.Message.ID, "conversation_id", r.Message.ConversationID,
					"error_code", u.ErrorCode, "error_title", u.ErrorTitle)
			} else {
				log.DebugContext(ctx, "message status applied", "message_id", r.Message.ID, "conversation_id", r.Message.ConversationID,
					"status", r.Message.Status)
			}
		case inbox.StatusIgnored:
			log.InfoContext(ctx, "message status ignored", "message_id", r.Message.ID, "conversation_id", r.Message.ConversationID,
				"status", u.Status, "message_status", r.Message.Status, "reason", r.Reason)
		case inbox.StatusKept:
			log.InfoContext(ctx, "status for a message not recorded yet kept for later", "wa_message_id", u.WaMessageID,
				"status", u.Status, "message_id", u.MessageID)
		}
	}
	for _, t := range res.Templates {
		log.InfoContext(ctx, "template status changed at Meta", "template", t.Name, "language", t.Language,
			"status", t.Event, "reason", t.Reason, "known", t.Known)
	}
	for _, p := range res.Problems {
		log.WarnContext(ctx, "webhook content recorded, not applied", "kind", p.Kind, "phone_number_id", p.PhoneNumberID,
			"error_code", p.Code, "title", p.Title, "details", p.Details)
	}
	log.DebugContext(ctx, "webhook processed", "messages", len(res.Received), "duplicates", res.Duplicates,
		"statuses", len(res.Statuses), "statuses_applied", applied, "problems", len(res.Problems))
}
