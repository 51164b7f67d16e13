-- +goose Up

-- River's job table has two GIN indexes (args, metadata) for listing jobs by their content. With
-- GIN's default fastupdate, every insert and every state change of a job (each is a new row
-- version) appends to a pending list, and the write that finds the list over
-- gin_pending_list_limit merges all of it into the index before it returns: pg_stat_statements
-- showed River's job insert taking up to 257 ms and its fetch up to 316 ms, each stall landing on
-- an agent's send or a Meta webhook. Without fastupdate every write pays its own small index
-- update instead (the worst seen fell to ~40 ms, and completing jobs got faster on average).
-- River's migrations own these indexes; should a later one recreate them, this setting goes with
-- them and this note says why to set it again.
ALTER INDEX river_job_args_index SET (fastupdate = off);
ALTER INDEX river_job_metadata_index SET (fastupdate = off);

-- +goose Down
ALTER INDEX river_job_args_index RESET (fastupdate);
ALTER INDEX river_job_metadata_index RESET (fastupdate);
