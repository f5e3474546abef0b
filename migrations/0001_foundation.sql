-- Foundation: schemas, one role per app (least privilege), the Postgres event store, the Khala
-- journal and the first read model. Forward-only: never edit this file once applied; add 0002_...

-- Roles are cluster-wide, so creating them must tolerate a second database on the same server.
DO $$
DECLARE r text;
BEGIN
  FOREACH r IN ARRAY ARRAY['khala_control', 'khala_runtime', 'khala_gateway'] LOOP
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
      EXECUTE format('CREATE ROLE %I LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE', r);
    END IF;
  END LOOP;
END $$;

CREATE SCHEMA eventstore;
CREATE SCHEMA control;
CREATE SCHEMA runtime;
CREATE SCHEMA khala;

GRANT SELECT ON public.schema_migrations TO khala_control, khala_runtime, khala_gateway;

-- ---------------------------------------------------------------- event store (authority)
-- Commit order, not insert order: a reader only sees rows whose transaction id is below the
-- oldest transaction still running, and orders by (transaction_id, position). A late-committing
-- transaction can therefore never slip in behind a reader's checkpoint.
CREATE TABLE eventstore.streams (
  stream_id text PRIMARY KEY,
  category text NOT NULL,
  -- 0-based revision of the last event; -1 while the stream row exists but has no event yet.
  revision bigint NOT NULL DEFAULT -1
);

CREATE TABLE eventstore.events (
  position bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  transaction_id xid8 NOT NULL DEFAULT pg_current_xact_id(),
  event_id uuid NOT NULL UNIQUE,
  stream_id text NOT NULL,
  category text NOT NULL,
  revision bigint NOT NULL,
  event_type text NOT NULL,
  data jsonb NOT NULL,
  metadata jsonb NOT NULL,
  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
  UNIQUE (stream_id, revision)
);
CREATE INDEX events_commit_order ON eventstore.events (transaction_id, position);
CREATE INDEX events_category_commit_order ON eventstore.events (category, transaction_id, position);
CREATE INDEX events_type_commit_order ON eventstore.events (event_type, transaction_id, position);

-- INV-04/INV-05 by construction: each app's role sees and writes only its own stream categories.
ALTER TABLE eventstore.streams ENABLE ROW LEVEL SECURITY;
ALTER TABLE eventstore.events ENABLE ROW LEVEL SECURITY;
CREATE POLICY runtime_streams ON eventstore.streams TO khala_runtime
  USING (category IN ('run', 'codexWorker')) WITH CHECK (category IN ('run', 'codexWorker'));
CREATE POLICY control_streams ON eventstore.streams TO khala_control
  USING (category IN ('org', 'user', 'session', 'apiToken')) WITH CHECK (category IN ('org', 'user', 'session', 'apiToken'));
CREATE POLICY runtime_events ON eventstore.events TO khala_runtime
  USING (category IN ('run', 'codexWorker')) WITH CHECK (category IN ('run', 'codexWorker'));
CREATE POLICY control_events ON eventstore.events TO khala_control
  USING (category IN ('org', 'user', 'session', 'apiToken')) WITH CHECK (category IN ('org', 'user', 'session', 'apiToken'));

GRANT USAGE ON SCHEMA eventstore TO khala_runtime, khala_control;
GRANT SELECT, INSERT, UPDATE ON eventstore.streams TO khala_runtime, khala_control;
GRANT SELECT, INSERT ON eventstore.events TO khala_runtime, khala_control;

-- ---------------------------------------------------------------- grants by schema
GRANT USAGE ON SCHEMA control TO khala_control;
ALTER DEFAULT PRIVILEGES IN SCHEMA control GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO khala_control;

GRANT USAGE ON SCHEMA runtime TO khala_runtime, khala_gateway;
ALTER DEFAULT PRIVILEGES IN SCHEMA runtime GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO khala_runtime;
ALTER DEFAULT PRIVILEGES IN SCHEMA runtime GRANT SELECT ON TABLES TO khala_gateway;

GRANT USAGE ON SCHEMA khala TO khala_runtime, khala_gateway;

-- ---------------------------------------------------------------- projections
CREATE TABLE runtime.projection_checkpoints (
  projection text PRIMARY KEY,
  version integer NOT NULL,
  commit_position bigint NOT NULL,
  prepare_position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE runtime.run_summaries (
  run_id text PRIMARY KEY,
  org_id text NOT NULL,
  document jsonb NOT NULL,
  doc_version bigint NOT NULL,
  payload_hash text NOT NULL,
  watermark bigint NOT NULL,
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL
);
CREATE INDEX run_summaries_org_newest ON runtime.run_summaries (org_id, created_at DESC, run_id DESC);

-- ---------------------------------------------------------------- Khala journal
-- Topic classes and their delivery policy (khala-protocol.md §3).
CREATE TABLE khala.topic_classes (
  topic text PRIMARY KEY,
  retention interval NOT NULL,
  replay_budget integer NOT NULL CHECK (replay_budget > 0),
  has_snapshot boolean NOT NULL
);
INSERT INTO khala.topic_classes (topic, retention, replay_budget, has_snapshot) VALUES
  ('runtime.run_summaries', '7 days', 20000, true),
  ('runtime.codex_worker_summaries', '3 days', 10000, true),
  ('runtime.codex_worker_events', '1 day', 3000, false),
  ('runtime.run_events', '1 day', 3000, false),
  ('runtime.notifications', '12 hours', 500, false),
  ('run:*:events', '1 day', 3000, false),
  ('worker:*:events', '1 day', 3000, false);

-- One dense watermark sequence per (topic, org). Allocation is an UPDATE ... RETURNING inside the
-- projector's transaction: the row lock orders allocations by commit, and a rollback consumes nothing.
CREATE TABLE khala.topic_sequences (
  topic text NOT NULL,
  org_id text NOT NULL,
  head_watermark bigint NOT NULL DEFAULT 0,
  -- Durable retention floor: the oldest watermark still guaranteed to be in the journal.
  retained_from bigint NOT NULL DEFAULT 1,
  PRIMARY KEY (topic, org_id)
);

CREATE TABLE khala.journal (
  topic text NOT NULL,
  org_id text NOT NULL,
  watermark bigint NOT NULL,
  doc_key text NOT NULL,
  doc_version bigint NOT NULL,
  -- Canonical JSON text (exactly what payload_hash covers); NULL in pointer mode.
  payload text,
  payload_hash text NOT NULL,
  hydration_required boolean NOT NULL DEFAULT false,
  correlation_id text,
  committed_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (topic, org_id, watermark)
);
CREATE INDEX journal_committed_at ON khala.journal (committed_at);

-- Delivery metadata: the only tables the gateway may write (INV-06).
CREATE TABLE khala.delivery_gateways (
  gateway_id text PRIMARY KEY,
  started_at timestamptz NOT NULL DEFAULT now(),
  heartbeat_at timestamptz NOT NULL DEFAULT now(),
  connections integer NOT NULL DEFAULT 0
);

GRANT SELECT ON khala.topic_classes, khala.topic_sequences, khala.journal TO khala_runtime, khala_gateway;
GRANT INSERT, UPDATE, DELETE ON khala.topic_sequences, khala.journal TO khala_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON khala.delivery_gateways TO khala_gateway;
GRANT SELECT ON khala.delivery_gateways TO khala_runtime;
GRANT SELECT, INSERT, UPDATE, DELETE ON runtime.projection_checkpoints, runtime.run_summaries TO khala_runtime;
GRANT SELECT ON runtime.run_summaries TO khala_gateway;
