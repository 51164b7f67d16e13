-- name: MessageInsertOutbound :one
-- MessageInsertOutbound reserves the conversation's next outbound position, which locks its row
-- (concurrent sends to one conversation are ordered by commit), and stores the message at it, in
-- one round trip. It returns what the caller must check under that lock: who may write, who
-- holds the composer lock, and when the customer last wrote (the 24-hour window); a failed check
-- rolls the transaction back, message and all. No row: the conversation does not exist, or the
-- sender already used client_id (ConversationReserveOutSeq tells which).
WITH r AS (
    UPDATE conversations
    SET last_out_seq = last_out_seq + 1, last_message_at = now(), updated_at = now()
    WHERE conversations.id = @conversation_id
    RETURNING conversations.id, last_out_seq, assignee_id, group_id, locked_by, lock_expires_at,
        (locked_by IS NOT NULL AND lock_expires_at > now())::boolean AS lock_held,
        (SELECT c.last_inbound_at FROM contacts c WHERE c.id = conversations.contact_id) AS last_inbound_at
), m AS (
    INSERT INTO messages (conversation_id, direction, sender, sender_user_id, type, body, payload, status, client_id,
                          out_seq, send_generation, reply_to_message_id, media_id)
    SELECT r.id, 'out', @sender::text, sqlc.narg(sender_user_id)::bigint, @type::text, @body::text, @payload::jsonb,
        'pending', @client_id::uuid, r.last_out_seq, 1, sqlc.narg(reply_to_message_id)::bigint, sqlc.narg(media_id)::bigint
    FROM r
    ON CONFLICT (sender, coalesce(sender_user_id, 0), client_id) WHERE client_id IS NOT NULL DO NOTHING
    RETURNING *
)
SELECT m.*, r.assignee_id AS conv_assignee_id, r.group_id AS conv_group_id, r.locked_by AS conv_locked_by,
    r.lock_expires_at AS conv_lock_expires_at, r.lock_held AS conv_lock_held, r.last_inbound_at AS conv_last_inbound_at
FROM m, r;

-- name: MessageGetByWaIDInConversation :one
-- MessageGetByWaIDInConversation finds the message a reply quotes (context.message_id).
SELECT * FROM messages WHERE conversation_id = @conversation_id AND wa_message_id = @wa_message_id;

-- name: MessageGetByClientID :one
SELECT * FROM messages
WHERE sender = @sender AND coalesce(sender_user_id, 0) = coalesce(sqlc.narg(sender_user_id)::bigint, 0) AND client_id = @client_id;

-- name: MessageGet :one
SELECT * FROM messages WHERE id = @id;

-- name: MessageGetWithAccess :one
-- MessageGetWithAccess returns a message with what permissions look at in its conversation (its
-- assignee and group), so that whether the caller may read it is decided on the same row read.
SELECT sqlc.embed(messages), conversations.assignee_id AS conv_assignee_id, conversations.group_id AS conv_group_id
FROM messages
JOIN conversations ON conversations.id = messages.conversation_id
WHERE messages.id = @id;

-- name: MessageConversationForUpdate :one
-- MessageConversationForUpdate locks the conversation of message id, as a send to it does, and
-- returns it: a retry is decided on who may write to it under that lock. No row: no such message.
SELECT conversations.* FROM conversations
JOIN messages ON messages.conversation_id = conversations.id
WHERE messages.id = @id
FOR UPDATE OF conversations;

-- name: MessageListByConversation :many
-- MessageListByConversation is a page of a thread, newest first, older than before_id when given.
-- The bound is one comparison (no bound is the largest id) rather than "IS NULL OR", which a
-- prepared statement's generic plan cannot use in the index: it filtered every newer message of
-- the thread, 2,450 heap fetches for the 50th page of a long one.
SELECT * FROM messages
WHERE conversation_id = @conversation_id
  AND id < coalesce(sqlc.narg(before_id)::bigint, 9223372036854775807)
ORDER BY id DESC
LIMIT @row_limit;

-- name: MessageRequeue :one
-- MessageRequeue makes a failed message pending again under a new send generation, with a fresh
-- budget of attempts.
UPDATE messages
SET send_generation = send_generation + 1, status = 'pending', error_code = NULL, error_title = NULL,
    error_details = NULL, failed_at = NULL, last_error = '', attempts = 0, unsettled_until = NULL,
    waiting_for = NULL, pending_reason = '', updated_at = now()
