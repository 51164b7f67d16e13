-- +goose Up

-- The prune job deletes refresh tokens after they expire (a rotation leaves one row per refresh,
-- about a hundred a day per open session); this index finds them without scanning the table.
CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at);

-- +goose Down
DROP INDEX refresh_tokens_expires_at_idx;
