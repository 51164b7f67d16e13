-- name: EventInsert :one
INSERT INTO events (kind, conversation_id, payload)
VALUES (@kind, @conversation_id, @payload)
RETURNING id;

-- name: EventInsertMany :exec
-- EventInsertMany writes several events of one transaction in one round trip, in the order given
-- (their ids follow it: the arrays are expanded in step, row by row). A conversation id of 0
-- stands for none.
INSERT INTO events (kind, conversation_id, payload)
SELECT unnest(@kinds::text[]), nullif(unnest(@conversation_ids::bigint[]), 0), unnest(@payloads::jsonb[]);

-- name: EventHorizon :one
-- EventHorizon is the oldest transaction id still running anywhere in the cluster (the xmin of the
-- current snapshot): every transaction with a smaller id has committed or aborted, so the event
-- rows below it are final and no row can ever appear there again. Readers take only those rows.
-- next_xid is the first transaction id not yet assigned (the snapshot's xmax): every transaction
-- that committed before this statement has a smaller id, so a reader that must see them reads
-- until its horizon reaches next_xid.
SELECT pg_snapshot_xmin(pg_current_snapshot())::xid8 AS horizon,
    pg_snapshot_xmax(pg_current_snapshot())::xid8 AS next_xid;

-- name: EventHead :one
-- EventHead is the position of the last final event below horizon: where a reader that starts
-- now begins.
SELECT xid, id
FROM events
WHERE xid < @horizon::xid8
ORDER BY xid DESC, id DESC
LIMIT 1;

-- name: EventListAfter :many
-- EventListAfter reads the final events after a position, in (xid, id) order, with the current
-- assignee of their conversation so permissions are decided when the event is delivered.
-- horizon must come from EventHorizon run before this statement (or in its snapshot).
SELECT e.id, e.xid, e.kind, e.conversation_id, e.payload, e.created_at, c.assignee_id, c.group_id
FROM events e
LEFT JOIN conversations c ON c.id = e.conversation_id
WHERE (e.xid, e.id) > (@after_xid::xid8, @after_id::bigint)
  AND e.xid < @horizon::xid8
ORDER BY e.xid, e.id
LIMIT @row_limit;

-- name: EventListRange :many
-- EventListRange reads the events in the half-open range of positions (after, upto], for replay to
-- a reconnecting client. Every event up to upto is final (upto came from a reader), so no horizon
-- is needed.
SELECT e.id, e.xid, e.kind, e.conversation_id, e.payload, e.created_at, c.assignee_id, c.group_id
FROM events e
LEFT JOIN conversations c ON c.id = e.conversation_id
WHERE (e.xid, e.id) > (@after_xid::xid8, @after_id::bigint)
  AND (e.xid, e.id) <= (@upto_xid::xid8, @upto_id::bigint)
ORDER BY e.xid, e.id
LIMIT @row_limit;

-- name: EventCountRange :one
-- EventCountRange counts the events in (after, upto], stopping at row_limit so that a client far
-- behind costs one bounded index scan.
SELECT count(*)
FROM (
    SELECT 1
    FROM events
    WHERE (xid, id) > (@after_xid::xid8, @after_id::bigint)
      AND (xid, id) <= (@upto_xid::xid8, @upto_id::bigint)
    LIMIT @row_limit
) AS s;

-- name: EventPosition :one
-- EventPosition resolves an event id from a client's resume message to its position.
SELECT xid, id, created_at
FROM events
WHERE id = @id;

-- name: EventDeleteBefore :execrows
-- EventDeleteBefore prunes one batch of events older than the replay bound.
DELETE FROM events WHERE id IN (
    SELECT old.id FROM events old WHERE old.created_at < @before ORDER BY old.created_at LIMIT @batch_size
);
