// One config for every suite. globalSetup provides the database: a fresh database on the
// DATABASE_URL server (CI), or an in-process PGlite served over the wire protocol (a fresh laptop).
const swc = {
  jsc: {
    parser: { syntax: 'typescript', decorators: true },
    transform: { legacyDecorator: true, decoratorMetadata: true },
    target: 'es2022',
  },
  module: { type: 'commonjs' },
  sourceMaps: 'inline',
};

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/apps', '<rootDir>/libs', '<rootDir>/test'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest', swc] },
  moduleNameMapper: { '^@khala/([a-z-]+)(/.*)?$': '<rootDir>/libs/$1/src$2' },
  globalSetup: '<rootDir>/test/setup/global-setup.ts',
  globalTeardown: '<rootDir>/test/setup/global-teardown.ts',
  setupFiles: ['<rootDir>/test/setup/env.ts'],
  testTimeout: 60000,
  // PGlite runs one transaction at a time for everyone, so test files that each start a whole
  // system would mostly wait on each other (and time out); on real Postgres they run side by side.
  maxWorkers: process.env.DATABASE_URL ? 2 : 1,
};
