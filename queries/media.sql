-- name: MediaObjectGet :one
SELECT sha256, size, mime, chunk_size FROM media_objects WHERE sha256 = @sha256;

-- name: MediaObjectExists :one
SELECT EXISTS (SELECT 1 FROM media_objects WHERE sha256 = @sha256);

-- name: MediaObjectInsert :execrows
-- MediaObjectInsert makes an object visible; 0 rows means the same bytes are already stored (a
-- concurrent put of them waits here for the other to commit or roll back).
INSERT INTO media_objects (sha256, size, mime, chunk_size)
VALUES (@sha256, @size, @mime, @chunk_size)
ON CONFLICT (sha256) DO NOTHING;

-- name: MediaObjectDelete :exec
-- MediaObjectDelete removes an object and, by cascade, its chunks.
DELETE FROM media_objects WHERE sha256 = @sha256;

-- name: MediaChunkInsert :exec
INSERT INTO media_chunks (sha256, seq, data) VALUES (@sha256, @seq, @data);

-- name: MediaChunksRekey :execrows
-- MediaChunksRekey moves a put's chunks from its staging key to the object's digest.
UPDATE media_chunks SET sha256 = @sha256 WHERE sha256 = @staging_key;

-- name: MediaChunkGet :one
SELECT data FROM media_chunks WHERE sha256 = @sha256 AND seq = @seq;
