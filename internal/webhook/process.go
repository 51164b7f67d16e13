package webhook

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/templates"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// Processor applies stored webhooks to the inbox (and template verdicts to the templates).
type Processor struct {
	inbox     *inbox.Service
	templates TemplateStatuses
	q         *db.Queries
	// channels caches the channels found by phone_number_id: a channel row never changes the
	// fields processing uses, and the lookup would otherwise cost a query per webhook. Unknown
	// numbers are not cached, so a channel registered later is found.
	channels sync.Map // string -> *db.Channel
}

// TemplateStatuses applies message_template_status_update changes; *templates.Service is one.
type TemplateStatuses interface {
	ApplyStatusTx(ctx context.Context, tx pgx.Tx, u *templates.StatusUpdate) (known bool, err error)
}

// NewProcessor returns a Processor writing through in, and through ts when it is not nil
// (without it, template status changes are recorded as problems).
func NewProcessor(in *inbox.Service, ts TemplateStatuses) (*Processor, error) {
	if in == nil {
		return nil, errors.New("webhook: an inbox is required")
	}
	return &Processor{inbox: in, templates: ts, q: db.New()}, nil
}

// Result is what one webhook did. The worker logs it after the commit, so nothing is reported that
// a rollback undid.
type Result struct {
	EventID int64
	// ReceivedAt is when the webhook was stored (its intake transaction).
	ReceivedAt time.Time
	// Missing: no webhook_events row has EventID (it was deleted); nothing was done.
	Missing bool
	// AlreadyProcessed: an earlier run applied the webhook; nothing was done.
	AlreadyProcessed bool
	// Received lists the messages stored; Duplicates counts those stored before.
	Received   []inbox.Received
	Duplicates int
	// MessageErrors are the errors Meta attached to inbound messages (an unsupported type, ...),
	// whose messages were stored.
	MessageErrors []MessageError
	// Statuses lists every status with what it did.
	Statuses []StatusApplied
	// Templates lists the template status changes applied (Known false: the template was not
	// stored here, and a sync was asked for).
	Templates []TemplateApplied
	// Problems were recorded in webhook_errors.
	Problems []Problem
}

// TemplateApplied is one template status change and whether its template was known.
type TemplateApplied struct {
	TemplateStatus
	Known bool
}

// MessageError is an error Meta attached to a stored inbound message.
type MessageError struct {
	MessageID      int64
	ConversationID int64
	Code           int
	Title          string
}

// StatusApplied is one status and its outcome.
type StatusApplied struct {
	Update inbox.StatusUpdate
	Result inbox.StatusResult
}

// Changed reports whether the webhook wrote anything agents see, so the caller rings the doorbell.
func (r *Result) Changed() bool {
	if len(r.Received) > 0 {
		return true
	}
	for i := range r.Statuses {
		if r.Statuses[i].Result.Outcome == inbox.StatusApplied {
			return true
		}
	}
	return false
}

// Process applies stored webhook eventID alone in tx: every entry × change × message, status and
// error. What cannot be applied (an unknown number, an unreadable element, Meta's value-level
// errors) is recorded in webhook_errors, not retried: retrying would not change it. Anything else
// that fails returns an error, and the caller rolls the whole webhook back and retries it. The
// webhook is marked processed in tx, and a webhook processed before is not applied again; a
// webhook another transaction holds (a batch applying it) is waited for.
func (p *Processor) Process(ctx context.Context, tx pgx.Tx, eventID int64) (*Result, error) {
	row, err := p.q.WebhookEventClaim(ctx, tx, eventID)
	if errors.Is(err, pgx.ErrNoRows) {
		exists, err := p.q.WebhookEventExists(ctx, tx, eventID)
		if err != nil {
			return nil, fmt.Errorf("error loading webhook %d: %w", eventID, err)
		}
		return &Result{EventID: eventID, Missing: !exists, AlreadyProcessed: exists}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("error loading webhook %d: %w", eventID, err)
	}
	res, err := p.apply(ctx, tx, []stored{{id: eventID, body: row.Body, receivedAt: row.ReceivedAt}})
	if err != nil {
		return nil, err
	}
	return res[0], nil
}

