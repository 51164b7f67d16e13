-- name: ChannelUpsert :one
-- ChannelUpsert registers a business number, keeping an existing row's id. The first channel ever
-- registered becomes the default one.
INSERT INTO channels (phone_number_id, display_phone_number, business_account_id, name, is_default)
VALUES (@phone_number_id, @display_phone_number, @business_account_id, @name,
        NOT EXISTS (SELECT 1 FROM channels WHERE is_default))
ON CONFLICT (phone_number_id) DO UPDATE
SET display_phone_number = CASE WHEN excluded.display_phone_number <> '' THEN excluded.display_phone_number ELSE channels.display_phone_number END,
    business_account_id  = CASE WHEN excluded.business_account_id <> '' THEN excluded.business_account_id ELSE channels.business_account_id END,
    updated_at = now()
RETURNING *;

-- name: ChannelGetDefault :one
SELECT * FROM channels WHERE is_default;

-- name: ChannelGetByPhoneNumberID :one
SELECT * FROM channels WHERE phone_number_id = @phone_number_id;

-- name: ChannelLeaseSendSlots :one
-- ChannelLeaseSendSlots leases @slots consecutive send slots of @slot_us microseconds each for
-- the number: they start at send_slot_at or now, whichever is later, and send_slot_at moves past
-- them. It returns where the lease starts, as an offset from the database's clock, so that the
-- instances' own clocks do not matter.
WITH lease AS (
    UPDATE channels
    SET send_slot_at = greatest(send_slot_at, now()) + sqlc.arg(slots)::integer * sqlc.arg(slot_us)::bigint * interval '1 microsecond'
    WHERE phone_number_id = sqlc.arg(phone_number_id)
    RETURNING send_slot_at
)
SELECT (extract(epoch FROM (send_slot_at - now())) * 1000000)::bigint
    - sqlc.arg(slots)::integer * sqlc.arg(slot_us)::bigint AS start_offset_us
FROM lease;
