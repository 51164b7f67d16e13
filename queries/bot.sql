-- Queries of the bot (internal/inbox/bot.go). They span conversations, messages and bot_runs, so
-- they live together here rather than in each table's file.

-- name: BotConversationForUpdate :one
-- BotConversationForUpdate locks the conversation the bot is about to write to, so a takeover that
-- commits first is seen and one that comes later waits for the bot's transaction. It also returns
-- the start of the customer-service window (the customer's last message, Meta's time).
SELECT sqlc.embed(conversations), contacts.last_inbound_at
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = @id
FOR UPDATE OF conversations;

-- name: BotConversationGet :one
SELECT sqlc.embed(conversations), contacts.last_inbound_at
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = @id;

-- name: BotLatestInboundID :one
-- BotLatestInboundID is the newest customer message the bot would answer (not a reaction or an
-- account notice), 0 when there is none.
SELECT coalesce(max(id), 0)::bigint
FROM messages
WHERE conversation_id = @conversation_id AND direction = 'in' AND type NOT IN ('reaction', 'system');

-- name: BotHistory :many
-- BotHistory returns the newest messages of a conversation, newest first, for the prompt.
SELECT * FROM messages
WHERE conversation_id = @conversation_id
ORDER BY id DESC
LIMIT @row_limit;

-- name: BotRepliesInSession :one
-- BotRepliesInSession counts the bot's replies since a human or the system last wrote to the
-- customer (a hand-off notice is a system message) and since @since, the start of the current
-- service window: the bot's session.
SELECT count(*)::integer
FROM messages m
WHERE m.conversation_id = @conversation_id AND m.sender = 'bot' AND m.created_at > @since::timestamptz
  AND m.id > coalesce((
      SELECT max(o.id) FROM messages o
      WHERE o.conversation_id = @conversation_id AND o.direction = 'out' AND o.sender <> 'bot'), 0);

-- name: BotConversationSetStatus :one
-- BotConversationSetStatus moves a conversation into or out of bot mode. Either way it is nobody's:
-- the bot's conversations have no assignee, and one handed off waits unassigned in the queue.
UPDATE conversations
SET status = @status, assignee_id = NULL, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: BotRunInsert :exec
INSERT INTO bot_runs (conversation_id, trigger_message_id, message_id, outcome, reason, model,
                      prompt_tokens, candidates_tokens, total_tokens)
VALUES (@conversation_id, @trigger_message_id, sqlc.narg(message_id), @outcome, @reason, @model,
        @prompt_tokens, @candidates_tokens, @total_tokens);
