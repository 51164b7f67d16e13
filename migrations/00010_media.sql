-- +goose Up

-- media_objects holds the files wainbox keeps (customers' photos, voice notes and documents, whose
-- Meta media ids expire within days, and the files agents send), addressed by the SHA-256 of their
-- bytes: the same bytes are stored once. chunk_size is the size of every chunk but the last, kept
-- per object so that the chunk size can change without rewriting older objects.
CREATE TABLE media_objects (
    sha256     bytea       PRIMARY KEY CHECK (length(sha256) = 32),
    size       bigint      NOT NULL CHECK (size >= 0),
    mime       text        NOT NULL,
    chunk_size integer     NOT NULL CHECK (chunk_size > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

-- media_chunks holds an object's bytes in order (seq from 0). While a put streams, its chunks are
-- keyed by a 16-byte staging key, which can never equal a 32-byte digest, inside the put's
-- transaction; the put rekeys them to the digest as it inserts the object and commits. The foreign
-- key is checked at commit, so a put that fails or is cut off leaves nothing behind.
CREATE TABLE media_chunks (
    sha256 bytea   NOT NULL REFERENCES media_objects (sha256) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq    integer NOT NULL CHECK (seq >= 0),
    data   bytea   NOT NULL,
    PRIMARY KEY (sha256, seq)
);
-- Media is already compressed (JPEG, Opus, MP4, PDF): keep chunks out of line without trying pglz
-- on them. Out-of-line values are also carried over untouched by the rekeying UPDATE.
ALTER TABLE media_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- +goose Down
DROP TABLE media_chunks;
DROP TABLE media_objects;
