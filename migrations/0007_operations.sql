-- Operations (apps/cli `oa`): durable pause flags the projector runner checks in every batch
-- transaction, the resumable state of blue/green rebuilds, and a schema for their shadow tables.

-- A paused projection commits nothing until resumed; no row means "not paused" (the default).
CREATE TABLE runtime.projection_controls (
  projection text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  reason text,
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE control.projection_controls (
  projection text PRIMARY KEY,
  paused boolean NOT NULL DEFAULT false,
  reason text,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- One row per rebuild in progress or done: the shadow's own checkpoint, committed with the shadow
-- writes, so an interrupted rebuild resumes where it stopped.
CREATE TABLE runtime.projection_rebuilds (
  projection text PRIMARY KEY,
  version integer NOT NULL,
  commit_position bigint,
  prepare_position bigint,
  status text NOT NULL CHECK (status IN ('building', 'swapped')),
  events_applied bigint NOT NULL DEFAULT 0,
  started_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Shadow tables (<table>__rebuild) are created and dropped by `oa projections rebuild` at run time;
-- they live outside the schemas migrations own, so a rebuild in progress is not schema drift.
CREATE SCHEMA khala_rebuild;
REVOKE ALL ON SCHEMA khala_rebuild FROM PUBLIC;

-- ---------------------------------------------------------------- privileges (least)
-- Projectors only read the pause flag; operators (the admin role behind `oa`) write it.
REVOKE ALL ON runtime.projection_controls, runtime.projection_rebuilds FROM khala_runtime, khala_gateway;
GRANT SELECT ON runtime.projection_controls TO khala_runtime;
REVOKE ALL ON control.projection_controls FROM khala_control;
GRANT SELECT ON control.projection_controls TO khala_control;
