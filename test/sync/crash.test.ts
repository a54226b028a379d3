import { hostname } from 'node:os';
import type { WorkflowHandle } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { freePort } from '../../lib/net';
import { taskQueueName } from '../../lib/queues';
import { hasRunTrailer } from '../../lib/sync/github-commit';
import type { SyncRunResult } from '../../workflows';
import { spawnDurasync, waitForHttp, type Spawned } from '../helpers/process';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/**
 * A `durasync worker` process SIGKILLed in the middle of a run's writes, and another one started:
 * the run completes as if nothing had happened, without writing anything twice. The killed
 * activity is retried once the server notices it is gone: after the provider activities'
 * heartbeat timeout (workflows/sync/sync-link.ts), which is what makes these tests slow.
 */
describe('sync with its worker process killed mid-write', () => {
  let h: SyncHarness;
  const children: Spawned[] = [];

  beforeAll(async () => {
    h = await startSyncHarness();
    // Only the worker children serve the harness's queues.
    await h.stopWorkers();
  }, 60_000);

  afterEach(async () => {
    // Each test's children go with it: a survivor would serve the next test's run.
    await Promise.all(children.splice(0).map((c) => c.stop('SIGKILL')));
  });

  afterAll(async () => {
    await h?.close();
  });

  async function startWorkerChild(): Promise<Spawned> {
    const opsPort = await freePort();
    const child = spawnDurasync(['worker'], { ...h.workerEnv(), DURASYNC_OPS_PORT: String(opsPort) });
    children.push(child);
    await waitForHttp(`http://127.0.0.1:${opsPort}/health/ready`, 45_000, 200, () => child.child.exitCode === null);
    return child;
  }

  async function kill(child: Spawned): Promise<void> {
    child.child.kill('SIGKILL');
    expect(await child.exited).toBe(137);
  }

  function startRun(linkId: string) {
    return h.client.workflow.start<(input: { linkId: string }) => Promise<SyncRunResult>>('syncLink', {
      taskQueue: taskQueueName('sync', h.taskQueuePrefix),
      workflowId: `sync:${linkId}`,
      args: [{ linkId }],
      workflowExecutionTimeout: '10m',
    });
  }

  async function waitFor(what: string, condition: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`${what}: not seen within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** The attempts of an activity type: the attempt number and the worker (pid@host/queue) that ran it. */
  async function attempts(handle: WorkflowHandle, activityType: string) {
    const events: HistoryEvent[] = (await handle.fetchHistory()).events ?? [];
    const scheduled = new Set(events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === activityType).map((e) => String(e.eventId)));
    return events
      .map((e) => e.activityTaskStartedEventAttributes)
      .filter((a) => a && scheduled.has(String(a.scheduledEventId)))
      .map((a) => ({ attempt: a?.attempt ?? 0, identity: a?.identity ?? '', timedOut: !!a?.lastFailure?.timeoutFailureInfo }));
  }

  it('killed mid-commit: another worker finishes the run with exactly one commit carrying its trailer, every file once', async () => {
    const { link, folderId, repo } = await h.createLink({ direction: 'drive_to_github' });
    const dirs: Array<{ id: string; name: string } | null> = [null, ...Array.from({ length: 4 }, (_, i) => ({ id: h.drive.seed.folder(`dir${i}`, folderId).id ?? '', name: `dir${i}` }))];
    const expected: Record<string, string> = {};
    for (let i = 0; i < 200; i++) {
      const dir = dirs[i % dirs.length];
      const name = `note-${i}.md`;
      h.drive.seed.file({ name, parentId: dir ? dir.id : folderId, content: `note ${i}\n` });
      expected[dir ? `${dir.name}/${name}` : name] = `note ${i}\n`;
    }
    const before = h.github.inspect.commits(repo);
    // Slow GitHub answers: a window between the commit object and the ref update.
    h.github.faults.set({ latencyMs: 1000 });
    h.github.inspect.clearCalls();
    const first = await startWorkerChild();
    const started = Date.now();
    const handle = await startRun(link.id);

    await waitFor('POST git/commits', () => h.github.inspect.calls().some((c) => c.method === 'POST' && c.route === '/repos/{owner}/{repo}/git/commits'), 60_000);
    await kill(first);
    const killedAt = Date.now();
    const second = await startWorkerChild();
    const result = await handle.result();
    const recoveredMs = Date.now() - killedAt;
    h.github.faults.reset();

    expect(result).toMatchObject({ status: 'synced', toGithub: { written: 200, deleted: 0 } });
    const after = h.github.inspect.commits(repo);
    expect(after).toHaveLength(before.length + 1);
    const commit = after[0];
    expect(commit?.parents).toEqual([before[0]?.sha]);
    expect(hasRunTrailer(commit?.message ?? '', handle.firstExecutionRunId)).toBe(true);
    expect(after.filter((c) => hasRunTrailer(c.message, handle.firstExecutionRunId))).toHaveLength(1);
    expect(result.toGithub.commits).toEqual([commit?.sha]);
    expect(h.repoTexts(repo)).toEqual(expected);
    // The commit activity ran on the killed worker, then again (after the heartbeat timeout) on the new one.
    const runs = await attempts(handle, 'commitToGithub');
    expect(runs).toEqual([{ attempt: 2, identity: `${second.child.pid}@${hostname()}/github-api`, timedOut: true }]);
    process.stderr.write(`[crash] mid-commit: run took ${Date.now() - started} ms, ${recoveredMs} ms of it after the kill\n`);
  }, 300_000);

  it('killed mid-upload: another worker finishes the run, every path exists once in Drive (no duplicate file or folder) with its content', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 60; i++) files[`dir${i % 3}/sub${i % 2}/file-${i}.md`] = `file ${i}\n`;
    const { link, folderId } = await h.createLink({ files, direction: 'github_to_drive' });
    // Slow Drive answers: the uploads take a while.
    h.drive.faults.set({ latencyMs: 400 });
    h.drive.inspect.clearCalls();
    const uploads = () => h.drive.inspect.calls().filter((c) => c.method === 'POST' && c.path === '/upload/drive/v3/files').length;
    const first = await startWorkerChild();
    const started = Date.now();
    const handle = await startRun(link.id);

    await waitFor('12 upload POSTs', () => uploads() >= 12, 60_000);
    await kill(first);
    const uploadsAtKill = uploads();
    const killedAt = Date.now();
    const second = await startWorkerChild();
    const result = await handle.result();
    const recoveredMs = Date.now() - killedAt;
    h.drive.faults.reset();

    expect(result).toMatchObject({ status: 'synced', toDrive: { written: 60, trashed: 0 } });
    expect(uploadsAtKill).toBeLessThan(60);
    expect(h.driveDuplicates(folderId)).toEqual([]);
    expect(h.driveTexts(folderId)).toEqual(files);
    // Nine folders (dir0..2 and a sub0 and a sub1 in each), each once.
    const folders = h.drive.inspect.files().filter((f) => !f.trashed && f.mimeType === 'application/vnd.google-apps.folder' && f.appProperties?.durasyncLink === link.id);
    expect(folders.map((f) => f.name).sort()).toEqual(['dir0', 'dir1', 'dir2', 'sub0', 'sub0', 'sub0', 'sub1', 'sub1', 'sub1']);
    const runs = await attempts(handle, 'writeToDrive');
    expect(runs).toEqual([{ attempt: 2, identity: `${second.child.pid}@${hostname()}/drive-api`, timedOut: true }]);
    process.stderr.write(`[crash] mid-upload: run took ${Date.now() - started} ms, ${recoveredMs} ms of it after the kill\n`);
  }, 300_000);
});
