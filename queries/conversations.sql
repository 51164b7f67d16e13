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

-- name: ConversationReserveOutSeq :one
-- ConversationReserveOutSeq reserves the next outbound position and returns what the send
-- transaction checks under the row lock it takes: who may write, who holds the composer lock, and
-- when the customer last wrote.
-- The lock also orders concurrent sends to one conversation by commit.
UPDATE conversations
SET last_out_seq = last_out_seq + 1, last_message_at = now(), updated_at = now()
WHERE conversations.id = @id
RETURNING last_out_seq, assignee_id, group_id, locked_by, lock_expires_at,
          (locked_by IS NOT NULL AND lock_expires_at > now())::boolean AS lock_held,
          (SELECT c.last_inbound_at FROM contacts c WHERE c.id = conversations.contact_id) AS last_inbound_at;

-- name: ConversationSetStatus :one
UPDATE conversations
SET status = @status, snoozed_until = sqlc.narg(snoozed_until), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ConversationTakeover :one
-- ConversationTakeover claims a conversation in one statement: a bot conversation, or an
-- unassigned one, becomes open and the caller's. Of two agents racing, the second re-checks the
-- condition after the first commits and matches nothing.
-- Another agent's composer lock goes with it: the conversation is the caller's now.
UPDATE conversations
SET status = 'open', assignee_id = @user_id, snoozed_until = NULL, updated_at = now(),
    lock_expires_at = CASE WHEN locked_by = @user_id THEN lock_expires_at END,
    locked_by = CASE WHEN locked_by = @user_id THEN locked_by END
WHERE id = @id
  AND (status = 'bot' OR (assignee_id IS NULL AND status IN ('open', 'pending')))
RETURNING *;

-- name: ConversationRelease :one
-- ConversationRelease hands a conversation back to the bot and frees it.
UPDATE conversations
SET status = 'bot', assignee_id = NULL, locked_by = NULL, lock_expires_at = NULL, snoozed_until = NULL,
    updated_at = now()
WHERE id = @id AND status <> 'bot'
RETURNING *;

-- name: ConversationAssign :one
-- ConversationAssign sets the agent and group; a change of agent frees the composer lock, which
-- belonged to the previous one's work. (SET expressions read the row as it was.)
UPDATE conversations
SET assignee_id = sqlc.narg(assignee_id), group_id = sqlc.narg(group_id),
    locked_by = CASE WHEN assignee_id IS DISTINCT FROM sqlc.narg(assignee_id)::bigint THEN NULL ELSE locked_by END,
    lock_expires_at = CASE WHEN assignee_id IS DISTINCT FROM sqlc.narg(assignee_id)::bigint THEN NULL ELSE lock_expires_at END,
    status = CASE WHEN sqlc.narg(assignee_id)::bigint IS NOT NULL AND status = 'bot' THEN 'open' ELSE status END,
    updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ConversationLockAcquire :one
-- ConversationLockAcquire takes or renews the composer lock in one statement: it matches when the
-- lock is free, expired, or already the caller's. Concurrent callers serialize on the row lock and
-- re-check the condition, so exactly one holds it.
UPDATE conversations
SET locked_by = @user_id, lock_expires_at = now() + make_interval(secs => @ttl_seconds::float8)
WHERE id = @id
  AND (locked_by IS NULL OR lock_expires_at <= now() OR locked_by = @user_id)
RETURNING locked_by, lock_expires_at;

-- name: ConversationLockRelease :one
UPDATE conversations
SET locked_by = NULL, lock_expires_at = NULL
WHERE id = @id AND locked_by = @user_id
RETURNING id;

-- name: ConversationLockForceRelease :exec
UPDATE conversations SET locked_by = NULL, lock_expires_at = NULL WHERE id = @id;

-- name: ConversationLockGet :one
-- ConversationLockGet reads the lock; lock_live is false for a free or expired lock.
SELECT id, locked_by, lock_expires_at,
       (locked_by IS NOT NULL AND lock_expires_at > now())::boolean AS lock_live
FROM conversations
WHERE id = @id;