// ProcessBatch applies in tx, as Process does each one, webhook eventID and up to size-1 of the
// oldest other unprocessed webhooks that no other transaction holds, and returns what each did,
// oldest first. eventID is left out when another transaction holds it, when it was processed, and
// when it failed processed alone (see WebhookEventClaimBatch); the caller then processes it with
// Process. Any error rolls the whole batch back.
//
// A batch costs a fixed handful of statements for all its statuses, where each webhook alone costs
// a transaction and a few statements per status: that is the point of it.
func (p *Processor) ProcessBatch(ctx context.Context, tx pgx.Tx, eventID int64, size int) ([]*Result, error) {
	rows, err := p.q.WebhookEventClaimBatch(ctx, tx, db.WebhookEventClaimBatchParams{ID: eventID, Others: int32(max(size-1, 0))})
	if err != nil {
		return nil, fmt.Errorf("error claiming webhooks with %d: %w", eventID, err)
	}
	events := make([]stored, len(rows))
	for i, r := range rows {
		events[i] = stored{id: r.ID, body: r.Body, receivedAt: r.ReceivedAt}
	}
	slices.SortFunc(events, func(a, b stored) int { return cmp.Compare(a.id, b.id) })
	return p.apply(ctx, tx, events)
}

// stored is a claimed webhook_events row.
type stored struct {
	id         int64
	body       []byte
	receivedAt time.Time
}

// inboundItem is an inbound message of a batch, with the webhook it came in.
type inboundItem struct {
	res     *Result
	channel *db.Channel
	change  *Change
	message *Message
}

// statusItem is a status of a batch, with the webhook it came in.
type statusItem struct {
	res    *Result
	update inbox.StatusUpdate
}

// apply applies claimed webhooks in tx. The customers' messages are stored first, ordered by
// business number and sender (a customer's own messages keep their order), so that two batches
// lock contacts and conversations in the same order; then every status of every webhook is
// applied at once (inbox.ApplyStatusesTx), in the webhooks' order.
func (p *Processor) apply(ctx context.Context, tx pgx.Tx, events []stored) ([]*Result, error) {
	results := make([]*Result, len(events))
	var (
		inbound  []inboundItem
		statuses []statusItem
		channels = map[string]*db.Channel{}
	)
	for i := range events {
		ev := &events[i]
		res := &Result{EventID: ev.id, ReceivedAt: ev.receivedAt}
		results[i] = res
		batch := Parse(ev.body)
		res.Problems = batch.Problems
		for j := range batch.Changes {
			c := &batch.Changes[j]
			ch, err := p.channel(ctx, tx, c.PhoneNumberID, channels)
			if err != nil {
				return nil, err
			}
			if ch == nil {
				res.Problems = append(res.Problems, Problem{
					Kind: ProblemUnknownNumber, PhoneNumberID: c.PhoneNumberID,
					Title: "no channel has this phone_number_id",
					Details: fmt.Sprintf("%d messages, %d statuses and %d errors skipped",
						len(c.Messages), len(c.Statuses), len(c.Errors)),
				})
				continue
			}
			for _, e := range c.Errors {
				raw, _ := json.Marshal(e)
				res.Problems = append(res.Problems, Problem{
					Kind: ProblemValueError, PhoneNumberID: c.PhoneNumberID, Code: e.Code,
					Title: e.Title, Details: errorDetails(&e), Raw: raw,
				})
			}
			for k := range c.Messages {
				inbound = append(inbound, inboundItem{res: res, channel: ch, change: c, message: &c.Messages[k]})
			}
			for k := range c.Statuses {
				if u, ok := statusUpdate(res, c, &c.Statuses[k]); ok {
					statuses = append(statuses, statusItem{res: res, update: u})
				}
			}
		}
		if err := p.applyTemplates(ctx, tx, res, batch.TemplateStatuses); err != nil {
			return nil, err
		}
	}
	slices.SortStableFunc(inbound, func(a, b inboundItem) int {
		return cmp.Or(cmp.Compare(a.channel.ID, b.channel.ID), cmp.Compare(a.message.From, b.message.From))
	})
	for i := range inbound {
		it := &inbound[i]
		if err := p.applyMessage(ctx, tx, it.res, it.channel, it.change, it.message); err != nil {
			return nil, err
		}
	}
	if len(statuses) > 0 {
		updates := make([]inbox.StatusUpdate, len(statuses))
		for i := range statuses {
			updates[i] = statuses[i].update
		}
		applied, err := p.inbox.ApplyStatusesTx(ctx, tx, updates)
		if err != nil {
			return nil, err
		}
		for i := range statuses {
			it := &statuses[i]
			it.res.Statuses = append(it.res.Statuses, StatusApplied{Update: it.update, Result: applied[i]})
		}
	}
	for _, res := range results {
		for i := range res.Problems {
			if err := p.record(ctx, tx, res.EventID, &res.Problems[i]); err != nil {
				return nil, err
			}
		}
	}
	return results, nil
}

