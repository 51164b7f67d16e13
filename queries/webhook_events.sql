-- name: WebhookEventInsert :one
-- WebhookEventInsert records a verified webhook body unless the very same bytes were recorded
-- before; then it returns no row (a concurrent identical insert waits for the first to commit).
INSERT INTO webhook_events (sha256, body)
VALUES (@sha256, @body)
ON CONFLICT (sha256) DO NOTHING
RETURNING id;

-- name: WebhookEventGetForUpdate :one
-- WebhookEventGetForUpdate locks the event for its processing transaction, so two runs of one job
-- (River rescuing a job it thought stuck) apply it once.
SELECT * FROM webhook_events WHERE id = @id FOR UPDATE;

-- name: WebhookEventMarkProcessed :exec
UPDATE webhook_events SET processed_at = now() WHERE id = @id;
