package inbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
	"github.com/wainbox/wainbox/internal/eventlog"
)

// Conversation statuses.
const (
	ConversationBot      = "bot"
	ConversationOpen     = "open"
	ConversationPending  = "pending"
	ConversationSnoozed  = "snoozed"
	ConversationResolved = "resolved"
)

// waIDPattern is a phone number in international format without "+", as WhatsApp's wa_id is.
var waIDPattern = regexp.MustCompile(`^[1-9][0-9]{6,14}$`)

// EnsureChannel registers the business number this instance sends from; the first one becomes
// the default channel that agents start conversations on.
func (s *Service) EnsureChannel(ctx context.Context, p db.ChannelUpsertParams) (db.Channel, error) {
	ch, err := s.q.ChannelUpsert(ctx, s.pool, p)
	if err != nil {
		return db.Channel{}, fmt.Errorf("error registering channel %s: %w", p.PhoneNumberID, err)
	}
	return ch, nil
}

// StartConversation finds or opens the conversation with waID on the default channel and sends it
// the first message p writes, all in one transaction. An agent starting a conversation takes it,
// so it is open (a human's) rather than the bot's. p's right to write is checked as for any send,
// under the row lock; a caller who may not even read the customer's conversation (another agent's
// customer) is answered as if it did not exist, without its id, and nothing is written. The
// message is p's: in.Sender and in.SenderUserID are set from p.
func (s *Service) StartConversation(ctx context.Context, p *auth.Principal, waID string, in SendInput) (db.ConversationGetRow, db.Message, bool, error) {
	if p == nil {
		return db.ConversationGetRow{}, db.Message{}, false, errNoCaller
	}
	in.Sender, in.SenderUserID = SenderAgent, p.UserID
	return s.startConversation(ctx, p, waID, in)
}

// StartConversationAutomated is StartConversation for a message no person writes (in.Sender is
// SenderBot or SenderSystem): it decides no permission, since nobody is asking. The API never
// calls it; the bot's replies go through SendBotReply. It is for the system's own messages, and
// loads the conversations of tests and benchmarks.
func (s *Service) StartConversationAutomated(ctx context.Context, waID string, in SendInput) (db.ConversationGetRow, db.Message, bool, error) {
	if in.Sender != SenderBot && in.Sender != SenderSystem {
		return db.ConversationGetRow{}, db.Message{}, false, fmt.Errorf("inbox: an automated message is the bot's or the system's, not %q", in.Sender)
	}
	return s.startConversation(ctx, nil, waID, in)
}

// startConversation is StartConversation for p, or for no person when p is nil.
func (s *Service) startConversation(ctx context.Context, p *auth.Principal, waID string, in SendInput) (db.ConversationGetRow, db.Message, bool, error) {
	if !waIDPattern.MatchString(waID) {
		return db.ConversationGetRow{}, db.Message{}, false,
			&apperr.FieldError{Field: "wa_id", Message: "must be a phone number in international format, digits only (e.g. 16505551234)"}
	}
	if err := in.validate(); err != nil {
		return db.ConversationGetRow{}, db.Message{}, false, err
	}
	var (
		msg     db.Message
		created bool
	)
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		ch, err := s.q.ChannelGetDefault(ctx, tx)
		if err != nil {
			return fmt.Errorf("error loading default channel: %w", err)
		}
		contact, err := s.q.ContactUpsertByWaID(ctx, tx, db.ContactUpsertByWaIDParams{ChannelID: ch.ID, WaID: waID})
		if err != nil {
			return fmt.Errorf("error storing contact: %w", err)
		}
		up, err := s.q.ConversationUpsert(ctx, tx, db.ConversationUpsertParams{
			ChannelID: ch.ID, ContactID: contact.ID, Status: ConversationOpen,
		})
		if err != nil {
			return fmt.Errorf("error opening conversation: %w", err)
		}
		in.ConversationID = up.ID
		msg, err = s.insertOutbound(ctx, tx, p, in)
		var nf *apperr.NotFoundError
		if errors.As(err, &nf) {
			return &apperr.NotFoundError{What: "conversation", By: "wa_id", ID: waID}
		}
		if err != nil || !up.Inserted {
			return err
		}
		return s.events.Append(ctx, tx, eventlog.ConversationCreated, up.ID, map[string]any{
			"conversation_id": up.ID, "contact_id": contact.ID, "status": up.Status,
		})
	})
	switch {
	case errors.Is(err, errDuplicate):
		msg, err = s.existing(ctx, in)
	case err == nil:
		created = true
	}
	if err != nil {
		return db.ConversationGetRow{}, db.Message{}, false, err
	}
	row, err := s.LoadConversation(ctx, msg.ConversationID)
	return row, msg, created, err
}

