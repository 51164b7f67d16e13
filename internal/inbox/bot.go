package inbox

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/auth"
	"github.com/wainbox/wainbox/internal/database"
)

// BotReplyMaxAttempts bounds the Gemini calls for one customer message: a few quick retries of a
// throttled or failing Gemini, then the worker hands the conversation to a person, since the
// customer is waiting.
const BotReplyMaxAttempts = 4

// InsertOpts gives every bot_reply job its small attempt budget, wherever it is queued.
func (BotReplyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: BotReplyMaxAttempts}
}

// CustomerServiceWindow is WhatsApp's customer-service window: free-form messages may be sent
// until 24 hours after the customer's last message; after it only templates.
const CustomerServiceWindow = 24 * time.Hour

// windowMargin keeps the bot from writing in the window's last minute, when the send could land
// after it closes.
const windowMargin = time.Minute

// WindowOpen reports whether a free-form message may still be sent at now to a customer whose last
// message was at lastInbound.
func WindowOpen(lastInbound *time.Time, now time.Time) bool {
	return lastInbound != nil && now.Sub(*lastInbound) < CustomerServiceWindow-windowMargin
}

// Bot run outcomes (bot_runs.outcome).
const (
	BotReplied   = "replied"
	BotHandedOff = "handed_off"
	BotSkipped   = "skipped"
)

// Reasons the bot skipped a message or handed a conversation off (bot_runs.reason).
const (
	BotReasonNotBot        = "not_bot"        // an agent has the conversation now
	BotReasonSuperseded    = "superseded"     // a newer customer message will be answered instead
	BotReasonDuplicate     = "duplicate"      // this message was answered before
	BotReasonWindowClosed  = "window_closed"  // outside the 24-hour window: no free-form text
	BotReasonCustomerAsked = "customer_asked" // the customer asked for a person
	BotReasonModel         = "model"          // Gemini said a person should take over
	BotReasonMaxReplies    = "max_replies"    // the bot answered enough times without resolving
	BotReasonGeminiError   = "gemini_error"   // Gemini kept failing
	BotReasonBotOff        = "bot_off"        // the bot is switched off globally
)

// BotContext is what the bot needs to answer a conversation.
type BotContext struct {
	Conversation db.Conversation
	// LastInboundAt starts the customer-service window.
	LastInboundAt *time.Time
	// LatestInboundID is the newest customer message the bot would answer.
	LatestInboundID int64
	// History is the newest messages, oldest first.
	History []db.Message
	// RepliesInSession counts the bot's replies since a person (or a hand-off notice) last wrote
	// to the customer, within the current window.
	RepliesInSession int
}

// LoadBotContext loads a conversation for the bot with its last historyLimit messages.
func (s *Service) LoadBotContext(ctx context.Context, conversationID int64, historyLimit int) (BotContext, error) {
	row, err := s.q.BotConversationGet(ctx, s.pool, conversationID)
	if err != nil {
		return BotContext{}, notFound(err, "conversation", conversationID)
	}
	bc := BotContext{Conversation: row.Conversation, LastInboundAt: row.LastInboundAt}
	if bc.LatestInboundID, err = s.q.BotLatestInboundID(ctx, s.pool, conversationID); err != nil {
		return BotContext{}, fmt.Errorf("error loading latest message of conversation %d: %w", conversationID, err)
	}
	history, err := s.q.BotHistory(ctx, s.pool, db.BotHistoryParams{ConversationID: conversationID, RowLimit: int32(historyLimit)})
	if err != nil {
		return BotContext{}, fmt.Errorf("error loading history of conversation %d: %w", conversationID, err)
	}
	slices.Reverse(history)
	bc.History = history
	n, err := s.q.BotRepliesInSession(ctx, s.pool, db.BotRepliesInSessionParams{
		ConversationID: conversationID, Since: s.now().Add(-CustomerServiceWindow),
	})
	if err != nil {
		return BotContext{}, fmt.Errorf("error counting bot replies of conversation %d: %w", conversationID, err)
	}
	bc.RepliesInSession = int(n)
	return bc, nil
}

