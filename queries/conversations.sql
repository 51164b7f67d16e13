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

-- name: ConversationLockByContact :one
-- ConversationLockByContact finds and locks the contact's conversation without writing it: the
-- common case of an inbound message, which ConversationOpenForInbound would pay for with a new
-- row version. No row: the contact has none yet.
SELECT id, status, assignee_id FROM conversations WHERE contact_id = @contact_id FOR UPDATE;

-- name: ConversationOpenForInbound :one
-- ConversationOpenForInbound finds the contact's conversation or opens it with @status. Either way
-- the row stays locked until the transaction ends (the no-op update takes the lock), so the status
-- the caller derives from it cannot change underneath.
INSERT INTO conversations (channel_id, contact_id, status)
VALUES (@channel_id, @contact_id, @status)
ON CONFLICT (contact_id) DO UPDATE SET contact_id = excluded.contact_id
RETURNING *, (xmax = 0)::boolean AS inserted;

-- name: ConversationGetForUpdate :one
SELECT * FROM conversations WHERE id = @id FOR UPDATE;

-- name: ConversationClearUnread :one
UPDATE conversations SET unread_count = 0, updated_at = now()
WHERE id = @id
RETURNING *;
