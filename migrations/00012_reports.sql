-- +goose Up

-- Two more permission overrides (NULL: the role's default, as for the others): reading the team's
-- reports, and exporting them as CSV (one row per conversation, with the customer's number).
ALTER TABLE users
    ADD COLUMN can_view_reports boolean,
    ADD COLUMN can_export_data  boolean;

-- Reports read conversation_history by time across every conversation (status changes,
-- assignments, hand-offs in a range); its only index is per conversation.
CREATE INDEX conversation_history_created_at_idx ON conversation_history (created_at);

-- +goose Down
DROP INDEX conversation_history_created_at_idx;
ALTER TABLE users DROP COLUMN can_view_reports, DROP COLUMN can_export_data;
