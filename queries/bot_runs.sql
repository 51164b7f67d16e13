-- name: BotRunInsert :exec
INSERT INTO bot_runs (conversation_id, trigger_message_id, message_id, outcome, reason, model,
                      prompt_tokens, candidates_tokens, total_tokens)
VALUES (@conversation_id, @trigger_message_id, sqlc.narg(message_id), @outcome, @reason, @model,
        @prompt_tokens, @candidates_tokens, @total_tokens);
