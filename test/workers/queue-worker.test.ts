import { temporal } from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { loadConfig } from '../../lib/config';
import { MemoryCache } from '../../lib/cache';
import { createLogger } from '../../lib/logger';
import { createMetrics } from '../../lib/metrics';
import type { Store } from '../../lib/db/store';
import { createQueueWorker } from '../../workers/process';
import type { canary } from '../../workflows/canary';
import { connectTestEnv, testWorkflowBundle, uniqueWorkflowId } from '../helpers/temporal';

/** A store whose ping takes `ms`: the canary's activity is then in flight long enough to stop the worker under it. */
function slowStore(ms: number): Store {
  return {
    kind: 'pg',
    ping: () => new Promise((resolve) => setTimeout(resolve, ms)),
    close: () => Promise.resolve(),
  } as unknown as Store;
}

describe('queue worker', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await connectTestEnv();
  });

  afterAll(async () => {
    await env?.teardown();
  });

  it('lets an in-flight activity finish within the shutdown grace time when it is asked to stop', async () => {
    const prefix = `drain-${Date.now()}-`;
    const config = loadConfig({
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS,
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_SHUTDOWN_GRACE: '10s',
    });
    const worker = await createQueueWorker({
      connection: env.nativeConnection,
      config,
      queue: 'sync',
      bundle: testWorkflowBundle(),
      metrics: createMetrics(),
      deps: { store: slowStore(1500), cache: new MemoryCache(), logger: createLogger({ level: 'silent' }) },
    });
    expect(worker.options.taskQueue).toBe(`${prefix}sync`);
    expect(worker.options.shutdownGraceTimeMs).toBe(10_000);

    const running = worker.run();
    const workflowId = uniqueWorkflowId('drain');
    const handle = await env.client.workflow.start<typeof canary>('canary', { taskQueue: `${prefix}sync`, workflowId });
    // Wait until the probe activity has started on this worker...
    for (let i = 0; i < 100; i++) {
      const { raw } = await handle.describe();
      if (raw.pendingActivities?.some((a) => a.state === temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    // ...then stop the worker as SIGTERM does. The activity completes during the drain.
    worker.shutdown();
    await running;

    // A fresh worker finishes the workflow task that follows; the activity result was not lost.
    const second = await createQueueWorker({
      connection: env.nativeConnection,
      config,
      queue: 'sync',
      bundle: testWorkflowBundle(),
      metrics: createMetrics(),
      deps: { store: slowStore(0), cache: new MemoryCache(), logger: createLogger({ level: 'silent' }) },
    });
    const result = await second.runUntil(handle.result());
    expect(result.status).toBe('ok');
    const history = await handle.fetchHistory();
    const attempts = history.events?.filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes?.attempt);
    expect(attempts).toEqual([1]); // completed on its first attempt, on the draining worker
  });
});
