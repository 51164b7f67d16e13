-- name: ConversationUpsert :one
-- ConversationUpsert finds the contact's conversation or opens it. The no-op update makes
-- RETURNING yield the existing row, so callers get one round trip either way; xmax = 0 tells a row
-- this statement inserted from one it found.
INSERT INTO conversations (channel_id, contact_id, status)
VALUES (@channel_id, @contact_id, @status)
ON CONFLICT (contact_id) DO UPDATE SET contact_id = excluded.contact_id
RETURNING id, status, (xmax = 0)::boolean AS inserted;

-- name: ConversationGet :one
SELECT sqlc.embed(conversations), sqlc.embed(contacts)
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = @id;

-- name: ConversationList :many
-- ConversationList pages by (last_message_at, id) descending: a keyset cursor that stays stable
-- while new activity moves conversations to the top.
SELECT sqlc.embed(conversations), sqlc.embed(contacts)
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE (sqlc.narg(before_at)::timestamptz IS NULL
       OR (conversations.last_message_at, conversations.id) < (sqlc.narg(before_at)::timestamptz, @before_id::bigint))
ORDER BY conversations.last_message_at DESC, conversations.id DESC
LIMIT @row_limit;

-- name: ConversationNextOutSeq :one
-- ConversationNextOutSeq reserves the next outbound position. The row lock it takes also orders
-- concurrent sends to one conversation by commit.
UPDATE conversations
SET last_out_seq = last_out_seq + 1, last_message_at = now(), updated_at = now()
WHERE id = @id
RETURNING last_out_seq;
