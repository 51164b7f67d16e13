-- +goose Up

-- Per-user permission overrides (get.chat's model). NULL means "the role's default", so changing
-- a role changes every permission the admin did not set explicitly. Scopes of chats:
-- all | group (conversations of the user's groups) | assigned (the user's own) | none.
ALTER TABLE users
    ADD COLUMN can_read_chats       text CHECK (can_read_chats IN ('all', 'group', 'assigned', 'none')),
    ADD COLUMN can_write_chats      text CHECK (can_write_chats IN ('all', 'group', 'assigned', 'none')),
    ADD COLUMN can_manage_templates boolean,
    ADD COLUMN can_manage_users     boolean,
    ADD COLUMN can_view_metrics     boolean,
    ADD COLUMN can_use_tags         boolean,
    -- availability and capacity drive auto-assignment: only online agents below max_conversations
    -- open conversations receive new ones (0 = no limit).
    ADD COLUMN availability         text NOT NULL DEFAULT 'offline'
                                    CHECK (availability IN ('online', 'busy', 'offline')),
    ADD COLUMN max_conversations    integer NOT NULL DEFAULT 0 CHECK (max_conversations >= 0),
    -- last_assigned_at orders the round-robin: the agent who waited longest gets the next one.
    ADD COLUMN last_assigned_at     timestamptz;

-- groups are teams of agents; a conversation can be assigned to a group and/or an agent.
CREATE TABLE groups (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CHECK (name <> ''),
    -- auto_assign hands new human conversations of the group to its available agents.
    auto_assign boolean     NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX groups_name_key ON groups (lower(name));

CREATE TABLE group_members (
    group_id bigint NOT NULL REFERENCES groups (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, user_id)
);
CREATE INDEX group_members_user_idx ON group_members (user_id);

-- sessions are logins: one per login, each with a family of refresh tokens. Access tokens carry
-- the session id, so revoking a session (logout, reuse of a refresh token, an admin's revoke-all,
-- disabling the user) also stops its access tokens at the next request.
CREATE TABLE sessions (
    id           uuid        PRIMARY KEY,
    user_id      bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    user_agent   text        NOT NULL DEFAULT '',
    ip           text        NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    -- revoke_reason: logout | reuse | admin | disabled
    revoke_reason text
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE revoked_at IS NULL;

-- refresh_tokens: only a SHA-256 of each token is stored (the token is 32 random bytes, so a fast
-- hash is enough). A token is used once: rotation marks it used in the same statement that checks
-- it, so two concurrent refreshes with one token cannot both succeed.
CREATE TABLE refresh_tokens (
    token_hash bytea       PRIMARY KEY CHECK (length(token_hash) = 32),
    session_id uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX refresh_tokens_session_idx ON refresh_tokens (session_id);

-- login_failures feed login throttling; they live in PostgreSQL so the limit holds across
-- instances. An attempt is recorded before its password is checked (so concurrent attempts count
-- each other) and removed when it succeeds; rows older than the window are deleted as attempts
-- arrive.
CREATE TABLE login_failures (
    id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email  text        NOT NULL,
    ip     text        NOT NULL,
    at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_email_idx ON login_failures (email, at);
CREATE INDEX login_failures_ip_idx ON login_failures (ip, at);
CREATE INDEX login_failures_at_idx ON login_failures (at);

-- Conversations as a team works them: a group, a lock held by one agent until lock_expires_at
-- (an expired lock is simply free, no sweeper), and the time a snooze ends.
ALTER TABLE conversations
    ADD COLUMN group_id        bigint REFERENCES groups (id) ON DELETE SET NULL,
    ADD COLUMN locked_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    ADD COLUMN lock_expires_at timestamptz,
    ADD COLUMN snoozed_until   timestamptz;
CREATE INDEX conversations_group_idx ON conversations (group_id, last_message_at DESC);

CREATE TABLE conversation_tags (
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    tag             text        NOT NULL CHECK (tag <> '' AND length(tag) <= 50),
    created_by      bigint      REFERENCES users (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (conversation_id, tag)
);
CREATE INDEX conversation_tags_tag_idx ON conversation_tags (tag);

-- notes are private to the team: they are never sent to WhatsApp (they are not messages).
CREATE TABLE notes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    author_id       bigint      NOT NULL REFERENCES users (id),
    body            text        NOT NULL CHECK (body <> ''),
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notes_conversation_idx ON notes (conversation_id, id DESC);

-- conversation_history: who changed the status or the assignment of a conversation, and when.
CREATE TABLE conversation_history (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    actor_id        bigint      REFERENCES users (id) ON DELETE SET NULL,
    -- action: status | assign | takeover | release | auto_assign
    action          text        NOT NULL,
    details         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_history_conversation_idx ON conversation_history (conversation_id, id DESC);

-- +goose Down
DROP TABLE conversation_history;
DROP TABLE notes;
DROP TABLE conversation_tags;
ALTER TABLE conversations
    DROP COLUMN group_id, DROP COLUMN locked_by, DROP COLUMN lock_expires_at, DROP COLUMN snoozed_until;
DROP TABLE login_failures;
DROP TABLE refresh_tokens;
DROP TABLE sessions;
DROP TABLE group_members;
DROP TABLE groups;
ALTER TABLE users
    DROP COLUMN can_read_chats, DROP COLUMN can_write_chats, DROP COLUMN can_manage_templates,
    DROP COLUMN can_manage_users, DROP COLUMN can_view_metrics, DROP COLUMN can_use_tags,
    DROP COLUMN availability, DROP COLUMN max_conversations, DROP COLUMN last_assigned_at;
