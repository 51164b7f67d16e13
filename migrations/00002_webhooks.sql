-- +goose Up

-- webhook_events is the transactional inbox of Meta's webhook: every POST whose signature verified,
-- byte for byte as Meta sent it (Meta signs its own escaped-unicode serialization, so the raw bytes
-- are the only faithful copy), committed together with its process_webhook job before Meta gets its
-- 200. sha256 makes an exact redelivery a no-op. processed_at is set in the transaction that
-- applies the payload and completes the job.
CREATE TABLE webhook_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    sha256       bytea       NOT NULL CHECK (length(sha256) = 32),
    body         bytea       NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    processed_at timestamptz
);
CREATE UNIQUE INDEX webhook_events_sha256_key ON webhook_events (sha256);

-- webhook_errors records what a processed webhook held that wainbox could not apply, so that nothing
-- Meta sent is silently dropped: kind is one of
--   unparsable      the body, or one element of it, is not the JSON Meta documents
--   invalid         an element lacks what it must have (a message without id or sender, ...)
--   unknown_number  the change is for a phone_number_id that is no channel of this inbox
--   unhandled_field a change of a field other than "messages" (account updates, templates, ...)
--   value_error     an error Meta reported in a change's value.errors[]
--   unknown_status  a status other than sent, delivered, read and failed
--   empty           the payload held no messages, statuses or errors at all
-- The raw body stays in webhook_events, so an unknown number can be replayed once it is added.
CREATE TABLE webhook_errors (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_event_id bigint      NOT NULL REFERENCES webhook_events (id) ON DELETE CASCADE,
    kind             text        NOT NULL,
    phone_number_id  text        NOT NULL DEFAULT '',
    code             integer,
    title            text        NOT NULL DEFAULT '',
    details          text        NOT NULL DEFAULT '',
    payload          jsonb,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhook_errors_event_idx ON webhook_errors (webhook_event_id);
CREATE INDEX webhook_errors_created_at_idx ON webhook_errors (created_at);

-- early_statuses keeps delivery statuses for a wa_message_id that no message carries yet: Meta's
-- status webhook can overtake the commit of the send that learnt the wa_message_id. The send
-- worker's MarkSent applies and deletes them in the transaction that records the wa_message_id.
-- message_id is our id from biz_opaque_callback_data when Meta echoed it, so a send whose answer
-- was lost can later be reconciled with the statuses of the message Meta did accept.
CREATE TABLE early_statuses (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    wa_message_id    text        NOT NULL,
    status           text        NOT NULL CHECK (status IN ('sent', 'delivered', 'read', 'failed')),
    status_at        timestamptz NOT NULL,
    message_id       bigint,
    error_code       integer,
    error_title      text,
    error_details    text,
    webhook_event_id bigint      REFERENCES webhook_events (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (wa_message_id, status)
);
CREATE INDEX early_statuses_created_at_idx ON early_statuses (created_at);

-- +goose Down
DROP TABLE early_statuses;
DROP TABLE webhook_errors;
DROP TABLE webhook_events;
