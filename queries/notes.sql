-- name: NoteInsert :one
INSERT INTO notes (conversation_id, author_id, body)
VALUES (@conversation_id, @author_id, @body)
RETURNING *;

-- name: NoteList :many
SELECT * FROM notes WHERE conversation_id = @conversation_id ORDER BY id DESC LIMIT @row_limit;
