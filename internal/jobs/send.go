package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/pacing"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Time budget of one send attempt. Their sum stays within SendAttemptTimeout, which stays within
// River's rescue delay (RescueAfter), so that a job is never rescued while its attempt still runs.
const (
	// SendAttemptTimeout bounds one attempt of send_message.
	SendAttemptTimeout = 20 * time.Second
	// sendCallTimeout bounds the Graph API call; Meta answers a send in well under a second.
	sendCallTimeout = 10 * time.Second
	// paceTimeout bounds the wait for a send slot; past it the attempt gives its claim back and
	// snoozes rather than hold a worker.
	paceTimeout = 3 * time.Second
	// confirmPoll is how often a send confirming an earlier attempt looks for its status.
	confirmPoll = 2 * time.Second
)

// Outcomes of wainbox_send_total.
const (
	outcomeSent       = "sent"       // Meta accepted the send and it was recorded
	outcomeFailed     = "failed"     // the message failed (Meta refused it, or attempts ran out)
	outcomeReconciled = "reconciled" // a status proved an earlier attempt reached Meta; nothing sent again
	outcomeResent     = "resent"     // no status came within the window after an unknown outcome: sent again
	outcomeUnknown    = "unknown"    // an attempt ended without knowing whether Meta took the message
)

// SendWorkerConfig configures the send worker.
type SendWorkerConfig struct {
	Inbox    *inbox.Service
	WhatsApp *whatsapp.Client
	// Pacer keeps the number's sends under its rate; nil sends without pacing.
	Pacer *pacing.Pacer
	// ReconcileWindow is how long a send whose outcome is unknown waits for a status proving it
	// before it is sent again (SEND_RECONCILE_WINDOW; required).
	ReconcileWindow time.Duration
	// Registerer receives the send metrics; nil registers nothing.
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

// SendWorker works send_message jobs: it sends one outbound message through the Graph API and
// records the outcome on the message, so agents see pending, sent or failed. It keeps the promise
// of docs/delivery.md: a message reaches Meta once, after every earlier message of its
// conversation, through crashes, timeouts and database blips.
type SendWorker struct {
	river.WorkerDefaults[inbox.SendMessageArgs]
	inbox   *inbox.Service
	wa      *whatsapp.Client
	pacer   *pacing.Pacer
	window  time.Duration
	logger  *slog.Logger
	total   *prometheus.CounterVec
	latency prometheus.Histogram
	// errors counts the Graph API's refusals by Meta code and class; outbound counts the messages
	// Meta accepted by sender (agent, bot, system): the business series of what went out.
	errors   *prometheus.CounterVec
	outbound *prometheus.CounterVec
}

// NewSendWorker validates cfg and returns a send worker.
func NewSendWorker(cfg *SendWorkerConfig) (*SendWorker, error) {
	if cfg.Inbox == nil || cfg.WhatsApp == nil {
		return nil, errors.New("jobs: the send worker needs the inbox and the WhatsApp client")
	}
	if cfg.ReconcileWindow <= 0 {
		return nil, errors.New("jobs: the send worker needs a positive ReconcileWindow")
	}
	w := &SendWorker{inbox: cfg.Inbox, wa: cfg.WhatsApp, pacer: cfg.Pacer, window: cfg.ReconcileWindow, logger: cfg.Logger}
	if w.logger == nil {
		w.logger = slog.New(slog.DiscardHandler)
	}
	if w.pacer == nil {
		w.pacer, _ = pacing.New(&pacing.Config{})
	}
	w.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wainbox_send_total",
		Help: "Send decisions and outcomes: sent, failed, reconciled (an earlier attempt proved by a status, nothing sent again), resent (sent again after the reconciliation window), unknown (an attempt ended without knowing whether Meta took it).",
	}, []string{"outcome"})
	w.latency = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "wainbox_send_latency_seconds",
		Help:    "Time from the commit of an outbound message to Meta's acceptance of it.",
		Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300},
	})
	w.errors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wainbox_send_errors_total",
		Help: "Failed Graph API send calls, by Meta error code (the known table, other, or network) and class (retry, throttle, permanent, stop_number).",
	}, []string{"code", "class"})
	w.outbound = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "wainbox_messages_sent_total",
		Help: "Outbound messages Meta accepted, by sender: agent, bot or system.",
	}, []string{"sender"})
	// Series that alert rules read exist from the start, so that the first failure is an increase
	// from zero rather than a new series that rate() cannot see.
	for _, o := range []string{outcomeSent, outcomeFailed, outcomeReconciled, outcomeResent, outcomeUnknown} {
		w.total.WithLabelValues(o)
	}
	w.errors.WithLabelValues("190", whatsapp.ClassStopNumber.String())
	if cfg.Registerer != nil {
		if err := registerAll(cfg.Registerer, w.total, w.latency, w.errors, w.outbound); err != nil {
			return nil, err
		}
	}
	return w, nil
}

