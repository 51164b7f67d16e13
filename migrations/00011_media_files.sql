-- +goose Up

-- media_files are the files of messages: a customer's photo, voice note, video, document or
-- sticker (direction 'in', fetched from Meta by the fetch_media job) and the files agents upload to
-- send (direction 'out'). The bytes are a media object (media_objects, or the S3 bucket) addressed
-- by sha256, set once they are stored. status: pending (being fetched), stored, failed (error says
-- why), deleted (the bytes were removed by MEDIA_RETENTION; the row and its message stay).
CREATE TABLE media_files (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint      NOT NULL REFERENCES conversations (id),
    direction       text        NOT NULL CHECK (direction IN ('in', 'out')),
    kind            text        NOT NULL CHECK (kind IN ('image', 'video', 'audio', 'document', 'sticker')),
    status          text        NOT NULL CHECK (status IN ('pending', 'stored', 'failed', 'deleted')),
    error           text        NOT NULL DEFAULT '',
    sha256          bytea       CHECK (length(sha256) = 32),
    size            bigint      CHECK (size >= 0),
    -- mime_type is Meta's (inbound, until the bytes are stored) and then the one sniffed from the bytes.
    mime_type       text        NOT NULL DEFAULT '',
    filename        text        NOT NULL DEFAULT '',
    -- wa_media_id is Meta's id: announced by the webhook (inbound), or returned by the upload to
    -- Meta that a send makes (outbound), reused by later sends until Meta forgets it.
    wa_media_id     text,
    -- wa_sha256 is the digest Meta announced for an inbound file; the fetched bytes must match it.
    wa_sha256       text        NOT NULL DEFAULT '',
    wa_uploaded_at  timestamptz,
    uploaded_by     bigint      REFERENCES users (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    stored_at       timestamptz,
    CHECK ((status = 'stored') = (sha256 IS NOT NULL)),
    CHECK (direction = 'in' OR status IN ('stored', 'deleted'))
);
CREATE INDEX media_files_conversation_idx ON media_files (conversation_id, id);
-- Objects are shared by every file with the same bytes: deleting one looks for the others.
CREATE INDEX media_files_sha256_idx ON media_files (sha256) WHERE sha256 IS NOT NULL;

-- media_id links a message to its file.
ALTER TABLE messages ADD COLUMN media_id bigint REFERENCES media_files (id);
CREATE INDEX messages_media_idx ON messages (media_id) WHERE media_id IS NOT NULL;

-- +goose Down
ALTER TABLE messages DROP COLUMN media_id;
DROP TABLE media_files;
