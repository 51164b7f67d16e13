package inbox

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"sort"
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

// Validate checks what a status must have to be applied; its error is an *apperr.FieldError naming
// the field (status for one wainbox does not know).
func (u *StatusUpdate) Validate() error {
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

// ApplyStatusTx applies one delivery status in tx; it is ApplyStatusesTx of one.
func (s *Service) ApplyStatusTx(ctx context.Context, tx pgx.Tx, u *StatusUpdate) (StatusResult, error) {
	res, err := s.ApplyStatusesTx(ctx, tx, []StatusUpdate{*u})
	if err != nil {
		return StatusResult{}, err
	}
	return res[0], nil
}

// nextStatus computes what status u does to message m. It is the whole forward-only rule, kept
// free of the database so a table test can cover it.
func nextStatus(m *db.Message, u *StatusUpdate) (statusColumns, StatusOutcome, string) {
	p := statusColumns{
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
// wa_message_id was recorded, and returns the message after them (written, when they changed it,
// in one statement; the caller writes its event). MarkSent's statement took EarlyStatusLock.
func (s *Service) applyEarlyStatuses(ctx context.Context, tx pgx.Tx, msg db.Message) (db.Message, error) {
	if msg.WaMessageID == nil || *msg.WaMessageID == "" {
		return msg, nil
	}
	wa := *msg.WaMessageID
	kept, err := s.q.EarlyStatusTake(ctx, tx, wa)
	if err != nil {
		return db.Message{}, fmt.Errorf("error loading early statuses of %s: %w", wa, err)
	}
	if len(kept) == 0 {
		return msg, nil
	}
	updates := make([]StatusUpdate, len(kept))
	for i, k := range kept {
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
		updates[i] = u
	}
	f := fold(map[string]*db.Message{wa: &msg}, updates, nil)
	for i, r := range f.results {
		if r.Outcome == StatusIgnored {
			s.logger.InfoContext(ctx, "early status ignored", "message_id", msg.ID, "conversation_id", msg.ConversationID,
				"status", updates[i].Status, "message_status", r.Message.Status, "reason", r.Reason)
		}
	}
	if len(f.changed) == 0 {
		return msg, nil
	}
	written, err := s.writeStatuses(ctx, tx, f.changed)
	if err != nil {
		return db.Message{}, err
	}
	return written[msg.ID], nil
}

// ApplyStatusesTx applies a batch of delivery statuses in tx, in their order, with a few
// statements whatever the batch's size: the rule is ApplyStatusTx's, decided in memory on the
// locked messages. Forward only: sent < delivered < read, each setting its timestamp from Meta's
// (the earliest one wins); failed records Meta's error and ends the path; a status that would move
// its message backwards is ignored; a status for a wa_message_id no message carries yet is kept
// and applied by MarkSent. Several statuses of one message (sent, delivered and read in one batch)
// fold into one write and one message.status event with the message as they leave it, announced
// once the caller commits. results[i] is what updates[i] did; an applied status's Message is the
// message after the whole batch.
//
// Statements: take the EarlyStatusLock of every wa_message_id (in key order), then lock their
// messages (in id order): every batch takes its locks in this one order, so two batches sharing
// messages never wait for each other in a cycle. Then keep the statuses no message carries in one
// insert, write the changed messages in one update and append their events in one insert.
func (s *Service) ApplyStatusesTx(ctx context.Context, tx pgx.Tx, updates []StatusUpdate) ([]StatusResult, error) {
	if len(updates) == 0 {
		return nil, nil
	}
	for i := range updates {
		if err := updates[i].Validate(); err != nil {
			return nil, err
		}
	}
	ids := make([]string, 0, len(updates))
	seen := make(map[string]bool, len(updates))
	for i := range updates {
		if wa := updates[i].WaMessageID; !seen[wa] {
			seen[wa] = true
			ids = append(ids, wa)
		}
	}
	sort.Strings(ids)
	// Serialize with MarkSent of these wa_message_ids before looking for their messages: either
	// its commit is visible to the next statement, or it will find what this transaction keeps.
	if err := s.q.EarlyStatusLockMany(ctx, tx, ids); err != nil {
		return nil, fmt.Errorf("error locking %d wa_message_ids: %w", len(ids), err)
	}
	rows, err := s.q.MessageLockByWaIDs(ctx, tx, ids)
	if err != nil {
		return nil, fmt.Errorf("error loading messages of %d wa_message_ids: %w", len(ids), err)
	}
	msgs := make(map[string]*db.Message, len(rows))
	for i := range rows {
		msgs[*rows[i].WaMessageID] = &rows[i]
	}
	f := fold(msgs, updates, make(map[int64]bool))
	if len(f.kept) > 0 {
		if err := s.keepStatuses(ctx, tx, f.kept); err != nil {
			return nil, err
		}
	}
	if len(f.changed) == 0 {
		return f.results, nil
	}
	written, err := s.writeStatuses(ctx, tx, f.changed)
	if err != nil {
		return nil, err
	}
	events := make([]eventlog.Event, len(f.changed))
	for i, m := range f.changed {
		w := written[m.ID]
		events[i] = eventlog.Event{Kind: eventlog.MessageStatus, ConversationID: w.ConversationID, Payload: MessageEvent(&w)}
	}
	if err := s.events.AppendAll(ctx, tx, events...); err != nil {
		return nil, err
	}
	for i := range f.results {
		if r := &f.results[i]; r.Outcome == StatusApplied {
			r.Message = written[r.Message.ID]
		}
	}
	return f.results, nil
}

// folded is what a batch of statuses does to the messages, decided in memory.
type folded struct {
	results []StatusResult
	// changed are the messages some status moved, in the order they first moved, as they end.
	changed []*db.Message
	// kept are the statuses no message carries the wa_message_id of.
	kept []StatusUpdate
}

// fold applies updates in order to the messages of msgs (by wa_message_id), changing them in
// place; an update whose message is absent is kept. queued, when not nil, remembers which
// messages are in changed; with nil, every message is assumed absent from it at the start.
func fold(msgs map[string]*db.Message, updates []StatusUpdate, queued map[int64]bool) folded {
	if queued == nil {
		queued = make(map[int64]bool)
	}
	f := folded{results: make([]StatusResult, len(updates))}
	for i := range updates {
		u := &updates[i]
		m := msgs[u.WaMessageID]
		if m == nil {
			f.results[i] = StatusResult{Outcome: StatusKept}
			f.kept = append(f.kept, *u)
			continue
		}
		p, outcome, reason := nextStatus(m, u)
		if outcome == StatusApplied {
			m.Status, m.SentAt, m.DeliveredAt, m.ReadAt, m.FailedAt = p.Status, p.SentAt, p.DeliveredAt, p.ReadAt, p.FailedAt
			m.ErrorCode, m.ErrorTitle, m.ErrorDetails = p.ErrorCode, p.ErrorTitle, p.ErrorDetails
			if !queued[m.ID] {
				queued[m.ID] = true
				f.changed = append(f.changed, m)
			}
		}
		f.results[i] = StatusResult{Outcome: outcome, Message: *m, Reason: reason}
	}
	return f
}

// statusColumns is one row of MessageApplyStatuses: the columns a status writes.
type statusColumns struct {
	ID           int64      `json:"id"`
	Status       string     `json:"status"`
	SentAt       *time.Time `json:"sent_at"`
	DeliveredAt  *time.Time `json:"delivered_at"`
	ReadAt       *time.Time `json:"read_at"`
	FailedAt     *time.Time `json:"failed_at"`
	ErrorCode    *int32     `json:"error_code"`
	ErrorTitle   *string    `json:"error_title"`
	ErrorDetails *string    `json:"error_details"`
}

// writeStatuses writes the status columns of the changed messages in one statement and returns
// the rows as written, by id.
func (s *Service) writeStatuses(ctx context.Context, tx pgx.Tx, changed []*db.Message) (map[int64]db.Message, error) {
	cols := make([]statusColumns, len(changed))
	for i, m := range changed {
		cols[i] = statusColumns{ID: m.ID, Status: m.Status, SentAt: m.SentAt, DeliveredAt: m.DeliveredAt, ReadAt: m.ReadAt,
			FailedAt: m.FailedAt, ErrorCode: m.ErrorCode, ErrorTitle: m.ErrorTitle, ErrorDetails: m.ErrorDetails}
	}
	b, err := json.Marshal(cols)
	if err != nil {
		return nil, fmt.Errorf("error encoding statuses of %d messages: %w", len(changed), err)
	}
	rows, err := s.q.MessageApplyStatuses(ctx, tx, b)
	if err != nil {
		return nil, fmt.Errorf("error applying statuses to %d messages: %w", len(changed), err)
	}
	written := make(map[int64]db.Message, len(rows))
	for _, r := range rows {
		written[r.ID] = r
	}
	return written, nil
}

// keptStatus is one row of EarlyStatusInsertMany.
type keptStatus struct {
	WaMessageID    string    `json:"wa_message_id"`
	Status         string    `json:"status"`
	StatusAt       time.Time `json:"status_at"`
	MessageID      *int64    `json:"message_id"`
	ErrorCode      *int32    `json:"error_code"`
	ErrorTitle     *string   `json:"error_title"`
	ErrorDetails   *string   `json:"error_details"`
	WebhookEventID *int64    `json:"webhook_event_id"`
}

// keepStatuses keeps statuses whose message is not known yet (early_statuses), in one statement.
func (s *Service) keepStatuses(ctx context.Context, tx pgx.Tx, updates []StatusUpdate) error {
	rows := make([]keptStatus, len(updates))
	for i := range updates {
		u := &updates[i]
		k := keptStatus{WaMessageID: u.WaMessageID, Status: u.Status, StatusAt: u.At}
		if u.MessageID != 0 {
			k.MessageID = &u.MessageID
		}
		if u.WebhookEventID != 0 {
			k.WebhookEventID = &u.WebhookEventID
		}
		if u.Status == StatusFailed {
			k.ErrorCode, k.ErrorTitle, k.ErrorDetails = failureColumns(u)
		}
		rows[i] = k
	}
	b, err := json.Marshal(rows)
	if err != nil {
		return fmt.Errorf("error encoding %d statuses to keep: %w", len(rows), err)
	}
	if err := s.q.EarlyStatusInsertMany(ctx, tx, b); err != nil {
		return fmt.Errorf("error keeping %d statuses: %w", len(rows), err)
	}
	return nil
}