WHERE id = @id AND status = 'failed'
RETURNING *;

-- name: MessageClaimSend :one
-- MessageClaimSend decides, in one round trip, what an attempt of a send job may do with its
-- message, and claims the send when the answer is "send". decision is, in order of precedence:
--   skip       the message is not this job's to send (not pending, or a newer send generation);
--   reconcile  a status webhook kept for this message (our id in biz_opaque_callback_data) proves
--              an earlier attempt reached Meta: record it, send nothing;
--   confirm    an earlier attempt may have reached Meta (unsettled_until) and the reconciliation
--              window after it has not passed: wait for its status;
--   exhausted  the window passed without a status but the job may not send again (its last
--              attempt): the message fails;
--   wait       an earlier outbound message of the conversation is still pending
--              (earlier_pending_id): this one may not overtake it;
--   send       go ahead: the claim sets unsettled_until to the latest moment this attempt can
--              reach Meta, before it calls Meta.
-- The claim is a compare-and-set on unsettled_until, so of two runs racing for one message (a
-- job River ran twice) only one sends; claimed says whether this one did. The message returned is
-- as it was before the claim (its unsettled_until says whether this send follows an unknown one).
WITH cur AS (
    SELECT m.id, m.unsettled_until, k.wa_message_id AS kept_wa_message_id, p.id AS earlier_pending_id,
        CASE
            WHEN m.direction <> 'out' OR m.status <> 'pending' OR m.send_generation <> sqlc.arg(generation)::integer THEN 'skip'
            WHEN k.wa_message_id IS NOT NULL THEN 'reconcile'
            WHEN m.unsettled_until IS NOT NULL
                AND m.unsettled_until + sqlc.arg(reconcile_window_ms)::bigint * interval '1 millisecond' > now() THEN 'confirm'
            WHEN m.unsettled_until IS NOT NULL AND NOT sqlc.arg(may_resend)::boolean THEN 'exhausted'
            WHEN p.id IS NOT NULL THEN 'wait'
            ELSE 'send'
        END::text AS decision
    FROM messages m
    LEFT JOIN LATERAL (
        SELECT e.wa_message_id FROM early_statuses e
        WHERE e.message_id = m.id
        ORDER BY e.status_at, e.id
        LIMIT 1
    ) k ON true
    LEFT JOIN LATERAL (
        SELECT p.id FROM messages p
        WHERE p.conversation_id = m.conversation_id AND p.status = 'pending' AND p.out_seq < m.out_seq
        ORDER BY p.out_seq DESC
        LIMIT 1
    ) p ON true
    WHERE m.id = sqlc.arg(id)
), claim AS (
    UPDATE messages m
    SET unsettled_until = now() + sqlc.arg(attempt_timeout_ms)::bigint * interval '1 millisecond',
        attempts = sqlc.arg(attempt)::integer, waiting_for = NULL, pending_reason = '', updated_at = now()
    FROM cur
    WHERE m.id = cur.id AND cur.decision = 'send'
        AND m.status = 'pending' AND m.send_generation = sqlc.arg(generation)::integer
        AND m.unsettled_until IS NOT DISTINCT FROM cur.unsettled_until
    RETURNING m.id
)
SELECT sqlc.embed(messages), channels.phone_number_id, contacts.wa_id,
    coalesce(cur.kept_wa_message_id, '')::text AS kept_wa_message_id,
    coalesce(cur.earlier_pending_id, 0)::bigint AS earlier_pending_id, cur.decision,
    EXISTS (SELECT 1 FROM claim) AS claimed
FROM cur
JOIN messages ON messages.id = cur.id
JOIN conversations ON conversations.id = messages.conversation_id
JOIN channels ON channels.id = conversations.channel_id
JOIN contacts ON contacts.id = conversations.contact_id;

-- name: MessageLockStatus :one
-- MessageLockStatus reads a message's status under a share lock: a message about to wait for this
-- one holds it until its commit, so this one's outcome (which updates the row) cannot commit in
-- between and miss the waiter.
SELECT status FROM messages WHERE id = @id FOR SHARE;

