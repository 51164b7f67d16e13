-- name: EarlyStatusLock :exec
-- EarlyStatusLock serializes, per wa_message_id, the status worker's "no message has it yet, keep
-- the status" with MarkSent's "record it, then apply what was kept": without it each could miss the
-- other's uncommitted write and a kept status would never be applied.
SELECT pg_advisory_xact_lock(713520, hashtext(@wa_message_id::text));

-- name: EarlyStatusInsert :exec
INSERT INTO early_statuses (wa_message_id, status, status_at, message_id, error_code, error_title, error_details, webhook_event_id)
VALUES (@wa_message_id, @status, @status_at, sqlc.narg(message_id), sqlc.narg(error_code), sqlc.narg(error_title), sqlc.narg(error_details), sqlc.narg(webhook_event_id))
ON CONFLICT (wa_message_id, status) DO NOTHING;

-- name: EarlyStatusTake :many
-- EarlyStatusTake removes and returns the statuses kept for wa_message_id, in the order Meta
-- stamped them.
WITH taken AS (
    DELETE FROM early_statuses WHERE wa_message_id = @wa_message_id RETURNING *
)
SELECT * FROM taken ORDER BY status_at, id;

-- name: EarlyStatusDeleteBefore :execrows
-- EarlyStatusDeleteBefore prunes statuses kept for a send that never recorded its wa_message_id.
DELETE FROM early_statuses WHERE id IN (
    SELECT old.id FROM early_statuses old WHERE old.created_at < @before ORDER BY old.created_at LIMIT @batch_size
);

-- name: EarlyStatusLockMany :exec
-- EarlyStatusLockMany takes EarlyStatusLock for several wa_message_ids, in the order of their
-- lock keys, so that two transactions locking overlapping sets never wait for each other in a
-- cycle.
SELECT count(pg_advisory_xact_lock(713520, keys.k))
FROM (SELECT DISTINCT hashtext(w) AS k FROM unnest(@wa_message_ids::text[]) AS w ORDER BY 1) AS keys;

-- name: EarlyStatusInsertMany :exec
-- EarlyStatusInsertMany keeps several statuses in one statement. @statuses is a JSON array of objects
-- with the columns of EarlyStatusInsert (absent or null where a column is NULL); a status kept
-- before for the same wa_message_id, or twice in @statuses, is kept once.
INSERT INTO early_statuses (wa_message_id, status, status_at, message_id, error_code, error_title, error_details, webhook_event_id)
SELECT r.wa_message_id, r.status, r.status_at, r.message_id, r.error_code, r.error_title, r.error_details, r.webhook_event_id
FROM jsonb_to_recordset(@statuses::jsonb) AS r(wa_message_id text, status text, status_at timestamptz, message_id bigint,
    error_code integer, error_title text, error_details text, webhook_event_id bigint)
ON CONFLICT (wa_message_id, status) DO NOTHING;
