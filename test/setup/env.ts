// Runs before each test file's imports, so env-validated modules see test settings (Nest's
// ConfigModule-style validation runs at import time).
process.env.LOG_LEVEL ??= 'silent';
process.env.POLL_INTERVAL_MS ??= '50';
process.env.NODE_ENV = 'test';
