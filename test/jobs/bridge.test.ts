import { randomUUID } from 'node:crypto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { Worker } from '@temporalio/worker';
import { createJobActivities } from '../../activities/jobs';
import { createOpsActivities } from '../../activities/ops';
import { startSupabaseEmulator } from '../../emulators/supabase/server';
import { createStore, type Store, type SyncJob } from '../../lib/db/store';
import { createLogger } from '../../lib/logger';
import { createMetrics, updateIdleIterations } from '../../lib/metrics';
import { durasyncWorkerOptions } from '../../workers/interceptors';
import { JobBridge, type JobBridgeOptions } from '../../workers/job-bridge';
import { DurasyncKind } from '../../workflows/search-attributes';
import type { syncJob, SyncJobResult } from '../../workflows/sync-job';
import { openTestDeps, type TestDeps } from '../helpers/deps';
import { connectTestEnv, testWorkflowBundle, uniqueTaskQueue } from '../helpers/temporal';

/**
 * The job bridge end to end: rows of sync_jobs in a real Postgres, claimed by JobBridge, run as
 * syncJob workflows on the run's Temporal dev server by a real worker, finished in the row.
 * Tests run one after another on one database and leave no job unfinished.
 */
describe('job bridge', () => {
  let env: TestWorkflowEnvironment;
  let deps: TestDeps;
  let store: Store;
  let worker: Worker;
  let running: Promise<void>;
  let taskQueue: string;
  const bridges: JobBridge[] = [];
  const logger = createLogger({ level: 'silent' });

  beforeAll(async () => {
    env = await connectTestEnv();
    deps = await openTestDeps();
    store = deps.store;
    taskQueue = uniqueTaskQueue('sync');
    worker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue,
      workflowBundle: testWorkflowBundle(),
      activities: { ...createOpsActivities({ store, cache: deps.cache }), ...createJobActivities({ store }) },
      ...durasyncWorkerOptions(createMetrics(), 'sync'),
    });
    running = worker.run();
  });

  afterEach(async () => {
    await Promise.all(bridges.splice(0).map((b) => b.stop()));
  });

  afterAll(async () => {
    if (worker?.getState() === 'RUNNING') worker.shutdown();
    await running;
    await deps?.close();
    await env?.teardown();
  });

  function bridge(options: Partial<JobBridgeOptions> = {}): JobBridge {
    const b = new JobBridge({ client: env.client, store, taskQueue, logger, pollIntervalMs: 100, leaseMs: 60_000, batchSize: 10, ...options });
    bridges.push(b);
    return b;
  }

  async function enqueue(kind: string, payload: Record<string, unknown> = {}, on: Store = store): Promise<SyncJob> {
    return (await on.enqueueSyncJob({ dedupKey: `test-${randomUUID()}`, kind, payload: payload as never })).job;
  }

  async function waitForJobs(ids: string[], done: (job: SyncJob) => boolean, timeoutMs = 45_000, on: Store = store): Promise<SyncJob[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const jobs = await Promise.all(ids.map(async (id) => (await on.getSyncJob(id))!));
      if (jobs.every(done)) return jobs;
      if (Date.now() > deadline) throw new Error(`jobs not done in time: ${jobs.map((j) => `${j.kind}:${j.status}`).join(', ')}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  it('registers the job activities for the sync queue', async () => {
    const { activitiesForQueue } = await import('../../workers/activities');
    const activities = activitiesForQueue('sync', { store, cache: deps.cache, logger }) as Record<string, unknown>;
    expect(typeof activities.loadSyncJob).toBe('function');
    expect(typeof activities.finishSyncJob).toBe('function');
  });

  it('starts each job exactly once with two bridges polling the same table', async () => {
    const jobs = await Promise.all(Array.from({ length: 12 }, () => enqueue('canary')));
    const ids = jobs.map((j) => j.id);
    const other = createStore({ databaseUrl: deps.db.url, poolMax: 2 });
    try {
      const a = bridge({ name: 'bridge-a', batchSize: 3 });
      const b = bridge({ name: 'bridge-b', batchSize: 3, store: other });
      a.start();
      b.start();
      const done = await waitForJobs(ids, (j) => j.status === 'succeeded' || j.status === 'failed');
      await Promise.all([a.stop(), b.stop()]);

      expect(done.map((j) => j.status)).toEqual(ids.map(() => 'succeeded'));
      expect(done.every((j) => j.attempts === 1 && j.lastError === null)).toBe(true);
      expect(done.every((j) => j.claimedBy === 'bridge-a' || j.claimedBy === 'bridge-b')).toBe(true);
      const [sa, sb] = [a.stats(), b.stats()];
      expect(sa.started + sb.started).toBe(ids.length);
      expect(sa.claimed + sb.claimed).toBe(ids.length);
      expect(sa.alreadyStarted + sb.alreadyStarted + sa.startFailures + sb.startFailures).toBe(0);

      for (const job of done) {
        // The row is finished a moment before its workflow completes.
        const handle = env.client.workflow.getHandle<typeof syncJob>(`job:${job.id}`);
        expect(await handle.result()).toMatchObject({ jobId: job.id, kind: 'canary', status: 'succeeded' } satisfies Partial<SyncJobResult>);
        const description = await handle.describe();
        expect(description.type).toBe('syncJob');
        expect(description.status.name).toBe('COMPLETED');
        expect(description.typedSearchAttributes.get(DurasyncKind)).toBe('job');
        // One run only: the run that completed is the first of this id.
        expect(description.raw.workflowExecutionInfo?.firstRunId).toBe(description.runId);
        expect(job.result).toMatchObject({ status: 'ok', workflowTaskQueue: taskQueue });
      }
    } finally {
      await other.close();
    }
  });

  it('recovers jobs whose claimer died before starting them, and tolerates a workflow already started', async () => {
    // Crash between claim and start: a claimer took the rows and never started anything.
    const lost = await Promise.all([enqueue('canary'), enqueue('canary')]);
    // Crash after start: the workflow runs (held 3 s) but its claimer is gone; the lease expires meanwhile.
    const held = await enqueue('canary', { holdMs: 3_000 });
    const claimed = await store.claimSyncJobs({ worker: 'dead-claimer', limit: 10 });
    expect(claimed.map((j) => j.id).sort()).toEqual([...lost, held].map((j) => j.id).sort());
    await env.client.workflow.start('syncJob', { workflowId: `job:${held.id}`, taskQueue, args: [{ jobId: held.id }] });

    const b = bridge({ name: 'rescuer', leaseMs: 1_000, pollIntervalMs: 200 });
    b.start();
    const done = await waitForJobs([...lost, held].map((j) => j.id), (j) => j.status === 'succeeded');
    await b.stop();

    for (const job of done.slice(0, 2)) {
      expect(job).toMatchObject({ claimedBy: 'rescuer', lastError: null });
      // Claimed by the dead claimer, then by the rescuer; on a loaded machine a canary can outlive the
      // 1 s lease and be re-claimed again (answered "already started"), which counts as an attempt too.
      expect(job.attempts).toBeGreaterThanOrEqual(2);
    }
    expect(b.stats().started).toBeGreaterThanOrEqual(2);
    expect(b.stats().alreadyStarted).toBeGreaterThanOrEqual(1);
    expect(b.stats().startFailures).toBe(0);
    const heldRun = env.client.workflow.getHandle<typeof syncJob>(`job:${held.id}`);
    expect(await heldRun.result()).toMatchObject({ status: 'succeeded' });
    expect((await heldRun.describe()).raw.workflowExecutionInfo?.firstRunId).toBe((await heldRun.describe()).runId);
  });

  it('leaves a kind disabled by its jobs.<kind> flag queued, and runs it once the flag is enabled', async () => {
    await store.setFeatureFlag({ key: 'jobs.canary', enabled: false, description: 'paused by the bridge test' });
    try {
      const job = await enqueue('canary');
      const b = bridge({ pollIntervalMs: 50 });
      b.start();
      await new Promise((r) => setTimeout(r, 600));
      expect(await store.getSyncJob(job.id)).toMatchObject({ status: 'queued', attempts: 0 });
      expect(b.stats()).toMatchObject({ claimed: 0, started: 0 });
      expect(b.stats().idlePolls).toBeGreaterThan(2);

      await store.setFeatureFlag({ key: 'jobs.canary', enabled: true });
      const [done] = await waitForJobs([job.id], (j) => j.status === 'succeeded');
      expect(done).toMatchObject({ attempts: 1 });
      expect(b.stats().started).toBe(1);
    } finally {
      await store.setFeatureFlag({ key: 'jobs.canary', enabled: true });
    }
  });

  it('fails a job of an unknown kind with the reason in last_error', async () => {
    const job = await enqueue('mystery', { anything: 1 });
    bridge().start();
    const [done] = await waitForJobs([job.id], (j) => j.status !== 'queued' && j.status !== 'running');
    expect(done).toMatchObject({ status: 'failed', lastError: "unknown job kind 'mystery'" });
    const result = await env.client.workflow.getHandle<typeof syncJob>(`job:${job.id}`).result();
    expect(result).toEqual({ jobId: job.id, kind: 'mystery', status: 'failed', error: "unknown job kind 'mystery'" });
  });

  it('counts empty polls in durasync_idle_iterations_total{queue="sync",poller="job-bridge"}', async () => {
    const b = bridge({ pollIntervalMs: 25 });
    b.start();
    await new Promise((r) => setTimeout(r, 400));
    await b.stop();
    const idle = b.stats().idlePolls;
    expect(idle).toBeGreaterThan(3);
    expect(b.stats().claimed).toBe(0);

    const metrics = createMetrics();
    const sdk = 'temporal_workflow_task_queue_poll_empty{namespace="default",task_queue="p-sync"} 2\n';
    updateIdleIterations(metrics, sdk, (tq) => (tq === 'p-sync' ? 'sync' : undefined), b.idleTotals());
    const text = await metrics.registry.metrics();
    expect(text).toContain(`durasync_idle_iterations_total{queue="sync",poller="job-bridge"} ${idle}`);
    expect(text).toContain('durasync_idle_iterations_total{queue="sync",poller="workflow"} 2');
  });

  it('stops promptly between polls and is idempotent', async () => {
    const b = bridge({ pollIntervalMs: 60_000 });
    b.start();
    b.start();
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await b.stop();
    await b.stop();
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(b.stats().idlePolls).toBe(1);
  });

  it('works through SupabaseStore (the PostgREST emulator): claim, start, load and finish over rpc', async () => {
    const serviceKey = 'test-service-role-key';
    const emulator = await startSupabaseEmulator({ databaseUrl: deps.db.url, serviceKey });
    const supabase = createStore({ supabase: { url: emulator.url, serviceKey } });
    const supaQueue = uniqueTaskQueue('sync-supabase');
    const supaWorker = await Worker.create({
      connection: env.nativeConnection,
      taskQueue: supaQueue,
      workflowBundle: testWorkflowBundle(),
      activities: { ...createOpsActivities({ store: supabase, cache: deps.cache }), ...createJobActivities({ store: supabase }) },
      ...durasyncWorkerOptions(createMetrics(), 'sync'),
    });
    const supaRunning = supaWorker.run();
    try {
      expect(supabase.kind).toBe('supabase');
      const ok = await enqueue('canary', {}, supabase);
      const bad = await enqueue('nope', {}, supabase);
      const b = bridge({ store: supabase, taskQueue: supaQueue, name: 'supabase-bridge' });
      b.start();
      const [okDone, badDone] = await waitForJobs([ok.id, bad.id], (j) => j.status === 'succeeded' || j.status === 'failed', 45_000, supabase);
      expect(okDone).toMatchObject({ status: 'succeeded', claimedBy: 'supabase-bridge', result: { status: 'ok', database: { kind: 'supabase' } } });
      expect(badDone).toMatchObject({ status: 'failed', lastError: "unknown job kind 'nope'" });
      expect(b.stats()).toMatchObject({ started: 2, startFailures: 0, claimFailures: 0 });
    } finally {
      await Promise.all(bridges.splice(0).map((x) => x.stop()));
      supaWorker.shutdown();
      await supaRunning;
      await supabase.close();
      await emulator.close();
    }
  });
});
