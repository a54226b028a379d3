/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking is `npm run typecheck`'s job; here ts-jest only transpiles, which keeps the run fast.
    '^.+\\.ts$': ['ts-jest', { isolatedModules: true, diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: suites share one Temporal dev server, Postgres and Redis.
  maxWorkers: 2,
  // The Temporal native bridge keeps a handle open after the last test (sdk-typescript#928).
  forceExit: true,
  verbose: true,
};