-- name: ConversationSearch :many
-- ConversationSearch is the conversation list with the caller's read scope applied in SQL (the
-- same rule as auth.CanReadConversation) and the panel's filters, paged by (last_message_at, id).
-- The scope is split into the disjoint sets it allows, each read newest first from its own index
-- and cut at the page size, then merged: everything (scope all); the caller's own; the free pool
-- (nobody's, of no team or of the caller's); and, for scope group, the caller's teams'
-- conversations others hold. A single statement with the scope as one OR read the whole year's
-- activity index to fill an agent's page with its few per cent of visible rows. The filters are
-- repeated in each set, so that each set's page is full. Planned for each call's values (see
-- inbox.SearchConversations): a set the scope excludes costs nothing, and a selective filter
-- (a status other than resolved, a tag, unread, a search) starts from its own index. The tag and
-- the search are outer joins tested for a match rather than EXISTS under an OR, which PostgreSQL
-- could only run as a filter on every row walked: without the filter the join is removed (it is
-- on a unique key and nothing reads it), with it the join becomes an inner join the planner may
-- start from the tag's rows or the contacts' trigram index.
SELECT sqlc.embed(conversations), sqlc.embed(contacts)
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = ANY(ARRAY(
(SELECT c.id FROM conversations c
LEFT JOIN conversation_tags t ON t.conversation_id = c.id AND t.tag = sqlc.narg(tag)::text
LEFT JOIN contacts ct ON ct.id = c.contact_id
  AND (ct.profile_name ILIKE '%' || sqlc.narg(query)::text || '%' OR ct.wa_id LIKE '%' || sqlc.narg(query)::text || '%')
WHERE @scope::text = 'all'
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (c.last_message_at, c.id) < (sqlc.narg(before_at)::timestamptz, @before_id::bigint))
  AND (sqlc.narg(status)::text IS NULL OR c.status = sqlc.narg(status)::text)
  AND (NOT @unassigned::boolean OR c.assignee_id IS NULL)
  AND (sqlc.narg(assignee_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(assignee_id)::bigint)
  AND (sqlc.narg(group_id)::bigint IS NULL OR c.group_id = sqlc.narg(group_id)::bigint)
  AND (NOT @unread::boolean OR c.unread_count > 0)
  AND (sqlc.narg(tag)::text IS NULL OR t.tag IS NOT NULL)
  AND (sqlc.narg(query)::text IS NULL OR ct.id IS NOT NULL)
ORDER BY c.last_message_at DESC, c.id DESC
LIMIT @row_limit)
UNION ALL
(SELECT c.id FROM conversations c
LEFT JOIN conversation_tags t ON t.conversation_id = c.id AND t.tag = sqlc.narg(tag)::text
LEFT JOIN contacts ct ON ct.id = c.contact_id
  AND (ct.profile_name ILIKE '%' || sqlc.narg(query)::text || '%' OR ct.wa_id LIKE '%' || sqlc.narg(query)::text || '%')
WHERE @scope::text IN ('group', 'assigned') AND c.assignee_id = @viewer_id::bigint
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (c.last_message_at, c.id) < (sqlc.narg(before_at)::timestamptz, @before_id::bigint))
  AND (sqlc.narg(status)::text IS NULL OR c.status = sqlc.narg(status)::text)
  AND (NOT @unassigned::boolean OR c.assignee_id IS NULL)
  AND (sqlc.narg(assignee_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(assignee_id)::bigint)
  AND (sqlc.narg(group_id)::bigint IS NULL OR c.group_id = sqlc.narg(group_id)::bigint)
  AND (NOT @unread::boolean OR c.unread_count > 0)
  AND (sqlc.narg(tag)::text IS NULL OR t.tag IS NOT NULL)
  AND (sqlc.narg(query)::text IS NULL OR ct.id IS NOT NULL)
ORDER BY c.last_message_at DESC, c.id DESC
LIMIT @row_limit)
UNION ALL
(SELECT c.id FROM conversations c
LEFT JOIN conversation_tags t ON t.conversation_id = c.id AND t.tag = sqlc.narg(tag)::text
LEFT JOIN contacts ct ON ct.id = c.contact_id
  AND (ct.profile_name ILIKE '%' || sqlc.narg(query)::text || '%' OR ct.wa_id LIKE '%' || sqlc.narg(query)::text || '%')
WHERE @scope::text IN ('group', 'assigned') AND c.assignee_id IS NULL
  AND (c.group_id IS NULL OR c.group_id = ANY(@viewer_groups::bigint[]))
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (c.last_message_at, c.id) < (sqlc.narg(before_at)::timestamptz, @before_id::bigint))
  AND (sqlc.narg(status)::text IS NULL OR c.status = sqlc.narg(status)::text)
  AND (NOT @unassigned::boolean OR c.assignee_id IS NULL)
  AND (sqlc.narg(assignee_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(assignee_id)::bigint)
  AND (sqlc.narg(group_id)::bigint IS NULL OR c.group_id = sqlc.narg(group_id)::bigint)
  AND (NOT @unread::boolean OR c.unread_count > 0)
  AND (sqlc.narg(tag)::text IS NULL OR t.tag IS NOT NULL)
  AND (sqlc.narg(query)::text IS NULL OR ct.id IS NOT NULL)
ORDER BY c.last_message_at DESC, c.id DESC
LIMIT @row_limit)
UNION ALL
(SELECT c.id FROM conversations c
LEFT JOIN conversation_tags t ON t.conversation_id = c.id AND t.tag = sqlc.narg(tag)::text
LEFT JOIN contacts ct ON ct.id = c.contact_id
  AND (ct.profile_name ILIKE '%' || sqlc.narg(query)::text || '%' OR ct.wa_id LIKE '%' || sqlc.narg(query)::text || '%')
WHERE @scope::text = 'group' AND c.group_id = ANY(@viewer_groups::bigint[])
  AND c.assignee_id IS NOT NULL AND c.assignee_id <> @viewer_id::bigint
  AND (sqlc.narg(before_at)::timestamptz IS NULL
       OR (c.last_message_at, c.id) < (sqlc.narg(before_at)::timestamptz, @before_id::bigint))
  AND (sqlc.narg(status)::text IS NULL OR c.status = sqlc.narg(status)::text)
  AND (NOT @unassigned::boolean OR c.assignee_id IS NULL)
  AND (sqlc.narg(assignee_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(assignee_id)::bigint)
  AND (sqlc.narg(group_id)::bigint IS NULL OR c.group_id = sqlc.narg(group_id)::bigint)
  AND (NOT @unread::boolean OR c.unread_count > 0)
  AND (sqlc.narg(tag)::text IS NULL OR t.tag IS NOT NULL)
  AND (sqlc.narg(query)::text IS NULL OR ct.id IS NOT NULL)
ORDER BY c.last_message_at DESC, c.id DESC
LIMIT @row_limit)
))
ORDER BY conversations.last_message_at DESC, conversations.id DESC
LIMIT @row_limit;

-- name: ConversationUnreadCount :one
-- ConversationUnreadCount is an agent's badge: how many of the conversations assigned to them hold
-- messages nobody has read, and how many such messages.
SELECT count(*) AS conversations, coalesce(sum(unread_count), 0)::bigint AS messages
FROM conversations
WHERE assignee_id = @assignee_id AND unread_count > 0;

-- name: ConversationWakeSnoozed :one
-- ConversationWakeSnoozed reopens a conversation whose snooze has ended. A conversation snoozed
-- again until later, or already woken, does not match.
UPDATE conversations
SET status = 'open', snoozed_until = NULL, updated_at = now()
WHERE id = @id AND status = 'snoozed' AND snoozed_until IS NOT NULL AND snoozed_until <= now()
RETURNING *;

-- name: BotConversationForUpdate :one
-- BotConversationForUpdate locks the conversation the bot is about to write to, so a takeover that
-- commits first is seen and one that comes later waits for the bot's transaction. It also returns
-- the start of the customer-service window (the customer's last message, Meta's time).
SELECT sqlc.embed(conversations), contacts.last_inbound_at
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = @id
FOR UPDATE OF conversations;

-- name: BotConversationGet :one
SELECT sqlc.embed(conversations), contacts.last_inbound_at
FROM conversations
JOIN contacts ON contacts.id = conversations.contact_id
WHERE conversations.id = @id;

-- name: BotConversationSetStatus :one
-- BotConversationSetStatus moves a conversation into or out of bot mode. Either way it is nobody's:
-- the bot's conversations have no assignee, and one handed off waits unassigned in the queue.
UPDATE conversations
SET status = @status, assignee_id = NULL, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: ConversationCountByStatus :many
-- ConversationCountByStatus is the business gauge of conversations by status; the metrics sampler
-- runs it at most once per interval per instance, whatever the number of scrapers.
SELECT status, count(*) AS n FROM conversations GROUP BY status;
