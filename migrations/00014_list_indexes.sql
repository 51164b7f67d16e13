-- +goose Up

-- Indexes of the conversation list, measured on a year of data (docs/benchmarks.md): each set of
-- ConversationSearch's scope and each selective filter reads its page newest first from an index
-- in the list's order (last_message_at DESC, id DESC, the keyset of its cursor) instead of walking
-- the whole activity index. Every conversation row changes with each message (last_message_at),
-- so each index here costs the send and receive paths one more index entry per message: the
-- partial ones only for the conversations they hold.

-- An agent's own conversations, and the filter assignee=<id>: replaces the index without id,
-- which could not give the list's order (an extra sort of all of the agent's year).
CREATE INDEX conversations_assignee_activity_idx ON conversations (assignee_id, last_message_at DESC, id DESC);
DROP INDEX conversations_assignee_idx;

-- The free pool (nobody's): the agents' second set, and the filter assignee=unassigned.
CREATE INDEX conversations_unassigned_idx ON conversations (last_message_at DESC, id DESC) WHERE assignee_id IS NULL;

-- The status filter on conversations being worked (a few per cent of the year); resolved ones are
-- most rows, which the activity index already reads in order.
CREATE INDEX conversations_active_status_idx ON conversations (status, last_message_at DESC, id DESC)
    WHERE status <> 'resolved';

-- Unread conversations by assignee: an agent's unread count, and the unread filter.
CREATE INDEX conversations_unread_idx ON conversations (assignee_id, last_message_at DESC, id DESC)
    WHERE unread_count > 0;

-- Search by name or number anywhere in it (ILIKE '%...%'): trigrams. pg_trgm ships with
-- PostgreSQL (contrib) and is a trusted extension, so the database's owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE INDEX contacts_profile_name_trgm_idx ON contacts USING gin (profile_name gin_trgm_ops);
CREATE INDEX contacts_wa_id_trgm_idx ON contacts USING gin (wa_id gin_trgm_ops);

-- +goose Down
DROP INDEX contacts_wa_id_trgm_idx;
DROP INDEX contacts_profile_name_trgm_idx;
DROP EXTENSION IF EXISTS pg_trgm;
DROP INDEX conversations_unread_idx;
DROP INDEX conversations_active_status_idx;
DROP INDEX conversations_unassigned_idx;
CREATE INDEX conversations_assignee_idx ON conversations (assignee_id, last_message_at DESC);
DROP INDEX conversations_assignee_activity_idx;
