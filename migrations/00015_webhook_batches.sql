-- +goose Up

-- process_webhook applies stored webhooks in batches: a job claims its own webhook and the oldest
-- other unprocessed ones in one transaction. This index finds them without reading the processed
-- rows, which are nearly all of the table.
CREATE INDEX webhook_events_unprocessed_idx ON webhook_events (id) WHERE processed_at IS NULL;

-- process_failures counts how often the webhook failed when processed alone. A webhook that has
-- failed is no longer taken into batches (its error would roll back the others' work each time):
-- only its own job processes it, alone, as River retries it.
ALTER TABLE webhook_events ADD COLUMN process_failures integer NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE webhook_events DROP COLUMN process_failures;
DROP INDEX webhook_events_unprocessed_idx;
