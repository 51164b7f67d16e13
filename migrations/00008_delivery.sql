-- +goose Up

-- The send worker's bookkeeping for delivery under faults (docs/delivery.md).
--
-- unsettled_until is set, in the statement that claims an attempt, to the latest moment that
-- attempt can reach Meta (the claim plus the attempt's timeout), and cleared when its outcome is
-- recorded (sent, refused, failed). Found set by a later attempt it means an earlier one may have
-- reached Meta without its answer being recorded (a crash, a timeout, a lost answer, a database
-- blip): the later attempt reconciles from the status webhooks before it sends again.
--
-- waiting_for is the earlier pending message of the same conversation this one waits for
-- (outbound messages leave in the order they were written); pending_reason says in words why a
-- pending message has not left yet, for agents and admins.
ALTER TABLE messages
    ADD COLUMN unsettled_until timestamptz,
    ADD COLUMN waiting_for     bigint,
    ADD COLUMN pending_reason  text NOT NULL DEFAULT '';

-- The ordering check ("is an earlier message of this conversation still pending?") and the
-- hand-over to the next message read only pending messages: a small partial index keeps both one
-- probe however long the conversation is.
CREATE INDEX messages_pending_out_seq_idx ON messages (conversation_id, out_seq) WHERE status = 'pending';

-- Reconciliation looks up the statuses kept for a message by our id (biz_opaque_callback_data).
CREATE INDEX early_statuses_message_idx ON early_statuses (message_id) WHERE message_id IS NOT NULL;

-- send_slot_at paces the sends of one business number across all instances: each instance leases
-- a few send slots at a time by moving it forward (internal/pacing).
ALTER TABLE channels ADD COLUMN send_slot_at timestamptz NOT NULL DEFAULT 'epoch';

-- +goose Down
ALTER TABLE channels DROP COLUMN send_slot_at;
DROP INDEX early_statuses_message_idx;
DROP INDEX messages_pending_out_seq_idx;
ALTER TABLE messages DROP COLUMN pending_reason, DROP COLUMN waiting_for, DROP COLUMN unsettled_until;
