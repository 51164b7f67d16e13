package inbox

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/eventlog"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// StatusUpdate is one delivery status Meta reported for one of our outbound messages.
type StatusUpdate struct {
	WaMessageID string
	// MessageID is our message id when Meta echoed it in biz_opaque_callback_data, else 0. It is
	// kept with a status that arrives before its message is known, for reconciling later.
	MessageID int64
	// Status is sent, delivered, read or failed.
	Status string
	// At is Meta's timestamp of the status.
	At time.Time
	// Error is Meta's errors[0] of a failed status.
	ErrorCode    int
	ErrorTitle   string
	ErrorDetails string
	// WebhookEventID is the webhook the status came in, for a status that has to be kept.
	WebhookEventID int64
}

// StatusOutcome says what a status did to its message.
type StatusOutcome string

// Outcomes of ApplyStatusTx.
const (
	// StatusApplied: the message moved forward or gained a timestamp.
	StatusApplied StatusOutcome = "applied"
	// StatusUnchanged: a duplicate, or a late status whose step the message had passed and
	// recorded; nothing to write.
	StatusUnchanged StatusOutcome = "unchanged"
	// StatusIgnored: the status would move the message backwards (delivered after failed, failed
	// after delivered) or belongs to an earlier send of a message queued again. It is logged.
	StatusIgnored StatusOutcome = "ignored"
	// StatusKept: no message carries the wa_message_id yet; the status waits in early_statuses
	// until MarkSent records it.
	StatusKept StatusOutcome = "kept"
)

// StatusResult is what ApplyStatusTx did: Message is the message after it (zero when kept), and
// Reason explains an ignored status.
type StatusResult struct {
	Outcome StatusOutcome
	Message db.Message
	Reason  string
}

// statusRank orders the forward path of an outbound message.
var statusRank = map[string]int{StatusPending: 0, StatusSent: 1, StatusDelivered: 2, StatusRead: 3}

func (u *StatusUpdate) validate() error {
	switch u.Status {
	case whatsapp.StatusSent, whatsapp.StatusDelivered, whatsapp.StatusRead, whatsapp.StatusFailed:
	default:
		return &apperr.FieldError{Field: "status", Message: fmt.Sprintf("%q is not sent, delivered, read or failed", u.Status)}
	}
	if u.WaMessageID == "" {
		return &apperr.FieldError{Field: "id", Message: "is missing"}
	}
	if len(u.WaMessageID) > maxWaMessageIDLen {
		return &apperr.FieldError{Field: "id", Message: fmt.Sprintf("is %d bytes long", len(u.WaMessageID))}
	}
	return nil
}

// ApplyStatusTx applies one delivery status in tx, forward only: sent < delivered < read, each
// setting its timestamp from Meta's (the earliest one wins); failed records Meta's error and ends
// the path; a status that would move the message backwards is ignored; a status for a
// wa_message_id no message carries yet is kept and applied by MarkSent. Applied statuses write a
// message.status event, announced once the caller commits.
func (s *Service) ApplyStatusTx(ctx context.Context, tx pgx.Tx, u *StatusUpdate) (StatusResult, error) {
	if err := u.validate(); err != nil {
		return StatusResult{}, err
	}
	msg, err := s.q.MessageGetByWaIDForUpdate(ctx, tx, &u.WaMessageID)
	if errors.Is(err, pgx.ErrNoRows) {
		// Serialize with MarkSent of this wa_message_id, then look again: either its commit is
		// visible now, or it will find what this transaction keeps.
		if err := s.q.EarlyStatusLock(ctx, tx, u.WaMessageID); err != nil {
			return StatusResult{}, fmt.Errorf("error locking wa_message_id %s: %w", u.WaMessageID, err)
		}
		msg, err = s.q.MessageGetByWaIDForUpdate(ctx, tx, &u.WaMessageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return StatusResult{Outcome: StatusKept}, s.keepStatus(ctx, tx, u)
		}
	}
	if err != nil {
		return StatusResult{}, fmt.Errorf("error loading message %s: %w", u.WaMessageID, err)
	}
	return s.applyStatus(ctx, tx, &msg, u)
}

func (s *Service) keepStatus(ctx context.Context, tx pgx.Tx, u *StatusUpdate) error {
	p := db.EarlyStatusInsertParams{WaMessageID: u.WaMessageID, Status: u.Status, StatusAt: u.At}
	if u.MessageID != 0 {
		p.MessageID = &u.MessageID
	}
	if u.WebhookEventID != 0 {
		p.WebhookEventID = &u.WebhookEventID
	}
	if u.Status == StatusFailed {
		p.ErrorCode, p.ErrorTitle, p.ErrorDetails = failureColumns(u)
	}
	if err := s.q.EarlyStatusInsert(ctx, tx, p); err != nil {
		return fmt.Errorf("error keeping %s status of %s: %w", u.Status, u.WaMessageID, err)
	}
	return nil
}

