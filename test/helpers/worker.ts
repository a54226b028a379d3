import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { Worker } from '@temporalio/worker';
import { loadConfig, type DurasyncConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import type { QueueName } from '../../lib/queues';
import { createQueueWorker } from '../../workers/process';
import { openTestDeps, type TestDeps } from './deps';
import { connectTestEnv, testWorkflowBundle } from './temporal';

/**
 * A durasync queue worker running in the test process, built as `durasync worker` builds it, on
 * the run's Temporal dev server, with the suite's own database and Redis prefix. Its task queue is
 * `<prefix><queue>`; `config` carries the prefix for clients and CLI children.
 */
export interface TestWorker {
  env: TestWorkflowEnvironment;
  config: DurasyncConfig;
  deps: TestDeps;
  worker: Worker;
  taskQueue: string;
  /** Drains the worker and closes everything it opened. */
  stop(): Promise<void>;
}

export async function startTestWorker(options: { prefix: string; queue?: QueueName; env?: Record<string, string> }): Promise<TestWorker> {
  const env = await connectTestEnv();
  const deps = await openTestDeps();
  const config = loadConfig({ ...process.env, DURASYNC_TASK_QUEUE_PREFIX: options.prefix, DURASYNC_SHUTDOWN_GRACE: '1s', ...options.env });
  const worker = await createQueueWorker({
    connection: env.nativeConnection,
    config,
    queue: options.queue ?? 'sync',
    bundle: testWorkflowBundle(),
    metrics: createMetrics(),
    deps: { store: deps.store, cache: deps.cache, logger: createLogger({ level: 'silent' }) },
  });
  const running = worker.run();
  return {
    env,
    config,
    deps,
    worker,
    taskQueue: worker.options.taskQueue,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await deps.close();
      await env.teardown();
    },
  };
}
