-- name: ContactUpsertByWaID :one
-- ContactUpsertByWaID finds or creates a contact by its phone-based id. A non-empty profile name
-- replaces the stored one; an empty one (an agent starting a conversation) keeps it.
INSERT INTO contacts (channel_id, wa_id, profile_name)
VALUES (@channel_id, @wa_id, @profile_name)
ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO UPDATE
SET profile_name = CASE WHEN excluded.profile_name <> '' THEN excluded.profile_name ELSE contacts.profile_name END,
    updated_at = CASE WHEN excluded.profile_name <> '' AND excluded.profile_name <> contacts.profile_name THEN now() ELSE contacts.updated_at END
RETURNING *;

-- name: ContactGetByID :one
SELECT * FROM contacts WHERE id = @id;
