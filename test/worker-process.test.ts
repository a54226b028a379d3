import os from 'node:os';
import { Client, Connection } from '@temporalio/client';
import { freePort } from '../lib/net';
import { startCanary } from '../client/canary';
import { createTestDatabase } from './helpers/db';
import { testRedisPrefix } from './helpers/redis';
import { runDurasync, spawnDurasync, waitForHttp, type Spawned } from './helpers/process';

/** `durasync worker` as operators run it: a real process on the real Temporal server, Postgres and Redis. */
describe('durasync worker process', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const redisKeys = testRedisPrefix();
  let connection: Connection;
  let client: Client;
  const running: Spawned[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await Promise.all(running.map((p) => p.stop('SIGKILL')));
    await connection?.close();
    await db?.drop();
    await redisKeys.cleanup();
  });

  async function startWorker(env: Record<string, string>, args = ['worker']) {
    const opsPort = await freePort();
    const prefix = `wp-${Math.random().toString(36).slice(2, 8)}-`;
    const proc = spawnDurasync(args, {
      DATABASE_URL: db.url,
      REDIS_URL: redisKeys.url,
      DURASYNC_REDIS_PREFIX: redisKeys.prefix,
      DURASYNC_OPS_PORT: String(opsPort),
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE,
      DURASYNC_SHUTDOWN_GRACE: '5s',
      ...env,
    });
    running.push(proc);
    return { proc, ops: `http://127.0.0.1:${opsPort}`, prefix };
  }

  it('serves every queue in one process, is ready, runs canaries, exposes metrics, and drains on SIGTERM', async () => {
    const { proc, ops, prefix } = await startWorker({});
    const ready = (await waitForHttp(`${ops}/health/ready`, 45_000, 200, () => proc.child.exitCode === null)) as {
      checks: Record<string, { ok: boolean }>;
    };
    expect(Object.keys(ready.checks).sort()).toEqual(['database', 'redis', 'temporal', 'workers']);

    for (const queue of ['sync', 'ingestion', 'branch-delta']) {
      const result = await startCanary(client, `${prefix}${queue}`, 30_000);
      expect(result).toMatchObject({ status: 'ok', taskQueue: `${prefix}${queue}`, database: { ok: true }, cache: { ok: true, kind: 'redis' } });
    }

    const health = (await (await fetch(`${ops}/health`)).json()) as { status: string; workers: Array<{ queue: string; state: string }> };
    expect(health.status).toBe('ok');
    // The sync family's provider queues are polled by activity-only workers of the same process.
    expect(health.workers.map((w) => `${w.queue}:${w.state}`)).toEqual(['sync:RUNNING', 'ingestion:RUNNING', 'branch-delta:RUNNING', 'github-api:RUNNING', 'drive-api:RUNNING']);

    const live = await fetch(`${ops}/health/live`);
    expect(live.status).toBe(200);

    const metrics = await (await fetch(`${ops}/metrics`)).text();
    expect(metrics).toMatch(/^temporal_workflow_completed\{.*\} \d+/m); // the SDK's own
    expect(metrics).toMatch(/durasync_jobs_processed_total\{queue="branch-delta",job_type="canary",kind="workflow"\} 1/);
    expect(metrics).toMatch(/durasync_jobs_processed_total\{queue="sync",job_type="probeDependencies",kind="activity"\} 1/);
    expect(metrics).toMatch(/durasync_memory_usage_bytes\{type="rss"\} \d+/);
    expect(metrics).toMatch(/^durasync_task_queue_backlog\{queue="sync",task_type="activity"\} 0$/m);
    for (const name of [
      'durasync_job_execution_duration_seconds',
      'durasync_jobs_processed_total',
      'durasync_jobs_failed_total',
      'durasync_jobs_error_total',
      'durasync_idle_iterations_total',
      'durasync_memory_usage_bytes',
      'durasync_task_queue_backlog',
    ]) {
      expect(metrics).toContain(`# TYPE ${name} `);
    }

    const stats = (await (await fetch(`${ops}/api/v1/workers/stats`)).json()) as {
      workers: Array<{ pid: number; queue: string; processed: number; succeeded: number; failed: number; active: number; lastActiveAt: string | null }>;
      summary: { workers: number; processed: number; successRate: number };
    };
    expect(stats.workers.map((w) => w.queue)).toEqual(['sync', 'ingestion', 'branch-delta', 'github-api', 'drive-api']);
    for (const w of stats.workers.slice(0, 3)) {
      expect(w).toMatchObject({ pid: proc.child.pid, processed: 2, succeeded: 2, failed: 0, active: 0 }); // the canary workflow and its activity
      expect(Date.parse(w.lastActiveAt ?? '')).toBeGreaterThan(Date.now() - 60_000);
    }
    // The provider queues' workers ran nothing: canaries do not call providers.
    for (const w of stats.workers.slice(3)) expect(w).toMatchObject({ pid: proc.child.pid, processed: 0, lastActiveAt: null });
    expect(stats.summary).toMatchObject({ workers: 5, processed: 6, successRate: 1 });

    type QueueBody = {
      queues: Array<{ queue: string; taskQueue: string; backlog: { workflow: number; activity: number }; pollers: Array<{ identity: string; type: string }>; workflows: { completed: number; running: number; failed: number } }>;
    };
    let queue: QueueBody = { queues: [] };
    for (let i = 0; i < 40; i++) {
      // Visibility is eventually consistent: wait until it counts the three completed canaries.
      queue = (await (await fetch(`${ops}/api/v1/workers/queue`)).json()) as QueueBody;
      if (queue.queues.slice(0, 3).every((q) => q.workflows.completed === 1)) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(queue.queues.map((q) => q.taskQueue)).toEqual([`${prefix}sync`, `${prefix}ingestion`, `${prefix}branch-delta`, `${prefix}github-api`, `${prefix}drive-api`]);
    // The provider queues have activity pollers only and run no workflows.
    for (const q of queue.queues.slice(3)) {
      expect(q.pollers.map((p) => p.type)).toEqual(['activity']);
      expect(q.workflows).toEqual({ running: 0, completed: 0, failed: 0 });
    }
    for (const q of queue.queues.slice(0, 3)) {
      expect(q.backlog).toEqual({ workflow: 0, activity: 0 });
      expect(q.pollers.map((p) => p.type).sort()).toEqual(['activity', 'workflow']);
      expect(q.pollers[0]?.identity).toBe(`${proc.child.pid}@${os.hostname()}/${q.queue}`);
      expect(q.workflows).toEqual({ running: 0, completed: 1, failed: 0 });
    }

    const code = await proc.stop('SIGTERM');
    expect(code).toBe(0);
    expect(proc.output()).toContain('"msg":"workers drained"');
  });

  it('answers /health/ready with 503 naming Redis when Redis is unreachable, while staying live', async () => {
    const { proc, ops } = await startWorker({ REDIS_URL: 'redis://127.0.0.1:1', DURASYNC_QUEUES: 'sync' });
    await waitForHttp(`${ops}/health/live`, 45_000, 200, () => proc.child.exitCode === null);
    const body = (await waitForHttp(`${ops}/health/ready`, 20_000, 503)) as { status: string; failing: string[]; checks: Record<string, { ok: boolean }> };
    expect(body.status).toBe('unavailable');
    expect(body.failing).toEqual(['redis']);
    expect(body.checks.database?.ok).toBe(true);
    expect(body.checks.temporal?.ok).toBe(true);
    expect(await proc.stop('SIGTERM')).toBe(0);
  });

  it('stops with one clear line and exit code 1 on a bad TEMPORAL_ADDRESS', async () => {
    const { code, output } = await runDurasync(['worker'], { TEMPORAL_ADDRESS: 'nope' });
    expect(code).toBe(1);
    expect(output.trim()).toBe('durasync worker: TEMPORAL_ADDRESS: expected host:port (e.g. 127.0.0.1:7233), got "nope"');
  });

  it('refuses a bad flag value in one line naming the flag (exit code 2)', async () => {
    const { code, output } = await runDurasync(['worker', '--tuner', 'resource', '--target-mem', '2']);
    expect(code).toBe(2);
    expect(output.trim()).toBe('durasync worker: --target-mem: expected a fraction above 0 and at most 1 (e.g. 0.8), got "2"');
  });

  it('refuses an unknown queue as bad usage (exit code 2)', async () => {
    const { code, output } = await runDurasync(['worker', '--queues', 'sync,emails']);
    expect(code).toBe(2);
    expect(output).toContain('unknown queue "emails"');
  });
});
