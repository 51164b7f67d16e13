package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/wainbox/wainbox/db"
	"github.com/wainbox/wainbox/internal/apperr"
	"github.com/wainbox/wainbox/internal/bot"
	"github.com/wainbox/wainbox/internal/inbox"
	"github.com/wainbox/wainbox/internal/whatsapp"
)

// BotWorkerConfig configures the bot_reply worker.
type BotWorkerConfig struct {
	Inbox *inbox.Service
	// Bot answers through Gemini; nil when the bot is switched off, and then every conversation
	// still in bot mode is handed to a person on its customer's next message.
	Bot *bot.Bot
	// HistoryMessages is how many recent messages the prompt may hold.
	HistoryMessages int
	// MaxReplies is the bot's replies in one session before it hands off.
	MaxReplies int
	// HandoffMessage is sent to the customer on hand-off; empty sends nothing.
	HandoffMessage string
	// Debounce is how long after a customer message the bot waits for the rest of a burst.
	Debounce time.Duration
	// RetryBase is the first backoff after a failed Gemini call (doubling).
	RetryBase time.Duration
	Logger    *slog.Logger
}

// BotReplyWorker works bot_reply jobs: it lets the bot answer a customer message in a conversation
// the bot owns, or hands the conversation to a person (see docs/bot.md).
type BotReplyWorker struct {
	river.WorkerDefaults[inbox.BotReplyArgs]
	cfg   BotWorkerConfig
	retry *RetryPolicy
}

// NewBotWorker validates cfg and returns the bot_reply worker. Its numbers have no defaults here:
// they are config's (BOT_HISTORY_MESSAGES, BOT_MAX_REPLIES, BOT_DEBOUNCE, BOT_RETRY_BASE).
func NewBotWorker(cfg *BotWorkerConfig) (*BotReplyWorker, error) {
	if cfg.Inbox == nil {
		return nil, errors.New("jobs: the bot worker needs the inbox")
	}
	if cfg.HistoryMessages <= 0 || cfg.MaxReplies <= 0 || cfg.Debounce <= 0 || cfg.RetryBase <= 0 {
		return nil, errors.New("jobs: the bot worker needs positive HistoryMessages, MaxReplies, Debounce and RetryBase")
	}
	w := &BotReplyWorker{cfg: *cfg}
	c := &w.cfg
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	w.retry = &RetryPolicy{Base: c.RetryBase, Max: time.Minute}
	return w, nil
}

// Timeout leaves the Gemini call its own timeout and the transaction that follows a moment more.
// With the default GEMINI_TIMEOUT it is JobTimeout, so a bot reply whose instance died is rescued
// as fast as any job; a longer GEMINI_TIMEOUT delays that rescue by as much.
func (w *BotReplyWorker) Timeout(*river.Job[inbox.BotReplyArgs]) time.Duration {
	if w.cfg.Bot == nil {
		return JobTimeout
	}
	return w.cfg.Bot.Timeout() + 5*time.Second
}

// NextRetry backs off from RetryBase: the customer is waiting, so a few quick retries and then a
// person rather than River's long default schedule.
func (w *BotReplyWorker) NextRetry(job *river.Job[inbox.BotReplyArgs]) time.Time {
	return w.retry.NextRetry(job.JobRow)
}