// channel finds the channel of a business number: in the batch's map, the Processor's cache, then
// the database. nil: no channel has it.
func (p *Processor) channel(ctx context.Context, tx pgx.Tx, phoneNumberID string, channels map[string]*db.Channel) (*db.Channel, error) {
	if ch, ok := channels[phoneNumberID]; ok {
		return ch, nil
	}
	var ch *db.Channel
	if cached, hit := p.channels.Load(phoneNumberID); hit {
		ch = cached.(*db.Channel)
	} else {
		found, err := p.q.ChannelGetByPhoneNumberID(ctx, tx, phoneNumberID)
		switch {
		case err == nil:
			ch = &found
			p.channels.Store(phoneNumberID, ch)
		case !errors.Is(err, pgx.ErrNoRows):
			return nil, fmt.Errorf("error loading channel %s: %w", phoneNumberID, err)
		}
	}
	channels[phoneNumberID] = ch
	return ch, nil
}

// applyTemplates applies a webhook's template status changes, or records them as unhandled when
// the Processor has no templates.
func (p *Processor) applyTemplates(ctx context.Context, tx pgx.Tx, res *Result, changes []TemplateStatus) error {
	for _, ts := range changes {
		if p.templates == nil {
			raw, _ := json.Marshal(ts)
			res.Problems = append(res.Problems, Problem{Kind: ProblemUnhandledField,
				Title: "a change of field " + strconv.Quote(FieldTemplateStatus) + " is not handled", Raw: raw})
			continue
		}
		known, err := p.templates.ApplyStatusTx(ctx, tx, &templates.StatusUpdate{
			MetaID: ts.MetaID.String(), Name: ts.Name, Language: ts.Language, Event: ts.Event, Reason: ts.Reason,
		})
		if err != nil {
			return err
		}
		res.Templates = append(res.Templates, TemplateApplied{TemplateStatus: ts, Known: known})
	}
	return nil
}

func (p *Processor) applyMessage(ctx context.Context, tx pgx.Tx, res *Result, ch *db.Channel, c *Change, m *Message) error {
	r, err := p.inbox.ReceiveTx(ctx, tx, &inbox.Inbound{
		ChannelID: ch.ID,
		Contact:   sender(c, &m.InboundMessage),
		Message:   &m.InboundMessage,
		Payload:   m.Raw,
		At:        timestamp(m.Timestamp),
	})
	var ve *apperr.FieldError
	if errors.As(err, &ve) {
		res.Problems = append(res.Problems, Problem{
			Kind: ProblemInvalid, PhoneNumberID: c.PhoneNumberID, Title: "a message was not stored", Details: ve.Error(), Raw: m.Raw,
		})
		return nil
	}
	if err != nil {
		return err
	}
	if r.Duplicate {
		res.Duplicates++
		return nil
	}
	res.Received = append(res.Received, r)
	for _, e := range m.Errors {
		res.MessageErrors = append(res.MessageErrors, MessageError{
			MessageID: r.Message.ID, ConversationID: r.Message.ConversationID, Code: e.Code, Title: e.Title,
		})
	}
	return nil
}

