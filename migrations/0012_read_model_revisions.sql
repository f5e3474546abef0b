-- Read-your-writes (GET ...?min_revision=N): each summary row records the stream revision its
-- projector has folded, so a read can tell whether the read model already reflects a command whose
-- response carried `revision`. doc_version (revision + 1 of the last event that changed the
-- document) is not enough: an event that leaves the document unchanged (two heartbeats in the same
-- millisecond) moves no doc_version, and a read waiting for its revision would never see it.
--
-- -1 for rows written before this column existed: readers take GREATEST(stream_revision,
-- doc_version - 1), which is exact for those rows (their last folded event changed the document),
-- so no backfill rewrites the tables. No new grants: the column inherits the table privileges
-- (khala_runtime writes, khala_gateway reads).
ALTER TABLE runtime.run_summaries ADD COLUMN stream_revision bigint NOT NULL DEFAULT -1;
ALTER TABLE runtime.codex_worker_summaries ADD COLUMN stream_revision bigint NOT NULL DEFAULT -1;
