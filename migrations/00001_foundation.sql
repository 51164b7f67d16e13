-- +goose Up

-- users are the people who work the inbox. Roles are coarse here; per-user permission overrides,
-- groups and sessions arrive in later migrations and hang off users.id.
CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email         text        NOT NULL CHECK (email <> ''),
    name          text        NOT NULL CHECK (name <> ''),
    role          text        NOT NULL CHECK (role IN ('admin', 'supervisor', 'agent')),
    password_hash text        NOT NULL,
    disabled_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- channels are business phone numbers; every contact and conversation belongs to one.
CREATE TABLE channels (
    id                   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    phone_number_id      text        NOT NULL UNIQUE CHECK (phone_number_id <> ''),
    display_phone_number text        NOT NULL DEFAULT '',
    business_account_id  text        NOT NULL DEFAULT '',
    name                 text        NOT NULL DEFAULT '',
    is_default           boolean     NOT NULL DEFAULT false,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);
-- At most one default channel: the one agents start new conversations on.
CREATE UNIQUE INDEX channels_one_default ON channels (is_default) WHERE is_default;

-- contacts are customers as WhatsApp identifies them on one channel. wa_id is the phone-based id;
-- user_id is Meta's business-scoped user id, present for username users whose wa_id may be empty.
CREATE TABLE contacts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id      bigint      NOT NULL REFERENCES channels (id),
    wa_id           text        NOT NULL DEFAULT '',
    user_id         text,
    profile_name    text        NOT NULL DEFAULT '',
    last_inbound_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (wa_id <> '' OR user_id IS NOT NULL)
);
CREATE UNIQUE INDEX contacts_channel_wa_id_key ON contacts (channel_id, wa_id) WHERE wa_id <> '';
CREATE UNIQUE INDEX contacts_channel_user_id_key ON contacts (channel_id, user_id) WHERE user_id IS NOT NULL;

-- conversations: one per contact and channel, reopened rather than duplicated (a resolved
-- conversation reopens on the next message), so the whole history of a customer is one thread.
CREATE TABLE conversations (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel_id      bigint      NOT NULL REFERENCES channels (id),
    contact_id      bigint      NOT NULL REFERENCES contacts (id),
    status          text        NOT NULL DEFAULT 'open'
                    CHECK (status IN ('bot', 'open', 'pending', 'snoozed', 'resolved')),
    assignee_id     bigint      REFERENCES users (id),
    unread_count    integer     NOT NULL DEFAULT 0 CHECK (unread_count >= 0),
    -- last_out_seq numbers outbound messages per conversation so they can be sent in the order
    -- they were written (guarantee 6).
    last_out_seq    bigint      NOT NULL DEFAULT 0,
    last_message_at timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (contact_id)
);
CREATE INDEX conversations_activity_idx ON conversations (last_message_at DESC, id DESC);
CREATE INDEX conversations_assignee_idx ON conversations (assignee_id, last_message_at DESC);

-- messages hold every message in either direction; a row exists before anything is sent.
CREATE TABLE messages (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    direction       text        NOT NULL CHECK (direction IN ('in', 'out')),
    sender          text        NOT NULL CHECK (sender IN ('contact', 'agent', 'bot', 'system')),
    sender_user_id  bigint      REFERENCES users (id),
    type            text        NOT NULL,
    body            text        NOT NULL DEFAULT '',
    payload         jsonb       NOT NULL DEFAULT '{}',
    -- status: outbound pending -> sent -> delivered -> read, or failed; inbound messages are received.
    status          text        NOT NULL
                    CHECK (status IN ('pending', 'sent', 'delivered', 'read', 'failed', 'received')),
    wa_message_id   text        UNIQUE,
    client_id       uuid,
    -- out_seq is the position among the conversation's outbound messages (null for inbound).
    out_seq         bigint,
    -- send_generation counts the sends queued for this message (the first, then each retry). A
    -- send_message job carries the generation it was queued for and completes without sending when
    -- it is no longer current, so an old job retried from River UI cannot send a message twice.
    send_generation integer     NOT NULL DEFAULT 0,
    attempts        integer     NOT NULL DEFAULT 0,
    last_error      text        NOT NULL DEFAULT '',
    error_code      integer,
    error_title     text,
    error_details   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    delivered_at    timestamptz,
    read_at         timestamptz,
    failed_at       timestamptz,
    CHECK ((direction = 'in') = (status = 'received'))
);
CREATE INDEX messages_conversation_idx ON messages (conversation_id, id DESC);
CREATE INDEX messages_status_idx ON messages (status, created_at) WHERE status IN ('pending', 'failed');
-- client_id makes an agent's (or the bot's) send idempotent; unique per sender, not globally.
CREATE UNIQUE INDEX messages_client_id_key
    ON messages (sender, coalesce(sender_user_id, 0), client_id) WHERE client_id IS NOT NULL;

-- events is the realtime log, written in the same transaction as the change it describes.
-- The cursor is gap-free: readers take only rows whose writer xid is older than every running
-- transaction (pg_snapshot_xmin of the current snapshot) and order them by (xid, id), so a row
-- that commits late can never land behind a position a reader has already passed.
CREATE TABLE events (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid             xid8        NOT NULL DEFAULT pg_current_xact_id(),
    kind            text        NOT NULL,
    conversation_id bigint,
    payload         jsonb       NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_position_idx ON events (xid, id);
CREATE INDEX events_created_at_idx ON events (created_at);

-- +goose Down
DROP TABLE events;
DROP TABLE messages;
DROP TABLE conversations;
DROP TABLE contacts;
DROP TABLE channels;
DROP TABLE users;