// statusUpdate reads status s of webhook res as an update to apply; one that cannot be applied is
// recorded as a problem of res instead (false).
func statusUpdate(res *Result, c *Change, s *Status) (inbox.StatusUpdate, bool) {
	u := inbox.StatusUpdate{
		WaMessageID:    s.ID,
		Status:         s.Status.Status,
		At:             timestamp(s.Timestamp),
		WebhookEventID: res.EventID,
	}
	if id, err := strconv.ParseInt(s.BizOpaqueCallbackData, 10, 64); err == nil && id > 0 {
		u.MessageID = id
	}
	if len(s.Errors) > 0 {
		e := &s.Errors[0]
		u.ErrorCode, u.ErrorTitle, u.ErrorDetails = e.Code, e.Title, errorDetails(e)
	}
	if err := u.Validate(); err != nil {
		kind := ProblemInvalid
		if ve, ok := errors.AsType[*apperr.FieldError](err); ok && ve.Field == "status" {
			kind = ProblemUnknownStatus
		}
		res.Problems = append(res.Problems, Problem{
			Kind: kind, PhoneNumberID: c.PhoneNumberID, Title: "a status was not applied", Details: err.Error(), Raw: s.Raw,
		})
		return u, false
	}
	return u, true
}

func (p *Processor) record(ctx context.Context, tx pgx.Tx, eventID int64, pr *Problem) error {
	params := db.WebhookErrorInsertParams{
		WebhookEventID: eventID, Kind: pr.Kind, PhoneNumberID: cleanString(pr.PhoneNumberID),
		Title: cleanString(pr.Title), Details: cleanString(pr.Details), Payload: pr.Raw,
	}
	if pr.Code != 0 && pr.Code >= math.MinInt32 && pr.Code <= math.MaxInt32 {
		code := int32(pr.Code)
		params.Code = &code
	}
	if err := p.q.WebhookErrorInsert(ctx, tx, params); err != nil {
		return fmt.Errorf("error recording %s problem of webhook %d: %w", pr.Kind, eventID, err)
	}
	return nil
}

// sender is the customer who sent m: the contact whose wa_id is m.From, or the only contact of the
// change (a username user's message may carry no phone number).
func sender(c *Change, m *whatsapp.InboundMessage) inbox.InboundContact {
	ic := inbox.InboundContact{WaID: m.From}
	if strings.Contains(m.From, ".") {
		// A business-scoped user id (CC.digits) where a phone number would be.
		ic = inbox.InboundContact{UserID: m.From}
	}
	var match *whatsapp.Contact
	for i := range c.Contacts {
		ct := &c.Contacts[i]
		if (ic.WaID != "" && ct.WaID == ic.WaID) || (ic.UserID != "" && ct.UserID == ic.UserID) {
			match = ct
			break
		}
	}
	if match == nil && len(c.Contacts) == 1 && (c.Contacts[0].WaID == "" || ic.WaID == "") {
		match = &c.Contacts[0]
	}
	if match != nil {
		ic.ProfileName = match.Profile.Name
		if ic.WaID == "" {
			ic.WaID = match.WaID
		}
		if ic.UserID == "" {
			ic.UserID = match.UserID
		}
	}
	return ic
}

// earliestTimestamp and latestTimestamp bound the timestamps wainbox believes; Meta's are unix
// seconds, and one outside the bounds (or unreadable) is replaced by the time of processing.
var earliestTimestamp = time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)

func timestamp(s string) time.Time {
	now := time.Now()
	t, err := whatsapp.ParseTimestamp(s)
	if err != nil || t.Before(earliestTimestamp) || t.After(now.Add(24*time.Hour)) {
		return now.UTC()
	}
	return t
}

func errorDetails(e *whatsapp.Error) string {
	if e.ErrorData.Details != "" {
		return e.ErrorData.Details
	}
	return e.Message
}
