package jobs

import (
	"context"
	"log/slog"

	"github.com/riverqueue/river"

	"github.com/wainbox/wainbox/internal/inbox"
)

// BotReplyWorker works bot_reply jobs. The bot itself (Gemini replies and hand-off) is a later
// issue; until then the job completes without answering, so queued replies do not pile up.
type BotReplyWorker struct {
	river.WorkerDefaults[inbox.BotReplyArgs]
	logger *slog.Logger
}

// NewBotReplyWorker returns the placeholder bot_reply worker.
func NewBotReplyWorker(logger *slog.Logger) *BotReplyWorker {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &BotReplyWorker{logger: logger}
}

// Work does nothing yet.
func (w *BotReplyWorker) Work(ctx context.Context, job *river.Job[inbox.BotReplyArgs]) error {
	w.logger.DebugContext(ctx, "bot reply skipped: the bot is not built yet",
		"conversation_id", job.Args.ConversationID, "message_id", job.Args.MessageID)
	return nil
}