// LoadConversation returns a conversation with its contact to a caller that acts for no person
// (the webhook's intake, workers), or once a use case has decided that its caller may see it: it
// decides no permission. Whoever acts for a person reads conversations through GetConversation.
func (s *Service) LoadConversation(ctx context.Context, id int64) (db.ConversationGetRow, error) {
	row, err := s.q.ConversationGet(ctx, s.pool, id)
	if err != nil {
		return db.ConversationGetRow{}, notFound(err, "conversation", id)
	}
	return row, nil
}

// ConversationCursor is a position in the conversation list: the last row of the previous page.
type ConversationCursor struct {
	LastMessageAt time.Time
	ID            int64
}

// ListMessages returns up to limit messages of a conversation p may read, newest first, older
// than beforeID when it is not zero. A conversation p may not read does not exist for them.
func (s *Service) ListMessages(ctx context.Context, p *auth.Principal, conversationID, beforeID int64, limit int) ([]db.Message, error) {
	if _, err := s.GetConversation(ctx, p, conversationID); err != nil {
		return nil, err
	}
	params := db.MessageListByConversationParams{ConversationID: conversationID, RowLimit: int32(limit)}
	if beforeID != 0 {
		params.BeforeID = &beforeID
	}
	msgs, err := s.q.MessageListByConversation(ctx, s.pool, params)
	if err != nil {
		return nil, fmt.Errorf("error listing messages of conversation %d: %w", conversationID, err)
	}
	return msgs, nil
}

// GetMessage returns a message of a conversation p may read; a message of any other conversation
// does not exist for them. Whether they may is decided on the row the message is read with.
func (s *Service) GetMessage(ctx context.Context, p *auth.Principal, id int64) (db.Message, error) {
	row, err := s.q.MessageGetWithAccess(ctx, s.pool, id)
	if err != nil {
		return db.Message{}, notFound(err, "message", id)
	}
	ref := auth.ConversationRef{AssigneeID: row.ConvAssigneeID, GroupID: row.ConvGroupID}
	if err := authorizeMessage(p, id, row.Message.ConversationID, ref, false); err != nil {
		return db.Message{}, err
	}
	return row.Message, nil
}

// LoadMessage returns one message to a caller that acts for no person (the bot's worker): it
// decides no permission. Whoever acts for a person reads messages through GetMessage.
func (s *Service) LoadMessage(ctx context.Context, id int64) (db.Message, error) {
	m, err := s.q.MessageGet(ctx, s.pool, id)
	if err != nil {
		return db.Message{}, notFound(err, "message", id)
	}
	return m, nil
}

// ConversationEvent is the small payload of conversation events.
func ConversationEvent(c *db.Conversation) map[string]any {
	return map[string]any{
		"conversation_id": c.ID,
		"contact_id":      c.ContactID,
		"status":          c.Status,
		"assignee_id":     c.AssigneeID,
		"unread_count":    c.UnreadCount,
		"last_message_at": c.LastMessageAt.UTC().Format(time.RFC3339Nano),
	}
}

// History actions.
const (
	ActionStatus     = "status"
	ActionAssign     = "assign"
	ActionTakeover   = "takeover"
	ActionRelease    = "release"
	ActionAutoAssign = "auto_assign"
)

