-- Runtime commands: fence Idempotency-Key records by the attempt that holds them.

-- Every claim or lease takeover of a key writes a fresh attempt token; completing or releasing
-- the record requires that token. An attempt whose lease ran out and was taken over can no longer
-- complete the record with its response or delete the new holder's record (issue #10).
-- Rows from before this migration get a token nobody holds: a pending one is taken over as before.
ALTER TABLE runtime.idempotency_keys ADD COLUMN attempt uuid NOT NULL DEFAULT gen_random_uuid();
-- The app always writes its own token; a default would hide a claim that forgot to.
ALTER TABLE runtime.idempotency_keys ALTER COLUMN attempt DROP DEFAULT;

-- Privileges: unchanged. A new column inherits the table's grants (0004: khala_runtime reads and
-- writes it, khala_gateway and khala_control have nothing).