// BotUsage is the Gemini tokens one bot run used.
type BotUsage struct {
	Model                     string
	Prompt, Candidates, Total int
}

// BotReply is what the bot decided for one customer message.
type BotReply struct {
	ConversationID int64
	// TriggerMessageID is the customer message whose job decided; the reply's client_id derives
	// from it, so the same decision cannot be stored twice.
	TriggerMessageID int64
	// Text is the bot's reply; empty sends none.
	Text string
	// Handoff hands the conversation to a person, for HandoffReason. When Text is empty,
	// HandoffText (the configured notice, possibly empty) is sent instead, as a system message.
	Handoff       bool
	HandoffReason string
	HandoffText   string
	Usage         BotUsage
}

// BotOutcome is what SendBotReply did.
type BotOutcome struct {
	Outcome string
	Reason  string
	// Message is the message written, if any.
	Message *db.Message
	// Conversation is the conversation after the run (zero when it was not loaded).
	Conversation db.Conversation
}

// botNamespace derives the bot's client_ids: UUIDv5 of the trigger message and the kind of write.
var botNamespace = uuid.MustParse("6f1d3c2a-8b7e-4c55-9a0e-2d4b1f6e9c31")

func botClientID(triggerID int64, kind string) uuid.UUID {
	return uuid.NewSHA1(botNamespace, []byte(kind+":"+strconv.FormatInt(triggerID, 10)))
}

// SendBotReply stores the bot's decision in one transaction, and only while it is still the bot's
// to make: it locks the conversation row (so an agent's takeover that committed first is seen, and
// one that comes later waits and then wins), skips when the conversation left bot mode or a newer
// customer message arrived (the job of that message answers the whole burst), hands off without a
// word when the 24-hour window has closed, and otherwise writes the reply (sender bot) or the
// hand-off notice (sender system) through the outbox, hands a conversation off as handOffTx does
// (pending, unassigned, history row, conversation.updated event, auto-assignment), records the run
// in bot_runs and calls complete (the worker completes its job there). It rings the doorbell after
// commit.
func (s *Service) SendBotReply(ctx context.Context, r BotReply, complete func(pgx.Tx) error) (BotOutcome, error) {
	var out BotOutcome
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		out = BotOutcome{}
		row, err := s.q.BotConversationForUpdate(ctx, tx, r.ConversationID)
		if err != nil {
			return notFound(err, "conversation", r.ConversationID)
		}
		out.Conversation = row.Conversation
		latest, err := s.q.BotLatestInboundID(ctx, tx, r.ConversationID)
		if err != nil {
			return fmt.Errorf("error loading latest message of conversation %d: %w", r.ConversationID, err)
		}
		switch {
		case row.Conversation.Status != ConversationBot:
			out.Outcome, out.Reason = BotSkipped, BotReasonNotBot
		case latest > r.TriggerMessageID:
			out.Outcome, out.Reason = BotSkipped, BotReasonSuperseded
		case !WindowOpen(row.LastInboundAt, s.now()):
			out.Outcome, out.Reason = BotHandedOff, BotReasonWindowClosed
		case r.Handoff:
			out.Outcome, out.Reason = BotHandedOff, r.HandoffReason
		default:
			out.Outcome = BotReplied
		}
		if out.Outcome != BotSkipped && out.Reason != BotReasonWindowClosed {
			in := SendInput{ConversationID: r.ConversationID, Type: "text", Text: r.Text, Sender: SenderBot,
				ClientID: botClientID(r.TriggerMessageID, "reply")}
			if in.Text == "" && r.Handoff {
				in.Text, in.Sender, in.ClientID = r.HandoffText, SenderSystem, botClientID(r.TriggerMessageID, "handoff")
			}
			if in.Text != "" {
				if err := in.validate(); err != nil {
					return fmt.Errorf("error validating bot message: %w", err)
				}
				msg, err := s.insertOutbound(ctx, tx, nil, in)
				if err != nil {
					return err
				}
				out.Message = &msg
			}
		}
		if out.Outcome == BotHandedOff {
			details := map[string]any{"reason": out.Reason, "trigger_message_id": r.TriggerMessageID}
			if out.Conversation, err = s.handOffTx(ctx, tx, r.ConversationID, nil, ActionHandoff, details); err != nil {
				return err
			}
		}
		if err := s.recordBotRun(ctx, tx, &r, &out); err != nil {
			return err
		}
		if complete != nil {
			return complete(tx)
		}
		return nil
	})
	if errors.Is(err, errDuplicate) {
		// A run of this job committed before (River ran it again): nothing more to write.
		return BotOutcome{Outcome: BotSkipped, Reason: BotReasonDuplicate}, nil
	}
	if err != nil {
		return BotOutcome{}, err
	}
	return out, nil
}

