import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { LocalObjectStore } from '../../lib/objects';
import { createQueueWorker } from '../../workers/process';
import { openTestDeps, type TestDeps } from './deps';
import { connectTestEnv, testWorkflowBundle } from './temporal';

/**
 * An `ingestion` queue worker in the test process, built as `durasync worker` builds it, on the
 * run's Temporal dev server, with the suite's own database, Redis prefix, task queue prefix and
 * (with `objects`) a local object store in a temp folder. `cliEnv` points a `durasync` child at the
 * same database and queues.
 */
export interface IngestionHarness {
  env: TestWorkflowEnvironment;
  deps: TestDeps;
  config: DurasyncConfig;
  worker: Worker;
  /** `<prefix>ingestion`. */
  taskQueue: string;
  cliEnv: Record<string, string>;
  objects: LocalObjectStore | undefined;
  objectsDir: string | undefined;
  /** Drains the worker and closes and removes everything it opened. */
  close(): Promise<void>;
}

export async function startIngestionHarness(options: { objects?: boolean } = {}): Promise<IngestionHarness> {
  const env = await connectTestEnv();
  const deps = await openTestDeps();
  const objectsDir = options.objects ? await mkdtemp(path.join(os.tmpdir(), 'durasync-objects-')) : undefined;
  const objects = objectsDir ? new LocalObjectStore(objectsDir) : undefined;
  const prefix = `i${randomBytes(4).toString('hex')}-`;
  const cliEnv: Record<string, string> = { DATABASE_URL: deps.db.url, DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_LOG_LEVEL: 'warn', ...(objectsDir ? { DURASYNC_OBJECTS_DIR: objectsDir } : {}) };
  const config = loadConfig({ ...process.env, ...cliEnv, DURASYNC_SHUTDOWN_GRACE: '1s' });
  const worker = await createQueueWorker({
    connection: env.nativeConnection,
    config,
    queue: 'ingestion',
    bundle: testWorkflowBundle(),
    metrics: createMetrics(),
    deps: { store: deps.store, cache: deps.cache, logger: createLogger({ level: 'silent' }), objects },
  });
  const running = worker.run();
  return {
    env,
    deps,
    config,
    worker,
    taskQueue: worker.options.taskQueue,
    cliEnv,
    objects,
    objectsDir,
    async close() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await objects?.close();
      await deps.close();
      await env.teardown();
      if (objectsDir) await rm(objectsDir, { recursive: true, force: true });
    },
  };
}