func (s *Service) applyStatus(ctx context.Context, tx pgx.Tx, msg *db.Message, u *StatusUpdate) (StatusResult, error) {
	p, outcome, reason := nextStatus(msg, u)
	if outcome != StatusApplied {
		return StatusResult{Outcome: outcome, Message: *msg, Reason: reason}, nil
	}
	updated, err := s.q.MessageApplyStatus(ctx, tx, p)
	if err != nil {
		return StatusResult{}, fmt.Errorf("error applying %s status to message %d: %w", u.Status, msg.ID, err)
	}
	if err := s.events.Append(ctx, tx, eventlog.MessageStatus, updated.ConversationID, MessageEvent(&updated)); err != nil {
		return StatusResult{}, err
	}
	return StatusResult{Outcome: StatusApplied, Message: updated}, nil
}

// nextStatus computes what status u does to message m. It is the whole forward-only rule, kept
// free of the database so a table test can cover it.
func nextStatus(m *db.Message, u *StatusUpdate) (db.MessageApplyStatusParams, StatusOutcome, string) {
	p := db.MessageApplyStatusParams{
		ID: m.ID, Status: m.Status,
		SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt, FailedAt: m.FailedAt,
		ErrorCode: m.ErrorCode, ErrorTitle: m.ErrorTitle, ErrorDetails: m.ErrorDetails,
	}
	switch {
	case m.Direction != "out":
		return p, StatusIgnored, "the wa_message_id is of a customer's message"
	case m.Status == StatusPending:
		// Found by wa_message_id yet pending: the message failed and was queued again, and this
		// status is of the earlier send.
		return p, StatusIgnored, "the message was queued for a new send; the status is of an earlier one"
	case u.Status == StatusFailed && m.Status == StatusFailed:
		return p, StatusUnchanged, ""
	case u.Status == StatusFailed && m.Status != StatusSent:
		return p, StatusIgnored, "failed after " + m.Status + " would move the message backwards"
	case u.Status == StatusFailed:
		at := u.At
		p.Status, p.FailedAt = StatusFailed, &at
		p.ErrorCode, p.ErrorTitle, p.ErrorDetails = failureColumns(u)
		return p, StatusApplied, ""
	case m.Status == StatusFailed:
		return p, StatusIgnored, u.Status + " after failed: a failed message stays failed"
	}
	var stamp **time.Time
	switch u.Status {
	case StatusSent:
		stamp = &p.SentAt
	case StatusDelivered:
		stamp = &p.DeliveredAt
	case StatusRead:
		stamp = &p.ReadAt
	}
	changed := false
	if *stamp == nil || u.At.Before(**stamp) {
		at := u.At
		*stamp, changed = &at, true
	}
	if statusRank[u.Status] > statusRank[m.Status] {
		p.Status, changed = u.Status, true
	}
	if !changed {
		return p, StatusUnchanged, ""
	}
	return p, StatusApplied, ""
}

func failureColumns(u *StatusUpdate) (code *int32, title, details *string) {
	if u.ErrorCode != 0 && u.ErrorCode >= math.MinInt32 && u.ErrorCode <= math.MaxInt32 {
		c := int32(u.ErrorCode)
		code = &c
	}
	if u.ErrorTitle != "" {
		t := u.ErrorTitle
		title = &t
	}
	if u.ErrorDetails != "" {
		d := u.ErrorDetails
		details = &d
	}
	return code, title, details
}

// applyEarlyStatuses applies, in msg's transaction, the statuses that arrived before its
// wa_message_id was recorded, and returns the message after them.
func (s *Service) applyEarlyStatuses(ctx context.Context, tx pgx.Tx, msg db.Message) (db.Message, error) {
	if msg.WaMessageID == nil || *msg.WaMessageID == "" {
		return msg, nil
	}
	wa := *msg.WaMessageID
	if err := s.q.EarlyStatusLock(ctx, tx, wa); err != nil {
		return db.Message{}, fmt.Errorf("error locking wa_message_id %s: %w", wa, err)
	}
	kept, err := s.q.EarlyStatusTake(ctx, tx, wa)
	if err != nil {
		return db.Message{}, fmt.Errorf("error loading early statuses of %s: %w", wa, err)
	}
	for _, k := range kept {
		u := StatusUpdate{WaMessageID: wa, Status: k.Status, At: k.StatusAt}
		if k.ErrorCode != nil {
			u.ErrorCode = int(*k.ErrorCode)
		}
		if k.ErrorTitle != nil {
			u.ErrorTitle = *k.ErrorTitle
		}
		if k.ErrorDetails != nil {
			u.ErrorDetails = *k.ErrorDetails
		}
		res, err := s.applyStatus(ctx, tx, &msg, &u)
		if err != nil {
			return db.Message{}, err
		}
		if res.Outcome == StatusApplied {
			msg = res.Message
		} else if res.Outcome == StatusIgnored {
			s.logger.InfoContext(ctx, "early status ignored", "message_id", msg.ID, "conversation_id", msg.ConversationID,
				"status", u.Status, "message_status", msg.Status, "reason", res.Reason)
		}
	}
	return msg, nil
}