// outbound is a stored message as Meta's request: a text from its body (the bot's replies and
// older messages keep nothing else), anything else, and a text that quotes a message, from the
// payload stored as it was checked.
func outbound(to string, msg *db.Message) (*whatsapp.OutboundMessage, error) {
	if msg.Type == whatsapp.MessageTypeText && msg.ReplyToMessageID == nil {
		return whatsapp.NewTextMessage(to, msg.Body), nil
	}
	return whatsapp.NewMessage(to, msg.Payload)
}

// Timeout bounds one attempt (see SendAttemptTimeout).
func (w *SendWorker) Timeout(*river.Job[inbox.SendMessageArgs]) time.Duration {
	return SendAttemptTimeout
}

// Work claims the message and does what the claim allows: send it, record a send an earlier
// attempt made, wait for an earlier message or for a status, or skip it.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[inbox.SendMessageArgs]) error {
	id := job.Args.MessageID
	log := w.logger.With("message_id", id, "job_id", job.ID, "attempt", job.Attempt)
	// A wait whose earlier message has just left claims again; twice more at most.
	for range 3 {
		c, err := w.inbox.ClaimSend(ctx, inbox.ClaimParams{
			MessageID:       id,
			Generation:      job.Args.Generation,
			Attempt:         job.Attempt,
			AttemptTimeout:  SendAttemptTimeout,
			ReconcileWindow: w.window,
			MayResend:       job.Attempt < job.MaxAttempts,
		})
		if _, ok := errors.AsType[*apperr.NotFoundError](err); ok {
			return river.JobCancel(err)
		}
		if err != nil {
			// Nothing was sent: River retries.
			return fmt.Errorf("error claiming message %d: %w", id, err)
		}
		log := log.With("conversation_id", c.Target.Message.ConversationID)
		switch c.Decision {
		case inbox.SendSkip:
			log.Info("send skipped: message no longer this job's to send", "status", c.Target.Message.Status)
			return nil
		case inbox.SendReconcile:
			log.Info("send reconciled: a status proves an earlier attempt reached Meta; not sending again", "wa_message_id", c.KeptWaMessageID)
			return w.recordSent(ctx, job, &c.Target.Message, c.KeptWaMessageID, outcomeReconciled, log)
		case inbox.SendConfirm:
			return w.confirm(ctx, &c, log)
		case inbox.SendExhausted:
			return w.exhausted(ctx, job, &c.Target.Message, log)
		case inbox.SendWait:
			waiting, err := w.inbox.WaitForEarlier(ctx, id, job.Args.Generation, c.EarlierPendingID, completeTx(ctx, job))
			if err != nil {
				return fmt.Errorf("error making message %d wait: %w", id, err)
			}
			if waiting {
				log.Debug("send waits for an earlier message of the conversation", "waiting_for", c.EarlierPendingID)
				return nil
			}
		case inbox.SendGo:
			return w.send(ctx, job, &c, log)
		default:
			return fmt.Errorf("error claiming message %d: unknown decision %q", id, c.Decision)
		}
	}
	return river.JobSnooze(time.Second)
}

