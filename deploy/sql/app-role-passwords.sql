-- Gives each app role (created without a password by migrations/0001_foundation.sql) the password
-- its app logs in with, so each app connects as itself: least privilege without SET ROLE on an
-- admin URL. Run with psql after `oa migrate up`, the passwords as psql variables:
--   psql -v ON_ERROR_STOP=1 -v control_password=… -v runtime_password=… -v gateway_password=… -f app-role-passwords.sql
-- Idempotent; running it with new values rotates the passwords.
ALTER ROLE khala_control LOGIN PASSWORD :'control_password';
ALTER ROLE khala_runtime LOGIN PASSWORD :'runtime_password';
ALTER ROLE khala_gateway LOGIN PASSWORD :'gateway_password';