func (s *Service) recordBotRun(ctx context.Context, tx pgx.Tx, r *BotReply, out *BotOutcome) error {
	p := db.BotRunInsertParams{
		ConversationID: r.ConversationID, TriggerMessageID: r.TriggerMessageID,
		Outcome: out.Outcome, Reason: out.Reason, Model: r.Usage.Model,
		PromptTokens: int32(r.Usage.Prompt), CandidatesTokens: int32(r.Usage.Candidates), TotalTokens: int32(r.Usage.Total),
	}
	if out.Message != nil {
		p.MessageID = &out.Message.ID
	}
	if err := s.q.BotRunInsert(ctx, tx, p); err != nil {
		return fmt.Errorf("error recording bot run of message %d: %w", r.TriggerMessageID, err)
	}
	return nil
}

// History actions of the bot (see conversations.go for the team's).
const (
	// ActionHandoff: the bot handed the conversation to a person; details say why.
	ActionHandoff = "bot_handoff"
	// ActionBotOff: an agent turned the bot off for the conversation.
	ActionBotOff = "bot_off"
)

// handOffTx makes a bot conversation human, in tx which holds its row lock: pending, unassigned
// (auto-assignment of its group may give it to an agent at once), with a history row and a
// conversation.updated event so that agents see it arrive.
func (s *Service) handOffTx(ctx context.Context, tx pgx.Tx, conversationID int64, actor *int64, action string, details map[string]any) (db.Conversation, error) {
	conv, err := s.q.BotConversationSetStatus(ctx, tx, db.BotConversationSetStatusParams{ID: conversationID, Status: ConversationPending})
	if err != nil {
		return db.Conversation{}, fmt.Errorf("error handing off conversation %d: %w", conversationID, err)
	}
	if err := s.changed(ctx, tx, &conv, actor, action, details); err != nil {
		return db.Conversation{}, err
	}
	if _, err := s.AutoAssignTx(ctx, tx, &conv); err != nil {
		return db.Conversation{}, err
	}
	return conv, nil
}

// SetBotEnabled turns the bot on or off for one conversation, for a caller who may act on it. On
// hands the conversation to the bot as Release does (unassigned, unlocked, status bot; the bot
// answers the customer's next message); off hands a bot conversation to the human queue as the
// bot's own hand-off does (pending, unassigned, auto-assigned when its group says so). Repeating
// either changes nothing. Turning the bot on while it is switched off globally is a conflict.
func (s *Service) SetBotEnabled(ctx context.Context, p *auth.Principal, id int64, enabled bool) (db.ConversationGetRow, error) {
	if enabled {
		row, err := s.Release(ctx, p, id)
		var conflict *apperr.ConflictError
		if errors.As(err, &conflict) && s.botEnabled {
			// Already the bot's: the request's outcome holds, so answer it as done.
			if cur, verr := s.GetConversation(ctx, p, id); verr == nil && cur.Conversation.Status == ConversationBot {
				return cur, nil
			}
		}
		return row, err
	}
	err := database.InTx(ctx, s.pool, func(tx pgx.Tx) error {
		c, err := s.forWrite(ctx, tx, p, id)
		if err != nil || c.Status != ConversationBot {
			return err
		}
		_, err = s.handOffTx(ctx, tx, id, &p.UserID, ActionBotOff, map[string]any{"from": ConversationBot, "to": ConversationPending})
		return err
	})
	if err != nil {
		return db.ConversationGetRow{}, err
	}
	return s.LoadConversation(ctx, id)
}