// Work decides what the bot does with one customer message.
func (w *BotReplyWorker) Work(ctx context.Context, job *river.Job[inbox.BotReplyArgs]) error {
	args := job.Args
	log := w.cfg.Logger.With("conversation_id", args.ConversationID, "message_id", args.MessageID, "job_id", job.ID, "attempt", job.Attempt)
	bc, err := w.cfg.Inbox.LoadBotContext(ctx, args.ConversationID, w.cfg.HistoryMessages)
	if _, ok := errors.AsType[*apperr.NotFoundError](err); ok {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	// Cheap checks first; SendBotReply repeats them under the row lock before writing.
	if bc.Conversation.Status != inbox.ConversationBot {
		log.Debug("bot reply skipped: the conversation is not the bot's", "status", bc.Conversation.Status)
		w.count(inbox.BotSkipped, inbox.BotReasonNotBot)
		return nil
	}
	if bc.LatestInboundID > args.MessageID {
		log.Debug("bot reply skipped: a newer customer message will be answered")
		w.count(inbox.BotSkipped, inbox.BotReasonSuperseded)
		return nil
	}
	trigger := findMessage(bc.History, args.MessageID)
	if trigger == nil {
		m, err := w.cfg.Inbox.LoadMessage(ctx, args.MessageID)
		if err != nil {
			return err
		}
		trigger = &m
	}
	if wait := w.cfg.Debounce - time.Since(trigger.CreatedAt); wait > 0 {
		// A customer often writes in bursts; answering the first line would talk over the rest.
		return river.JobSnooze(wait)
	}

	reply := inbox.BotReply{
		ConversationID: args.ConversationID, TriggerMessageID: args.MessageID,
		HandoffText: w.cfg.HandoffMessage, Handoff: true,
	}
	complete := func(tx pgx.Tx) error {
		_, err := river.JobCompleteTx[*riverpgxv5.Driver](ctx, tx, job)
		return err
	}
	switch {
	case w.cfg.Bot == nil:
		reply.HandoffReason = inbox.BotReasonBotOff
	case !inbox.WindowOpen(bc.LastInboundAt, time.Now()):
		reply.HandoffReason = inbox.BotReasonWindowClosed
	case w.cfg.Bot.AsksForHuman(newCustomerText(bc.History)):
		reply.HandoffReason = inbox.BotReasonCustomerAsked
	case bc.RepliesInSession >= w.cfg.MaxReplies:
		reply.HandoffReason = inbox.BotReasonMaxReplies
	default:
		ans, err := w.cfg.Bot.Answer(ctx, turns(bc.History))
		if err != nil {
			if bot.IsRetryable(err) && job.Attempt < job.MaxAttempts {
				log.Warn("Gemini call failed; River will retry", "error", err)
				return err
			}
			log.Error("Gemini call failed for good; handing off to a person", "error", err)
			reply.HandoffReason = inbox.BotReasonGeminiError
			break
		}
		reply.Usage = inbox.BotUsage{Model: w.cfg.Bot.Model(), Prompt: ans.Usage.Prompt, Candidates: ans.Usage.Candidates, Total: ans.Usage.Total}
		switch {
		case ans.Problem != "":
			log.Warn("Gemini answer unusable; handing off to a person", "problem", ans.Problem, "detail", ans.Detail)
			reply.HandoffReason = ans.Problem
		default:
			reply.Text, reply.Handoff, reply.HandoffReason = ans.Reply, ans.Handoff, inbox.BotReasonModel
		}
	}
	out, err := w.cfg.Inbox.SendBotReply(ctx, reply, complete)
	if err != nil {
		return fmt.Errorf("error storing bot reply to message %d: %w", args.MessageID, err)
	}
	w.count(out.Outcome, out.Reason)
	attrs := []any{"outcome", out.Outcome, "reason", out.Reason, "total_tokens", reply.Usage.Total}
	if out.Message != nil {
		attrs = append(attrs, "reply_message_id", out.Message.ID)
	}
	if out.Outcome == inbox.BotHandedOff {
		log.Info("bot handed the conversation to a person", attrs...)
	} else {
		log.Info("bot run finished", attrs...)
	}
	return nil
}

func (w *BotReplyWorker) count(outcome, reason string) {
	if w.cfg.Bot != nil {
		w.cfg.Bot.Outcome(outcome, reason)
	}
}

func findMessage(msgs []db.Message, id int64) *db.Message {
	for i := range msgs {
		if msgs[i].ID == id {
			return &msgs[i]
		}
	}
	return nil
}

// newCustomerText is what the customer wrote since the business last wrote: the burst being
// answered.
func newCustomerText(history []db.Message) string {
	var parts []string
	for i := len(history) - 1; i >= 0 && history[i].Direction == "in"; i-- {
		parts = append(parts, history[i].Body)
	}
	return strings.Join(parts, "\n")
}

// turns turns stored messages into the bot's view of the conversation: customer messages and what
// the business sent (the bot, agents, notices), leaving out reactions, account notices and sends
// that failed (the customer never saw them). Media without a caption is named by its type.
func turns(history []db.Message) []bot.Turn {
	var out []bot.Turn
	for i := range history {
		m := &history[i]
		if m.Type == whatsapp.InboundTypeReaction || m.Type == whatsapp.InboundTypeSystem || m.Status == inbox.StatusFailed {
			continue
		}
		text := strings.TrimSpace(m.Body)
		if m.Type != "text" {
			text = strings.TrimSpace("[" + m.Type + "] " + text)
		}
		out = append(out, bot.Turn{Customer: m.Direction == "in", Text: text})
	}
	return out
}
