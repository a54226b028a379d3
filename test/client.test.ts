import { randomUUID } from 'node:crypto';
import { TerminatedFailure } from '@temporalio/client';
import { Worker } from '@temporalio/worker';
import { createMetrics } from '../lib/metrics';
import { jobMetricsSinks } from '../workers/interceptors';
import {
  createDurasyncClient,
  DurasyncWorkflowFailedError,
  WorkflowAlreadyRunningError,
  WorkflowNotFoundError,
  type DurasyncClient,
  type WorkflowSummary,
} from '../client';
import { testWorkflowBundle, uniqueWorkflowId } from './helpers/temporal';
import { startTestWorker, type TestWorker } from './helpers/worker';

/**
 * The client SDK (client/index.ts) against the test run's Temporal dev server, with a real worker of
 * the sync queue in this process on a task queue prefix of its own.
 */
async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not there within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('durasync client SDK', () => {
  const prefix = `sdk-${randomUUID().slice(0, 8)}-`;
  let testWorker: TestWorker;
  let client: DurasyncClient;

  beforeAll(async () => {
    testWorker = await startTestWorker({ prefix });
    client = await createDurasyncClient({ config: testWorker.config });
  });

  afterAll(async () => {
    await client?.close();
    await testWorker?.stop();
  });

  /** A canary whose probe activity runs for `holdMs`, started with the generic start(). */
  const startHeldCanary = (holdMs: number, name = 'held') =>
    client.workflows.start('canary', { args: [{ holdMs }], workflowId: uniqueWorkflowId(name), taskQueue: 'sync' });

  it('runs the canary on a queue and returns its result', async () => {
    const result = await client.canary.run({ queue: 'sync' });
    expect(result).toMatchObject({ status: 'ok', workflowTaskQueue: `${prefix}sync`, database: { ok: true }, cache: { ok: true } });
  });

  it('lists canaries by DurasyncKind and describes one', async () => {
    await client.canary.run({ queue: 'sync' });
    const query = `DurasyncKind = "canary" AND TaskQueue = "${prefix}sync" AND ExecutionStatus = "Completed"`;
    const listed = await eventually<WorkflowSummary[]>(async () => {
      const all = await client.workflows.list(query, { limit: 10 }).toArray();
      return all.length ? all : undefined;
    });
    const summary = listed[0]!;
    expect(summary).toMatchObject({ type: 'canary', status: 'COMPLETED', taskQueue: `${prefix}sync`, searchAttributes: { DurasyncKind: 'canary', DurasyncStatus: 'ok' } });
    expect(summary.closeTime!.getTime()).toBeGreaterThanOrEqual(summary.startTime.getTime());
    // limit caps the answer; iteration works as well as toArray().
    const one: WorkflowSummary[] = [];
    for await (const w of client.workflows.list(`TaskQueue = "${prefix}sync"`, { limit: 1 })) one.push(w);
    expect(one).toHaveLength(1);

    const described = await client.workflows.describe(summary.workflowId);
    expect(described).toMatchObject({ workflowId: summary.workflowId, runId: summary.runId, type: 'canary', status: 'COMPLETED', staticSummary: `canary on ${prefix}sync` });
    expect(described.historyLength).toBeGreaterThan(5);
    expect(described.pendingActivities).toEqual([]);
  });

  it('exports a history as JSON that replays against the current workflow code', async () => {
    const { workflowId } = await client.workflows.start('canary', { args: [{}], workflowId: uniqueWorkflowId('history') });
    await client.workflows.result(workflowId);
    const history = await client.workflows.history(workflowId);
    expect(history.events[0]).toMatchObject({ eventId: '1', eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED' });
    expect(history.events.at(-1)).toMatchObject({ eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED' });
    await expect(Worker.runReplayHistory({ workflowBundle: testWorkflowBundle(), sinks: jobMetricsSinks(createMetrics(), 'replay') }, history, workflowId)).resolves.toBeUndefined();
  });

  it('answers the progress query while the workflow runs and after it completed', async () => {
    const { workflowId } = await startHeldCanary(1500, 'progress');
    const probing = await eventually(async () => {
      const progress = await client.workflows.progress(workflowId).catch(() => undefined);
      return progress?.stage === 'probing' ? progress : undefined;
    });
    expect(probing.message).toMatch(/probing the database and cache/);
    await expect(client.workflows.query(workflowId, 'progress')).resolves.toMatchObject({ stage: 'probing' });
    await expect(client.workflows.result(workflowId)).resolves.toMatchObject({ status: 'ok' });
    await expect(client.workflows.progress(workflowId)).resolves.toEqual({ stage: 'done', message: 'ok' });
  });

  it('refuses a second start with the id of a running workflow with WorkflowAlreadyRunningError', async () => {
    const { workflowId } = await startHeldCanary(20_000, 'duplicate');
    try {
      const error = await client.workflows.start('canary', { args: [{}], workflowId }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WorkflowAlreadyRunningError);
      expect(error).toMatchObject({ name: 'WorkflowAlreadyRunningError', workflowId, workflowType: 'canary' });
    } finally {
      await client.workflows.terminate(workflowId, 'test over');
    }
  });

  it('rejects result() of a terminated workflow with DurasyncWorkflowFailedError and its cause', async () => {
    const { workflowId } = await startHeldCanary(20_000, 'terminated');
    await client.workflows.signal(workflowId, 'nudge', { any: 'thing' }); // unknown signals are buffered, not refused
    await client.workflows.terminate(workflowId, 'stopped by the test');
    const error = (await client.workflows.result(workflowId).catch((e: unknown) => e)) as DurasyncWorkflowFailedError;
    expect(error).toBeInstanceOf(DurasyncWorkflowFailedError);
    expect(error).toMatchObject({
      name: 'DurasyncWorkflowFailedError',
      workflowId,
      status: 'TERMINATED',
      failureType: 'TerminatedFailure',
      causes: [{ name: 'TerminatedFailure', message: 'stopped by the test' }],
    });
    expect(error.cause).toBeInstanceOf(TerminatedFailure);
    const history = await client.workflows.history(workflowId);
    expect(history.events.map((e) => e.eventType)).toContain('EVENT_TYPE_WORKFLOW_EXECUTION_SIGNALED');
  });

  it('reports a cancelled workflow as cancelled', async () => {
    const { workflowId } = await startHeldCanary(20_000, 'cancelled');
    await eventually(async () => ((await client.workflows.describe(workflowId)).pendingActivities[0]?.state === 'STARTED' ? true : undefined));
    await client.workflows.cancel(workflowId);
    await expect(client.workflows.result(workflowId)).rejects.toMatchObject({ name: 'DurasyncWorkflowFailedError', status: 'CANCELLED', failureType: 'CancelledFailure' });
    expect((await client.workflows.describe(workflowId)).status).toBe('CANCELLED');
  });

  it('throws WorkflowNotFoundError with the workflow id for an unknown workflow', async () => {
    const workflowId = uniqueWorkflowId('unknown');
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['describe', () => client.workflows.describe(workflowId)],
      ['history', () => client.workflows.history(workflowId)],
      ['result', () => client.workflows.result(workflowId)],
      ['progress', () => client.workflows.progress(workflowId)],
      ['signal', () => client.workflows.signal(workflowId, 'nudge')],
      ['cancel', () => client.workflows.cancel(workflowId)],
      ['terminate', () => client.workflows.terminate(workflowId, 'no such workflow')],
    ];
    for (const [call, run] of calls) {
      const error = await run().catch((e: unknown) => e);
      expect({ call, notFound: error instanceof WorkflowNotFoundError }).toEqual({ call, notFound: true });
      expect(error).toMatchObject({ name: 'WorkflowNotFoundError', workflowId });
    }
  });
});
