-- name: WebhookErrorInsert :exec
INSERT INTO webhook_errors (webhook_event_id, kind, phone_number_id, code, title, details, payload)
VALUES (@webhook_event_id, @kind, @phone_number_id, sqlc.narg(code), @title, @details, sqlc.narg(payload));
