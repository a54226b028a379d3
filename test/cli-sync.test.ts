import { randomUUID } from 'node:crypto';
import { createDurasyncClient, SyncAlreadyRunningError, SyncNotRunningError, type DurasyncClient, type SyncRunResult } from '../client';
import { runDurasyncSplit, spawnDurasync } from './helpers/process';
import { startSyncHarness, type SyncHarness } from './helpers/sync';

/**
 * `durasync sync ...` and `durasync schedule create sync ...` as child processes, and the client
 * SDK's `sync` namespace, against the test run's Temporal dev server, the harness's database and
 * its workers (Drive and GitHub emulated), on the harness's task queue prefix.
 */
interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Drive latency that keeps a run busy longer than a `durasync` command takes to start. */
const BUSY_LATENCY_MS = 1000;

async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`not there within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('durasync sync', () => {
  let h: SyncHarness;
  let client: DurasyncClient;
  const schedules: string[] = [];

  const env = () => ({
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS!,
    DURASYNC_TASK_QUEUE_PREFIX: h.config.temporal.taskQueuePrefix,
    DATABASE_URL: h.deps.db.url,
    DURASYNC_LOG_LEVEL: 'warn',
  });
  const cli = (args: string[]): Promise<CliResult> => runDurasyncSplit(args, env());

  /** A link with four files in Drive and one in the repository, and a Drive latency that keeps its first run busy for several seconds. */
  async function busyLink() {
    const made = await h.createLink({ files: { 'busy.md': 'from github\n' } });
    // Six nested folders: the first scan lists them one after the other, so at 1 s a call the run
    // stays busy for several seconds, long enough for another CLI process to start under load.
    let parentId = made.folderId;
    for (let depth = 0; depth < 6; depth++) parentId = h.drive.seed.folder(`level-${depth}`, parentId).id;
    for (let i = 0; i < 4; i++) h.drive.seed.file({ name: `busy-${i}.md`, parentId, content: `busy ${i}\n` });
    h.drive.faults.set({ latencyMs: BUSY_LATENCY_MS });
    return made;
  }

  /** Waits until the link's run answers its progress query (it is past loading). */
  const running = (linkId: string) => eventually(async () => (await client.sync.running(linkId)) && (await client.sync.progress(linkId).catch(() => undefined)));

  beforeAll(async () => {
    h = await startSyncHarness();
    client = await createDurasyncClient({ config: h.config });
  }, 60_000);

  afterAll(async () => {
    for (const id of schedules) await client?.schedules.delete(id).catch(() => undefined);
    await client?.close();
    await h?.close();
  });

  afterEach(() => h.drive.faults.reset());

  it('syncs a seeded link with --wait, showing progress on stderr and printing the summary with conflicts and their kept-as names', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'readme.md': '# from github\n', 'plan.md': 'plan v1\n' } });
    h.drive.seed.file({ name: 'a.md', parentId: folderId, content: '# a\n' });
    const first = await cli(['sync', link.id, '--wait']);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(new RegExp(`^started sync:${link.id} \\(run \\S+\\)$`, 'm'));
    expect(first.stderr).toMatch(new RegExp(`^progress: sync ${link.id}: done: `, 'm'));
    expect(first.stdout).toContain(`link ${link.id} synced (both ways, 1 run)`);
    expect(first.stdout).toMatch(/^ {2}to GitHub {2}1 file written, 0 deleted, 1 commit: [0-9a-f]{7}$/m);
    expect(first.stdout).toMatch(/^ {2}to Drive {3}2 files written \(2 new\), 0 trashed$/m);
    expect(first.stdout).toMatch(/^ {2}conflicts {2}0$/m);

    // The same file edited on both sides: kept both (the link's default policy).
    const plan = h.drive.inspect.files().find((f) => f.name === 'plan.md' && !f.trashed)!;
    h.drive.seed.update(plan.id, { content: 'plan from drive\n' });
    h.github.seed.commit(repo, { files: { 'plan.md': 'plan from github\n' } });
    const second = await cli(['sync', 'run', link.id, '--wait']);
    expect(second.code).toBe(0);
    expect(second.stdout).toMatch(/^ {2}conflicts {2}1$/m);
    expect(second.stdout).toContain('    plan.md (Drive edit, GitHub edit): kept both, the Drive version as plan (conflict from Drive).md');
  });

  it('prints one JSON document with --json, and nothing but the started run without --wait', async () => {
    const { link, folderId } = await h.createLink();
    h.drive.seed.file({ name: 'j.md', parentId: folderId, content: 'json\n' });
    const waited = await cli(['--json', 'sync', link.id, '--wait', '--direction', 'drive-to-github']);
    expect(waited.code).toBe(0);
    const doc = JSON.parse(waited.stdout) as { linkId: string; workflowId: string; runId: string; attached: boolean; result: SyncRunResult };
    expect(doc).toMatchObject({ linkId: link.id, workflowId: `sync:${link.id}`, attached: false, result: { status: 'synced', direction: 'drive_to_github', toGithub: { written: 1 } } });
    expect(waited.stderr).not.toContain('progress:');

    const started = await cli(['sync', link.id, '--json']);
    expect(started.code).toBe(0);
    const startedDoc = JSON.parse(started.stdout) as { runId: string };
    await expect(client.sync.result(link.id)).resolves.toMatchObject({ status: 'synced' });
    expect((await client.workflows.describe(`sync:${link.id}`)).runId).toBe(startedDoc.runId);
  });

  it('exits 3 with one line for an unknown link, and 2 for an id that is not a link id or a direction the link does not allow', async () => {
    const unknown = randomUUID();
    const missing = await cli(['sync', unknown, '--wait']);
    expect(missing.code).toBe(3);
    expect(missing.stderr).toBe(`durasync sync: no link ${unknown}\n`);
    expect(missing.stdout).toBe('');

    const bad = await cli(['sync', 'not-a-link']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('linkId: expected a link id');
    const { link } = await h.createLink({ direction: 'drive_to_github' });
    const oneWay = await cli(['sync', link.id, '--direction', 'github-to-drive']);
    expect(oneWay.code).toBe(2);
    expect(oneWay.stderr).toContain(`link ${link.id} syncs drive to github only`);
  });

  it('exits 4 with the failure in one line when the run fails, and puts the cause chain in the --json error', async () => {
    const { link } = await h.createLink({ githubRepo: `acme/missing-${randomUUID().slice(0, 8)}` });
    const failed = await cli(['sync', link.id, '--wait']);
    expect(failed.code).toBe(4);
    const last = failed.stderr.trim().split('\n').at(-1) ?? '';
    expect(last).toMatch(new RegExp(`^durasync sync: sync of link ${link.id} failed: \\S`));
    expect(failed.stdout).toBe('');

    const scripted = await cli(['--json', 'sync', link.id, '--wait']);
    expect(scripted.code).toBe(4);
    const { error } = JSON.parse(scripted.stdout) as { error: { name: string; exitCode: number; status: string; causes: unknown[] } };
    expect(error).toMatchObject({ name: 'DurasyncWorkflowFailedError', exitCode: 4, status: 'FAILED' });
    expect(error.causes.length).toBeGreaterThan(0);
  });

  it('refuses a second sync of a link while one runs (exit 1 naming the run), and attaches to it with --wait', async () => {
    const { link } = await busyLink();
    const first = await cli(['--json', 'sync', link.id]);
    expect(first.code).toBe(0);
    const { runId } = JSON.parse(first.stdout) as { runId: string };

    const [second, attached] = await Promise.all([cli(['sync', link.id]), cli(['sync', link.id, '--wait'])]);
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`durasync sync: link ${link.id} is already syncing (run ${runId})\n`);
    expect(attached.code).toBe(0);
    expect(attached.stderr).toContain(`link ${link.id} is already syncing (run ${runId}): waiting for that run`);
    expect(attached.stdout).toContain(`link ${link.id} synced (both ways, 1 run)`);
    expect(attached.stdout).toContain('to GitHub  4 files written');
    // Only the one run: the attached command started nothing.
    expect((await client.workflows.describe(`sync:${link.id}`)).runId).toBe(runId);
  });

  it('cancels a running sync with `sync cancel`: the run stops at a safe point, its result says cancelled and the cursors are untouched', async () => {
    const { link } = await busyLink();
    const waiting = spawnDurasync(['sync', link.id, '--wait'], env());
    await running(link.id);

    const cancel = await cli(['sync', 'cancel', link.id, '--reason', 'maintenance window', '--wait']);
    expect(cancel.code).toBe(0);
    expect(cancel.stdout).toContain(`link ${link.id} stopped at a safe point (cancelled: maintenance window)`);
    expect(cancel.stdout).toMatch(/to GitHub {2}0 files written, 0 deleted, 0 commits$/m);

    // The command that was waiting for the run reports it was cancelled, with exit code 4.
    expect(await waiting.exited).toBe(4);
    expect(waiting.output()).toContain(`sync of link ${link.id} was cancelled: maintenance window`);
    const stored = await h.deps.store.getSyncLink(link.id);
    expect(stored?.driveCursor ?? null).toBeNull();
    expect(stored?.githubCursor ?? null).toBeNull();

    const idle = await cli(['sync', 'cancel', link.id]);
    expect(idle.code).toBe(3);
    expect(idle.stderr).toBe(`durasync sync cancel: link ${link.id} is not syncing\n`);
    const status = await cli(['sync', 'status', link.id]);
    expect(status.code).toBe(0);
    expect(status.stdout).toMatch(new RegExp(`^sync:${link.id} {2}COMPLETED {2}run `, 'm'));
    expect(status.stdout).toContain('cancelled: cancelled: maintenance window');
  });

  it('runs, reports progress, refuses overlaps and cancels through the client SDK', async () => {
    const { link, folderId } = await h.createLink();
    h.drive.seed.file({ name: 'sdk.md', parentId: folderId, content: 'sdk\n' });
    await expect(client.sync.run(link.id)).resolves.toMatchObject({ linkId: link.id, status: 'synced', toGithub: { written: 1 } });
    await expect(client.sync.progress(link.id)).resolves.toMatchObject({ stage: 'done' });
    await expect(client.sync.cancel(link.id)).rejects.toBeInstanceOf(SyncNotRunningError);

    for (let i = 0; i < 4; i++) h.drive.seed.file({ name: `more-${i}.md`, parentId: folderId, content: `more ${i}\n` });
    h.drive.faults.set({ latencyMs: BUSY_LATENCY_MS });
    const handle = await client.sync.start(link.id);
    expect(handle).toMatchObject({ linkId: link.id, workflowId: `sync:${link.id}`, attached: false });
    const refused = await client.sync.start(link.id).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(SyncAlreadyRunningError);
    expect(refused).toMatchObject({ linkId: link.id, runId: handle.runId, workflowId: `sync:${link.id}` });
    await expect(client.sync.start(link.id, { attach: true })).resolves.toMatchObject({ runId: handle.runId, attached: true });

    await running(link.id);
    await handle.cancel('from the sdk');
    await expect(handle.result()).resolves.toMatchObject({ status: 'cancelled', reason: 'cancelled: from the sdk', toGithub: { written: 0 } });
  });

  it('syncs a link on a schedule: trigger runs it, and a trigger while a run is in progress is skipped', async () => {
    const { link, folderId, repo } = await h.createLink();
    h.drive.seed.file({ name: 's.md', parentId: folderId, content: 'scheduled\n' });
    const scheduleId = `sync-${link.id}`;
    schedules.push(scheduleId);
    const created = await cli(['schedule', 'create', 'sync', '--link', link.id, '--every', '1h', '--paused']);
    expect(created.code).toBe(0);
    expect(created.stdout).toContain(`created schedule ${scheduleId}: syncs link ${link.id}`);
    const info = await client.schedules.describe(scheduleId);
    expect(info).toMatchObject({ workflowType: 'scheduledSync', overlap: 'SKIP', args: [{ linkId: link.id }], taskQueue: `${h.config.temporal.taskQueuePrefix}sync` });

    /** Triggers the schedule and returns the result of the scheduledSync run it started. */
    const trigger = async (): Promise<unknown> => {
      const before = (await client.schedules.describe(scheduleId)).numActions;
      expect((await cli(['schedule', 'trigger', scheduleId])).code).toBe(0);
      const action = await eventually(async () => {
        const d = await client.schedules.describe(scheduleId);
        return d.numActions > before ? d.recentActions.at(-1) : undefined;
      });
      return h.client.workflow.getHandle(action.workflowId, action.runId).result();
    };

    await expect(trigger()).resolves.toMatchObject({ linkId: link.id, status: 'synced', toGithub: { written: 1 } });
    expect(h.github.inspect.tree(repo)['s.md']?.toString()).toBe('scheduled\n');

    for (let i = 0; i < 4; i++) h.drive.seed.file({ name: `s-${i}.md`, parentId: folderId, content: `s ${i}\n` });
    h.drive.faults.set({ latencyMs: BUSY_LATENCY_MS });
    const manual = await client.sync.start(link.id);
    await expect(trigger()).resolves.toEqual({ linkId: link.id, skipped: 'already running' });
    await expect(manual.result()).resolves.toMatchObject({ status: 'synced', toGithub: { written: 4 } });

    const list = await cli(['schedule', 'list']);
    expect(list.stdout).toMatch(new RegExp(`^${scheduleId}\\s+scheduledSync`, 'm'));
    expect((await cli(['schedule', 'delete', scheduleId])).code).toBe(0);
  });
});
