/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type-checking is `npm run typecheck`'s job; with isolatedModules (tsconfig) ts-jest only
    // transpiles each file, which keeps the run fast.
    '^.+\\.ts$': ['ts-jest', { diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  setupFiles: ['<rootDir>/test/setup-runtime.ts'],
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  testTimeout: 60_000,
  // Two cores: suites share one Temporal dev server, Postgres and Redis.
  maxWorkers: 2,
  // The Temporal native bridge keeps a handle open after the last test (sdk-typescript#928).
  forceExit: true,
  verbose: true,
};