// send calls the Graph API for a claimed message and records what came of it.
func (w *SendWorker) send(ctx context.Context, job *river.Job[inbox.SendMessageArgs], c *inbox.SendClaim, log *slog.Logger) error {
	msg := &c.Target.Message
	if c.Resend {
		w.total.WithLabelValues(outcomeResent).Inc()
		log.Warn("no status proved the earlier attempt within the reconciliation window; sending again", "window", w.window)
	}
	if msg.MediaID != nil {
		ready, err := w.mediaReady(ctx, msg, log)
		if err != nil || !ready {
			return err
		}
	}
	paceCtx, cancel := context.WithTimeout(ctx, paceTimeout)
	paceErr := w.pacer.Wait(paceCtx, c.Target.PhoneNumberID, inbox.SendPriority(msg.Sender))
	cancel()
	if paceErr != nil {
		// Nothing left: give the claim back. Should that fail too, the claim stays and the next
		// attempt confirms first: a delay, never a duplicate.
		if err := w.persist(ctx, func(ctx context.Context) error {
			return w.inbox.ReleaseClaim(ctx, msg.ID, paceErr.Error(), inbox.ReasonPacing)
		}); err != nil {
			return err
		}
		log.Debug("no send slot in time; snoozing", "error", paceErr)
		return river.JobSnooze(time.Second)
	}

	out, err := outbound(c.Target.WaID, msg)
	if err == nil && msg.MediaID != nil {
		err = w.attachMedia(ctx, out, *msg.MediaID)
	}
	if err != nil {
		// Checked when it was stored; a payload that does not decode now is a bug, not Meta's.
		log.Error("stored message cannot be sent", "error", err)
		if err := w.fail(ctx, msg.ID, inbox.Failure{Title: "Stored message cannot be sent", Err: err.Error()}); err != nil {
			return err
		}
		return river.JobCancel(err)
	}
	out.BizOpaqueCallbackData = strconv.FormatInt(msg.ID, 10)
	callCtx, cancel := context.WithTimeout(ctx, sendCallTimeout)
	resp, sendErr := w.wa.Send(callCtx, c.Target.PhoneNumberID, out)
	cancel()
	if sendErr == nil {
		return w.recordSent(ctx, job, msg, resp.MessageID(), outcomeSent, log)
	}
	w.errors.WithLabelValues(whatsapp.MetricCode(sendErr), whatsapp.Classify(sendErr).String()).Inc()
	if whatsapp.OutcomeUnknown(sendErr) {
		return w.unknown(ctx, job, msg, sendErr, log)
	}

	class := whatsapp.Classify(sendErr)
	var apiErr *whatsapp.APIError
	errors.As(sendErr, &apiErr)
	switch class {
	case whatsapp.ClassPermanent, whatsapp.ClassStopNumber:
		if class == whatsapp.ClassStopNumber {
			log.Error("number or token rejected by Meta; every send from it will fail until fixed", "error", sendErr)
		} else {
			log.Warn("message rejected by Meta", "error", sendErr)
		}
		if err := w.fail(ctx, msg.ID, failure(apiErr, sendErr)); err != nil {
			return err
		}
		return river.JobCancel(sendErr)

	case whatsapp.ClassThrottle:
		delay := throttleDelay(apiErr)
		log.Warn("send throttled by Meta; snoozing", "error", sendErr, "delay", delay)
		if err := w.persist(ctx, func(ctx context.Context) error {
			return w.inbox.ReleaseClaim(ctx, msg.ID, sendErr.Error(), inbox.ReasonThrottled)
		}); err != nil {
			return err
		}
		return river.JobSnooze(delay)

	default:
		if job.Attempt >= job.MaxAttempts {
			// River discards the job after this error: it stays visible in River UI as a dead
			// letter, and the message says failed.
			log.Error("send failed on its last attempt; message failed", "error", sendErr)
			f := failure(apiErr, sendErr)
			if f.Title == "" {
				f.Title = "Send failed after " + strconv.Itoa(job.Attempt) + " attempts"
			}
			if err := w.fail(ctx, msg.ID, f); err != nil {
				return err
			}
			return sendErr
		}
		log.Warn("send failed; River will retry", "error", sendErr)
		if err := w.persist(ctx, func(ctx context.Context) error {
			return w.inbox.RecordAttempt(ctx, msg.ID, sendErr.Error(), inbox.ReasonRetrying)
		}); err != nil {
			return err
		}
		return fmt.Errorf("error sending message %d: %w", msg.ID, sendErr)
	}
}

