-- name: GroupList :many
SELECT sqlc.embed(groups),
       coalesce((SELECT array_agg(m.user_id ORDER BY m.user_id) FROM group_members m WHERE m.group_id = groups.id),
                '{}')::bigint[] AS member_ids
FROM groups
ORDER BY groups.id;

-- name: GroupGet :one
SELECT sqlc.embed(groups),
       coalesce((SELECT array_agg(m.user_id ORDER BY m.user_id) FROM group_members m WHERE m.group_id = groups.id),
                '{}')::bigint[] AS member_ids
FROM groups
WHERE groups.id = @id;

-- name: GroupCreate :one
INSERT INTO groups (name, auto_assign) VALUES (@name, @auto_assign) RETURNING *;

-- name: GroupUpdate :one
UPDATE groups SET name = @name, auto_assign = @auto_assign, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: GroupDelete :execrows
DELETE FROM groups WHERE id = @id;

-- name: GroupMembersClear :exec
DELETE FROM group_members WHERE group_id = @group_id;

-- name: GroupMembersAdd :exec
INSERT INTO group_members (group_id, user_id)
SELECT @group_id, unnest(@user_ids::bigint[])
ON CONFLICT DO NOTHING;

-- name: UserGroupsClear :exec
DELETE FROM group_members WHERE user_id = @user_id;

-- name: UserGroupsAdd :exec
INSERT INTO group_members (group_id, user_id)
SELECT unnest(@group_ids::bigint[]), @user_id
ON CONFLICT DO NOTHING;

-- name: GroupPickAgent :one
-- GroupPickAgent is the round-robin of auto-assignment: among the group's enabled, online agents
-- below their capacity (open and pending conversations; 0 = no limit), the one who waited longest
-- since their last assignment. SKIP LOCKED lets concurrent assignments pick different agents.
UPDATE users SET last_assigned_at = clock_timestamp()
WHERE users.id = (
    SELECT u.id
    FROM users u
    JOIN group_members m ON m.user_id = u.id
    WHERE m.group_id = @group_id AND u.disabled_at IS NULL AND u.availability = 'online'
      AND (u.max_conversations = 0
           OR (SELECT count(*) FROM conversations c
               WHERE c.assignee_id = u.id AND c.status IN ('open', 'pending')) < u.max_conversations)
    ORDER BY u.last_assigned_at NULLS FIRST, u.id
    LIMIT 1
    FOR UPDATE OF u SKIP LOCKED
)
RETURNING users.id;
