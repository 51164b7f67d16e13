-- name: WebhookEventInsert :one
-- WebhookEventInsert records a verified webhook body unless the very same bytes were recorded
-- before; then it returns no row (a concurrent identical insert waits for the first to commit).
-- batchable: other jobs may apply it in their batches (it holds statuses only).
INSERT INTO webhook_events (sha256, body, batchable)
VALUES (@sha256, @body, @batchable)
ON CONFLICT (sha256) DO NOTHING
RETURNING id;

-- name: WebhookEventClaim :one
-- WebhookEventClaim marks the event processed and returns its body at the start of the processing
-- transaction, in one round trip. Its row lock makes two runs of one job (River rescuing a job it
-- thought stuck) apply it once: the second waits, then finds it processed. A rollback unmarks it.
-- No row: the event is missing or already processed (WebhookEventExists tells which).
UPDATE webhook_events SET processed_at = now() WHERE id = @id AND processed_at IS NULL RETURNING body, received_at;

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

-- name: WebhookEventState :one
-- WebhookEventState says, without a lock, whether a webhook is processed and how often it failed
-- processed alone: a process_webhook job whose webhook another job's batch applied ends on this
-- one read.
SELECT (processed_at IS NOT NULL)::boolean AS processed, process_failures FROM webhook_events WHERE id = @id;

-- name: WebhookEventClaimBatch :many
-- WebhookEventClaimBatch marks processed, at the start of a batch's transaction, webhook @id and up
-- to @others of the oldest other unprocessed batchable webhooks, and returns them. It takes only rows no
-- other transaction holds (SKIP LOCKED), so it never waits and never deadlocks with another batch;
-- a webhook held by another batch is that batch's to apply (or, should it roll back, its own
-- job's). Webhooks that failed processed alone are left out: only their own job takes them. A
-- rollback unmarks them all.
WITH own AS (
    SELECT e.id FROM webhook_events e
    WHERE e.id = @id AND e.processed_at IS NULL AND e.process_failures = 0
    FOR UPDATE SKIP LOCKED
), others AS (
    SELECT e.id FROM webhook_events e
    WHERE e.processed_at IS NULL AND e.batchable AND e.process_failures = 0 AND e.id <> @id
    ORDER BY e.id
    LIMIT @others
    FOR UPDATE SKIP LOCKED
)
UPDATE webhook_events w SET processed_at = now()
WHERE w.id IN (SELECT own.id FROM own UNION ALL SELECT others.id FROM others)
RETURNING w.id, w.body, w.received_at;

-- name: WebhookEventRecordFailure :exec
-- WebhookEventRecordFailure counts a failure of a webhook processed alone, in its own statement
-- after the rollback, so that batches leave it out from then on.
UPDATE webhook_events SET process_failures = process_failures + 1 WHERE id = @id AND processed_at IS NULL;
