// The delivery half of the outbox: a send job claims its message (ClaimSend), and the outcome at
// Meta is recorded (MarkSent, MarkFailed, attempts, waits and hand-overs to the next message of
// the conversation). The other half, storing a message with its send job, is send.go.

package inbox

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// This file is the delivery half of the outbox: what a send attempt may do with its message, and
// recording what came of it. docs/delivery.md tells the whole story; in short:
//
//   - An attempt claims its message before it calls Meta (MessageClaimSend): the claim notes until
//     when the attempt can reach Meta (unsettled_until), and recording the outcome clears it. A
//     later attempt that finds it set knows an earlier one may have reached Meta unrecorded, and
//     reconciles from the status webhooks (which carry our message id) before it sends again.
//   - A message is not handed to Meta while an earlier outbound message of its conversation is
//     pending: it waits, and the earlier message's outcome hands the send over to it.

// SendTarget is a message with the number it leaves from and the customer it goes to.
type SendTarget = db.MessageSendTargetRow

// LoadSendTarget loads a message with its sending number and recipient.
func (s *Service) LoadSendTarget(ctx context.Context, messageID int64) (SendTarget, error) {
	t, err := s.q.MessageSendTarget(ctx, s.pool, messageID)
	if err != nil {
		return SendTarget{}, notFound(err, "message", messageID)
	}
	return t, nil
}

// SendDecision is what an attempt of a send job may do with its message.
type SendDecision string

// Decisions of ClaimSend, in the order they take precedence.
const (
	// SendSkip: the message is no longer this job's to send (not pending, or queued again).
	SendSkip SendDecision = "skip"
	// SendReconcile: a status kept for the message proves an earlier attempt reached Meta;
	// KeptWaMessageID is Meta's id for it. Record it with MarkSent; send nothing.
	SendReconcile SendDecision = "reconcile"
	// SendConfirm: an earlier attempt may have reached Meta and the reconciliation window after it
	// is still open: wait for its status.
	SendConfirm SendDecision = "confirm"
	// SendExhausted: the window passed without a status, and the job may not send again.
	SendExhausted SendDecision = "exhausted"
	// SendWait: EarlierPendingID, an earlier message of the conversation, is still pending.
	SendWait SendDecision = "wait"
	// SendGo: the attempt claimed the send and may call Meta.
	SendGo SendDecision = "send"
)

// Pending reasons shown on a message that has not left yet.
const (
	ReasonConfirming = "confirming with Meta whether an earlier attempt was delivered"
	ReasonPacing     = "waiting for a send slot of the business number"
	ReasonThrottled  = "Meta asked to slow down; sending again shortly"
	ReasonRetrying   = "retrying after an error"
	ReasonUploading  = "uploading its file to WhatsApp"
)

// ClaimParams says which attempt is claiming which message.
type ClaimParams struct {
	MessageID  int64
	Generation int32
	// Attempt is the job's attempt number, recorded on the message.
	Attempt int
	// AttemptTimeout is how long the attempt may run: it cannot reach Meta later than that.
	AttemptTimeout time.Duration
	// ReconcileWindow is how long after an unknown outcome a status may still prove it.
	ReconcileWindow time.Duration
	// MayResend is false on the job's last attempt: after an unknown outcome and the window, the
	// message then fails instead of being sent again, so it is never sent more than the job's
	// attempts.
	MayResend bool
}

// SendClaim is the answer of ClaimSend.
type SendClaim struct {
	Target   SendTarget
	Decision SendDecision
	// Resend is true when this claimed send follows an attempt whose outcome stayed unknown
	// through the whole reconciliation window.
	Resend bool
	// KeptWaMessageID is Meta's id of the earlier attempt that reached it (SendReconcile).
	KeptWaMessageID string
	// EarlierPendingID is the earlier pending message this one must wait for (SendWait).
	EarlierPendingID int64
	// ConfirmUntil is when the reconciliation window closes (SendConfirm).
	ConfirmUntil time.Time
}

