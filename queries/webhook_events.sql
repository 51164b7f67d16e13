-- name: WebhookEventInsert :one
-- WebhookEventInsert records a verified webhook body unless the very same bytes were recorded
-- before; then it returns no row (a concurrent identical insert waits for the first to commit).
INSERT INTO webhook_events (sha256, body)
VALUES (@sha256, @body)
ON CONFLICT (sha256) DO NOTHING
RETURNING id;

-- name: WebhookEventClaim :one
-- WebhookEventClaim marks the event processed and returns its body at the start of the processing
-- transaction, in one round trip. Its row lock makes two runs of one job (River rescuing a job it
-- thought stuck) apply it once: the second waits, then finds it processed. A rollback unmarks it.
-- No row: the event is missing or already processed (WebhookEventExists tells which).
UPDATE webhook_events SET processed_at = now() WHERE id = @id AND processed_at IS NULL RETURNING body;

-- name: WebhookEventExists :one
SELECT EXISTS (SELECT 1 FROM webhook_events WHERE id = @id);

-- name: WebhookEventDeleteProcessedBefore :execrows
-- WebhookEventDeleteProcessedBefore prunes one batch of raw webhooks processed before @before
-- (their webhook_errors go with them). Unprocessed ones are never pruned.
DELETE FROM webhook_events WHERE id IN (
    SELECT old.id FROM webhook_events old WHERE old.processed_at < @before ORDER BY old.processed_at LIMIT @batch_size
);

-- name: WebhookEventLast :one
-- WebhookEventLast is when the newest stored webhook arrived (by id, the primary key).
SELECT received_at FROM webhook_events ORDER BY id DESC LIMIT 1;
