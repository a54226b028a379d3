/**
 * The reliability suite (`npm run test:reliability`): load and fault scenarios under
 * test/reliability/*.reliability.ts, which `npm test` (testMatch *.test.ts) never picks up. Same
 * transform, setup and global setup as jest.config.js; one scenario at a time (each owns the
 * machine's cores while it runs), long timeouts. RELIABILITY_SCALE=ci runs the reduced sizes.
 */
const base = require('./jest.config.js');

/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: base.testEnvironment,
  roots: ['<rootDir>/test/reliability'],
  testMatch: ['**/*.reliability.ts'],
  transform: base.transform,
  globalSetup: base.globalSetup,
  setupFiles: base.setupFiles,
  globalTeardown: base.globalTeardown,
  testTimeout: 60 * 60_000,
  maxWorkers: 1,
  forceExit: true,
  verbose: true,
};
