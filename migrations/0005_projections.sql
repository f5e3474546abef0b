-- Projections (libs/projections): the run-event and codex-worker read models, parked poison
-- events, and the journal indexes that retention and snapshots need. Written only by runtime's
-- projectors (role khala_runtime); the gateway reads the read models it serves and nothing else.

-- ---------------------------------------------------------------- read models
-- One row per run event (doc_key run_event:<run_id>:<seq>, seq = stream revision + 1). Immutable:
-- a replayed event with the same content changes nothing and journals nothing.
CREATE TABLE runtime.run_events (
  run_id text NOT NULL,
  seq bigint NOT NULL,
  org_id text NOT NULL,
  event_type text NOT NULL,
  document jsonb NOT NULL,
  payload_hash text NOT NULL,
  PRIMARY KEY (run_id, seq)
);

CREATE TABLE runtime.codex_worker_summaries (
  worker_id text PRIMARY KEY,
  org_id text NOT NULL,
  document jsonb NOT NULL,
  doc_version bigint NOT NULL,
  payload_hash text NOT NULL,
  -- Watermark of the journal row that carried this version (runtime.codex_worker_summaries, org).
  watermark bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX codex_worker_summaries_org_newest ON runtime.codex_worker_summaries (org_id, created_at DESC, worker_id DESC);

-- Worker stream events except heartbeats (those only move the summary's last_heartbeat_at).
CREATE TABLE runtime.codex_worker_events (
  worker_id text NOT NULL,
  seq bigint NOT NULL,
  org_id text NOT NULL,
  event_type text NOT NULL,
  document jsonb NOT NULL,
  payload_hash text NOT NULL,
  PRIMARY KEY (worker_id, seq)
);

-- Snapshot pages walk an org's documents in doc_key order at a pinned watermark.
CREATE INDEX run_summaries_org_key ON runtime.run_summaries (org_id, run_id);
CREATE INDEX codex_worker_summaries_org_key ON runtime.codex_worker_summaries (org_id, worker_id);

-- ---------------------------------------------------------------- poison events
-- An event a projection could not apply after bounded retries. 'continue' projections move past
-- it (the checkpoint advances in the same transaction that parks it); 'stop' projections halt on
-- it. Operators list, retry and skip these (status records what they did).
CREATE TABLE runtime.projection_failures (
  projection text NOT NULL,
  event_id text NOT NULL,
  stream_id text NOT NULL,
  revision bigint NOT NULL,
  commit_position bigint NOT NULL,
  prepare_position bigint NOT NULL,
  event_type text NOT NULL,
  error text NOT NULL,
  attempts integer NOT NULL,
  status text NOT NULL CHECK (status IN ('parked', 'retried', 'skipped')),
  parked_at timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  PRIMARY KEY (projection, event_id)
);
CREATE INDEX projection_failures_parked ON runtime.projection_failures (projection, status, commit_position, prepare_position);

-- ---------------------------------------------------------------- journal
-- The class a topic belongs to (entity topics `run:<id>:events` → `run:*:events`), so retention
-- can walk one class's oldest rows through an index instead of filtering every topic's.
CREATE FUNCTION khala.topic_class(topic text) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT CASE WHEN topic LIKE 'run:%:events' THEN 'run:*:events'
                    WHEN topic LIKE 'worker:%:events' THEN 'worker:*:events'
                    ELSE topic END $$;
CREATE INDEX journal_class_committed_at ON khala.journal (khala.topic_class(topic), committed_at);

-- ---------------------------------------------------------------- privileges (least)
-- Default privileges of the runtime schema (0001) gave khala_runtime DML and khala_gateway SELECT
-- on every table above; narrow them to what each role does.
REVOKE ALL ON runtime.run_events, runtime.codex_worker_events, runtime.codex_worker_summaries, runtime.projection_failures FROM khala_runtime, khala_gateway;
GRANT SELECT, INSERT, UPDATE ON runtime.run_events, runtime.codex_worker_events, runtime.codex_worker_summaries TO khala_runtime;
GRANT SELECT, INSERT, UPDATE ON runtime.projection_failures TO khala_runtime;
-- The gateway serves snapshots of summary topics only; event read models go out through the journal.
GRANT SELECT ON runtime.codex_worker_summaries TO khala_gateway;
GRANT EXECUTE ON FUNCTION khala.topic_class(text) TO khala_runtime, khala_gateway;
