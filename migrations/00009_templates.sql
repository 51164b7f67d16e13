-- +goose Up

-- message_templates mirrors the WhatsApp Business Account's message templates as Meta returns them
-- (GET /{waba_id}/message_templates): a periodic job and POST /api/templates/sync copy every page,
-- and message_template_status_update webhooks keep the status current in between. Sends outside the
-- 24-hour window are checked against these rows before they are stored.
CREATE TABLE message_templates (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    waba_id          text        NOT NULL,
    meta_id          text        NOT NULL,
    name             text        NOT NULL,
    language         text        NOT NULL,
    category         text        NOT NULL,
    status           text        NOT NULL,
    parameter_format text        NOT NULL DEFAULT 'POSITIONAL',
    components       jsonb       NOT NULL DEFAULT '[]',
    rejected_reason  text        NOT NULL DEFAULT '',
    -- synced_at is when a sync last saw the template at Meta; a complete sync deletes the rows it
    -- did not see (deleted at Meta).
    synced_at        timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (waba_id, name, language),
    UNIQUE (meta_id)
);

-- quick_replies are saved responses: personal (owner_id), for one group's members (group_id), or for
-- the whole team (neither). body may hold {{contact.name}}-style variables filled at send time;
-- message, when set, is a template or interactive message in Meta's request shape sent instead of
-- a text.
CREATE TABLE quick_replies (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    owner_id   bigint      REFERENCES users (id) ON DELETE CASCADE,
    group_id   bigint      REFERENCES groups (id) ON DELETE CASCADE,
    shortcut   text        NOT NULL,
    body       text        NOT NULL DEFAULT '',
    message    jsonb,
    created_by bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CHECK (owner_id IS NULL OR group_id IS NULL)
);
-- One shortcut per scope: per owner, per group, and once for the whole team.
CREATE UNIQUE INDEX quick_replies_personal_key ON quick_replies (owner_id, lower(shortcut)) WHERE owner_id IS NOT NULL;
CREATE UNIQUE INDEX quick_replies_group_key ON quick_replies (group_id, lower(shortcut)) WHERE group_id IS NOT NULL;
CREATE UNIQUE INDEX quick_replies_team_key ON quick_replies (lower(shortcut)) WHERE owner_id IS NULL AND group_id IS NULL;
CREATE INDEX quick_replies_shortcut_idx ON quick_replies (lower(shortcut) text_pattern_ops);

-- reply_to_message_id links a message to the one it quotes or answers (an agent's reply to a
-- message, a customer's button or list reply to the interactive message it answers).
ALTER TABLE messages ADD COLUMN reply_to_message_id bigint REFERENCES messages (id);

-- +goose Down
ALTER TABLE messages DROP COLUMN reply_to_message_id;
DROP TABLE quick_replies;
DROP TABLE message_templates;
