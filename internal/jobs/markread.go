package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// MarkReadWorker works mark_read jobs: it tells Meta that agents read a customer's message, which
// shows the customer blue ticks on it and every earlier one.
type MarkReadWorker struct {
	river.WorkerDefaults[inbox.MarkReadArgs]
	inbox  *inbox.Service
	wa     *whatsapp.Client
	logger *slog.Logger
}

// NewMarkReadWorker returns a mark_read worker.
func NewMarkReadWorker(in *inbox.Service, wa *whatsapp.Client, logger *slog.Logger) *MarkReadWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &MarkReadWorker{inbox: in, wa: wa, logger: logger}
}

// Work calls the Graph API; errors Meta calls permanent cancel the job, others are retried.
func (w *MarkReadWorker) Work(ctx context.Context, job *river.Job[inbox.MarkReadArgs]) error {
	t, err := w.inbox.LoadSendTarget(ctx, job.Args.MessageID)
	if _, ok := errors.AsType[*apperr.NotFoundError](err); ok {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	msg := t.Message
	if msg.Direction != "in" || msg.WaMessageID == nil {
		return river.JobCancel(fmt.Errorf("message %d is not a customer message Meta knows", msg.ID))
	}
	log := w.logger.With("message_id", msg.ID, "conversation_id", msg.ConversationID, "job_id", job.ID, "attempt", job.Attempt)
	if err := w.wa.MarkRead(ctx, t.PhoneNumberID, *msg.WaMessageID); err != nil {
		switch whatsapp.Classify(err) {
		case whatsapp.ClassPermanent, whatsapp.ClassStopNumber:
			log.Warn("mark-read rejected by Meta", "error", err)
			return river.JobCancel(err)
		}
		return fmt.Errorf("error marking message %d read: %w", msg.ID, err)
	}
	log.Debug("message marked read at Meta")
	return nil
}
