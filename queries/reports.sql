-- name: ReportConversations :many
-- ReportConversations lists the conversations with any activity in [@range_from, @range_to): a
-- message (such a conversation's last_message_at is at or after @range_from, which its index
-- finds), a history row, or its creation; narrowed to a team and to an agent who was assigned or
-- wrote in the range.
SELECT c.id, c.group_id, c.assignee_id, c.created_at, ct.wa_id
FROM conversations c
JOIN contacts ct ON ct.id = c.contact_id
WHERE (c.last_message_at >= @range_from
       OR c.created_at >= @range_from
       OR c.id IN (SELECT h.conversation_id FROM conversation_history h
                   WHERE h.created_at >= @range_from AND h.created_at < @range_to))
  AND c.created_at < @range_to
  AND (sqlc.narg(team_id)::bigint IS NULL OR c.group_id = sqlc.narg(team_id))
  AND (sqlc.narg(agent_id)::bigint IS NULL OR c.assignee_id = sqlc.narg(agent_id)
       OR EXISTS (SELECT 1 FROM messages m WHERE m.conversation_id = c.id AND m.sender_user_id = sqlc.narg(agent_id)
                  AND m.created_at >= @range_from AND m.created_at < @range_to))
ORDER BY c.id;

-- name: ReportMessages :many
-- ReportMessages are the timeline's messages of those conversations from @since (the lookback
-- before the range, to find when an episode that ends in the range began) to the range's end:
-- who wrote, never what. Unordered: sorting millions of rows is the database's most expensive
-- step here, and the timeline sorts each conversation's few items itself.
SELECT conversation_id, direction, sender, sender_user_id, created_at
FROM messages
WHERE conversation_id = ANY(@conversation_ids::bigint[])
  AND created_at >= @since AND created_at < @range_to;

-- name: ReportHistory :many
-- ReportHistory is every status and assignment change of those conversations before the range's
-- end: a conversation's status at any moment follows from them.
SELECT conversation_id, actor_id, action, details, created_at
FROM conversation_history
WHERE conversation_id = ANY(@conversation_ids::bigint[]) AND created_at < @range_to
ORDER BY conversation_id, created_at, id;
