import { Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { createOpsActivities } from '../../activities/ops';
import { MemoryCache, RedisCache } from '../../lib/cache';
import type { Store } from '../../lib/db/store';
import { createMetrics } from '../../lib/metrics';
import { durasyncWorkerOptions } from '../../workers/interceptors';
import type { canary } from '../../workflows/canary';
import { DurasyncKind, DurasyncStatus } from '../../workflows/search-attributes';
import { openTestDeps, type TestDeps } from '../helpers/deps';
import { connectTestEnv, createTimeSkippingEnv, testWorkflowBundle, uniqueTaskQueue, uniqueWorkflowId } from '../helpers/temporal';

describe('canary workflow', () => {
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let store: Store;
  let cache: RedisCache;

  beforeAll(async () => {
    env = await connectTestEnv();
    deps = await openTestDeps();
    ({ store, cache } = deps);
  });

  afterAll(async () => {
    await deps?.close();
    await env?.teardown();
  });

  it('completes on a real worker, reports ok, and sets DurasyncStatus for the Web UI', async () => {
    const taskQueue = uniqueTaskQueue('canary');
    const metrics = createMetrics();
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: testWorkflowBundle(),
      activities: createOpsActivities({ store, cache }),
      ...durasyncWorkerOptions(metrics, 'sync'),
    });
    const workflowId = uniqueWorkflowId('canary');
    const result = await worker.runUntil(
      env.client.workflow.execute<typeof canary>('canary', {
        taskQueue,
        workflowId,
        typedSearchAttributes: [{ key: DurasyncKind, value: 'canary' }],
      }),
    );
    expect(result).toMatchObject({
      status: 'ok',
      taskQueue,
      workflowTaskQueue: taskQueue,
      database: { ok: true, kind: 'pg' },
      cache: { ok: true, kind: 'redis' },
    });

    const description = await env.client.workflow.getHandle(workflowId).describe();
    expect(description.typedSearchAttributes.get(DurasyncKind)).toBe('canary');
    expect(description.typedSearchAttributes.get(DurasyncStatus)).toBe('ok');

    const text = await metrics.registry.metrics();
    expect(text).toMatch(/durasync_jobs_processed_total\{queue="sync",job_type="probeDependencies",kind="activity"\} 1/);
    expect(text).toMatch(/durasync_jobs_processed_total\{queue="sync",job_type="canary",kind="workflow"\} 1/);
    expect(text).toMatch(/durasync_job_execution_duration_seconds_count\{queue="sync",job_type="canary",kind="workflow",outcome="completed"\} 1/);
  });

  it('reports degraded, not failed, when the cache is down, and is found by a visibility query on DurasyncStatus', async () => {
    const taskQueue = uniqueTaskQueue('canary-degraded');
    const deadRedis = new RedisCache('redis://127.0.0.1:1', 'durasync:test:dead:');
    try {
      const worker = await Worker.create({
        connection: env.nativeConnection,
        taskQueue,
        workflowBundle: testWorkflowBundle(),
        activities: createOpsActivities({ store, cache: deadRedis }),
        ...durasyncWorkerOptions(createMetrics(), 'sync'),
      });
      const workflowId = uniqueWorkflowId('canary-degraded');
      const result = await worker.runUntil(
        env.client.workflow.execute<typeof canary>('canary', {
          taskQueue,
          workflowId,
          typedSearchAttributes: [{ key: DurasyncKind, value: 'canary' }],
        }),
      );
      expect(result.status).toBe('degraded');
      expect(result.cache.ok).toBe(false);

      // Visibility is eventually consistent: poll briefly for the workflow to show up.
      const query = `WorkflowId = "${workflowId}" AND DurasyncKind = "canary" AND DurasyncStatus = "degraded"`;
      let found: string[] = [];
      for (let i = 0; i < 50 && found.length === 0; i++) {
        found = [];
        for await (const wf of env.client.workflow.list({ query })) found.push(wf.workflowId);
        if (!found.length) await new Promise((r) => setTimeout(r, 100));
      }
      expect(found).toEqual([workflowId]);
    } finally {
      await deadRedis.close();
    }
  });

  it('runs on the time-skipping test server too', async () => {
    const tsEnv = await createTimeSkippingEnv();
    try {
      const taskQueue = uniqueTaskQueue('canary-ts');
      const worker = await Worker.create({
        connection: tsEnv.nativeConnection,
        taskQueue,
        workflowBundle: testWorkflowBundle(),
        activities: createOpsActivities({ store, cache: new MemoryCache() }),
        ...durasyncWorkerOptions(createMetrics(), 'sync'),
      });
      const result = await worker.runUntil(
        tsEnv.client.workflow.execute<typeof canary>('canary', { taskQueue, workflowId: uniqueWorkflowId('canary-ts') }),
      );
      expect(result).toMatchObject({ status: 'ok', cache: { kind: 'memory', ok: true } });
    } finally {
      await tsEnv.teardown();
    }
  });
});
