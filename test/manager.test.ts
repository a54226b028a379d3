import { randomUUID } from 'node:crypto';
import type { DestinationStream } from 'pino';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { startCanary } from '../client/canary';
import { loadConfig } from '../lib/config';
import { createLogger } from '../lib/logger';
import { formatChildLine } from '../workers/manager-logs';
import { runManager, startManager, type ManagedProcessSpec, type ManagerHandle } from '../workers/manager';
import type { canary } from '../workflows/canary';
import { createTestDatabase, type TestDatabase } from './helpers/db';
import { testRedisPrefix } from './helpers/redis';

/**
 * The manager (`durasync manager`, `durasync worker --mode isolated`) supervising real
 * `durasync worker` child processes on the real Temporal dev server, Postgres and Redis.
 */

const { PENDING_ACTIVITY_STATE_STARTED } = temporal.api.enums.v1.PendingActivityState;
const { TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY } = temporal.api.enums.v1.TaskQueueType;
const { TASK_QUEUE_KIND_NORMAL } = temporal.api.enums.v1.TaskQueueKind;

interface Json {
  status: number;
  body: Record<string, unknown>;
}

async function getJson(url: string, init?: RequestInit): Promise<Json> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

function postScale(opsUrl: string, body: string): Promise<Json> {
  return getJson(`${opsUrl}/api/v1/workers/scale`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
}

/** Polls `probe` until it returns something truthy. */
async function eventually<T>(probe: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('durasync manager', () => {
  let db: TestDatabase;
  const redisKeys = testRedisPrefix();
  let connection: Connection;
  let client: Client;
  /** Every child pid any manager logged: SIGKILLed in afterAll if still alive. */
  const pids = new Set<number>();
  const managers: ManagerHandle[] = [];
  /** The manager's own log lines and its children's forwarded ones, parsed. */
  const lines: Array<Record<string, unknown>> = [];
  const sink = {
    write(text: string) {
      for (const line of text.split('\n').filter(Boolean)) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        lines.push(entry);
        if (entry.msg === 'child started' && typeof entry.childPid === 'number') pids.add(entry.childPid);
      }
      return true;
    },
  };
  const logger = createLogger({ level: 'info', destination: sink as unknown as DestinationStream });

  beforeAll(async () => {
    db = await createTestDatabase();
    connection = await Connection.connect({ address: process.env.TEMPORAL_ADDRESS });
    client = new Client({ connection });
  });

  afterAll(async () => {
    await Promise.allSettled(managers.map((m) => m.stop()));
    for (const pid of pids) if (alive(pid)) process.kill(pid, 'SIGKILL');
    await connection?.close();
    await db?.drop();
    await redisKeys.cleanup();
  });

  /** A manager's environment and configuration: its own task queue prefix, the suite's database and Redis prefix. */
  function managerSettings(extra: Record<string, string> = {}) {
    const prefix = `mgr-${randomUUID().slice(0, 8)}-`;
    const env = {
      ...process.env,
      DATABASE_URL: db.url,
      REDIS_URL: redisKeys.url,
      DURASYNC_REDIS_PREFIX: redisKeys.prefix,
      DURASYNC_OPS_HOST: '127.0.0.1',
      DURASYNC_OPS_PORT: '0',
      DURASYNC_TASK_QUEUE_PREFIX: prefix,
      DURASYNC_WORKFLOW_BUNDLE: process.env.DURASYNC_TEST_WORKFLOW_BUNDLE!,
      DURASYNC_SHUTDOWN_GRACE: '5s',
      DURASYNC_MANAGER_RESTART_BACKOFF: '200ms',
      DURASYNC_LOG_LEVEL: 'info',
      ...extra,
    };
    return { prefix, env, config: loadConfig(env) };
  }

  async function start(processes: ManagedProcessSpec[], extra: Record<string, string> = {}) {
    const settings = managerSettings(extra);
    const manager = await startManager({ config: settings.config, env: settings.env, logger, output: sink, processes });
    managers.push(manager);
    return { ...settings, manager };
  }

  /** Starts a canary holding its probe activity, returning its workflow handle and result. */
  async function holdingCanary(taskQueue: string, holdMs: number) {
    const spy = jest.spyOn(client.workflow, 'start');
    const result = startCanary(client, taskQueue, 60_000, { holdMs });
    result.catch(() => undefined); // awaited by the test; never an unhandled rejection
    const handle = await (spy.mock.results[0]!.value as Promise<WorkflowHandle<typeof canary>>);
    spy.mockRestore();
    const activity = await eventually(
      async () => (await handle.describe()).raw.pendingActivities?.find((a) => a.state === PENDING_ACTIVITY_STATE_STARTED && a.lastWorkerIdentity),
      10_000,
      'probe activity started',
    );
    return { handle, result, workerPid: Number(activity.lastWorkerIdentity!.split('@')[0]) };
  }

  /**
   * Pids of the processes polling `taskQueue` (workflow and activity tasks), as DescribeTaskQueue
   * reports them. Each partition knows its own pollers (the server has 4 by default, and a long poll
   * may sit on any of them), so every partition is asked, as `temporal task-queue describe
   * --partitions-legacy 4` does.
   */
  async function pollerPids(taskQueue: string): Promise<Set<number>> {
    const names = [taskQueue, ...[1, 2, 3].map((n) => `/_sys/${taskQueue}/${n}`)];
    const answers = await Promise.all(
      names.flatMap((name) =>
        [TASK_QUEUE_TYPE_WORKFLOW, TASK_QUEUE_TYPE_ACTIVITY].map((taskQueueType) =>
          client.workflowService.describeTaskQueue({ namespace: 'default', taskQueue: { name, kind: TASK_QUEUE_KIND_NORMAL }, taskQueueType }),
        ),
      ),
    );
    return new Set(answers.flatMap((a) => (a.pollers ?? []).map((p) => Number(p.identity?.split('@')[0]))));
  }

  async function activityAttempts(handle: WorkflowHandle): Promise<number[]> {
    const history = await handle.fetchHistory();
    return (history.events ?? []).filter((e) => e.activityTaskStartedEventAttributes).map((e) => e.activityTaskStartedEventAttributes!.attempt!);
  }

  describe('with two replicas of sync and one of ingestion', () => {
    let manager: ManagerHandle;
    let prefix: string;

    beforeAll(async () => {
      ({ manager, prefix } = await start([
        { queue: 'sync', replicas: 2 },
        { queue: 'ingestion', replicas: 1 },
      ]));
    });

    afterAll(async () => {
      await manager?.stop();
    });

    it('starts every replica, reports them ready, and serves their merged metrics, stats and queues', async () => {
      expect(manager.children().map((c) => `${c.name}:${c.state}`)).toEqual(['sync#1:ready', 'sync#2:ready', 'ingestion#1:ready']);
      expect((await getJson(`${manager.opsUrl}/health/live`)).status).toBe(200);
      const ready = await getJson(`${manager.opsUrl}/health/ready`);
      expect(ready).toMatchObject({ status: 200, body: { status: 'ready' } });
      expect(Object.keys(ready.body.checks as object).sort()).toEqual(['ingestion#1', 'sync#1', 'sync#2']);

      const health = (await getJson(`${manager.opsUrl}/health`)).body as { mode: string; children: Array<Record<string, unknown>> };
      expect(health.mode).toBe('isolated');
      expect(health.children).toHaveLength(3);
      for (const child of health.children) {
        expect(child).toMatchObject({ state: 'ready', restarts: 0, pid: expect.any(Number) as unknown, opsUrl: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) as unknown });
      }

      const result = await startCanary(client, `${prefix}ingestion`, 30_000);
      expect(result).toMatchObject({ status: 'ok', taskQueue: `${prefix}ingestion`, cache: { kind: 'redis', ok: true } });

      // The workflow's own count is reported by the worker as the workflow closes: wait for it.
      const metrics: string = await eventually(
        async (): Promise<string | undefined> => {
          const text = await (await fetch(`${manager.opsUrl}/metrics`)).text();
          return text.includes('durasync_jobs_processed_total{queue="ingestion",job_type="canary",kind="workflow",worker="ingestion#1"} 1') ? text : undefined;
        },
        5_000,
        'the canary counted in the merged metrics',
      );
      const samples = metrics.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(samples.length).toBeGreaterThan(20);
      for (const sample of samples) expect(sample).toMatch(/^[a-zA-Z_:][\w:]*\{.*worker="[^"]+"\} \S+/);
      const types = metrics.split('\n').filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]);
      expect(new Set(types).size).toBe(types.length);
      expect(metrics).toContain('durasync_jobs_processed_total{queue="ingestion",job_type="canary",kind="workflow",worker="ingestion#1"} 1');
      expect(metrics).toMatch(/^temporal_workflow_completed\{.*worker="ingestion#1"\} 1$/m);
      expect(metrics).toContain('durasync_manager_processes{queue="sync",state="ready",worker="manager"} 2');
      expect(metrics).toContain('durasync_manager_restarts_total{queue="sync",worker="manager"} 0');
      expect(metrics).toMatch(/^durasync_memory_usage_bytes\{type="rss",worker="manager"\} \d+/m);
      expect(metrics).toMatch(/^durasync_memory_usage_bytes\{type="rss",worker="sync#2"\} \d+/m);

      const stats = (await getJson(`${manager.opsUrl}/api/v1/workers/stats`)).body as {
        workers: Array<{ child: string; queue: string; processed: number }>;
        summary: { workers: number; processed: number; successRate: number };
        unreachable: string[];
      };
      // Each sync replica also polls the provider queues (github-api, drive-api) with activity-only
      // workers, and the ingestion one github-api (pulled GitHub events).
      expect(stats.workers.map((w) => `${w.child}/${w.queue}`)).toEqual([
        'sync#1/sync', 'sync#1/github-api', 'sync#1/drive-api',
        'sync#2/sync', 'sync#2/github-api', 'sync#2/drive-api',
        'ingestion#1/ingestion', 'ingestion#1/github-api',
      ]);
      expect(stats.workers.filter((w) => w.child === 'ingestion#1').reduce((n, w) => n + w.processed, 0)).toBe(2); // the workflow and its activity
      expect(stats.summary).toMatchObject({ workers: 8, processed: 2, successRate: 1 });
      expect(stats.unreachable).toEqual([]);

      const queues = (await getJson(`${manager.opsUrl}/api/v1/workers/queue`)).body as { queues: Array<{ taskQueue: string }> };
      expect(queues.queues.map((q) => q.taskQueue).sort()).toEqual([`${prefix}drive-api`, `${prefix}github-api`, `${prefix}ingestion`, `${prefix}sync`]);

      // The children's log lines come out of the manager, one JSON line each, naming the child.
      const syncPid = manager.children()[1]!.pid;
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'workers running', child: 'sync#2', childPid: syncPid }));
    });

    it('restarts a child killed with SIGKILL, and the canary it was running completes on a retried attempt', async () => {
      const { handle, result, workerPid } = await holdingCanary(`${prefix}sync`, 6000);
      const victim = manager.children().find((c) => c.pid === workerPid);
      expect(victim?.queue).toBe('sync');
      process.kill(workerPid, 'SIGKILL');

      const restarted = await eventually(
        () => manager.children().find((c) => c.name === victim!.name && c.state === 'ready' && c.pid !== workerPid),
        15_000,
        `${victim!.name} restarted`,
      );
      expect(restarted.restarts).toBe(1);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'child exited abnormally: restarting it', child: victim!.name, signal: 'SIGKILL' }));

      const outcome = await result;
      expect(outcome.status).toBe('ok');
      expect(outcome.worker.pid).not.toBe(workerPid);
      expect(await activityAttempts(handle)).toEqual([2]);
      expect((await getJson(`${manager.opsUrl}/health/ready`)).status).toBe(200);
      const metrics = await (await fetch(`${manager.opsUrl}/metrics`)).text();
      expect(metrics).toContain('durasync_manager_restarts_total{queue="sync",worker="manager"} 1');
    });

    it('scales a queue up and down on request, and answers a bad request with a one-line error naming the field', async () => {
      const up = await postScale(manager.opsUrl, JSON.stringify({ queue: 'sync', processes: 3 }));
      expect(up.status).toBe(200);
      const upPids = up.body.pids as number[];
      expect(up.body).toMatchObject({ queue: 'sync', processes: 3 });
      expect(new Set(upPids).size).toBe(3);
      expect(manager.children().filter((c) => c.queue === 'sync').map((c) => c.state)).toEqual(['ready', 'ready', 'ready']);

      // Temporal sees three distinct pollers on the sync task queue.
      await eventually(
        async () => {
          const polling = await pollerPids(`${prefix}sync`);
          const missing = upPids.filter((pid) => !polling.has(pid));
          if (missing.length) throw new Error(`not polling yet: ${missing.join(', ')}`);
          return true;
        },
        10_000,
        'three pollers on the sync task queue',
      );

      const down = await postScale(manager.opsUrl, JSON.stringify({ queue: 'sync', processes: 1 }));
      expect(down).toMatchObject({ status: 200, body: { queue: 'sync', processes: 1, pids: [upPids[0]] } });
      expect(manager.children().map((c) => c.name)).toEqual(['sync#1', 'ingestion#1']);
      for (const pid of upPids.slice(1)) expect(alive(pid)).toBe(false);
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'child stopped', child: 'sync#3', code: 0 }));

      const bad: Array<[string, RegExp]> = [
        [JSON.stringify({ queue: 'sync', processes: 0 }), /^processes: expected a whole number from 1 to 20, got 0$/],
        [JSON.stringify({ queue: 'sync', processes: 21 }), /^processes: /],
        [JSON.stringify({ queue: 'sync', processes: '2' }), /^processes: /],
        [JSON.stringify({ queue: 'emails', processes: 2 }), /^queue: expected one of sync, ingestion, branch-delta, got "emails"$/],
        [JSON.stringify({ processes: 2 }), /^queue: /],
        ['{"queue": "sync", ', /^body: expected JSON/],
        ['[1]', /^body: expected a JSON object/],
      ];
      for (const [body, error] of bad) {
        const answer = await postScale(manager.opsUrl, body);
        expect({ body, status: answer.status }).toEqual({ body, status: 400 });
        expect(answer.body.error).toMatch(error);
        expect(answer.body.error).not.toContain('\n');
      }
      const tooBig = await postScale(manager.opsUrl, JSON.stringify({ queue: 'sync', processes: 2, pad: 'x'.repeat(70_000) }));
      expect(tooBig.status).toBe(413);
      expect(manager.children().filter((c) => c.queue === 'sync')).toHaveLength(1);
    });
  });

  it('drains every child on SIGTERM, letting an in-flight activity finish on its first attempt', async () => {
    const { prefix, env, config } = managerSettings();
    const before = new Set(process.listeners('SIGTERM'));
    let resolveReady: (opsUrl: string) => void = () => undefined;
    const ready = new Promise<string>((resolve) => (resolveReady = resolve));
    const running = runManager({ config, env, logger, output: sink, processes: [{ queue: 'sync', replicas: 1 }], onReady: (info) => resolveReady(info.opsUrl) });
    const opsUrl = await Promise.race([
      ready,
      running.then(() => {
        throw new Error('runManager returned before it was ready');
      }),
    ]);
    // What the process receives from `kill -TERM`: the manager's own SIGTERM handler (not jest's, nor the SDK's).
    const onSigterm = process.listeners('SIGTERM').find((l) => !before.has(l));
    expect(onSigterm).toBeDefined();
    try {
      const [child] = (await getJson(`${opsUrl}/health`)).body.children as Array<{ pid: number }>;
      const { handle, result } = await holdingCanary(`${prefix}sync`, 2000);
      onSigterm!('SIGTERM');
      await running;

      // The probe finished during the drain, on its first attempt (the workflow task that would
      // complete the canary then has no worker left to run it).
      const history = await handle.fetchHistory();
      const started = history.events?.find((e) => e.activityTaskStartedEventAttributes)?.activityTaskStartedEventAttributes;
      expect(started?.attempt).toBe(1);
      expect(history.events?.some((e) => e.activityTaskCompletedEventAttributes)).toBe(true);
      await handle.terminate('test over: the manager stopped');
      await expect(result).rejects.toThrow();

      const messages = lines.map((l) => `${typeof l.child === 'string' ? `${l.child} ` : ''}${String(l.msg)}`);
      expect(messages.lastIndexOf('sync#1 workers drained')).toBeGreaterThan(messages.lastIndexOf('manager stopping: draining worker processes'));
      expect(messages.lastIndexOf('manager stopped')).toBeGreaterThan(messages.lastIndexOf('sync#1 workers drained'));
      expect(lines).toContainEqual(expect.objectContaining({ msg: 'child stopped', childPid: child!.pid, code: 0 }));
      expect(alive(child!.pid)).toBe(false);
      await expect(fetch(`${opsUrl}/health/live`)).rejects.toThrow();
      expect(process.listeners('SIGTERM').filter((l) => !before.has(l))).toEqual([]);
    } finally {
      if (process.listeners('SIGTERM').includes(onSigterm!)) {
        onSigterm!('SIGTERM');
        await running.catch(() => undefined);
      }
    }
  });

  it('gives up on a crash-looping queue after maxRestarts, reports it failed, and keeps the healthy queue running', async () => {
    const { manager, prefix } = await start(
      [
        { queue: 'ingestion', replicas: 1, env: { TEMPORAL_ADDRESS: '127.0.0.1:1' } },
        { queue: 'sync', replicas: 1 },
      ],
      { DURASYNC_MANAGER_MAX_RESTARTS: '2', DURASYNC_MANAGER_RESTART_WINDOW: '60s' },
    );
    expect(manager.children().map((c) => [c.name, c.state, c.restarts])).toEqual([
      ['ingestion#1', 'failed', 2],
      ['sync#1', 'ready', 0],
    ]);
    const ready = await getJson(`${manager.opsUrl}/health/ready`);
    expect(ready).toMatchObject({ status: 503, body: { status: 'unavailable', failing: ['ingestion#1'] } });
    expect((ready.body.checks as Record<string, { error: string }>)['ingestion#1']?.error).toBe('Error: failed after 2 restarts');
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', msg: expect.stringMatching(/too many restarts/) as unknown, child: 'ingestion#1' }));
    const delays = lines.filter((l) => l.child === 'ingestion#1' && l.msg === 'child exited abnormally: restarting it').map((l) => l.delayMs);
    expect(delays).toEqual([200, 400]); // DURASYNC_MANAGER_RESTART_BACKOFF, doubling
    // The child's plain-text error line, wrapped.
    expect(lines).toContainEqual(expect.objectContaining({ level: 'error', child: 'ingestion#1', msg: expect.stringMatching(/^durasync worker: .*127\.0\.0\.1:1/) as unknown }));

    const health = (await getJson(`${manager.opsUrl}/health`)).body as { children: Array<{ name: string; state: string }> };
    expect(health.children.map((c) => `${c.name}:${c.state}`)).toEqual(['ingestion#1:failed', 'sync#1:ready']);
    const metrics = await (await fetch(`${manager.opsUrl}/metrics`)).text();
    expect(metrics).toContain('durasync_manager_restarts_total{queue="ingestion",worker="manager"} 2');
    expect(metrics).toContain('durasync_manager_processes{queue="ingestion",state="failed",worker="manager"} 1');
    expect((await getJson(`${manager.opsUrl}/api/v1/workers/stats`)).body.unreachable).toEqual(['ingestion#1']);

    expect(await startCanary(client, `${prefix}sync`, 30_000)).toMatchObject({ status: 'ok' });
    await manager.stop();
  });
});

describe('manager log lines', () => {
  const scope = { child: 'sync#2', childPid: 42, stream: 'stdout' as const };
  const now = () => new Date('2026-01-02T03:04:05.000Z');

  it('adds the child and its pid to a JSON line and keeps the rest as it is', () => {
    expect(formatChildLine('{"level":"info","msg":"hi","pid":42}', scope, now)).toBe('{"level":"info","msg":"hi","pid":42,"child":"sync#2","childPid":42}\n');
  });

  it('wraps a plain line, at level error when it came from stderr', () => {
    expect(formatChildLine('plain text', scope, now)).toBe('{"level":"info","time":"2026-01-02T03:04:05.000Z","child":"sync#2","childPid":42,"msg":"plain text"}\n');
    expect(JSON.parse(formatChildLine('{not json', { ...scope, stream: 'stderr' }, now))).toMatchObject({ level: 'error', msg: '{not json' });
    expect(JSON.parse(formatChildLine('[1,2]', scope, now))).toMatchObject({ level: 'info', msg: '[1,2]' });
  });
});