// changed writes the history row and the conversation.updated event of one team action. Details
// of an assignment change carry previous_assignee_id (null: it was unassigned), and
// previous_group_id when the group changed: the hub delivers the event to those who could see the
// conversation before it, so their panels drop it (the real-time hub's Event.Former).
func (s *Service) changed(ctx context.Context, tx pgx.Tx, c *db.Conversation, actor *int64, action string, details map[string]any) error {
	b, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("error encoding history: %w", err)
	}
	h, err := s.q.HistoryInsert(ctx, tx, db.HistoryInsertParams{ConversationID: c.ID, ActorID: actor, Action: action, Details: b})
	if err != nil {
		return fmt.Errorf("error recording history of conversation %d: %w", c.ID, err)
	}
	ev := ConversationEvent(c)
	ev["group_id"] = c.GroupID
	ev["action"] = action
	ev["actor_id"] = actor
	ev["history_id"] = h.ID
	ev["details"] = json.RawMessage(b)
	return s.events.Append(ctx, tx, eventlog.ConversationUpdated, c.ID, ev)
}

// SetStatus moves a conversation to open, pending, snoozed (until snoozedUntil, or the
// customer's next message when nil) or resolved. Handing it to the bot is Release.
func (s *Service) SetStatus(ctx context.Context, p *auth.Principal, id int64, status string, snoozedUntil *time.Time) (db.ConversationGetRow, error) {
	switch status {
	case ConversationOpen, ConversationPending, ConversationResolved:
		if snoozedUntil != nil {
			return db.ConversationGetRow{}, &apperr.FieldError{Field: "snoozed_until", Message: "is only for status snoozed"}
		}
	case ConversationSnoozed:
		if snoozedUntil != nil && !snoozedUntil.After(s.now()) {
			return db.ConversationGetRow{}, &apperr.FieldError{Field: "snoozed_until", Message: "must be in the future"}
		}
	case ConversationBot:
		return db.ConversationGetRow{}, &apperr.FieldError{Field: "status", Message: "bot is reached through POST /api/conversations/{id}/release"}
	default:
		return db.ConversationGetRow{}, &apperr.FieldError{Field: "status", Message: "must be open, pending, snoozed or resolved"}
	}
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.forWrite(ctx, tx, p, id)
		if err != nil {
			return err
		}
		from := c.Status
		c, err = s.q.ConversationSetStatus(ctx, tx, db.ConversationSetStatusParams{ID: id, Status: status, SnoozedUntil: snoozedUntil})
		if err != nil {
			return fmt.Errorf("error setting status of conversation %d: %w", id, err)
		}
		if snoozedUntil != nil {
			// The wake-up is a job scheduled in the same transaction: no poller, and a snooze
			// changed later leaves this job matching nothing (ConversationWakeSnoozed).
			if _, err := s.queue.InsertTx(ctx, tx, WakeSnoozedArgs{ConversationID: id}, &river.InsertOpts{ScheduledAt: *snoozedUntil}); err != nil {
				return fmt.Errorf("error scheduling the end of the snooze of conversation %d: %w", id, err)
			}
		}
		return s.changed(ctx, tx, &c, &p.UserID, ActionStatus, map[string]any{"from": from, "to": status, "snoozed_until": snoozedUntil})
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	return s.LoadConversation(ctx, id)
}

// WakeSnoozedArgs is the wake_snoozed job: reopen a conversation when its snooze ends.
type WakeSnoozedArgs struct {
	ConversationID int64 `json:"conversation_id"`
}

// Kind is the River job kind.
func (WakeSnoozedArgs) Kind() string { return "wake_snoozed" }

// WakeSnoozed reopens a conversation whose snooze has ended, with a history row and an event; a
// conversation no longer snoozed, or snoozed again until later, is left alone. complete runs in
// the same transaction (the worker completes its job there).
func (s *Service) WakeSnoozed(ctx context.Context, id int64, complete func(pgx.Tx) error) error {
	return database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.q.ConversationWakeSnoozed(ctx, tx, id)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return fmt.Errorf("error waking conversation %d: %w", id, err)
		default:
			if err := s.changed(ctx, tx, &c, nil, ActionStatus, map[string]any{"from": ConversationSnoozed, "to": ConversationOpen, "reason": "snooze_ended"}); err != nil {
				return err
			}
		}
		if complete != nil {
			return complete(tx)
		}
		return nil
	})
}

