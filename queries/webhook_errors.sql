-- name: WebhookErrorInsert :exec
INSERT INTO webhook_errors (webhook_event_id, kind, phone_number_id, code, title, details, payload)
VALUES (@webhook_event_id, @kind, @phone_number_id, sqlc.narg(code), @title, @details, sqlc.narg(payload));

-- name: WebhookErrorListByEvent :many
SELECT * FROM webhook_errors WHERE webhook_event_id = @webhook_event_id ORDER BY id;