// ClaimSend decides what an attempt may do with its message and claims the send when it may go
// ahead, in one statement (see MessageClaimSend). Two attempts racing for one message never both
// get SendGo: the loser gets SendConfirm.
func (s *Service) ClaimSend(ctx context.Context, p ClaimParams) (SendClaim, error) {
	row, err := s.q.MessageClaimSend(ctx, s.pool, db.MessageClaimSendParams{
		ID:                p.MessageID,
		Generation:        p.Generation,
		Attempt:           int32(p.Attempt),
		AttemptTimeoutMs:  p.AttemptTimeout.Milliseconds(),
		ReconcileWindowMs: p.ReconcileWindow.Milliseconds(),
		MayResend:         p.MayResend,
	})
	if err != nil {
		return SendClaim{}, notFound(err, "message", p.MessageID)
	}
	c := SendClaim{
		Target: SendTarget{
			Message: row.Message, PhoneNumberID: row.PhoneNumberID, WaID: row.WaID,
		},
		Decision:         SendDecision(row.Decision),
		KeptWaMessageID:  row.KeptWaMessageID,
		EarlierPendingID: row.EarlierPendingID,
	}
	if u := row.Message.UnsettledUntil; u != nil {
		c.ConfirmUntil = u.Add(p.ReconcileWindow)
	}
	switch {
	case c.Decision == SendGo && !row.Claimed:
		// Another run of this message claimed it between our read and our write.
		c.Decision, c.ConfirmUntil = SendConfirm, time.Now().Add(p.AttemptTimeout+p.ReconcileWindow)
	case c.Decision == SendGo:
		c.Resend = row.Message.UnsettledUntil != nil
	}
	return c, nil
}

// WaitForEarlier makes a message wait for earlier, a pending message of its conversation, unless
// earlier has left pending meanwhile. complete runs in the same transaction: the worker completes
// its job there, and earlier's outcome queues a new one (handOver). It reports whether the message
// now waits; when it does not, the caller claims again.
//
// earlier's status is read under a share lock held to the commit: its outcome, which updates its
// row, either committed before (and is seen here) or commits after this registration (and its
// hand-over, which locks this row, sees it).
func (s *Service) WaitForEarlier(ctx context.Context, messageID int64, generation int32, earlier int64, complete func(pgx.Tx) error) (bool, error) {
	waiting := false
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		status, err := s.q.MessageLockStatus(ctx, tx, earlier)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && status != StatusPending) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("error locking message %d: %w", earlier, err)
		}
		n, err := s.q.MessageWaitFor(ctx, tx, db.MessageWaitForParams{
			ID: messageID, Generation: generation, WaitingFor: &earlier,
			PendingReason: "waiting for message " + strconv.FormatInt(earlier, 10) + " of this conversation to be sent first",
		})
		if err != nil {
			return fmt.Errorf("error making message %d wait for %d: %w", messageID, earlier, err)
		}
		if n == 0 {
			return nil // no longer pending, or queued again: the next claim says what to do
		}
		waiting = true
		return complete(tx)
	})
	return waiting, err
}

// handOver queues the send of the conversation's next pending message when it waits for msg, in
// msg's outcome transaction. Locking that message first serializes with its WaitForEarlier.
func (s *Service) handOver(ctx context.Context, tx pgx.Tx, msg *db.Message) error {
	if msg.OutSeq == nil {
		return nil
	}
	next, err := s.q.MessageNextPendingForUpdate(ctx, tx, db.MessageNextPendingForUpdateParams{
		ConversationID: msg.ConversationID, OutSeq: msg.OutSeq,
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("error loading the message after %d: %w", msg.ID, err)
	}
	if next.WaitingFor == nil {
		return nil // it has a job of its own, which checks the order itself
	}
	if err := s.q.MessageStopWaiting(ctx, tx, next.ID); err != nil {
		return fmt.Errorf("error ending the wait of message %d: %w", next.ID, err)
	}
	return s.enqueueSend(ctx, tx, next.ID, next.SendGeneration, next.Sender)
}

// Failure is Meta's verdict on a send that will not be retried.
type Failure struct {
	Code    int
	Title   string
	Details string
	// Err is the full error, kept for operators in last_error.
	Err string
}

// MarkSent records Meta's acceptance of a send (its wa_message_id), applies the statuses that
// overtook it, writes one status event for the message as they leave it and hands over to the
// next message of the conversation.
// complete runs in the same transaction: the worker completes its job there, so the job is done
// exactly when the message says sent.
func (s *Service) MarkSent(ctx context.Context, messageID int64, waMessageID string, complete func(pgx.Tx) error) (db.Message, error) {
	var msg db.Message
	now := time.Now()
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		msg, err = s.q.MessageMarkSent(ctx, tx, db.MessageMarkSentParams{
			ID: messageID, WaMessageID: waMessageID, SentAt: &now,
		})
		if err != nil {
			return fmt.Errorf("error marking message %d sent: %w", messageID, err)
		}
		// Status webhooks that overtook this commit were kept for it (status.go).
		if msg, err = s.applyEarlyStatuses(ctx, tx, msg); err != nil {
			return err
		}
		if err := s.events.Append(ctx, tx, eventlog.MessageStatus, msg.ConversationID, MessageEvent(&msg)); err != nil {
			return err
		}
		if err := s.handOver(ctx, tx, &msg); err != nil {
			return err
		}
		return complete(tx)
	})
	if err != nil {
		return db.Message{}, err
	}
	return msg, nil
}

