-- name: MediaFileInsertInbound :one
-- MediaFileInsertInbound records the file of a customer's message just stored, pending its fetch,
-- and links the message to it, in one round trip.
WITH f AS (
    INSERT INTO media_files (conversation_id, direction, kind, status, mime_type, filename, wa_media_id, wa_sha256)
    VALUES (@conversation_id, 'in', @kind, 'pending', @mime_type, @filename, @wa_media_id, @wa_sha256)
    RETURNING *
), m AS (
    UPDATE messages SET media_id = (SELECT id FROM f) WHERE messages.id = @message_id
)
SELECT * FROM f;

-- name: MediaFileInsertUpload :one
-- MediaFileInsertUpload records a file an agent uploaded to send in a conversation; its bytes are
-- stored already.
INSERT INTO media_files (conversation_id, direction, kind, status, sha256, size, mime_type, filename, uploaded_by, stored_at)
VALUES (@conversation_id, 'out', @kind, 'stored', @sha256, @size, @mime_type, @filename, @uploaded_by, now())
RETURNING *;

-- name: MediaFileGet :one
SELECT * FROM media_files WHERE id = @id;

-- name: MediaFileGetForUpdate :one
SELECT * FROM media_files WHERE id = @id FOR UPDATE;

-- name: MediaFileMarkStored :one
-- MediaFileMarkStored records the fetched bytes of an inbound file.
UPDATE media_files
SET status = 'stored', error = '', sha256 = @sha256, size = @size, mime_type = @mime_type, stored_at = now()
WHERE id = @id
RETURNING *;

-- name: MediaFileMarkFailed :one
UPDATE media_files SET status = 'failed', error = @error WHERE id = @id RETURNING *;

-- name: MediaFileSetError :exec
-- MediaFileSetError notes why the last fetch attempt failed while the file stays pending.
UPDATE media_files SET error = @error WHERE id = @id AND status = 'pending';

-- name: MediaFileSetWaMedia :exec
-- MediaFileSetWaMedia keeps the id Meta gave an uploaded file, for the sends that follow.
UPDATE media_files SET wa_media_id = @wa_media_id, wa_uploaded_at = now() WHERE id = @id;

-- name: MediaFileMessages :many
-- MediaFileMessages are the messages that carry a file (an upload may be sent more than once).
SELECT * FROM messages WHERE media_id = @media_id ORDER BY id;

-- name: MediaFileSHA256InUse :one
-- MediaFileSHA256InUse reports whether any file other than @id keeps the object @sha256.
SELECT EXISTS (SELECT 1 FROM media_files WHERE sha256 = @sha256 AND id <> @id AND status = 'stored');

-- name: MediaFilesPastRetention :many
-- MediaFilesPastRetention are stored files whose conversation has had no message since @before
-- (MEDIA_RETENTION), and uploads never sent, older than @unsent_before.
SELECT f.* FROM media_files f
WHERE f.status = 'stored' AND (
    (f.created_at < @before AND NOT EXISTS (
        SELECT 1 FROM conversations c WHERE c.id = f.conversation_id AND c.last_message_at >= @before))
    OR (f.direction = 'out' AND f.created_at < @unsent_before AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.media_id = f.id))
)
ORDER BY f.id
LIMIT @max_rows;

-- name: MediaFileMarkDeleted :exec
UPDATE media_files SET status = 'deleted', sha256 = NULL, error = @error WHERE id = @id;

-- name: MediaFileWithAccess :one
-- MediaFileWithAccess returns a file with what permissions look at in its conversation, so that
-- whether the caller may read it is decided on the same row read.
SELECT sqlc.embed(f), c.assignee_id AS conv_assignee_id, c.group_id AS conv_group_id
FROM media_files f JOIN conversations c ON c.id = f.conversation_id
WHERE f.id = @id;

-- name: MediaFilesByID :many
SELECT * FROM media_files WHERE id = ANY(@ids::bigint[]);

-- name: MediaFileUploadTarget :one
-- MediaFileUploadTarget is a file with the phone number whose sends will carry it (an upload to
-- Meta belongs to one number).
SELECT sqlc.embed(f), ch.phone_number_id
FROM media_files f JOIN conversations c ON c.id = f.conversation_id JOIN channels ch ON ch.id = c.channel_id
WHERE f.id = @id;

-- name: MediaFilePendingSends :many
-- MediaFilePendingSends are the messages still waiting to be sent with a file.
SELECT id FROM messages WHERE media_id = @media_id AND status = 'pending' ORDER BY id;
