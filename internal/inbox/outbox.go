package inbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/realtime"
)

// SendTarget is what the send worker needs to send a message: the message, the phone number id it
// leaves from and the customer's wa_id.
type SendTarget = db.MessageSendTargetRow

// LoadSendTarget loads a message with its sending number and recipient.
func (s *Service) LoadSendTarget(ctx context.Context, messageID int64) (SendTarget, error) {
	t, err := s.q.MessageSendTarget(ctx, s.pool, messageID)
	if err != nil {
		return SendTarget{}, notFound(err, "message", messageID)
	}
	return t, nil
}

// Failure is Meta's verdict on a send that will not be retried.
type Failure struct {
	Code    int
	Title   string
	Details string
	// Err is the full error, kept for operators in last_error.
	Err string
}

// MarkSent records Meta's acceptance of a send (its wa_message_id) and writes the status event.
// complete runs in the same transaction: the worker completes its job there, so the job is done
// exactly when the message says sent.
func (s *Service) MarkSent(ctx context.Context, messageID int64, waMessageID string, attempt int, complete func(pgx.Tx) error) (db.Message, error) {
	var msg db.Message
	now := time.Now()
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		msg, err = s.q.MessageMarkSent(ctx, tx, db.MessageMarkSentParams{
			ID: messageID, WaMessageID: &waMessageID, SentAt: &now, Attempts: int32(attempt),
		})
		if err != nil {
			return fmt.Errorf("error marking message %d sent: %w", messageID, err)
		}
		// Status webhooks that overtook this commit were kept for it (status.go).
		if msg, err = s.applyEarlyStatuses(ctx, tx, msg); err != nil {
			return err
		}
		if err := realtime.Append(ctx, tx, realtime.KindMessageStatus, msg.ConversationID, MessageEvent(&msg)); err != nil {
			return err
		}
		return complete(tx)
	})
	if err != nil {
		return db.Message{}, err
	}
	s.ringer.Ring()
	return msg, nil
}

// MarkFailed makes a message failed with Meta's error and writes the status event. A message
// that has meanwhile moved past sent (a status webhook said delivered) is left as it is.
func (s *Service) MarkFailed(ctx context.Context, messageID int64, attempt int, f Failure) (db.Message, error) {
	var msg db.Message
	now := time.Now()
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p := db.MessageMarkFailedParams{
			ID: messageID, FailedAt: &now, Attempts: int32(attempt), LastError: f.Err,
		}
		if f.Code != 0 {
			code := int32(f.Code)
			p.ErrorCode = &code
		}
		if f.Title != "" {
			p.ErrorTitle = &f.Title
		}
		if f.Details != "" {
			p.ErrorDetails = &f.Details
		}
		var err error
		msg, err = s.q.MessageMarkFailed(ctx, tx, p)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error marking message %d failed: %w", messageID, err)
		}
		return realtime.Append(ctx, tx, realtime.KindMessageStatus, msg.ConversationID, MessageEvent(&msg))
	})
	if err != nil {
		return db.Message{}, err
	}
	s.ringer.Ring()
	return msg, nil
}

// RecordAttempt notes a failed attempt that will be retried, so agents and admins see why a
// message is still pending.
func (s *Service) RecordAttempt(ctx context.Context, messageID int64, attempt int, lastErr string) error {
	err := s.q.MessageRecordAttempt(ctx, s.pool, db.MessageRecordAttemptParams{
		ID: messageID, Attempts: int32(attempt), LastError: lastErr,
	})
	if err != nil {
		return fmt.Errorf("error recording attempt of message %d: %w", messageID, err)
	}
	return nil
}