-- name: MessageWaitFor :execrows
-- MessageWaitFor records that a pending message waits for an earlier one of its conversation.
UPDATE messages
SET waiting_for = @waiting_for, pending_reason = @pending_reason, updated_at = now()
WHERE id = @id AND status = 'pending' AND send_generation = @generation;

-- name: MessageNextPendingForUpdate :one
-- MessageNextPendingForUpdate locks the conversation's first pending outbound message after
-- out_seq: the one an outcome hands over to when it waits (waiting_for is set).
SELECT id, sender, send_generation, waiting_for FROM messages
WHERE conversation_id = @conversation_id AND status = 'pending' AND out_seq > @out_seq
ORDER BY out_seq
LIMIT 1
FOR UPDATE;

-- name: MessageStopWaiting :exec
UPDATE messages SET waiting_for = NULL, pending_reason = '', updated_at = now() WHERE id = @id;

-- name: MessageSetPendingReason :exec
UPDATE messages SET pending_reason = @pending_reason, updated_at = now()
WHERE id = @id AND status = 'pending' AND pending_reason <> @pending_reason;

-- name: MessageRecordUnsettled :exec
-- MessageRecordUnsettled notes an attempt whose outcome at Meta is unknown. It ended now and
-- cannot reach Meta any later, so the reconciliation window counts from here.
UPDATE messages
SET unsettled_until = least(unsettled_until, now()), last_error = @last_error,
    pending_reason = @pending_reason, updated_at = now()
WHERE id = @id AND status = 'pending';

-- name: MessageReleaseClaim :exec
-- MessageReleaseClaim gives back a claim that never reached Meta (no send slot in time, or Meta
-- throttled the number): its outcome is known, and it does not count as an attempt.
UPDATE messages
SET unsettled_until = NULL, attempts = greatest(attempts - 1, 0), last_error = @last_error,
    pending_reason = @pending_reason, updated_at = now()
WHERE id = @id AND status = 'pending';

-- name: MessageRecordAttempt :exec
-- MessageRecordAttempt makes a refused attempt that will be retried visible to agents; Meta's
-- answer settled it.
UPDATE messages
SET last_error = @last_error, pending_reason = @pending_reason, unsettled_until = NULL, updated_at = now()
WHERE id = @id AND status = 'pending';

-- name: MessageMarkSent :one
-- MessageMarkSent records Meta's acceptance and settles the attempt. A status webhook may have
-- arrived first (the send answer and the webhook race), so the status only moves forward and
-- sent_at keeps the earliest. In the same round trip it takes EarlyStatusLock of the
-- wa_message_id, so that the statuses kept for it can be taken next (EarlyStatusTake, a later
-- statement, sees every status kept before the lock was granted).
WITH lock AS (
    SELECT pg_advisory_xact_lock(713520, hashtext(sqlc.arg(wa_message_id)::text))
)
UPDATE messages
SET wa_message_id = sqlc.arg(wa_message_id)::text,
    status = CASE WHEN status IN ('pending', 'failed') THEN 'sent' ELSE status END,
    sent_at = coalesce(sent_at, @sent_at),
    last_error = '', error_code = NULL, error_title = NULL, error_details = NULL,
    failed_at = NULL, unsettled_until = NULL, waiting_for = NULL, pending_reason = '', updated_at = now()
FROM lock
WHERE id = @id
RETURNING messages.*;

-- name: MessageMarkFailed :one
UPDATE messages
SET status = 'failed', failed_at = @failed_at,
    error_code = @error_code, error_title = @error_title, error_details = @error_details,
    last_error = @last_error, unsettled_until = NULL, waiting_for = NULL, pending_reason = '', updated_at = now()
WHERE id = @id AND status IN ('pending', 'sent', 'failed')
RETURNING *;

-- name: MessageListStranded :many
-- MessageListStranded lists pending outbound messages untouched since before @before that no
-- pending earlier message holds back: candidates for a send job that ended without an outcome (a
-- job discarded by a rescue on its last attempt, a hand-over that never came). The caller checks
-- River for a live job before it queues one.
SELECT m.id, m.sender, m.send_generation FROM messages m
WHERE m.status = 'pending' AND m.direction = 'out' AND m.updated_at < @before
    AND NOT EXISTS (
        SELECT 1 FROM messages p
        WHERE p.conversation_id = m.conversation_id AND p.status = 'pending' AND p.out_seq < m.out_seq
    )
