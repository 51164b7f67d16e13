-- +goose Up

-- bot_runs records what the bot did with each customer message it was asked to answer: the reply it
-- sent (message_id), or why it sent none, whether it handed the conversation to a human and why,
-- and the Gemini tokens the call used. It is the audit trail of the bot and the record of its cost;
-- the same numbers feed the wainbox_bot_* metrics.
CREATE TABLE bot_runs (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id    bigint      NOT NULL REFERENCES conversations (id),
    -- trigger_message_id is the customer message whose bot_reply job ran.
    trigger_message_id bigint      NOT NULL REFERENCES messages (id),
    -- message_id is the message the bot wrote (its reply or the hand-off notice), if any.
    message_id         bigint      REFERENCES messages (id),
    -- outcome: replied, handed_off (with or without a message), or skipped (the conversation was
    -- no longer the bot's, or a newer customer message superseded this one).
    outcome            text        NOT NULL CHECK (outcome IN ('replied', 'handed_off', 'skipped')),
    -- reason says why the bot handed off or skipped: customer_asked, model, max_replies,
    -- gemini_error, blocked, empty, window_closed, not_bot, superseded.
    reason             text        NOT NULL DEFAULT '',
    model              text        NOT NULL DEFAULT '',
    prompt_tokens      integer     NOT NULL DEFAULT 0,
    candidates_tokens  integer     NOT NULL DEFAULT 0,
    total_tokens       integer     NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX bot_runs_conversation_idx ON bot_runs (conversation_id, id DESC);
CREATE INDEX bot_runs_created_at_idx ON bot_runs (created_at);

-- +goose Down
DROP TABLE bot_runs;
