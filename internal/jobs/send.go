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
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// SendWorker works send_message jobs: it sends one outbound message through the Graph API and
// records the outcome on the message, so agents see pending, sent or failed.
type SendWorker struct {
	river.WorkerDefaults[inbox.SendMessageArgs]
	inbox  *inbox.Service
	wa     *whatsapp.Client
	logger *slog.Logger
}

// NewSendWorker returns a send worker.
func NewSendWorker(in *inbox.Service, wa *whatsapp.Client, logger *slog.Logger) *SendWorker {
	return &SendWorker{inbox: in, wa: wa, logger: logger}
}

// Timeout bounds one attempt: the Graph client gives up after 15 s, and the transaction that
// records the outcome needs a moment more.
func (w *SendWorker) Timeout(*river.Job[inbox.SendMessageArgs]) time.Duration {
	return 30 * time.Second
}

// Work sends the message unless it is no longer this job's to send.
func (w *SendWorker) Work(ctx context.Context, job *river.Job[inbox.SendMessageArgs]) error {
	t, err := w.inbox.LoadSendTarget(ctx, job.Args.MessageID)
	if errors.Is(err, inbox.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	msg := t.Message
	log := w.logger.With("message_id", msg.ID, "conversation_id", msg.ConversationID, "job_id", job.ID, "attempt", job.Attempt)

	// A newer send generation (an API retry) owns the message now; and a message already sent
	// must not be sent again by a job that River ran twice.
	if msg.SendGeneration != job.Args.Generation || (msg.Status != inbox.StatusPending && msg.Status != inbox.StatusFailed) {
		log.Info("send skipped: message no longer this job's to send", "status", msg.Status)
		return nil
	}

	out := whatsapp.NewTextMessage(t.WaID, msg.Body)
	out.BizOpaqueCallbackData = strconv.FormatInt(msg.ID, 10)
	resp, sendErr := w.wa.Send(ctx, t.PhoneNumberID, out)
	if sendErr == nil {
		_, err := w.inbox.MarkSent(ctx, msg.ID, resp.MessageID(), job.Attempt, func(tx pgx.Tx) error {
			_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
			return err
		})
		if err != nil {
			// Meta has the message but we could not record it: River retries, and the retry sends
			// again. DESIGN.md accepts this one duplicate per crash; the log makes it countable.
			log.Error("message sent but not recorded; a retry may duplicate it", "error", err)
			return err
		}
		log.Info("message sent", "wa_message_id", resp.MessageID())
		return nil
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
		if _, err := w.inbox.MarkFailed(ctx, msg.ID, job.Attempt, failure(apiErr, sendErr)); err != nil {
			return err
		}
		return river.JobCancel(sendErr)

	case whatsapp.ClassThrottle:
		delay := throttleDelay(apiErr)
		log.Warn("send throttled by Meta; snoozing", "error", sendErr, "delay", delay)
		if err := w.inbox.RecordAttempt(ctx, msg.ID, job.Attempt, sendErr.Error()); err != nil {
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
			if _, err := w.inbox.MarkFailed(ctx, msg.ID, job.Attempt, f); err != nil {
				return err
			}
			return sendErr
		}
		log.Warn("send failed; River will retry", "error", sendErr)
		if err := w.inbox.RecordAttempt(ctx, msg.ID, job.Attempt, sendErr.Error()); err != nil {
			return err
		}
		return fmt.Errorf("error sending message %d: %w", msg.ID, sendErr)
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