// MarkFailed makes a message failed with Meta's error, writes the status event and hands over to
// the next message of the conversation (a failed message does not hold the others back). A
// message that has meanwhile moved past sent (a status webhook said delivered) is left as it is.
func (s *Service) MarkFailed(ctx context.Context, messageID int64, f Failure) (db.Message, error) {
	var msg db.Message
	now := time.Now()
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		p := db.MessageMarkFailedParams{ID: messageID, FailedAt: &now, LastError: f.Err}
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
		if err := s.events.Append(ctx, tx, eventlog.MessageStatus, msg.ConversationID, MessageEvent(&msg)); err != nil {
			return err
		}
		return s.handOver(ctx, tx, &msg)
	})
	if err != nil {
		return db.Message{}, err
	}
	return msg, nil
}

// RecordAttempt notes an attempt Meta refused with an error that will be retried, so agents and
// admins see why a message is still pending. Meta's answer settles the attempt.
func (s *Service) RecordAttempt(ctx context.Context, messageID int64, lastErr, reason string) error {
	err := s.q.MessageRecordAttempt(ctx, s.pool, db.MessageRecordAttemptParams{
		ID: messageID, LastError: lastErr, PendingReason: reason,
	})
	if err != nil {
		return fmt.Errorf("error recording attempt of message %d: %w", messageID, err)
	}
	return nil
}

// RecordUnsettled notes an attempt whose outcome at Meta is unknown (a timeout, a broken
// connection, an answer that could not be read): the next attempt confirms it before sending.
func (s *Service) RecordUnsettled(ctx context.Context, messageID int64, lastErr string) error {
	err := s.q.MessageRecordUnsettled(ctx, s.pool, db.MessageRecordUnsettledParams{
		ID: messageID, LastError: lastErr, PendingReason: ReasonConfirming,
	})
	if err != nil {
		return fmt.Errorf("error recording the unknown outcome of message %d: %w", messageID, err)
	}
	return nil
}

// ReleaseClaim gives back a claim whose attempt never reached Meta, without counting it.
func (s *Service) ReleaseClaim(ctx context.Context, messageID int64, lastErr, reason string) error {
	err := s.q.MessageReleaseClaim(ctx, s.pool, db.MessageReleaseClaimParams{
		ID: messageID, LastError: lastErr, PendingReason: reason,
	})
	if err != nil {
		return fmt.Errorf("error releasing the claim on message %d: %w", messageID, err)
	}
	return nil
}

// SetPendingReason says why a pending message has not left yet.
func (s *Service) SetPendingReason(ctx context.Context, messageID int64, reason string) error {
	err := s.q.MessageSetPendingReason(ctx, s.pool, db.MessageSetPendingReasonParams{ID: messageID, PendingReason: reason})
	if err != nil {
		return fmt.Errorf("error noting why message %d is pending: %w", messageID, err)
	}
	return nil
}

// CountWaiting is the number of messages waiting for an earlier one of their conversation.
func (s *Service) CountWaiting(ctx context.Context) (int64, error) {
	n, err := s.q.MessageCountWaiting(ctx, s.pool)
	if err != nil {
		return 0, fmt.Errorf("error counting waiting messages: %w", err)
	}
	return n, nil
}

// ResumeStranded queues a send for pending messages that have had no send job for a while: the
// rare message whose job ended without an outcome (River discards a job rescued on its last
// attempt) or whose hand-over never came. hasJob reports whether River still holds a live send
// job for a message; resumed messages reconcile or send as their new job's claim decides. It
// returns how many it queued.
func (s *Service) ResumeStranded(ctx context.Context, idleFor time.Duration, hasJob func(ctx context.Context, messageID int64) (bool, error)) (int, error) {
	rows, err := s.q.MessageListStranded(ctx, s.pool, db.MessageListStrandedParams{
		Before: time.Now().Add(-idleFor), RowLimit: 100,
	})
	if err != nil {
		return 0, fmt.Errorf("error listing stranded messages: %w", err)
	}
	resumed := 0
	for _, r := range rows {
		live, err := hasJob(ctx, r.ID)
		if err != nil {
			return resumed, err
		}
		if live {
			continue
		}
		err = database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
			if err := s.q.MessageStopWaiting(ctx, tx, r.ID); err != nil {
				return fmt.Errorf("error resuming message %d: %w", r.ID, err)
			}
			return s.enqueueSend(ctx, tx, r.ID, r.SendGeneration, r.Sender)
		})
		if err != nil {
			return resumed, err
		}
		s.logger.WarnContext(ctx, "send resumed: a pending message had no send job", "message_id", r.ID)
		resumed++
	}
	return resumed, nil
}
