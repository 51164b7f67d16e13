-- +goose Up

-- The prune job deletes processed webhooks after their retention; this index finds them without
-- scanning the table.
CREATE INDEX webhook_events_processed_at_idx ON webhook_events (processed_at) WHERE processed_at IS NOT NULL;

-- +goose Down
DROP INDEX webhook_events_processed_at_idx;
