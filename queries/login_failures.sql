-- name: LoginFailureCounts :one
-- LoginFailureCounts counts the failures of an account and of an address since a time, with the
-- oldest of each, from which the wait (Retry-After) follows.
SELECT
    (SELECT count(*) FROM login_failures f WHERE f.email = @email AND f.at > @since)::bigint AS email_failures,
    coalesce((SELECT min(f.at) FROM login_failures f WHERE f.email = @email AND f.at > @since), now())::timestamptz AS email_oldest,
    (SELECT count(*) FROM login_failures f WHERE f.ip = @ip AND f.at > @since)::bigint AS ip_failures,
    coalesce((SELECT min(f.at) FROM login_failures f WHERE f.ip = @ip AND f.at > @since), now())::timestamptz AS ip_oldest;

-- name: LoginFailureInsert :one
-- LoginFailureInsert records an attempt before its password is checked, so that concurrent
-- attempts count each other: of a burst, the ones whose rows commit after the limit see it.
INSERT INTO login_failures (email, ip) VALUES (@email, @ip) RETURNING id;

-- name: LoginFailureDelete :exec
DELETE FROM login_failures WHERE id = @id;

-- name: LoginFailurePrune :exec
DELETE FROM login_failures WHERE at <= @before;

-- name: LoginFailureClearEmail :exec
DELETE FROM login_failures WHERE email = @email;

-- name: LoginFailureDeleteBefore :execrows
-- LoginFailureDeleteBefore prunes failed logins older than any throttling window.
DELETE FROM login_failures WHERE id IN (
    SELECT old.id FROM login_failures old WHERE old.at < @before ORDER BY old.at LIMIT @batch_size
);
