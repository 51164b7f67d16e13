-- name: SessionCreate :one
INSERT INTO sessions (id, user_id, user_agent, ip, expires_at)
VALUES (@id, @user_id, @user_agent, @ip, @expires_at)
RETURNING *;

-- name: SessionPrincipal :one
-- SessionPrincipal is what every authenticated request checks: the session is live, the user is
-- enabled, and their current role, permission overrides and groups. One primary-key lookup.
SELECT u.id AS user_id, u.role, u.disabled_at, u.can_read_chats, u.can_write_chats,
       u.can_manage_templates, u.can_manage_users, u.can_view_metrics, u.can_use_tags,
       u.can_view_reports, u.can_export_data,
       s.revoked_at,
       coalesce((SELECT array_agg(m.group_id ORDER BY m.group_id) FROM group_members m WHERE m.user_id = u.id),
                '{}')::bigint[] AS group_ids
FROM sessions s
JOIN users u ON u.id = s.user_id
WHERE s.id = @id;

-- name: SessionTouch :exec
UPDATE sessions SET last_used_at = now(), expires_at = @expires_at WHERE id = @id;

-- name: SessionRevoke :one
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason
WHERE id = @id AND revoked_at IS NULL
RETURNING *;

-- name: SessionRevokeAllOfUser :many
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason
WHERE user_id = @user_id AND revoked_at IS NULL
RETURNING id;

-- name: SessionRevokeOthersOfUser :many
-- SessionRevokeOthersOfUser ends every live session of a user but one (the one that changed the
-- password).
UPDATE sessions SET revoked_at = now(), revoke_reason = @reason
WHERE user_id = @user_id AND revoked_at IS NULL AND id <> @keep
RETURNING id;

-- name: RefreshTokenInsert :exec
INSERT INTO refresh_tokens (token_hash, session_id, expires_at)
VALUES (@token_hash, @session_id, @expires_at);

-- name: RefreshTokenUse :one
-- RefreshTokenUse spends a refresh token in one statement: it matches only an unused, unexpired
-- token of a live session, and marks it used. Of concurrent refreshes with one token, the first
-- locks the row; the others re-check the condition after it commits, find used_at set, and match
-- nothing.
UPDATE refresh_tokens r SET used_at = now()
FROM sessions s
WHERE r.token_hash = @token_hash AND s.id = r.session_id
  AND r.used_at IS NULL AND r.expires_at > now() AND s.revoked_at IS NULL
RETURNING r.session_id, s.user_id;

-- name: RefreshTokenGet :one
SELECT r.session_id, r.used_at, r.expires_at, s.user_id, s.revoked_at
FROM refresh_tokens r
JOIN sessions s ON s.id = r.session_id
WHERE r.token_hash = @token_hash;

-- name: SessionDeleteEndedBefore :execrows
-- SessionDeleteEndedBefore prunes one batch of sessions that expired or were revoked before
-- @before; their refresh tokens go with them.
DELETE FROM sessions WHERE id IN (
    SELECT old.id FROM sessions old
    WHERE old.expires_at < @before OR old.revoked_at < @before
    LIMIT @batch_size
);

-- name: RefreshTokenDeleteExpiredBefore :execrows
-- RefreshTokenDeleteExpiredBefore prunes one batch of refresh tokens that expired before
-- @before. An expired token is refused whether or not its row exists; only the revocation of its
-- session when a used one is presented again (reuse detection) needs the row, and that holds
-- until it expires.
DELETE FROM refresh_tokens WHERE token_hash IN (
    SELECT old.token_hash FROM refresh_tokens old WHERE old.expires_at < @before LIMIT @batch_size
);
