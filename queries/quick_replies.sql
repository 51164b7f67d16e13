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
-- QuickReplyVisible lists the quick replies a user may use, by shortcut: their own, and when @shared
-- (they read chats) the team's and their groups' (all groups' when @all_groups). internal/quickreplies
-- (visible) is the same rule in Go, and a test keeps the two in step. @scope narrows the list to
-- personal, group or team ones ('' for all); @prefix is a LIKE pattern's escaped prefix, matched
-- case-insensitively; the page starts after the shortcut and id of the cursor when they are set.
SELECT * FROM quick_replies q
WHERE (q.owner_id = @user_id::bigint
       OR (@shared::boolean AND q.owner_id IS NULL AND q.group_id IS NULL)
       OR (@shared::boolean AND q.group_id IS NOT NULL
           AND (@all_groups::boolean OR q.group_id = ANY(@group_ids::bigint[]))))
  AND CASE @scope::text
        WHEN 'personal' THEN q.owner_id IS NOT NULL
        WHEN 'group' THEN q.group_id IS NOT NULL
        WHEN 'team' THEN q.owner_id IS NULL AND q.group_id IS NULL
        ELSE true
      END
  AND lower(q.shortcut) LIKE lower(@prefix::text) || '%'
  AND (sqlc.narg(after_shortcut)::text IS NULL
       OR (lower(q.shortcut), q.id) > (lower(sqlc.narg(after_shortcut)::text), sqlc.narg(after_id)::bigint))
ORDER BY lower(q.shortcut), q.id
LIMIT @row_limit;
