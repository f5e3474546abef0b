-- Runtime commands: durable Idempotency-Key records.

-- One row per (org, Idempotency-Key). request_hash covers method + path + canonical body, so the
-- same key with a different request is refused (409 idempotency_mismatch). A 'pending' row whose
-- locked_until has passed belongs to a request that died; a retry may take it over (the command's
-- deterministic event ids make the re-execution append nothing).
CREATE TABLE runtime.idempotency_keys (
  org_id text NOT NULL,
  idempotency_key text NOT NULL,
  request_hash text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'completed')),
  response_status integer,
  response_body jsonb,
  locked_until timestamptz NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  completed_at timestamptz,
  PRIMARY KEY (org_id, idempotency_key),
  CHECK (state = 'pending' OR (response_status IS NOT NULL AND response_body IS NOT NULL))
);
-- For an expiry sweep by age.
CREATE INDEX idempotency_keys_created_at ON runtime.idempotency_keys (created_at);

-- Least privilege: the default privileges of the runtime schema (0001) gave khala_gateway SELECT
-- on every new table; stored responses are runtime's business only.
GRANT SELECT, INSERT, UPDATE, DELETE ON runtime.idempotency_keys TO khala_runtime;
REVOKE ALL ON runtime.idempotency_keys FROM khala_gateway;
