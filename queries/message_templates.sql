-- name: TemplateUpsert :one
-- TemplateUpsert stores a template as a sync read it from Meta and marks it seen at @synced_at, the
-- start of the sync. A status that a webhook changed after the sync started is newer than the page
-- the sync read, so it is kept.
INSERT INTO message_templates (waba_id, meta_id, name, language, category, status, parameter_format,
                               components, rejected_reason, synced_at)
VALUES (@waba_id, @meta_id, @name, @language, @category, @status, @parameter_format, @components,
        @rejected_reason, @synced_at)
ON CONFLICT (waba_id, name, language) DO UPDATE
SET meta_id = excluded.meta_id, category = excluded.category,
    status = CASE WHEN message_templates.updated_at > excluded.synced_at
                  THEN message_templates.status ELSE excluded.status END,
    rejected_reason = CASE WHEN message_templates.updated_at > excluded.synced_at
                           THEN message_templates.rejected_reason ELSE excluded.rejected_reason END,
    parameter_format = excluded.parameter_format, components = excluded.components,
    synced_at = excluded.synced_at,
    updated_at = CASE WHEN (message_templates.meta_id, message_templates.category, message_templates.status,
                            message_templates.parameter_format, message_templates.components,
                            message_templates.rejected_reason)
                           IS DISTINCT FROM
                           (excluded.meta_id, excluded.category, excluded.status, excluded.parameter_format,
                            excluded.components, excluded.rejected_reason)
                       AND message_templates.updated_at <= excluded.synced_at
                      THEN now() ELSE message_templates.updated_at END
RETURNING *;

-- name: TemplateDeleteUnseen :execrows
-- TemplateDeleteUnseen removes the templates of a business account that a complete sync started at
-- @synced_at did not see: they were deleted at Meta.
DELETE FROM message_templates WHERE waba_id = @waba_id AND synced_at < @synced_at;

-- name: TemplateList :many
-- TemplateList filters by status, language and a name prefix (empty: any), by name then language.
SELECT * FROM message_templates
WHERE waba_id = @waba_id
  AND (@status::text = '' OR status = @status::text)
  AND (@language::text = '' OR language = @language::text)
  AND (@name_prefix::text = '' OR name LIKE @name_prefix::text || '%')
ORDER BY name, language
LIMIT @row_limit;

-- name: TemplateGet :one
SELECT * FROM message_templates WHERE id = @id;

-- name: TemplateGetByName :one
SELECT * FROM message_templates WHERE waba_id = @waba_id AND name = @name AND language = @language;

-- name: TemplateNamed :many
-- TemplateNamed lists the languages of a template name, to tell "no such template" from "not in
-- this language".
SELECT * FROM message_templates WHERE waba_id = @waba_id AND name = @name ORDER BY language;

-- name: TemplateSetStatus :one
-- TemplateSetStatus applies a message_template_status_update webhook to the template Meta names by
-- its id.
UPDATE message_templates
SET status = @status, rejected_reason = @rejected_reason, updated_at = now()
WHERE meta_id = @meta_id
RETURNING *;

-- name: TemplateDeleteByName :execrows
DELETE FROM message_templates WHERE waba_id = @waba_id AND name = @name;
