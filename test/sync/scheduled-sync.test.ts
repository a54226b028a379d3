import { randomUUID } from 'node:crypto';
import { taskQueueName } from '../../lib/queues';
import type { ScheduledSyncResult, SyncRunResult } from '../../workflows';
import { DurasyncKind, DurasyncLinkId } from '../../workflows/search-attributes';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';

/** scheduledSync, what a sync schedule starts: real Temporal, Postgres and Redis; Drive and GitHub emulated. */
describe('scheduledSync', () => {
  let h: SyncHarness;

  beforeAll(async () => {
    h = await startSyncHarness();
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  afterEach(() => h.drive.faults.reset());

  /** Starts scheduledSync as a schedule would: an id of its own (the schedule's id and time), on the sync queue. */
  const startScheduled = (linkId: string, direction?: 'drive_to_github') =>
    h.client.workflow.start<(input: { linkId: string; direction?: string }) => Promise<ScheduledSyncResult>>('scheduledSync', {
      taskQueue: taskQueueName('sync', h.config.temporal.taskQueuePrefix),
      workflowId: `scheduledSync:test-${randomUUID()}`,
      args: [{ linkId, ...(direction ? { direction } : {}) }],
      workflowExecutionTimeout: '3m',
    });

  it('runs the link as the child workflow sync:<linkId> and returns its result, tagged with the sync search attributes', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'from-github.md': 'hello drive\n' } });
    h.drive.seed.file({ name: 'from-drive.md', parentId: folderId, content: 'hello github\n' });

    const handle = await startScheduled(link.id);
    const result = (await handle.result()) as SyncRunResult;

    expect(result).toMatchObject({ linkId: link.id, status: 'synced', direction: 'both', toGithub: { written: 1 }, toDrive: { written: 1 } });
    expect(h.github.inspect.tree(repo)['from-drive.md']?.toString()).toBe('hello github\n');
    const child = await h.client.workflow.getHandle(`sync:${link.id}`).describe();
    expect(child).toMatchObject({ type: 'syncLink', status: { name: 'COMPLETED' } });
    expect(child.parentExecution?.workflowId).toBe(handle.workflowId);
    expect(child.typedSearchAttributes.get(DurasyncKind)).toBe('sync');
    const parent = await handle.describe();
    expect(parent.typedSearchAttributes.get(DurasyncKind)).toBe('sync');
    expect(parent.typedSearchAttributes.get(DurasyncLinkId)).toBe(link.id);
  });

  it('returns skipped instead of overlapping when a run of the link is already in progress', async () => {
    const { link, folderId } = await h.createLink();
    for (let i = 0; i < 3; i++) h.drive.seed.file({ name: `n${i}.md`, parentId: folderId, content: `note ${i}\n` });
    h.drive.faults.set({ latencyMs: 300 });
    const manual = await h.client.workflow.start('syncLink', {
      taskQueue: taskQueueName('sync', h.config.temporal.taskQueuePrefix),
      workflowId: `sync:${link.id}`,
      args: [{ linkId: link.id }],
      workflowExecutionTimeout: '3m',
    });

    const skipped = await (await startScheduled(link.id)).result();

    expect(skipped).toEqual({ linkId: link.id, skipped: 'already running' });
    // The run in progress was left alone and finishes as usual.
    expect((await h.client.workflow.getHandle(`sync:${link.id}`).describe()).runId).toBe(manual.firstExecutionRunId);
    await expect(manual.result()).resolves.toMatchObject({ status: 'synced', toGithub: { written: 3 } });
  });

  it('passes its cancel signal on to the running sync, which stops at a safe point with the cursors untouched', async () => {
    const { link, folderId } = await h.createLink();
    for (let i = 0; i < 3; i++) h.drive.seed.file({ name: `c${i}.md`, parentId: folderId, content: `cancel me ${i}\n` });
    h.drive.faults.set({ latencyMs: 300 });
    const handle = await startScheduled(link.id);
    await handle.signal('cancel', { reason: 'maintenance' });

    const result = (await handle.result()) as SyncRunResult;

    expect(result).toMatchObject({ status: 'cancelled', reason: 'cancelled: maintenance', toGithub: { written: 0, commits: [] } });
    const stored = await h.deps.store.getSyncLink(link.id);
    expect(stored?.driveCursor ?? null).toBeNull();
    expect(stored?.githubCursor ?? null).toBeNull();
  });
});