// Takeover gives the caller a conversation the bot is answering (or an unassigned one): it becomes
// open and theirs in one statement, so the bot stops at once (its reply transaction re-checks the
// status under the row lock). Of agents racing, one wins; the others get a conflict, which names
// the conversation's status and assignee, or not found when they may no longer read it (the
// winner's conversation is not theirs to see), so a refusal tells nothing the caller could not
// read anyway.
func (s *Service) Takeover(ctx context.Context, p *auth.Principal, id int64) (db.ConversationGetRow, error) {
	if p == nil {
		return db.ConversationGetRow{}, errNoCaller
	}
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.q.ConversationTakeover(ctx, tx, db.ConversationTakeoverParams{ID: id, UserID: &p.UserID})
		if errors.Is(err, pgx.ErrNoRows) {
			cur, err := s.q.ConversationGetForUpdate(ctx, tx, id)
			if err != nil {
				return notFound(err, "conversation", id)
			}
			if err := authorize(p, &cur, false); err != nil {
				return err
			}
			if cur.AssigneeID != nil && *cur.AssigneeID == p.UserID {
				return apperr.Conflict("conversation %d is already yours", id)
			}
			return apperr.Conflict("conversation %d is not the bot's or free to take (status %s, assigned to %v)", id, cur.Status, derefID(cur.AssigneeID))
		}
		if err != nil {
			return fmt.Errorf("error taking over conversation %d: %w", id, err)
		}
		// The statement matched an unassigned conversation: decide on that state, which the
		// caller must be allowed to write (an agent may take from the pool, not from another team).
		before := auth.ConversationRef{GroupID: c.GroupID}
		if !auth.CanReadConversation(p, before) {
			return apperr.NotFound("conversation", id)
		}
		if !auth.CanWriteConversation(p, before) {
			return apperr.Forbidden("you may not take conversation %d", id)
		}
		return s.changed(ctx, tx, &c, &p.UserID, ActionTakeover, map[string]any{"assignee_id": p.UserID, "previous_assignee_id": nil})
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	return s.LoadConversation(ctx, id)
}

func derefID(id *int64) any {
	if id == nil {
		return "nobody"
	}
	return *id
}

// Release hands a conversation back to the bot: unassigned, unlocked, status bot. Its assignee
// may release it, and so may those who supervise.
func (s *Service) Release(ctx context.Context, p *auth.Principal, id int64) (db.ConversationGetRow, error) {
	if !s.botEnabled {
		return db.ConversationGetRow{}, apperr.Conflict("the bot is off, so conversation %d cannot be handed to it", id)
	}
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.forWrite(ctx, tx, p, id)
		if err != nil {
			return err
		}
		if c.Status == ConversationBot {
			return apperr.Conflict("conversation %d is already the bot's", id)
		}
		mine := c.AssigneeID != nil && *c.AssigneeID == p.UserID
		if !mine && c.AssigneeID != nil && !auth.CanSupervise(p) {
			return apperr.Forbidden("conversation %d is another agent's", id)
		}
		prev := c.AssigneeID
		c, err = s.q.ConversationRelease(ctx, tx, id)
		if err != nil {
			return fmt.Errorf("error releasing conversation %d: %w", id, err)
		}
		return s.changed(ctx, tx, &c, &p.UserID, ActionRelease, map[string]any{"previous_assignee_id": prev})
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	return s.LoadConversation(ctx, id)
}

// Assignment is a change of assignee and/or group; a Set flag says the field was given (a nil
// value with Set unassigns).
type Assignment struct {
	AgentID    *int64
	SetAgent   bool
	GroupID    *int64
	SetGroup   bool
	AutoAssign bool // internal: the change comes from auto-assignment
}

