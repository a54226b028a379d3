import { randomUUID } from 'node:crypto';
import { createDurasyncClient, ScheduleAlreadyExistsError, ScheduleNotFoundError, type DurasyncClient } from '../client';
import { runDurasyncSplit } from './helpers/process';
import { startTestWorker, type TestWorker } from './helpers/worker';

/**
 * Schedules: the client SDK's `schedules` namespace and `durasync schedule ...` as child processes,
 * against the test run's Temporal dev server and a worker of the sync queue in this process (on a
 * task queue prefix of its own). Every schedule created here is deleted in afterAll.
 */
interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not there within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe('schedules', () => {
  const prefix = `sched-${randomUUID().slice(0, 8)}-`;
  const created = new Set<string>();
  let testWorker: TestWorker;
  let client: DurasyncClient;

  const scheduleId = (name: string) => {
    const id = `${prefix}${name}`;
    created.add(id);
    return id;
  };

  async function cli(args: string[]): Promise<CliResult> {
    return runDurasyncSplit(args, { DURASYNC_TASK_QUEUE_PREFIX: prefix, DURASYNC_LOG_LEVEL: 'warn' });
  }

  beforeAll(async () => {
    testWorker = await startTestWorker({ prefix });
    client = await createDurasyncClient({ config: testWorker.config });
  });

  afterAll(async () => {
    for (const id of created) await client?.schedules.delete(id).catch(() => undefined);
    await client?.close();
    await testWorker?.stop();
  });

  it('creates, lists, describes, triggers, pauses, unpauses and deletes a schedule with the SDK', async () => {
    const id = scheduleId('sdk');
    const info = await client.schedules.create({ scheduleId: id, workflowType: 'canary', args: [{}], queue: 'sync', every: '1h', paused: true, note: 'made by a test' });
    expect(info).toMatchObject({ scheduleId: id, workflowType: 'canary', taskQueue: `${prefix}sync`, spec: 'every 1h', queue: 'sync', paused: true, overlap: 'SKIP', args: [{}] });
    await expect(client.schedules.create({ scheduleId: id, workflowType: 'canary', queue: 'sync', every: '1h' })).rejects.toBeInstanceOf(ScheduleAlreadyExistsError);
    await expect(client.schedules.create({ scheduleId: `${prefix}never`, workflowType: 'canary', queue: 'sync', every: 'soon' })).rejects.toThrow(/every: expected a duration/);

    const listed = await eventually(async () => (await client.schedules.list()).find((s) => s.scheduleId === id && s.workflowType));
    expect(listed).toMatchObject({ workflowType: 'canary', spec: 'every 1h', paused: true });
    expect(listed.nextRunTimes.length).toBeGreaterThan(0);

    const described = await client.schedules.describe(id);
    expect(described).toMatchObject({ scheduleId: id, paused: true, note: 'made by a test', numActions: 0 });

    await client.schedules.trigger(id);
    const query = `TaskQueue = "${prefix}sync" AND WorkflowType = "canary"`;
    const started = await eventually(async () => (await client.workflows.list(query, { limit: 5 }).toArray())[0]);
    expect(await client.workflows.result(started.workflowId)).toMatchObject({ status: 'ok' });
    expect((await client.workflows.describe(started.workflowId)).staticSummary).toBe(`canary on ${prefix}sync (schedule ${id})`);
    const afterTrigger = await eventually(async () => {
      const d = await client.schedules.describe(id);
      return d.recentActions.length ? d : undefined;
    });
    expect(afterTrigger.recentActions[0]?.workflowId).toBe(started.workflowId);

    await client.schedules.unpause(id, 'go');
    expect(await client.schedules.describe(id)).toMatchObject({ paused: false, note: 'go' });
    await client.schedules.pause(id);
    expect((await client.schedules.describe(id)).paused).toBe(true);

    await client.schedules.delete(id);
    const missing = await client.schedules.describe(id).catch((err: unknown) => err);
    expect(missing).toBeInstanceOf(ScheduleNotFoundError);
    expect(missing).toMatchObject({ name: 'ScheduleNotFoundError', scheduleId: id });
  }, 60_000);

  it('creates, lists and deletes a schedule with the CLI; a missing schedule exits 3, a bad --every 2', async () => {
    const id = scheduleId('cli');
    const create = await cli(['schedule', 'create', id, '--workflow', 'canary', '--queue', 'sync', '--cron', '0 * * * *', '--input', '{}', '--paused']);
    expect(create.code).toBe(0);
    expect(create.stdout.trim()).toBe(`created schedule ${id}: canary on ${prefix}sync, cron 0 * * * * (paused)`);

    const listed = await eventually(async () => {
      const list = await cli(['--json', 'schedule', 'list']);
      expect(list.code).toBe(0);
      const { schedules } = JSON.parse(list.stdout) as { schedules: Array<{ scheduleId: string; workflowType?: string; spec: string; paused: boolean }> };
      return schedules.find((s) => s.scheduleId === id && s.workflowType);
    });
    expect(listed).toMatchObject({ workflowType: 'canary', spec: 'cron 0 * * * *', paused: true });

    const deleted = await cli(['schedule', 'delete', id]);
    expect(deleted.code).toBe(0);
    expect(deleted.stdout.trim()).toBe(`deleted schedule ${id}`);

    const [missing, missingJson, badEvery] = await Promise.all([
      cli(['schedule', 'describe', id]),
      cli(['--json', 'schedule', 'describe', id]),
      cli(['schedule', 'create', scheduleId('never'), '--workflow', 'canary', '--queue', 'sync', '--every', 'soon']),
    ]);
    expect(missing.code).toBe(3);
    expect(missing.stderr.trim()).toBe(`durasync schedule describe: schedule ${id} not found`);
    expect(missingJson.code).toBe(3);
    expect(JSON.parse(missingJson.stdout)).toEqual({ error: { name: 'ScheduleNotFoundError', message: `schedule ${id} not found`, exitCode: 3, scheduleId: id } });
    expect(badEvery.code).toBe(2);
    expect(badEvery.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^durasync schedule create: --every: expected a duration .*got "soon"$/)]);
  }, 60_000);

  it('runs durasync bench with the scenario passed through, without running a benchmark here', async () => {
    const [help, unknown] = await Promise.all([cli(['bench', '--help']), cli(['bench', 'nonsense'])]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: durasync bench \[options\] \[scenario\]/m);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^bench: unknown scenario "nonsense"$/m);
    expect(unknown.stderr).toMatch(/^ {2}workers /m);
  }, 30_000);
});
