import os from 'node:os';
import path from 'node:path';
import { startDevServer, type DevServer } from '../workers/temporal-dev-server';
import { createLogger } from '../lib/logger';
import { writeWorkflowBundle } from '../workers/bundle';
import { freePort } from '../lib/net';
import { prepareTemplateDatabase } from './helpers/db';

/**
 * Runs once before every suite: one Temporal dev server for the whole run (random free port,
 * in-memory, durasync's search attributes registered), a migrated template database that each
 * test clones (test/helpers/db.ts), and the workflow bundle every test worker loads. Settings
 * reach the test processes through the environment.
 */
export default async function globalSetup(): Promise<void> {
  process.env.DATABASE_URL ??= 'postgres://postgres@127.0.0.1:5432/postgres';
  process.env.REDIS_URL ??= 'redis://127.0.0.1:6379';
  const started = Date.now();
  const bundlePath = path.join(os.tmpdir(), `durasync-test-workflows-${process.pid}.js`);
  const [server] = await Promise.all([
    startDevServer({ port: await freePort(), uiPort: false, logLevel: 'error' }),
    prepareTemplateDatabase(),
    writeWorkflowBundle(bundlePath, createLogger({ level: 'warn' })),
  ]);
  process.env.DURASYNC_TEST_WORKFLOW_BUNDLE = bundlePath;
  (globalThis as { __durasyncTemporal?: DevServer }).__durasyncTemporal = server;
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_NAMESPACE = server.namespace;
  process.stderr.write(`\n[test] temporal dev server on ${server.address}, template db ready (${Date.now() - started} ms)\n`);
}
