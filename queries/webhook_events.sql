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

-- name: WebhookEventDeleteProcessedBefore :execrows
-- WebhookEventDeleteProcessedBefore prunes one batch of raw webhooks processed before @before
-- (their webhook_errors go with them). Unprocessed ones are never pruned.
DELETE FROM webhook_events WHERE id IN (
    SELECT old.id FROM webhook_events old WHERE old.processed_at < @before ORDER BY old.processed_at LIMIT @batch_size
);
