-- Reports read two tables the rollup keeps (report_episodes, report_message_hours); the rollup
-- follows the event log and recomputes the conversations that changed from their messages and
-- history (internal/reports/rollup.go).

-- name: ReportRollupLock :one
-- ReportRollupLock reads the rollup's state and locks it for the transaction: one rollup runs at a
-- time across instances, and a report waits for one running to finish.
SELECT after_xid, after_id, rebuild_after_id, rebuild_since, caught_up_at
FROM report_rollup
FOR UPDATE;

-- name: ReportRollupStartRebuild :exec
-- ReportRollupStartRebuild begins a rebuild: the conversations (all, or those active since
-- @since) are recomputed in id order, and the event log is followed from the position read when it
-- began, so a change made while it runs is applied after it (those events are recent: the
-- rollup counts as caught up from then).
UPDATE report_rollup
SET after_xid = @after_xid, after_id = @after_id::bigint, rebuild_after_id = 0, rebuild_since = sqlc.narg(since),
    caught_up_at = @caught_up_at;

-- name: ReportRollupRebuilt :exec
-- ReportRollupRebuilt records a rebuild's progress; NULL ends it.
UPDATE report_rollup SET rebuild_after_id = sqlc.narg(rebuild_after_id);

-- name: ReportRollupAdvance :exec
-- ReportRollupAdvance records the event log position applied, and when.
UPDATE report_rollup SET after_xid = @after_xid, after_id = @after_id::bigint, caught_up_at = @caught_up_at;

-- name: ReportRebuildConversations :many
-- ReportRebuildConversations is a rebuild's next batch of conversations: all of them, or those
-- with a message, a history row or their creation since @since.
SELECT c.id
FROM conversations c
WHERE c.id > @after_id
  AND (sqlc.narg(since)::timestamptz IS NULL
       OR c.last_message_at >= sqlc.narg(since)
       OR c.created_at >= sqlc.narg(since)
       OR EXISTS (SELECT 1 FROM conversation_history h WHERE h.conversation_id = c.id AND h.created_at >= sqlc.narg(since)))
ORDER BY c.id
LIMIT @batch_size;

-- name: ReportChangedConversations :many
-- ReportChangedConversations reads the final events after a position (below @horizon, as
-- EventListAfter does) whose change can move a report: a message written, a conversation created
-- or changed (its history). Status ticks, locks, tags and notes cannot.
SELECT xid, id, conversation_id::bigint AS conversation_id
FROM events
WHERE (xid, id) > (@after_xid::xid8, @after_id::bigint)
  AND xid < @horizon::xid8
  AND conversation_id IS NOT NULL
  AND kind IN ('message.created', 'conversation.created', 'conversation.updated')
ORDER BY xid, id
LIMIT @row_limit;

-- name: ReportTimelineConversations :many
SELECT id, created_at FROM conversations WHERE id = ANY(@ids::bigint[]);

-- name: ReportTimelineMessages :many
-- ReportTimelineMessages is the timeline's part of messages: who wrote, and when, never what.
-- Unordered: each conversation's few items are sorted with its history in Go.
SELECT conversation_id, direction, sender, sender_user_id, created_at
FROM messages
WHERE conversation_id = ANY(@ids::bigint[]);

-- name: ReportTimelineHistory :many
SELECT conversation_id, actor_id, action, details, created_at
FROM conversation_history
WHERE conversation_id = ANY(@ids::bigint[])
ORDER BY conversation_id, created_at, id;

-- name: ReportEpisodesDelete :exec
DELETE FROM report_episodes WHERE conversation_id = ANY(@ids::bigint[]);

-- name: ReportEpisodesInsert :copyfrom
INSERT INTO report_episodes (conversation_id, seq, started_at, reopened, first_customer_at, first_response_at,
    first_responder_id, resolved_at, resolved_by, snoozed_ms, snooze_from, snooze_to, bot_replied_at, person_joined_at,
    messages_in, messages_out, handoff_at, handoff_reasons)
VALUES (@conversation_id, @seq, @started_at, @reopened, @first_customer_at, @first_response_at,
    @first_responder_id, @resolved_at, @resolved_by, @snoozed_ms, @snooze_from, @snooze_to, @bot_replied_at, @person_joined_at,
    @messages_in, @messages_out, @handoff_at, @handoff_reasons);

-- name: ReportMessageHoursDelete :exec
DELETE FROM report_message_hours WHERE conversation_id = ANY(@ids::bigint[]);

