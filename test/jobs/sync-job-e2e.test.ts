import { randomUUID } from 'node:crypto';
import type { SyncJob } from '../../lib/db/store';
import { createLogger } from '../../lib/logger';
import { taskQueueName } from '../../lib/queues';
import { JobBridge } from '../../workers/job-bridge';
import { startSyncHarness, type SyncHarness } from '../helpers/sync';

/** A row the app inserts into sync_jobs, all the way to a synced link: bridge -> syncJob -> syncLink. */
describe('a sync job end to end', () => {
  let h: SyncHarness;
  let bridge: JobBridge;

  beforeAll(async () => {
    h = await startSyncHarness();
    bridge = new JobBridge({
      client: h.client,
      store: h.deps.store,
      taskQueue: taskQueueName('sync', h.config.temporal.taskQueuePrefix),
      logger: createLogger({ level: 'silent' }),
      pollIntervalMs: 100,
      leaseMs: 60_000,
      batchSize: 10,
    });
  }, 60_000);

  afterAll(async () => {
    await bridge?.stop();
    await h?.close();
  });

  async function finished(id: string): Promise<SyncJob> {
    for (let i = 0; i < 300; i++) {
      const job = await h.deps.store.getSyncJob(id);
      if (job && (job.status === 'succeeded' || job.status === 'failed')) return job;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`job ${id} did not finish`);
  }

  it('syncs the link in the direction of its payload and stores the run\'s summary in the row', async () => {
    const { link, folderId, repo } = await h.createLink({ files: { 'only-in-github.md': 'stays in GitHub\n' } });
    h.drive.seed.file({ name: 'from-drive.md', parentId: folderId, content: 'hello from Drive\n' });
    const { job } = await h.deps.store.enqueueSyncJob({ dedupKey: `app-${randomUUID()}`, kind: 'sync', linkId: link.id, payload: { direction: 'drive_to_github' } });

    const poll = await bridge.pollOnce();
    expect(poll.started).toEqual([job.id]);
    const done = await finished(job.id);

    expect(done).toMatchObject({ status: 'succeeded', lastError: null });
    expect(done.result).toMatchObject({ linkId: link.id, direction: 'drive_to_github', status: 'synced', toGithub: { written: 1 } });
    expect(h.repoTexts(repo)['from-drive.md']).toBe('hello from Drive\n');
    // One way only: nothing came back to Drive.
    expect(h.driveFileAt(folderId, 'only-in-github.md')).toBeUndefined();
  });

  it('fails the row with the run\'s one-line error when the link cannot sync', async () => {
    const { job } = await h.deps.store.enqueueSyncJob({ dedupKey: `app-${randomUUID()}`, kind: 'sync', linkId: (await h.createLink({ direction: 'drive_to_github' })).link.id, payload: { direction: 'github_to_drive' } });
    await bridge.pollOnce();
    const done = await finished(job.id);
    expect(done.status).toBe('failed');
    expect(done.lastError).toMatch(/syncs drive to github only/);
    expect(done.lastError).not.toContain('\n');
  });

  it('fails at once, without retries, a job whose payload names a link id that is not a UUID or no link', async () => {
    const notUuid = await h.deps.store.enqueueSyncJob({ dedupKey: `app-${randomUUID()}`, kind: 'sync', payload: { linkId: 'toLocale\n6' } });
    const unknown = await h.deps.store.enqueueSyncJob({ dedupKey: `app-${randomUUID()}`, kind: 'sync', payload: { linkId: randomUUID() } });
    await bridge.pollOnce();
    const started = Date.now();
    const [a, b] = [await finished(notUuid.job.id), await finished(unknown.job.id)];
    // The records activity retries for minutes (20 attempts, up to 30 s apart): finishing within the
    // poll loop's 30 s shows the refusal was not retried.
    expect(Date.now() - started).toBeLessThan(30_000);
    expect([a.status, b.status]).toEqual(['failed', 'failed']);
    expect(a.lastError).toContain('sync link id "toLocale\\n6" is not a UUID');
    expect(b.lastError).toContain('does not exist');
    for (const job of [a, b]) expect(job.lastError).not.toContain('\n');
  });
});
