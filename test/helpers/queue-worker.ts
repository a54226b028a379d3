import type { NativeConnection } from '@temporalio/worker';
import { MemoryCache } from '../../lib/cache';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import { createStore, type Store } from '../../lib/db/store';
import type { Logger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import { LocalObjectStore } from '../../lib/objects';
import type { QueueName } from '../../lib/queues';
import { createQueueWorker } from '../../workers/process';
import { testWorkflowBundle } from './temporal';

/**
 * A queue worker in the test's process, built as `durasync worker` builds it, on servers of the
 * test's own (a private Postgres, a private Temporal dev server): its own store and object folder,
 * an in-memory cache. Tests restart those servers under it, so a worker that stops is not an error
 * thrown here but a failure() the test checks.
 */
export interface ScenarioWorker {
  config: DurasyncConfig;
  store: Store;
  objects: LocalObjectStore;
  taskQueue: string;
  /** What worker.run() rejected with, if it has. */
  failure(): unknown;
  /** Shuts the worker down, waits until it has drained, closes the store and the object folder. */
  stop(): Promise<void>;
}

export interface ScenarioWorkerOptions {
  connection: NativeConnection;
  queue: QueueName;
  databaseUrl: string;
  objectsDir: string;
  taskQueuePrefix: string;
  logger: Logger;
  /** More environment for loadConfig, over process.env. */
  env?: Record<string, string>;
}

export async function startScenarioWorker(options: ScenarioWorkerOptions): Promise<ScenarioWorker> {
  const { connection, queue, databaseUrl, logger } = options;
  const config = loadConfig({ ...process.env, DATABASE_URL: databaseUrl, DURASYNC_TASK_QUEUE_PREFIX: options.taskQueuePrefix, DURASYNC_SHUTDOWN_GRACE: '1s', ...options.env });
  const store = createStore({ databaseUrl, logger });
  const objects = new LocalObjectStore(options.objectsDir);
  const deps = { store, cache: new MemoryCache(), logger, objects };
  const worker = await createQueueWorker({ connection, config, queue, bundle: testWorkflowBundle(), metrics: createMetrics(), deps });
  let failure: unknown;
  const running = worker.run().catch((err: unknown) => void (failure = err));
  return {
    config,
    store,
    objects,
    taskQueue: worker.options.taskQueue,
    failure: () => failure,
    async stop() {
      // A worker that failed has stopped already (shutdown() would throw).
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await store.close();
      await objects.close();
    },
  };
}
