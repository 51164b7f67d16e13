-- name: UserCreate :one
INSERT INTO users (email, name, role, password_hash)
VALUES (@email, @name, @role, @password_hash)
RETURNING *;

-- name: UserGetByEmail :one
SELECT * FROM users WHERE lower(email) = lower(@email);

-- name: UserGetByID :one
SELECT * FROM users WHERE id = @id;

-- name: UserCountAdmins :one
SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL;

-- name: UserList :many
SELECT sqlc.embed(users),
       coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id) FROM group_members m WHERE m.user_id = users.id),
                '{}')::bigint[] AS group_ids
FROM users
ORDER BY users.id;

-- name: UserGetWithGroups :one
SELECT sqlc.embed(users),
       coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id) FROM group_members m WHERE m.user_id = users.id),
                '{}')::bigint[] AS group_ids
FROM users
WHERE users.id = @id;

-- name: UserGetForUpdate :one
SELECT * FROM users WHERE id = @id FOR UPDATE;

-- name: UserUpdate :one
-- UserUpdate writes every editable column; the caller read the row FOR UPDATE and applied the
-- patch, so a NULL override means "the role's default".
UPDATE users
SET name = @name, role = @role, disabled_at = @disabled_at,
    can_read_chats = @can_read_chats, can_write_chats = @can_write_chats,
    can_manage_templates = @can_manage_templates, can_manage_users = @can_manage_users,
    can_view_metrics = @can_view_metrics, can_use_tags = @can_use_tags,
    can_view_reports = @can_view_reports, can_export_data = @can_export_data,
    max_conversations = @max_conversations, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UserSetAvailability :one
UPDATE users SET availability = @availability, updated_at = now()
WHERE id = @id
RETURNING *;

-- name: UserSetPassword :exec
UPDATE users SET password_hash = @password_hash, updated_at = now() WHERE id = @id;

-- name: UsersForUpdate :many
-- UsersForUpdate locks the rows an administration change decides on: the acting user and the users
-- it changes. Rows are locked in id order, so two changes that lock the same users cannot deadlock.
SELECT * FROM users WHERE id = ANY(@ids::bigint[]) ORDER BY id FOR UPDATE;
