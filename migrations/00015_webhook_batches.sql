-- +goose Up

-- process_webhook applies stored webhooks in batches: a job claims its own webhook and the oldest
-- other unprocessed ones that hold only statuses, in one transaction. batchable is set by the
-- intake for a body that holds statuses and no customer's message (a batch's statuses cost a few
-- statements in all; a customer's message locks its conversation, which a batch would hold for
-- all of its length). It only decides whether other jobs may take the webhook into their batch:
-- every webhook is applied the same way either way.
ALTER TABLE webhook_events ADD COLUMN batchable boolean NOT NULL DEFAULT false;

-- process_failures counts how often the webhook failed when processed alone. A webhook that has
-- failed is no longer taken into batches (its error would roll back the others' work each time):
-- only its own job processes it, alone, as River retries it.
ALTER TABLE webhook_events ADD COLUMN process_failures integer NOT NULL DEFAULT 0;

-- The batches' claim finds the unprocessed batchable webhooks without reading the processed rows,
-- which are nearly all of the table.
CREATE INDEX webhook_events_batchable_idx ON webhook_events (id) WHERE processed_at IS NULL AND batchable;

-- +goose Down
DROP INDEX webhook_events_batchable_idx;
ALTER TABLE webhook_events DROP COLUMN process_failures, DROP COLUMN batchable;