// mediaReady makes sure the file of a media message is uploaded to Meta before it is sent. Until
// it is, the attempt gives its claim back and waits for the upload_media job (queued with the
// message, or now when Meta's id for the file has gone stale); a failed upload fails the message
// itself. Waiting snoozes, which costs no attempt.
func (w *SendWorker) mediaReady(ctx context.Context, msg *db.Message, log *slog.Logger) (bool, error) {
	f, err := w.inbox.LoadMediaFile(ctx, *msg.MediaID)
	if err != nil {
		return false, err
	}
	if inbox.WaMediaFresh(&f, time.Now()) {
		return true, nil
	}
	if err := w.inbox.EnsureUpload(ctx, f.ID); err != nil {
		return false, err
	}
	if err := w.persist(ctx, func(ctx context.Context) error {
		return w.inbox.ReleaseClaim(ctx, msg.ID, "", inbox.ReasonUploading)
	}); err != nil {
		return false, err
	}
	log.Debug("send waits for its file to be uploaded to Meta", "media_id", f.ID)
	return false, river.JobSnooze(mediaPoll)
}

// mediaPoll is how often a send waiting for its file's upload looks again.
const mediaPoll = 500 * time.Millisecond

// attachMedia names Meta's id of the message's file in the request.
func (w *SendWorker) attachMedia(ctx context.Context, out *whatsapp.OutboundMessage, mediaID int64) error {
	f, err := w.inbox.LoadMediaFile(ctx, mediaID)
	if err != nil {
		return err
	}
	if f.WaMediaID == nil {
		return fmt.Errorf("file %d has no id at Meta", mediaID)
	}
	return out.SetMediaID(*f.WaMediaID)
}

// recordSent records Meta's id for the message and completes the job in the same transaction,
// retrying through a database blip for the rest of the attempt. Should it still fail, the send is
// unsettled: the next attempt finds its status webhooks and records it without sending again.
func (w *SendWorker) recordSent(ctx context.Context, job *river.Job[inbox.SendMessageArgs], msg *db.Message, waMessageID, outcome string, log *slog.Logger) error {
	err := w.persist(ctx, func(ctx context.Context) error {
		_, err := w.inbox.MarkSent(ctx, msg.ID, waMessageID, completeTx(ctx, job))
		return err
	})
	if err != nil {
		log.Error("message sent but not recorded; the next attempt reconciles it from Meta's statuses", "wa_message_id", waMessageID, "error", err)
		return fmt.Errorf("error recording the send of message %d: %w", msg.ID, err)
	}
	w.total.WithLabelValues(outcome).Inc()
	w.outbound.WithLabelValues(msg.Sender).Inc()
	if outcome == outcomeSent {
		w.latency.Observe(time.Since(msg.CreatedAt).Seconds())
		log.Info("message sent", "wa_message_id", waMessageID)
	}
	return nil
}

// unknown handles an attempt that may or may not have reached Meta: the next attempt confirms it
// from the status webhooks before it sends again. The last attempt snoozes instead of failing, so
// that it too confirms before the message is given up.
func (w *SendWorker) unknown(ctx context.Context, job *river.Job[inbox.SendMessageArgs], msg *db.Message, sendErr error, log *slog.Logger) error {
	w.total.WithLabelValues(outcomeUnknown).Inc()
	log.Warn("send outcome unknown: Meta may have the message; confirming before any resend", "error", sendErr)
	// Best effort: without it the claim's own deadline stands, which only starts the window later.
	_ = w.persist(ctx, func(ctx context.Context) error {
		return w.inbox.RecordUnsettled(ctx, msg.ID, sendErr.Error())
	})
	if job.Attempt >= job.MaxAttempts {
		return river.JobSnooze(w.window)
	}
	return fmt.Errorf("error sending message %d: %w", msg.ID, sendErr)
}