// Assign changes a conversation's agent and/or group. An agent may assign a conversation it can
// write to itself, unassign itself, or move it to a group; assigning another agent, or taking a
// conversation from one, needs the right to supervise. Assigning a group alone, when the group
// auto-assigns, hands the conversation round-robin to an available agent of it.
func (s *Service) Assign(ctx context.Context, p *auth.Principal, id int64, a Assignment) (db.ConversationGetRow, error) {
	if !a.SetAgent && !a.SetGroup {
		return db.ConversationGetRow{}, &apperr.FieldError{Field: "agent_id", Message: "agent_id or group_id is required"}
	}
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.forWrite(ctx, tx, p, id)
		if err != nil {
			return err
		}
		agent, group := c.AssigneeID, c.GroupID
		if a.SetAgent {
			self := a.AgentID != nil && *a.AgentID == p.UserID
			takesFromOther := c.AssigneeID != nil && *c.AssigneeID != p.UserID
			if (!self && a.AgentID != nil || takesFromOther) && !auth.CanSupervise(p) {
				return apperr.Forbidden("only supervisors assign conversations to other agents")
			}
			if a.AgentID != nil {
				u, err := s.q.UserGetByID(ctx, tx, *a.AgentID)
				if errors.Is(err, pgx.ErrNoRows) || (err == nil && u.DisabledAt != nil) {
					return &apperr.FieldError{Field: "agent_id", Message: fmt.Sprintf("user %d does not exist or is disabled", *a.AgentID)}
				}
				if err != nil {
					return fmt.Errorf("error loading user %d: %w", *a.AgentID, err)
				}
			}
			agent = a.AgentID
		}
		if a.SetGroup {
			if a.GroupID != nil {
				if _, err := s.q.GroupGet(ctx, tx, *a.GroupID); errors.Is(err, pgx.ErrNoRows) {
					return &apperr.FieldError{Field: "group_id", Message: fmt.Sprintf("group %d does not exist", *a.GroupID)}
				} else if err != nil {
					return fmt.Errorf("error loading group %d: %w", *a.GroupID, err)
				}
			}
			group = a.GroupID
		}
		prevAgent, prevGroup := c.AssigneeID, c.GroupID
		c, err = s.q.ConversationAssign(ctx, tx, db.ConversationAssignParams{ID: id, AssigneeID: agent, GroupID: group})
		if err != nil {
			return fmt.Errorf("error assigning conversation %d: %w", id, err)
		}
		if err := s.changed(ctx, tx, &c, &p.UserID, ActionAssign, map[string]any{
			"assignee_id": c.AssigneeID, "group_id": c.GroupID,
			"previous_assignee_id": prevAgent, "previous_group_id": prevGroup,
		}); err != nil {
			return err
		}
		if !a.SetAgent && c.AssigneeID == nil {
			_, err = s.AutoAssignTx(ctx, tx, &c)
		}
		return err
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	return s.LoadConversation(ctx, id)
}

// AutoAssignTx hands an unassigned conversation of an auto-assigning group to the group's next
// available agent (round-robin among online agents below their capacity), in the caller's
// transaction which must hold the conversation's row lock. It reports whether it assigned; with no
// agent available the conversation stays in the group's queue. Intake and the bot's hand-off call
// it for conversations that become human.
func (s *Service) AutoAssignTx(ctx context.Context, tx pgx.Tx, c *db.Conversation) (bool, error) {
	if c.GroupID == nil || c.AssigneeID != nil || c.Status == ConversationBot || c.Status == ConversationResolved {
		return false, nil
	}
	g, err := s.q.GroupGet(ctx, tx, *c.GroupID)
	if err != nil {
		return false, fmt.Errorf("error loading group %d: %w", *c.GroupID, err)
	}
	if !g.Group.AutoAssign {
		return false, nil
	}
	agent, err := s.q.GroupPickAgent(ctx, tx, *c.GroupID)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("error picking an agent of group %d: %w", *c.GroupID, err)
	}
	updated, err := s.q.ConversationAssign(ctx, tx, db.ConversationAssignParams{ID: c.ID, AssigneeID: &agent, GroupID: c.GroupID})
	if err != nil {
		return false, fmt.Errorf("error auto-assigning conversation %d: %w", c.ID, err)
	}
	*c = updated
	return true, s.changed(ctx, tx, c, nil, ActionAutoAssign, map[string]any{"assignee_id": agent, "group_id": c.GroupID, "previous_assignee_id": nil})
}
