-- name: EventInsert :one
INSERT INTO events (kind, conversation_id, payload)
VALUES (@kind, @conversation_id, @payload)
RETURNING id;