// confirm waits for the status of an earlier attempt whose outcome is unknown, looking again every
// confirmPoll until the window closes; snoozing costs no attempt.
func (w *SendWorker) confirm(ctx context.Context, c *inbox.SendClaim, log *slog.Logger) error {
	if err := w.inbox.SetPendingReason(ctx, c.Target.Message.ID, inbox.ReasonConfirming); err != nil {
		log.Warn("could not note why the message waits", "error", err)
	}
	wait := min(time.Until(c.ConfirmUntil), confirmPoll)
	log.Debug("send confirming an earlier attempt", "until", c.ConfirmUntil)
	return river.JobSnooze(max(wait, 100*time.Millisecond))
}

// exhausted fails a message whose last attempt stayed unknown through the window: no status says
// Meta has it, and the job may send no more.
func (w *SendWorker) exhausted(ctx context.Context, job *river.Job[inbox.SendMessageArgs], msg *db.Message, log *slog.Logger) error {
	log.Error("no answer from Meta on the last attempt and no status within the window; message failed")
	f := inbox.Failure{Title: "No answer from Meta after " + strconv.Itoa(job.Attempt) + " attempts", Err: msg.LastError}
	if err := w.fail(ctx, msg.ID, f); err != nil {
		return err
	}
	err := fmt.Errorf("message %d failed: no answer from Meta after %d attempts", msg.ID, job.Attempt)
	if job.Attempt >= job.MaxAttempts {
		return err // discarded: the dead letter stays in River UI
	}
	return river.JobCancel(err)
}

// fail records a failed message through a database blip.
func (w *SendWorker) fail(ctx context.Context, messageID int64, f inbox.Failure) error {
	err := w.persist(ctx, func(ctx context.Context) error {
		_, err := w.inbox.MarkFailed(ctx, messageID, f)
		return err
	})
	if err != nil {
		return err
	}
	w.total.WithLabelValues(outcomeFailed).Inc()
	return nil
}

// persist runs a write until it succeeds or the attempt's time is up, backing off between tries:
// an outcome learnt from Meta is worth waiting for the database. It keeps going when the job's
// context is cancelled by a shutdown, but not past the attempt's deadline.
func (w *SendWorker) persist(ctx context.Context, write func(context.Context) error) error {
	wctx := context.WithoutCancel(ctx)
	if deadline, ok := ctx.Deadline(); ok {
		var cancel context.CancelFunc
		wctx, cancel = context.WithDeadline(wctx, deadline)
		defer cancel()
	}
	backoff := 50 * time.Millisecond
	for {
		err := write(wctx)
		if err == nil {
			return nil
		}
		timer := time.NewTimer(backoff)
		select {
		case <-wctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
		backoff = min(2*backoff, time.Second)
	}
}

// completeTx completes job in the caller's transaction.
func completeTx(ctx context.Context, job *river.Job[inbox.SendMessageArgs]) func(pgx.Tx) error {
	return func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}
}

func failure(apiErr *whatsapp.APIError, err error) inbox.Failure {
	f := inbox.Failure{Err: err.Error()}
	if apiErr != nil {
		f.Code, f.Title, f.Details = apiErr.Code, apiErr.Title(), apiErr.Details
	}
	return f
}

// throttleDelay is how long a throttled send waits. The pair limit (131056) allows one message
// per six seconds to one customer; the number's throughput limit (130429) clears faster.
func throttleDelay(apiErr *whatsapp.APIError) time.Duration {
	base := 2 * time.Second
	if apiErr != nil && apiErr.Code == 131056 {
		base = 6 * time.Second
	}
	return base + time.Duration(rand.Int64N(int64(time.Second)))
}
