-- name: QuickReplyInsert :one
INSERT INTO quick_replies (owner_id, group_id, shortcut, body, message, created_by)
VALUES (sqlc.narg(owner_id), sqlc.narg(group_id), @shortcut, @body, sqlc.narg(message), @created_by)
RETURNING *;

-- name: QuickReplyGet :one
SELECT * FROM quick_replies WHERE id = @id;

-- name: QuickReplyGetForUpdate :one
SELECT * FROM quick_replies WHERE id = @id FOR UPDATE;

-- name: QuickReplyUpdate :one
UPDATE quick_replies
SET shortcut = @shortcut, body = @body, message = sqlc.narg(message), updated_at = now()
WHERE id = @id
RETURNING *;

-- name: QuickReplyDelete :execrows
DELETE FROM quick_replies WHERE id = @id;

-- name: QuickReplyVisible :many
-- QuickReplyVisible lists the quick replies a user may use: their own, their groups' (all groups'
-- when @all_groups) and the team's, whose shortcut starts with @prefix (case-insensitive), by
-- shortcut.
SELECT * FROM quick_replies q
WHERE (q.owner_id = @user_id
       OR (q.owner_id IS NULL AND q.group_id IS NULL)
       OR (q.group_id IS NOT NULL AND (@all_groups::boolean OR q.group_id = ANY(@group_ids::bigint[]))))
  AND lower(q.shortcut) LIKE lower(@prefix::text) || '%'
ORDER BY lower(q.shortcut), q.id
LIMIT @row_limit;
