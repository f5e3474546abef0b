-- Security hardening (issue 9).
--
-- 1. Codex worker ids may be chosen by the client, so they are unique per org, not globally: the
--    worker read models are keyed by (org_id, worker_id[, seq]). Before this, a second org choosing
--    an id in use got 409 worker_exists, which told it the id existed in another org. Run ids are
--    minted by the server, but the projector upserts both entity kinds by the same (org, id) key,
--    so the run read models get the matching unique keys (replacing an index, adding none).
ALTER TABLE runtime.codex_worker_summaries DROP CONSTRAINT codex_worker_summaries_pkey;
DROP INDEX runtime.codex_worker_summaries_org_key;
ALTER TABLE runtime.codex_worker_summaries ADD PRIMARY KEY (org_id, worker_id);

ALTER TABLE runtime.codex_worker_events DROP CONSTRAINT codex_worker_events_pkey;
ALTER TABLE runtime.codex_worker_events ADD PRIMARY KEY (org_id, worker_id, seq);

ALTER TABLE runtime.run_events DROP CONSTRAINT run_events_pkey;
ALTER TABLE runtime.run_events ADD PRIMARY KEY (org_id, run_id, seq);

DROP INDEX runtime.run_summaries_org_key;
CREATE UNIQUE INDEX run_summaries_org_key ON runtime.run_summaries (org_id, run_id);

-- 2. The event store's row-level security decides by the category column, which the appender
--    supplies. Tie it to the stream name (the part before the first dash, as streamCategory()
--    computes it), so an app role cannot write another app's stream under its own category, for
--    instance occupy `user-<id>` as category 'run' and block control's first append to it.
--    NOT VALID: enforced for every new row without a full-table scan under lock on deploy.
ALTER TABLE eventstore.streams ADD CONSTRAINT streams_category_matches_name
  CHECK (category = split_part(stream_id, '-', 1)) NOT VALID;
ALTER TABLE eventstore.events ADD CONSTRAINT events_category_matches_name
  CHECK (category = split_part(stream_id, '-', 1)) NOT VALID;

-- 3. khala.delivery_gateways was created for delivery metadata but nothing ever wrote it: gateway
--    liveness and connection counts are served by each instance's /health and /metrics. An unused
--    writable table is only attack surface, so it goes; the gateway role now writes nothing at all.
DROP TABLE khala.delivery_gateways;
