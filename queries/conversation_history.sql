-- name: HistoryInsert :one
INSERT INTO conversation_history (conversation_id, actor_id, action, details)
VALUES (@conversation_id, @actor_id, @action, @details)
RETURNING *;

-- name: HistoryList :many
SELECT * FROM conversation_history WHERE conversation_id = @conversation_id ORDER BY id DESC LIMIT @row_limit;