ORDER BY m.id
LIMIT @row_limit;

-- name: MessageCountWaiting :one
SELECT count(*) FROM messages WHERE status = 'pending' AND waiting_for IS NOT NULL;

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
-- takes the status the message leads to. @reply_to_wa_message_id is the wamid the customer replied
-- to (the message's context); reply_to_message_id links the message of the same conversation that
-- carries it, and stays NULL when none does (older than our records, another conversation's).
WITH m AS (
    INSERT INTO messages (conversation_id, direction, sender, type, body, payload, status, wa_message_id, reply_to_message_id)
    VALUES (@conversation_id, 'in', 'contact', @type, @body, @payload, 'received', @wa_message_id,
        (SELECT q.id FROM messages q
         WHERE q.wa_message_id = sqlc.narg(reply_to_wa_message_id)::text AND q.conversation_id = @conversation_id))
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

-- name: MessageLockByWaIDs :many
-- MessageLockByWaIDs locks the messages carrying any of the wa_message_ids, in id order: two
-- batches of statuses lock the messages they share in the same order, so neither waits for the
-- other in a cycle.
SELECT * FROM messages WHERE wa_message_id = ANY(@wa_message_ids::text[]) ORDER BY id FOR UPDATE;

-- name: MessageApplyStatuses :many
-- MessageApplyStatuses writes the outcome of a batch of delivery statuses in one statement, one
-- row of @changes (a JSON array) per message: the columns the caller computed, forward only, from
-- the rows it locked (absent or null where a column is NULL).
UPDATE messages m
SET status = r.status, sent_at = r.sent_at, delivered_at = r.delivered_at, read_at = r.read_at,
    failed_at = r.failed_at, error_code = r.error_code, error_title = r.error_title,
    error_details = r.error_details, updated_at = now()
FROM jsonb_to_recordset(@changes::jsonb) AS r(id bigint, status text, sent_at timestamptz, delivered_at timestamptz,
    read_at timestamptz, failed_at timestamptz, error_code integer, error_title text, error_details text)
WHERE m.id = r.id
RETURNING m.*;

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

-- name: BotLatestInboundID :one
-- BotLatestInboundID is the newest customer message the bot would answer (not a reaction or an
-- account notice), 0 when there is none.
SELECT coalesce(max(id), 0)::bigint
FROM messages
WHERE conversation_id = @conversation_id AND direction = 'in' AND type NOT IN ('reaction', 'system');

-- name: BotHistory :many
-- BotHistory returns the newest messages of a conversation, newest first, for the prompt.
SELECT * FROM messages
WHERE conversation_id = @conversation_id
ORDER BY id DESC
LIMIT @row_limit;

-- name: BotRepliesInSession :one
-- BotRepliesInSession counts the bot's replies since a human or the system last wrote to the
-- customer (a hand-off notice is a system message) and since @since, the start of the current
-- service window: the bot's session.
SELECT count(*)::integer
FROM messages m
WHERE m.conversation_id = @conversation_id AND m.sender = 'bot' AND m.created_at > @since::timestamptz
  AND m.id > coalesce((
      SELECT max(o.id) FROM messages o
      WHERE o.conversation_id = @conversation_id AND o.direction = 'out' AND o.sender <> 'bot'), 0);

-- name: MessageLastOfConversations :many
-- MessageLastOfConversations is the latest message (by id, the thread's order) of each of the
-- conversations, for the list's preview: one probe of messages_conversation_idx per
-- conversation, however long its thread. The body is cut to what a preview shows.
SELECT m.id, m.conversation_id, m.direction, m.type, left(m.body, 101)::text AS body, m.status, m.created_at
FROM unnest(@conversation_ids::bigint[]) AS c(id)
CROSS JOIN LATERAL (
    SELECT * FROM messages WHERE messages.conversation_id = c.id ORDER BY messages.id DESC LIMIT 1
) m;

-- name: MessageCountPendingByReason :many
-- MessageCountPendingByReason counts the outbound messages not sent yet by why they wait (the
-- partial index of pending and failed messages keeps it small).
SELECT pending_reason, (waiting_for IS NOT NULL)::boolean AS waiting, count(*) AS n
FROM messages WHERE status = 'pending'
GROUP BY 1, 2;
