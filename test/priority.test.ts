import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createDurasyncClient, type DurasyncClient } from '../client';
import { loadConfig, type DurasyncConfig } from '../lib/config';
import { taskQueueName } from '../lib/queues';
import { startWebhookWorkflow } from '../lib/webhooks/start';
import { runDurasyncSplit } from './helpers/process';
import { connectTestEnv, testWorkflowBundle } from './helpers/temporal';

/**
 * Task priority under a backlog: with no worker polling, bulk work queues up first and urgent work
 * after it; then one worker that runs one workflow task at a time drains the queue. The order in
 * which the workflows' first workflow tasks started (from their histories) shows the urgent ones
 * overtaking the backlog. The worker registers no activities, so every workflow stops at its first
 * activity: one workflow task each, and nothing reaches a provider or the database.
 */

const BULK = 6;

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

describe('task priority', () => {
  let env: TestWorkflowEnvironment;
  let config: DurasyncConfig;
  let client: DurasyncClient;
  const opened: string[] = [];
  const schedules: string[] = [];

  beforeAll(async () => {
    env = await connectTestEnv();
    // A prefix of its own: the sync and ingestion queues of this file are polled by no one else.
    config = loadConfig({ ...process.env, DURASYNC_TASK_QUEUE_PREFIX: `prio-${randomUUID().slice(0, 8)}-` });
    client = await createDurasyncClient({ config });
  });

  afterAll(async () => {
    for (const id of schedules) await client?.schedules.delete(id).catch(() => undefined);
    for (const id of opened) await env?.client.workflow.getHandle(id).terminate('test over').catch(() => undefined);
    await client?.close();
    await env?.teardown();
  });

  /** When the workflow's first workflow task started, in ms; undefined before it has. */
  async function firstTaskStarted(workflowId: string): Promise<number | undefined> {
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const started = history.events?.find((e) => e.workflowTaskStartedEventAttributes)?.eventTime;
    return started ? Number(started.seconds) * 1000 + Math.floor((started.nanos ?? 0) / 1e6) : undefined;
  }

  /** Runs one worker (one workflow task at a time, no cache: every task goes through the task queue) until `done` resolves. */
  async function drain(taskQueue: string, done: () => Promise<unknown>): Promise<void> {
    const worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: testWorkflowBundle(),
      maxConcurrentWorkflowTaskExecutions: 1,
      maxCachedWorkflows: 0,
    });
    await worker.runUntil(done());
  }

  /** Workflow ids in the order their first workflow task started. */
  async function order(ids: string[]): Promise<string[]> {
    const times = await Promise.all(ids.map(async (id) => [id, (await firstTaskStarted(id))!] as const));
    return [...times].sort((a, b) => a[1] - b[1]).map(([id]) => id);
  }

  it('runs a sync started by hand before a backlog of scheduled syncs on a busy sync queue', async () => {
    const taskQueue = taskQueueName('sync', config.temporal.taskQueuePrefix);
    // The bulk backlog: schedules triggered now, each starting scheduledSync (which runs its link's
    // sync as a child with DURASYNC_PRIORITY_BULK).
    const scheduledLinks = Array.from({ length: BULK }, () => randomUUID());
    for (const linkId of scheduledLinks) {
      const { scheduleId } = await client.sync.schedule(linkId, { every: '1h', paused: true, scheduleId: `prio-${linkId}` });
      schedules.push(scheduleId);
      await client.schedules.trigger(scheduleId);
    }
    const scheduledRuns = await eventually(async () => {
      const runs = await collect(env, taskQueue);
      return runs.length === BULK ? runs : undefined;
    }, `${BULK} scheduled runs`);
    opened.push(...scheduledRuns);

    // Then a sync someone asked for: the SDK call behind `durasync sync <linkId>`.
    const urgentLink = randomUUID();
    const urgent = await client.sync.start(urgentLink);
    opened.push(urgent.workflowId);
    const children = scheduledLinks.map((linkId) => `sync:${linkId}`);
    opened.push(...children);

    await drain(taskQueue, () => eventually(async () => {
      const times = await Promise.all([urgent.workflowId, ...scheduledRuns, ...children].map(firstTaskStarted));
      return times.every((t) => t !== undefined) ? true : undefined;
    }, 'every workflow to run its first workflow task'));

    const ran = await order([urgent.workflowId, ...scheduledRuns, ...children]);
    expect(ran[0]).toBe(urgent.workflowId);
    // The scheduled syncs themselves (the children) ran with the bulk priority, after the rest.
    expect(new Set(ran.slice(-BULK))).toEqual(new Set(children));
    const [urgentInfo, childInfo] = await Promise.all([client.workflows.describe(urgent.workflowId), client.workflows.describe(children[0]!)]);
    expect(urgentInfo.priorityKey).toBe(config.priority.urgent);
    expect(childInfo.priorityKey).toBe(config.priority.bulk);
  });

  it('starts deliveries of urgent webhook events ahead of a backlog of other deliveries', async () => {
    const taskQueue = taskQueueName('ingestion', config.temporal.taskQueuePrefix);
    // No `priority` on the starter (the ingress, the Redis Streams bridge and the SDK pass their
    // config's): it reads DURASYNC_URGENT_WEBHOOK_EVENTS (default push and pull_request) itself.
    const starter = { client: env.client, taskQueue };
    const deliver = async (event: string) => {
      const payload = { action: 'opened', number: 1 };
      const { workflowId } = await startWebhookWorkflow(starter, { source: 'github', deliveryId: randomUUID(), event, body: Buffer.from(JSON.stringify(payload)), payload });
      opened.push(workflowId);
      return workflowId;
    };
    const bulk: string[] = [];
    for (let i = 0; i < BULK; i++) bulk.push(await deliver('issues'));
    const urgent = [await deliver('push'), await deliver('pull_request')];

    await drain(taskQueue, () => eventually(async () => {
      const times = await Promise.all([...bulk, ...urgent].map(firstTaskStarted));
      return times.every((t) => t !== undefined) ? true : undefined;
    }, 'every delivery to run its first workflow task'));

    const ran = await order([...bulk, ...urgent]);
    expect(new Set(ran.slice(0, urgent.length))).toEqual(new Set(urgent));
    expect((await client.workflows.describe(urgent[0]!)).priorityKey).toBe(1);
    expect((await client.workflows.describe(bulk[0]!)).priorityKey).toBeUndefined();
  });

  it('takes `durasync sync --priority`, shows it in `sync status` and refuses a priority outside 1-5', async () => {
    // No database configured: the CLI leaves checking the link to the workflow (which no worker runs here).
    const cliEnv = { DURASYNC_TASK_QUEUE_PREFIX: config.temporal.taskQueuePrefix, DATABASE_URL: undefined, SUPABASE_URL: undefined };
    const linkId = randomUUID();
    const bad = await runDurasyncSplit(['sync', linkId, '--priority', '9'], cliEnv);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('expected a whole number from 1 (most urgent) to 5');
    const started = await runDurasyncSplit(['sync', linkId, '--priority', '2'], cliEnv);
    opened.push(`sync:${linkId}`);
    expect(started.code).toBe(0);
    const status = await runDurasyncSplit(['sync', 'status', linkId, '--json'], cliEnv);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ workflowId: `sync:${linkId}`, status: 'RUNNING', priority: 2 });
  });
});

/** The scheduledSync runs on the queue (visibility), by workflow id. */
async function collect(env: TestWorkflowEnvironment, taskQueue: string): Promise<string[]> {
  const ids: string[] = [];
  for await (const w of env.client.workflow.list({ query: `TaskQueue = '${taskQueue}' AND WorkflowType = 'scheduledSync'` })) ids.push(w.workflowId);
  return ids;
}
