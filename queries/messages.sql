-- name: MessageInsertOutbound :one
-- MessageInsertOutbound reserves the conversation's next outbound position, which locks its row
-- (concurrent sends to one conversation are ordered by commit), and stores the message at it, in
-- one round trip. It returns what the caller must check under that lock: who may write, and who
-- holds the composer lock (a failed check rolls the transaction back, message and all). No row:
-- the conversation does not exist, or the sender already used client_id
-- (ConversationReserveOutSeq tells which).
WITH r AS (
    UPDATE conversations
    SET last_out_seq = last_out_seq + 1, last_message_at = now(), updated_at = now()
    WHERE conversations.id = @conversation_id
    RETURNING conversations.id, last_out_seq, assignee_id, group_id, locked_by, lock_expires_at,
        (locked_by IS NOT NULL AND lock_expires_at > now())::boolean AS lock_held
), m AS (
    INSERT INTO messages (conversation_id, direction, sender, sender_user_id, type, body, payload, status, client_id, out_seq, send_generation)
    SELECT r.id, 'out', @sender::text, sqlc.narg(sender_user_id)::bigint, @type::text, @body::text, @payload::jsonb,
        'pending', @client_id::uuid, r.last_out_seq, 1
    FROM r
    ON CONFLICT (sender, coalesce(sender_user_id, 0), client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING *
)
SELECT m.*, r.assignee_id AS conv_assignee_id, r.group_id AS conv_group_id, r.locked_by AS conv_locked_by,
    r.lock_expires_at AS conv_lock_expires_at, r.lock_held AS conv_lock_held
FROM m, r;

-- name: MessageGetByClientID :one
SELECT * FROM messages
WHERE sender = @sender AND coalesce(sender_user_id, 0) = coalesce(sqlc.narg(sender_user_id)::bigint, 0) AND client_id = @client_id;

-- name: MessageGet :one
SELECT * FROM messages WHERE id = @id;

-- name: MessageListByConversation :many
SELECT * FROM messages
WHERE conversation_id = @conversation_id
  AND (sqlc.narg(before_id)::bigint IS NULL OR id < sqlc.narg(before_id)::bigint)
ORDER BY id DESC
LIMIT @row_limit;

-- name: MessageRequeue :one
-- MessageRequeue makes a failed message pending again under a new send generation.
UPDATE messages
SET send_generation = send_generation + 1, status = 'pending', error_code = NULL, error_title = NULL,
    error_details = NULL, failed_at = NULL, last_error = '', updated_at = now()
WHERE id = @id AND status = 'failed'
RETURNING *;

-- name: MessageMarkSent :one
-- MessageMarkSent records Meta's acceptance. A status webhook may have arrived first (the send
-- answer and the webhook race), so the status only moves forward and sent_at keeps the earliest.
UPDATE messages
SET wa_message_id = @wa_message_id,
    status = CASE WHEN status IN ('pending', 'failed') THEN 'sent' ELSE status END,
    sent_at = coalesce(sent_at, @sent_at),
    attempts = @attempts, last_error = '', error_code = NULL, error_title = NULL, error_details = NULL,
    failed_at = NULL, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: MessageMarkFailed :one
UPDATE messages
SET status = 'failed', failed_at = @failed_at, attempts = @attempts,
    error_code = @error_code, error_title = @error_title, error_details = @error_details,
    last_error = @last_error, updated_at = now()
WHERE id = @id AND status IN ('pending', 'sent', 'failed')
RETURNING *;

-- name: MessageRecordAttempt :exec
-- MessageRecordAttempt makes a failed attempt that will be retried visible to agents.
UPDATE messages
SET attempts = @attempts, last_error = @last_error, updated_at = now()
WHERE id = @id;

-- name: MessageSendTarget :one
-- MessageSendTarget loads what a send needs: the message, the number it leaves from and the
-- customer it goes to.
SELECT sqlc.embed(messages), channels.phone_number_id, contacts.wa_id
FROM messages
JOIN conversations ON conversations.id = messages.conversation_id
JOIN channels ON channels.id = conversations.channel_id
JOIN contacts ON contacts.id = conversations.contact_id
WHERE messages.id = @id;

-- name: MessageInsertInbound :one
-- MessageInsertInbound stores a customer's message unless its wa_message_id is stored already (a
-- redelivery; then it returns no row and changes nothing) and, in the same round trip, records it
-- on its conversation (locked by the caller): @unread (0 for what an agent need not read, such as
-- a reaction) is added to the unread count, the conversation moves to the top of the list and
-- takes the status the message leads to.
WITH m AS (
    INSERT INTO messages (conversation_id, direction, sender, type, body, payload, status, wa_message_id)
    VALUES (@conversation_id, 'in', 'contact', @type, @body, @payload, 'received', @wa_message_id)
    ON CONFLICT (wa_message_id) DO NOTHING
    RETURNING *
), c AS (
    UPDATE conversations
    SET status = @conversation_status, unread_count = unread_count + @unread::integer,
        last_message_at = greatest(last_message_at, now()), updated_at = now()
    WHERE id = @conversation_id AND EXISTS (SELECT 1 FROM m)
    RETURNING *
)
SELECT m.*,
    c.channel_id AS conv_channel_id, c.contact_id AS conv_contact_id, c.status AS conv_status,
    c.assignee_id AS conv_assignee_id, c.unread_count AS conv_unread_count,
    c.last_out_seq AS conv_last_out_seq, c.last_message_at AS conv_last_message_at,
    c.created_at AS conv_created_at, c.updated_at AS conv_updated_at, c.group_id AS conv_group_id,
    c.locked_by AS conv_locked_by, c.lock_expires_at AS conv_lock_expires_at,
    c.snoozed_until AS conv_snoozed_until
FROM m, c;

-- name: MessageGetByWaIDForUpdate :one
SELECT * FROM messages WHERE wa_message_id = @wa_message_id FOR UPDATE;

-- name: MessageApplyStatus :one
-- MessageApplyStatus writes the outcome of a delivery status; the caller has computed it, forward
-- only, from the row it locked.
UPDATE messages
SET status = @status, sent_at = @sent_at, delivered_at = @delivered_at, read_at = @read_at,
    failed_at = @failed_at, error_code = @error_code, error_title = @error_title,
    error_details = @error_details, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: MessageMarkLastInboundRead :one
-- MessageMarkLastInboundRead stamps the conversation's latest customer message read, once: it
-- returns no row when there is none or it was read before. WhatsApp shows every earlier message
-- read with it.
UPDATE messages
SET read_at = now(), updated_at = now()
WHERE id = (
    SELECT m.id FROM messages m
    WHERE m.conversation_id = @conversation_id AND m.direction = 'in' AND m.wa_message_id IS NOT NULL
    ORDER BY m.id DESC
    LIMIT 1
) AND read_at IS NULL
RETURNING *;