-- name: ReportMessageHoursInsert :copyfrom
INSERT INTO report_message_hours (conversation_id, hour, agent_id, messages_in, messages_out)
VALUES (@conversation_id, @hour, @agent_id, @messages_in, @messages_out);

-- name: ReportEpisodes :many
-- ReportEpisodes are the episodes a range can count: those that began in it, and those that began
-- before it and were resolved in or after it or are still open (their hand-offs and resolution
-- may fall in it); each arm is one index's range. Narrowed to a team (a conversation's current
-- group).
SELECT e.conversation_id, e.seq, e.started_at, e.reopened, e.first_customer_at, e.first_response_at,
    e.first_responder_id, e.resolved_at, e.resolved_by, e.snoozed_ms, e.snooze_from, e.snooze_to, e.bot_replied_at,
    e.person_joined_at, e.messages_in, e.messages_out, e.handoff_at, e.handoff_reasons, c.group_id, c.assignee_id
FROM (
    SELECT * FROM report_episodes a WHERE a.started_at >= @range_from AND a.started_at < @range_to
    UNION ALL
    SELECT * FROM report_episodes b WHERE b.resolved_at >= @range_from AND b.started_at < @range_from
    UNION ALL
    SELECT * FROM report_episodes o WHERE o.resolved_at IS NULL AND o.started_at < @range_from
) e
JOIN conversations c ON c.id = e.conversation_id
WHERE sqlc.narg(team_id)::bigint IS NULL OR c.group_id = sqlc.narg(team_id);

-- name: ReportCustomers :many
-- ReportCustomers are the customers' numbers of conversations, for the detail export.
SELECT c.id, ct.wa_id
FROM conversations c
JOIN contacts ct ON ct.id = c.contact_id
WHERE c.id = ANY(@ids::bigint[]);

-- name: ReportMessageTotals :many
-- ReportMessageTotals adds up the message counts of the whole hours from @from_hour to @to_hour
-- per UTC day, team and writing agent: a summary of the whole team needs no more.
SELECT date_trunc('day', h.hour, 'UTC')::timestamptz AS day, c.group_id, h.agent_id,
    sum(h.messages_in)::bigint AS messages_in, sum(h.messages_out)::bigint AS messages_out
FROM report_message_hours h
JOIN conversations c ON c.id = h.conversation_id
WHERE h.hour >= @from_hour AND h.hour < @to_hour
  AND (sqlc.narg(team_id)::bigint IS NULL OR c.group_id = sqlc.narg(team_id))
GROUP BY 1, 2, 3;

-- name: ReportMessageHours :many
-- ReportMessageHours are the message counts of each conversation in the hours from @from_hour to
-- @to_hour, with its team and assignee; narrowed to a team, and to the conversations assigned to
-- an agent or with a message of theirs from @agent_from on (the hour the range begins in: the
-- caller decides exactly who wrote in the range).
SELECT h.conversation_id, h.hour, h.agent_id, h.messages_in, h.messages_out, c.group_id, c.assignee_id
FROM report_message_hours h
JOIN conversations c ON c.id = h.conversation_id
WHERE h.hour >= @from_hour AND h.hour < @to_hour
  AND (sqlc.narg(team_id)::bigint IS NULL OR c.group_id = sqlc.narg(team_id))
  AND (sqlc.narg(agent_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(agent_id)
       OR h.conversation_id IN (SELECT x.conversation_id FROM report_message_hours x
                                WHERE x.agent_id = sqlc.narg(agent_id) AND x.hour >= @agent_from AND x.hour < @to_hour));

-- name: ReportMessagesBetween :many
-- ReportMessagesBetween counts exactly, from the messages themselves, a part of an hour at a
-- range's edge: the hour's rows name the conversations to read.
SELECT conversation_id, direction, sender, sender_user_id, created_at
FROM messages
WHERE conversation_id = ANY(@ids::bigint[]) AND created_at >= @range_from AND created_at < @range_to;

-- name: ReportRecentConversations :many
-- ReportRecentConversations are the conversations of events at or above @horizon that have
-- committed (this statement sees them) but are not final yet: a transaction older than them is
-- still running somewhere. The rollup applies them without moving its position past them.
SELECT DISTINCT conversation_id::bigint AS conversation_id
FROM (
    SELECT conversation_id
    FROM events
    WHERE xid >= @horizon::xid8
      AND conversation_id IS NOT NULL
      AND kind IN ('message.created', 'conversation.created', 'conversation.updated')
    ORDER BY xid, id
    LIMIT @row_limit
) AS recent;
