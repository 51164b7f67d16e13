-- +goose Up

-- The reports' rollup: what a summary needs, kept current by a job that follows the event log
-- (internal/reports/rollup.go), so that a summary aggregates these indexed tables instead of
-- reading every message of a month. Both are derived: dropping their rows and resetting
-- report_rollup rebuilds them from messages and conversation_history.

-- report_episodes: one row per opening of a conversation (its creation or a reopening, to its
-- resolution), with the instants the rules need so a report can cut each at its range's end.
CREATE TABLE report_episodes (
    conversation_id    bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq                integer     NOT NULL,
    started_at         timestamptz NOT NULL,
    reopened           boolean     NOT NULL,
    first_customer_at  timestamptz,
    first_response_at  timestamptz,
    first_responder_id bigint,
    resolved_at        timestamptz,
    resolved_by        bigint,
    snoozed_ms         bigint      NOT NULL,
    snooze_from        timestamptz[] NOT NULL,
    snooze_to          timestamptz[] NOT NULL,
    bot_replied_at     timestamptz,
    person_joined_at   timestamptz,
    messages_in        integer     NOT NULL,
    messages_out       integer     NOT NULL,
    handoff_at         timestamptz[] NOT NULL,
    handoff_reasons    text[]      NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
-- A range's episodes: those that began in it, those that began before it and were resolved in or
-- after it, and those still open.
CREATE INDEX report_episodes_started_at_idx ON report_episodes (started_at);
CREATE INDEX report_episodes_resolved_at_idx ON report_episodes (resolved_at);
CREATE INDEX report_episodes_open_idx ON report_episodes (started_at) WHERE resolved_at IS NULL;

-- report_message_hours: a conversation's messages counted per hour and per agent who wrote them
-- (agent_id 0: the customer's, the bot's and the system's).
CREATE TABLE report_message_hours (
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    hour            timestamptz NOT NULL,
    agent_id        bigint      NOT NULL,
    messages_in     integer     NOT NULL,
    messages_out    integer     NOT NULL,
    PRIMARY KEY (conversation_id, hour, agent_id)
);
CREATE INDEX report_message_hours_hour_idx ON report_message_hours (hour);
-- An agent's conversations in a range: those they wrote in.
CREATE INDEX report_message_hours_agent_idx ON report_message_hours (agent_id, hour) WHERE agent_id <> 0;

-- report_rollup is the rollup's one row: the event log position it has applied (NULL: rebuild
-- from scratch), a rebuild's progress (conversations up to rebuild_after_id done; NULL: none
-- running) and which conversations it covers (rebuild_since: those active since; NULL: all), and
-- when it last caught up (older than the event log's retention: events may be gone, so it
-- rebuilds what changed since). Rollups lock the row, so one runs at a time across instances.
CREATE TABLE report_rollup (
    singleton         boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    after_xid         xid8,
    after_id          bigint      NOT NULL DEFAULT 0,
    rebuild_after_id  bigint,
    rebuild_since     timestamptz,
    caught_up_at      timestamptz
);
INSERT INTO report_rollup DEFAULT VALUES;

-- +goose Down
DROP TABLE report_rollup;
DROP TABLE report_message_hours;
DROP TABLE report_episodes;
