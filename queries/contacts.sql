-- name: ContactUpsertByWaID :one
-- ContactUpsertByWaID finds or creates a contact by its phone-based id. A non-empty profile name
-- replaces the stored one; an empty one (an agent starting a conversation) keeps it.
INSERT INTO contacts (channel_id, wa_id, profile_name)
VALUES (@channel_id, @wa_id, @profile_name)
ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO UPDATE
SET profile_name = CASE WHEN excluded.profile_name <> '' THEN excluded.profile_name ELSE contacts.profile_name END,
    updated_at = CASE WHEN excluded.profile_name <> '' AND excluded.profile_name <> contacts.profile_name THEN now() ELSE contacts.updated_at END
RETURNING *;

-- name: ContactUpdateInboundByUserID :one
-- ContactUpdateInboundByUserID refreshes the contact Meta names by its business-scoped user id: a
-- non-empty profile name replaces the stored one, a phone-based wa_id fills an empty one unless
-- another contact of the channel has it, and last_inbound_at only moves forward.
UPDATE contacts
SET profile_name = CASE WHEN @profile_name::text <> '' THEN @profile_name::text ELSE profile_name END,
    wa_id = CASE WHEN wa_id = '' AND @wa_id::text <> '' AND NOT EXISTS (
                SELECT 1 FROM contacts other WHERE other.channel_id = @channel_id AND other.wa_id = @wa_id::text)
            THEN @wa_id::text ELSE wa_id END,
    last_inbound_at = greatest(last_inbound_at, @inbound_at::timestamptz),
    updated_at = now()
WHERE channel_id = @channel_id AND user_id = @user_id::text
RETURNING *;

-- name: ContactUpsertInboundByWaID :one
-- ContactUpsertInboundByWaID finds or creates the sender of an inbound message by its phone-based
-- id, keeping a user_id already known and moving last_inbound_at (the start of the 24-hour
-- customer-service window) only forward. In the same round trip it finds and locks the contact's
-- conversation (conversation_id 0: none yet, or one opened by a transaction this statement's
-- snapshot does not see; the caller then opens it with ConversationOpenForInbound, which settles
-- both).
WITH contact AS (
    INSERT INTO contacts (channel_id, wa_id, user_id, profile_name, last_inbound_at)
    VALUES (@channel_id, @wa_id, sqlc.narg(user_id), @profile_name, @inbound_at::timestamptz)
    ON CONFLICT (channel_id, wa_id) WHERE wa_id <> '' DO UPDATE
    SET profile_name = CASE WHEN excluded.profile_name <> '' THEN excluded.profile_name ELSE contacts.profile_name END,
        user_id = coalesce(contacts.user_id, excluded.user_id),
        last_inbound_at = greatest(contacts.last_inbound_at, excluded.last_inbound_at),
        updated_at = now()
    RETURNING id
)
SELECT contact.id, coalesce(conv.id, 0)::bigint AS conversation_id,
    coalesce(conv.status, '')::text AS conversation_status, conv.assignee_id AS conversation_assignee_id
FROM contact
LEFT JOIN LATERAL (
    SELECT c.id, c.status, c.assignee_id FROM conversations c WHERE c.contact_id = contact.id FOR UPDATE
) conv ON true;

-- name: ContactUpsertInboundByUserID :one
-- ContactUpsertInboundByUserID finds or creates the sender of an inbound message that carries no
-- phone number (a username user), by its business-scoped user id.
INSERT INTO contacts (channel_id, wa_id, user_id, profile_name, last_inbound_at)
VALUES (@channel_id, '', @user_id::text, @profile_name, @inbound_at::timestamptz)
ON CONFLICT (channel_id, user_id) WHERE user_id IS NOT NULL DO UPDATE
SET profile_name = CASE WHEN excluded.profile_name <> '' THEN excluded.profile_name ELSE contacts.profile_name END,
    last_inbound_at = greatest(contacts.last_inbound_at, excluded.last_inbound_at),
    updated_at = now()
RETURNING *;
