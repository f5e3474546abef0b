-- Control plane (apps/control): read models projected from the org-, user-, session- and apiToken-
-- streams, the email reservation that makes signup unique, and the login/signup throttle.
-- Default privileges from 0001 give khala_control DML on every table here; runtime and the gateway
-- get SELECT on exactly two relations below (revocations, api_token_credentials) and nothing else.

CREATE TABLE control.projection_checkpoints (
  projection text PRIMARY KEY,
  version integer NOT NULL,
  commit_position bigint NOT NULL,
  prepare_position bigint NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Poison events of control's projector, same shape as runtime.projection_failures (0005), which
-- libs/projections parks in the checkpoint table's schema.
CREATE TABLE control.projection_failures (
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
CREATE INDEX control_projection_failures_parked ON control.projection_failures (projection, status, commit_position, prepare_position);

-- Highest revision of each control stream the projector has applied: a command handler waits here
-- for its own append before answering (read-your-writes without a second writer of read models).
CREATE TABLE control.stream_revisions (
  stream_id text PRIMARY KEY,
  revision bigint NOT NULL
);

-- Uniqueness of email across user streams. The primary key serialises concurrent signups: the
-- second INSERT waits for the first transaction and then conflicts. A reservation is 'pending'
-- until the UserSignedUp event is appended, so a crash between the two leaves a reservation that
-- a later signup may reclaim (only after checking that the user stream really is empty).
CREATE TABLE control.email_reservations (
  email text PRIMARY KEY,
  user_id text NOT NULL UNIQUE,
  status text NOT NULL CHECK (status IN ('pending', 'confirmed')),
  reserved_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE control.users (
  user_id text PRIMARY KEY,
  email text NOT NULL,
  name text NOT NULL,
  default_org_id text NOT NULL,
  created_at timestamptz NOT NULL,
  revision bigint NOT NULL
);
CREATE INDEX users_email ON control.users (email);

CREATE TABLE control.orgs (
  org_id text PRIMARY KEY,
  name text NOT NULL,
  owner_user_id text NOT NULL,
  created_at timestamptz NOT NULL,
  revision bigint NOT NULL
);

CREATE TABLE control.memberships (
  org_id text NOT NULL,
  user_id text NOT NULL,
  role text NOT NULL CHECK (role IN ('owner', 'admin', 'member')),
  granted_at timestamptz NOT NULL,
  revision bigint NOT NULL,
  PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON control.memberships (user_id);

CREATE TABLE control.sessions (
  session_id text PRIMARY KEY,
  user_id text NOT NULL,
  org_id text NOT NULL,
  device_id text NOT NULL,
  started_at timestamptz NOT NULL,
  -- Log position of SessionStarted: a device revocation covers only sessions that started before it.
  started_commit bigint NOT NULL,
  started_prepare bigint NOT NULL,
  revoked_at timestamptz,
  revoke_reason text,
  revision bigint NOT NULL
);
CREATE INDEX sessions_user_device ON control.sessions (user_id, device_id);

CREATE TABLE control.api_tokens (
  token_id text PRIMARY KEY,
  user_id text NOT NULL,
  org_id text NOT NULL,
  name text NOT NULL,
  scopes text[] NOT NULL,
  -- `sha256:<hex>` of the secret; the secret itself is never stored.
  token_hash text NOT NULL UNIQUE,
  created_at timestamptz NOT NULL,
  revoked_at timestamptz,
  revision bigint NOT NULL
);
CREATE INDEX api_tokens_user ON control.api_tokens (user_id, created_at DESC);

-- One row per revoked session (revoked alone or with its device). Every instance of every app
-- checks this table, and the projector NOTIFYs `khala_revocations` in the same transaction, so the
-- gateway closes live sockets of the session without polling.
CREATE TABLE control.revocations (
  session_id text PRIMARY KEY,
  user_id text NOT NULL,
  org_id text NOT NULL,
  device_id text NOT NULL,
  reason text NOT NULL,
  revoked_at timestamptz NOT NULL
);

-- What runtime and the gateway need to accept a personal API token: no names, no secrets.
CREATE VIEW control.api_token_credentials AS
  SELECT token_id, token_hash, user_id, org_id, scopes, revoked_at FROM control.api_tokens;

-- Token buckets for login and signup, per IP and per account, shared by every control instance.
CREATE TABLE control.auth_throttle (
  key text PRIMARY KEY,
  tokens double precision NOT NULL,
  updated_at timestamptz NOT NULL
);

GRANT USAGE ON SCHEMA control TO khala_runtime, khala_gateway;
GRANT SELECT ON control.revocations, control.api_token_credentials TO khala_runtime, khala_gateway;
