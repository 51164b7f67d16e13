-- name: ConversationTagAdd :exec
INSERT INTO conversation_tags (conversation_id, tag, created_by)
VALUES (@conversation_id, @tag, @created_by)
ON CONFLICT DO NOTHING;

-- name: ConversationTagRemove :execrows
DELETE FROM conversation_tags WHERE conversation_id = @conversation_id AND tag = @tag;

-- name: ConversationTagList :many
SELECT tag FROM conversation_tags WHERE conversation_id = @conversation_id ORDER BY tag;
