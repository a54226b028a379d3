import { randomUUID } from 'node:crypto';
import {
  BranchSeqGapError,
  ConflictError,
  InvalidArgumentError,
  NotFoundError,
  type Store,
  type SyncJob,
} from '../../lib/db/store';

/**
 * The behaviour every Store must have, run against each adapter and database (pg-store.test.ts,
 * pglite-store.test.ts, supabase-store.test.ts). Tests use unique keys and names, so a target may
 * share one database between tests.
 */

export interface StoreFixture {
  store: Store;
  /** Another store on the same database (its own pool or HTTP client), closed by close(). */
  openAnother(): Store;
  /** Closes every store opened and releases the database. */
  close(): Promise<void>;
}

export interface StoreTarget {
  /** Once before the suite (start shared servers). */
  setUp?(): Promise<void>;
  /** Once after the suite. */
  tearDown?(): Promise<void>;
  /** Before each test. */
  open(): Promise<StoreFixture>;
}

const uid = (): string => randomUUID().slice(0, 8);

export function describeStoreContract(name: string, kind: Store['kind'], target: StoreTarget): void {
  describe(name, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeAll(async () => {
      await target.setUp?.();
    });
    afterAll(async () => {
      await target.tearDown?.();
    });
    beforeEach(async () => {
      fixture = await target.open();
      store = fixture.store;
    });
    afterEach(async () => {
      await fixture.close();
    });

    /** Claims whatever earlier tests left queued, so a test sees only its own jobs. */
    async function drainQueue(): Promise<void> {
      while ((await store.claimSyncJobs({ worker: 'drain', limit: 500 })).length > 0);
    }

    it('answers ping and says which adapter it is', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
      expect(store.kind).toBe(kind);
    });

    it('round-trips feature flags: set, get, list, and an update that keeps the description', async () => {
      const key = `flag.${uid()}`;
      const set = await store.setFeatureFlag({ key, enabled: true, value: { percent: 25, tags: ['a'] }, description: 'rollout' });
      expect(set).toMatchObject({ key, enabled: true, value: { percent: 25, tags: ['a'] }, description: 'rollout' });
      expect(set.createdAt).toBeInstanceOf(Date);

      expect(await store.getFeatureFlag(key)).toEqual(set);
      expect((await store.listFeatureFlags()).map((flag) => flag.key)).toContain(key);

      const updated = await store.setFeatureFlag({ key, enabled: false });
      expect(updated).toMatchObject({ key, enabled: false, value: null, description: 'rollout' });
      expect(updated.updatedAt.getTime()).toBeGreaterThanOrEqual(set.updatedAt.getTime());
      expect(await store.getFeatureFlag(`missing.${uid()}`)).toBeNull();
    });

    it('enqueues a job once per dedup key and returns the existing job on a repeat', async () => {
      const dedupKey = `dedup-${uid()}`;
      const first = await store.enqueueSyncJob({ dedupKey, kind: 'driveToGithub', payload: { linkId: 'l1' }, priority: 3 });
      expect(first.created).toBe(true);
      expect(first.job).toMatchObject({ dedupKey, kind: 'driveToGithub', payload: { linkId: 'l1' }, status: 'queued', priority: 3, attempts: 0 });

      const again = await store.enqueueSyncJob({ dedupKey, kind: 'driveToGithub', payload: { linkId: 'other' } });
      expect(again.created).toBe(false);
      expect(again.job).toEqual(first.job);
    });

    it('claims due jobs highest priority first, marking them running for the worker', async () => {
      await drainQueue();
      const tag = uid();
      const low = await store.enqueueSyncJob({ dedupKey: `low-${tag}`, kind: 'k', priority: 0 });
      const high = await store.enqueueSyncJob({ dedupKey: `high-${tag}`, kind: 'k', priority: 5 });
      const later = await store.enqueueSyncJob({ dedupKey: `later-${tag}`, kind: 'k', runAfter: new Date(Date.now() + 3_600_000) });

      const claimed = await store.claimSyncJobs({ worker: `worker-${tag}`, limit: 10 });
      expect(claimed.map((job) => job.id)).toEqual([high.job.id, low.job.id]);
      for (const job of claimed) {
        expect(job).toMatchObject({ status: 'running', claimedBy: `worker-${tag}`, attempts: 1 });
        expect(job.claimedAt).toBeInstanceOf(Date);
      }
      expect(await store.claimSyncJobs({ worker: `worker-${tag}` })).toEqual([]);
      expect(claimed.map((job) => job.id)).not.toContain(later.job.id);
    });

    it('never hands one job to two concurrent claimers', async () => {
      await drainQueue();
      const tag = uid();
      const ids = new Set<string>();
      for (let i = 0; i < 24; i++) ids.add((await store.enqueueSyncJob({ dedupKey: `race-${tag}-${i}`, kind: 'k' })).job.id);

      const other = fixture.openAnother();
      const claimUntilEmpty = async (claimer: Store, worker: string): Promise<SyncJob[]> => {
        const got: SyncJob[] = [];
        for (;;) {
          const batch = await claimer.claimSyncJobs({ worker, limit: 2 });
          if (batch.length === 0) return got;
          got.push(...batch);
        }
      };
      const [a, b] = await Promise.all([claimUntilEmpty(store, 'a'), claimUntilEmpty(other, 'b')]);
      const claimedIds = [...a, ...b].map((job) => job.id);
      expect(new Set(claimedIds).size).toBe(claimedIds.length);
      expect(new Set(claimedIds)).toEqual(ids);
      expect(a.every((job) => job.claimedBy === 'a') && b.every((job) => job.claimedBy === 'b')).toBe(true);
    });

    it('completes and fails running jobs once, and refuses jobs in another state or owner', async () => {
      await drainQueue();
      const tag = uid();
      const one = await store.enqueueSyncJob({ dedupKey: `one-${tag}`, kind: 'k' });
      const two = await store.enqueueSyncJob({ dedupKey: `two-${tag}`, kind: 'k' });
      await expect(store.completeSyncJob({ id: one.job.id })).rejects.toMatchObject({
        name: 'ConflictError',
        details: { resource: 'sync_job', reason: 'state', state: 'queued' },
      });
      // The refused completion's row lock can outlive its error answer by a moment, and SKIP LOCKED
      // rightly skips a locked row: claim until both are ours.
      const claimed: string[] = [];
      for (let i = 0; i < 20 && claimed.length < 2; i++) {
        claimed.push(...(await store.claimSyncJobs({ worker: 'w', limit: 2 - claimed.length })).map((j) => j.id));
        if (claimed.length < 2) await new Promise((r) => setTimeout(r, 25));
      }
      expect(claimed.sort()).toEqual([one.job.id, two.job.id].sort());

      await expect(store.completeSyncJob({ id: one.job.id, worker: 'someone-else' })).rejects.toBeInstanceOf(ConflictError);
      const done = await store.completeSyncJob({ id: one.job.id, worker: 'w', result: { files: 3 } });
      expect(done).toMatchObject({ status: 'succeeded', result: { files: 3 }, lastError: null });
      expect(done.finishedAt).toBeInstanceOf(Date);
      expect(await store.completeSyncJob({ id: one.job.id, worker: 'w' })).toEqual(done);
      await expect(store.failSyncJob({ id: one.job.id, error: 'late' })).rejects.toBeInstanceOf(ConflictError);

      const failed = await store.failSyncJob({ id: two.job.id, error: 'github 422' });
      expect(failed).toMatchObject({ status: 'failed', lastError: 'github 422' });
      expect(await store.failSyncJob({ id: two.job.id, error: 'github 422' })).toEqual(failed);

      const missing = randomUUID();
      await expect(store.completeSyncJob({ id: missing })).rejects.toMatchObject({
        name: 'NotFoundError',
        resource: 'sync_job',
        id: missing,
      });
      await expect(store.failSyncJob({ id: 'not-a-uuid', error: 'x' })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('re-claims a running job once its lease expired, and never before', async () => {
      await drainQueue();
      const tag = uid();
      // Top priority: with limit 1, a lease claim takes this job before any other test's leftovers.
      const { job } = await store.enqueueSyncJob({ dedupKey: `lease-${tag}`, kind: 'k', priority: 1_000 });
      const [dead] = await store.claimSyncJobs({ worker: `dead-${tag}`, limit: 1 });
      expect(dead).toMatchObject({ id: job.id, status: 'running', attempts: 1 });

      expect(await store.claimSyncJobs({ worker: `bridge-${tag}`, limit: 1 })).toEqual([]);
      expect(await store.claimSyncJobs({ worker: `bridge-${tag}`, limit: 1, leaseSeconds: 3_600 })).toEqual([]);
      const [reclaimed] = await store.claimSyncJobs({ worker: `bridge-${tag}`, limit: 1, leaseSeconds: 0 });
      expect(reclaimed).toMatchObject({ id: job.id, status: 'running', claimedBy: `bridge-${tag}`, attempts: 2 });
      expect(reclaimed!.claimedAt!.getTime()).toBeGreaterThan(dead!.claimedAt!.getTime());

      await store.finishSyncJob({ id: job.id, status: 'succeeded' });
      const after = await store.claimSyncJobs({ worker: `bridge-${tag}`, limit: 1, leaseSeconds: 0 });
      expect(after.map((j) => j.id)).not.toContain(job.id);
    });

    it('leaves jobs of a kind disabled by its jobs.<kind> flag queued until the flag is enabled', async () => {
      await drainQueue();
      const tag = uid();
      const kind = `paused-${tag}`;
      await store.setFeatureFlag({ key: `jobs.${kind}`, enabled: false });
      await store.setFeatureFlag({ key: `jobs.on-${tag}`, enabled: true });
      const paused = await store.enqueueSyncJob({ dedupKey: `paused-${tag}`, kind, priority: 1_000 });
      const other = await store.enqueueSyncJob({ dedupKey: `on-${tag}`, kind: `on-${tag}` });

      expect((await store.claimSyncJobs({ worker: `w-${tag}`, limit: 10 })).map((j) => j.id)).toEqual([other.job.id]);
      expect(await store.claimSyncJobs({ worker: `w-${tag}`, limit: 10 })).toEqual([]);
      expect(await store.getSyncJob(paused.job.id)).toMatchObject({ status: 'queued', attempts: 0, claimedBy: null });

      await store.setFeatureFlag({ key: `jobs.${kind}`, enabled: true });
      const [resumed] = await store.claimSyncJobs({ worker: `w-${tag}`, limit: 1 });
      expect(resumed).toMatchObject({ id: paused.job.id, status: 'running', attempts: 1 });
    });

    it('finishes a job for its workflow whoever claimed it, idempotently, refusing the other final status', async () => {
      await drainQueue();
      const tag = uid();
      const one = await store.enqueueSyncJob({ dedupKey: `fin-one-${tag}`, kind: 'k', priority: 1_000 });
      const two = await store.enqueueSyncJob({ dedupKey: `fin-two-${tag}`, kind: 'k', priority: 999 });
      const claimed = await store.claimSyncJobs({ worker: `claimer-${tag}`, limit: 2 });
      expect(claimed.map((j) => j.id)).toEqual([one.job.id, two.job.id]);

      const done = await store.finishSyncJob({ id: one.job.id, status: 'succeeded', result: { files: 2 } });
      expect(done).toMatchObject({ id: one.job.id, status: 'succeeded', result: { files: 2 }, lastError: null, claimedBy: `claimer-${tag}` });
      expect(done.finishedAt).toBeInstanceOf(Date);
      expect(await store.finishSyncJob({ id: one.job.id, status: 'succeeded', result: { files: 9 } })).toEqual(done);
      expect(await store.getSyncJob(one.job.id)).toEqual(done);
      await expect(store.finishSyncJob({ id: one.job.id, status: 'failed', error: 'late' })).rejects.toMatchObject({
        name: 'ConflictError',
        details: { resource: 'sync_job', reason: 'state', state: 'succeeded' },
      });

      const failed = await store.finishSyncJob({ id: two.job.id, status: 'failed', error: "unknown job kind 'x'" });
      expect(failed).toMatchObject({ status: 'failed', lastError: "unknown job kind 'x'", result: null });
      expect(await store.finishSyncJob({ id: two.job.id, status: 'failed', error: 'again' })).toEqual(failed);
      await expect(store.finishSyncJob({ id: two.job.id, status: 'succeeded' })).rejects.toBeInstanceOf(ConflictError);

      const missing = randomUUID();
      await expect(store.finishSyncJob({ id: missing, status: 'succeeded' })).rejects.toMatchObject({ name: 'NotFoundError', resource: 'sync_job', id: missing });
      expect(await store.getSyncJob(missing)).toBeNull();
      await expect(
        store.finishSyncJob({ id: one.job.id, status: 'running' as unknown as 'succeeded' }),
      ).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('creates branches idempotently by name, children from a seq of their parent', async () => {
      const name = `main-${uid()}`;
      const root = await store.createBranch({ name, metadata: { region: 'eu' } });
      expect(root.created).toBe(true);
      expect(root.branch).toMatchObject({ name, parentId: null, parentSeq: null, headSeq: 0, metadata: { region: 'eu' } });
      const again = await store.createBranch({ name });
      expect(again).toEqual({ branch: root.branch, created: false });
      expect(await store.getBranch(root.branch.id)).toEqual(root.branch);
      expect(await store.getBranch(randomUUID())).toBeNull();

      await store.commitBranchDelta({ branchId: root.branch.id, seq: 1, objectKey: `${name}/1`, changeCount: 1, byteSize: 10, checksum: 'c1' });
      const child = await store.createBranch({ name: `${name}-child`, parentId: root.branch.id });
      expect(child.branch).toMatchObject({ parentId: root.branch.id, parentSeq: 1, headSeq: 0 });
      const early = await store.createBranch({ name: `${name}-early`, parentId: root.branch.id, parentSeq: 0 });
      expect(early.branch.parentSeq).toBe(0);

      await expect(store.createBranch({ name: `${name}-child` })).rejects.toMatchObject({ name: 'ConflictError', details: { reason: 'parent' } });
      await expect(store.createBranch({ name: `x-${uid()}`, parentId: randomUUID() })).rejects.toBeInstanceOf(NotFoundError);
      await expect(store.createBranch({ name: `x-${uid()}`, parentId: root.branch.id, parentSeq: 9 })).rejects.toMatchObject({
        name: 'InvalidArgumentError',
        argument: 'p_parent_seq',
      });
    });

    it('commits deltas in order, moving the head, and treats a re-commit of a seq as done', async () => {
      const { branch } = await store.createBranch({ name: `deltas-${uid()}` });
      const delta = (seq: number, checksum = `sum-${seq}`) => ({
        branchId: branch.id,
        seq,
        objectKey: `${branch.id}/${seq}.zst`,
        changeCount: seq * 10,
        byteSize: 2 ** 40 + seq,
        checksum,
        startLsn: `0/${seq}0`,
        endLsn: `0/${seq}F`,
      });
      const first = await store.commitBranchDelta(delta(1));
      expect(first).toMatchObject({ created: true, headSeq: 1, delta: { seq: 1, changeCount: 10, byteSize: 2 ** 40 + 1, checksum: 'sum-1', startLsn: '0/10' } });
      const second = await store.commitBranchDelta(delta(2));
      expect(second.headSeq).toBe(2);
      expect((await store.getBranch(branch.id))?.headSeq).toBe(2);

      const replay = await store.commitBranchDelta(delta(1, 'a-different-sum'));
      expect(replay).toEqual({ delta: first.delta, created: false, headSeq: 2 });
      expect((await store.getBranch(branch.id))?.headSeq).toBe(2);
    });

    it('refuses a gap in delta seqs with BranchSeqGapError and writes nothing', async () => {
      const { branch } = await store.createBranch({ name: `gap-${uid()}` });
      await store.commitBranchDelta({ branchId: branch.id, seq: 1, objectKey: `${branch.id}/1`, changeCount: 1, byteSize: 1, checksum: 'c1' });

      const gap = store.commitBranchDelta({ branchId: branch.id, seq: 3, objectKey: `${branch.id}/next`, changeCount: 1, byteSize: 1, checksum: 'c3' });
      await expect(gap).rejects.toBeInstanceOf(BranchSeqGapError);
      await expect(gap).rejects.toMatchObject({ branchId: branch.id, seq: 3, headSeq: 1 });
      expect((await store.getBranch(branch.id))?.headSeq).toBe(1);

      // The refused object key was not stored: seq 2 can take it.
      const next = await store.commitBranchDelta({ branchId: branch.id, seq: 2, objectKey: `${branch.id}/next`, changeCount: 1, byteSize: 1, checksum: 'c2' });
      expect(next).toMatchObject({ created: true, headSeq: 2 });

      await expect(
        store.commitBranchDelta({ branchId: randomUUID(), seq: 1, objectKey: `o-${uid()}`, changeCount: 1, byteSize: 1, checksum: 'c' }),
      ).rejects.toMatchObject({ name: 'NotFoundError', resource: 'branch' });
    });

    it('records dead letters once per source and ref, counting repeats', async () => {
      const ref = `delivery-${uid()}`;
      const first = await store.recordDeadLetter({
        source: 'webhook:github',
        ref,
        errorType: 'NonRetryable',
        errorMessage: 'payload rejected',
        details: { status: 422 },
        workflowId: `webhook:github:${ref}`,
        attempts: 5,
      });
      expect(first).toMatchObject({ source: 'webhook:github', ref, occurrences: 1, details: { status: 422 }, attempts: 5, runId: null, resolvedAt: null });

      const second = await store.recordDeadLetter({ source: 'webhook:github', ref, errorType: 'Timeout', errorMessage: 'gave up again' });
      expect(second).toMatchObject({ id: first.id, occurrences: 2, errorType: 'Timeout', errorMessage: 'gave up again', workflowId: first.workflowId, attempts: 5 });
      expect(second.lastFailedAt.getTime()).toBeGreaterThanOrEqual(first.lastFailedAt.getTime());
    });

    it('stores sealed provider tokens per provider and account, keeping the refresh token when a refresh omits it', async () => {
      const account = `user-${uid()}`;
      const expiresAt = new Date(Date.now() + 3_600_000);
      const access = Buffer.from([0, 1, 2, 250, 251, 252]); // binary ciphertext survives the round trip
      const put = await store.putProviderToken({
        provider: 'google', accountId: account, accessToken: access, refreshToken: Buffer.from('sealed-refresh'),
        keyId: 'k1', expiresAt, scopes: ['drive.file', 'openid'],
      });
      expect(put).toMatchObject({ provider: 'google', accountId: account, keyId: 'k1', scopes: ['drive.file', 'openid'] });
      expect(put.accessToken.equals(access)).toBe(true);
      expect(put.expiresAt?.getTime()).toBe(expiresAt.getTime());

      const refreshed = await store.putProviderToken({
        provider: 'google', accountId: account, accessToken: Buffer.from('new-access'), refreshToken: null,
        keyId: 'k2', expiresAt: null, scopes: [],
      });
      expect(refreshed.refreshToken?.toString()).toBe('sealed-refresh');
      expect(refreshed).toMatchObject({ keyId: 'k2', expiresAt: null, scopes: ['drive.file', 'openid'] });
      const got = await store.getProviderToken('google', account);
      expect(got?.accessToken.toString()).toBe('new-access');
      expect(await store.getProviderToken('github', account)).toBeNull();
    });

    it('creates sync links once per folder, repository, branch and path, and lists and gets them', async () => {
      const folder = `folder-${uid()}`;
      const first = await store.createSyncLink({ driveFolderId: folder, githubRepo: 'acme/notes', userId: 'u1', githubPath: 'docs' });
      expect(first).toMatchObject({
        created: true,
        link: { driveFolderId: folder, githubRepo: 'acme/notes', githubBranch: 'main', githubPath: 'docs', direction: 'both', conflictPolicy: 'keep-both', status: 'active', userId: 'u1', driveCursor: null, githubCursor: null },
      });
      const again = await store.createSyncLink({ driveFolderId: folder, githubRepo: 'acme/notes', userId: 'u2', githubPath: 'docs', direction: 'drive_to_github' });
      expect(again).toMatchObject({ created: false, link: { id: first.link.id, userId: 'u1', direction: 'both' } });
      expect((await store.getSyncLink(first.link.id))?.githubPath).toBe('docs');
      expect(await store.getSyncLink('00000000-0000-0000-0000-000000000000')).toBeNull();
      expect((await store.listSyncLinks()).map((l) => l.id)).toContain(first.link.id);
    });

    it('keeps a link\'s file map by path, moves an entry when its Drive file is renamed, and records the sync position', async () => {
      const { link } = await store.createSyncLink({ driveFolderId: `folder-${uid()}`, githubRepo: 'acme/notes', userId: 'u1' });
      expect(await store.upsertSyncFiles(link.id, [
        { githubPath: 'a.md', driveFileId: 'd1', driveMd5: 'm1', githubSha: 's1', contentHash: 'h1' },
        { githubPath: 'b.md', driveFileId: 'd2' },
      ])).toBe(2);
      // d1 renamed to c.md: the entry moves, a.md stays as a deleted record.
      await store.upsertSyncFiles(link.id, [{ githubPath: 'c.md', driveFileId: 'd1', driveMd5: 'm1', githubSha: 's1', contentHash: 'h1' }]);
      const files = await store.listSyncFiles(link.id);
      expect(files.map((f) => [f.githubPath, f.driveFileId, f.deleted])).toEqual([
        ['a.md', null, true],
        ['b.md', 'd2', false],
        ['c.md', 'd1', false],
      ]);
      const moved = await store.setSyncLinkCursors({ id: link.id, driveCursor: '42', githubCursor: 'abc123' });
      expect(moved).toMatchObject({ driveCursor: '42', githubCursor: 'abc123' });
      expect(moved.lastSyncedAt).toBeInstanceOf(Date);
      expect(await store.setSyncLinkCursors({ id: link.id, githubCursor: 'def456' })).toMatchObject({ driveCursor: '42', githubCursor: 'def456' });
    });

    it('appends change batches and hands out pending ones oldest first within both caps', async () => {
      const { branch } = await store.createBranch({ name: `intake-${uid()}` });
      const append = (changeCount: number, byteSize: number, extra: { firstTs?: string; lastTs?: string } = {}) =>
        store.appendBranchChanges({ branchId: branch.id, payload: `{"n":${changeCount}}\n{"bytes":${byteSize}}`, changeCount, byteSize, ...extra });
      const a = await append(2, 100, { firstTs: '2026-01-01T00:00:00.000Z', lastTs: '2026-01-01T00:00:01.000Z' });
      const b = await append(3, 200);
      const c = await append(4, 300);
      for (const { batchId } of [a, b, c]) expect(batchId).toMatch(/^\d+$/);
      expect(BigInt(a.batchId) < BigInt(b.batchId) && BigInt(b.batchId) < BigInt(c.batchId)).toBe(true);

      const ids = (batches: Array<{ batchId: string }>) => batches.map((x) => x.batchId);
      const within = await store.pendingBranchBatches({ branchId: branch.id, maxChanges: 5, maxBytes: 10_000 });
      expect(within).toEqual([
        { batchId: a.batchId, payload: '{"n":2}\n{"bytes":100}', changeCount: 2, byteSize: 100 },
        { batchId: b.batchId, payload: '{"n":3}\n{"bytes":200}', changeCount: 3, byteSize: 200 },
      ]);
      expect(ids(await store.pendingBranchBatches({ branchId: branch.id, maxChanges: 100, maxBytes: 300 }))).toEqual([a.batchId, b.batchId]);
      expect(ids(await store.pendingBranchBatches({ branchId: branch.id, maxChanges: 100, maxBytes: 299 }))).toEqual([a.batchId]);
      // the first pending batch comes back even when it alone exceeds a cap
      expect(ids(await store.pendingBranchBatches({ branchId: branch.id, maxChanges: 1, maxBytes: 1 }))).toEqual([a.batchId]);
      expect(ids(await store.pendingBranchBatches({ branchId: branch.id, maxChanges: 1000, maxBytes: 1_000_000 }))).toEqual([a.batchId, b.batchId, c.batchId]);
      expect(await store.pendingBranchBatches({ branchId: randomUUID(), maxChanges: 10, maxBytes: 10 })).toEqual([]);

      const pending = (await store.branchesWithPendingBatches()).find((p) => p.branchId === branch.id);
      expect(pending).toEqual({ branchId: branch.id, lastBatchId: c.batchId, changes: 9, bytes: 600 });

      await expect(store.appendBranchChanges({ branchId: randomUUID(), payload: '', changeCount: 0, byteSize: 0 })).rejects.toMatchObject({
        name: 'NotFoundError',
        resource: 'branch',
      });
    });

    it('marks exactly the listed unconsumed batches of the branch consumed when their delta commits, and not on a re-commit', async () => {
      const { branch } = await store.createBranch({ name: `consume-${uid()}` });
      const { branch: other } = await store.createBranch({ name: `consume-other-${uid()}` });
      const append = (branchId: string) => store.appendBranchChanges({ branchId, payload: '{}', changeCount: 1, byteSize: 2 });
      const [a, b, c] = [await append(branch.id), await append(branch.id), await append(branch.id)];
      const foreign = await append(other.id);
      const pendingIds = async (branchId: string) =>
        (await store.pendingBranchBatches({ branchId, maxChanges: 1000, maxBytes: 1_000_000 })).map((x) => x.batchId);

      const first = await store.commitBranchDelta({
        branchId: branch.id,
        seq: 1,
        objectKey: `branches/${branch.id}/deltas/1`,
        changeCount: 2,
        byteSize: 40,
        checksum: 'sum-1',
        batchIds: [a.batchId, b.batchId, foreign.batchId, '999999999999'],
        rawBytes: 4,
        codec: 'br',
      });
      expect(first).toMatchObject({ created: true, headSeq: 1, delta: { seq: 1, rawBytes: 4, codec: 'br' } });
      expect(await pendingIds(branch.id)).toEqual([c.batchId]);
      expect(await pendingIds(other.id)).toEqual([foreign.batchId]);

      // a re-commit of seq 1 changes nothing, batches included
      const replay = await store.commitBranchDelta({ branchId: branch.id, seq: 1, objectKey: `x-${uid()}`, changeCount: 1, byteSize: 1, checksum: 'other', batchIds: [c.batchId] });
      expect(replay).toEqual({ delta: first.delta, created: false, headSeq: 1 });
      expect(await pendingIds(branch.id)).toEqual([c.batchId]);

      // a refused commit (gap) marks nothing either
      await expect(
        store.commitBranchDelta({ branchId: branch.id, seq: 5, objectKey: `x-${uid()}`, changeCount: 1, byteSize: 1, checksum: 'gap', batchIds: [c.batchId] }),
      ).rejects.toBeInstanceOf(BranchSeqGapError);
      expect(await pendingIds(branch.id)).toEqual([c.batchId]);

      const second = await store.commitBranchDelta({ branchId: branch.id, seq: 2, objectKey: `branches/${branch.id}/deltas/2`, changeCount: 1, byteSize: 20, checksum: 'sum-2', batchIds: [c.batchId] });
      expect(second.delta).toMatchObject({ rawBytes: null, codec: null });
      expect(await pendingIds(branch.id)).toEqual([]);
      expect((await store.branchesWithPendingBatches()).map((p) => p.branchId)).not.toContain(branch.id);
    });

    it('lists branches and deltas by range, and records snapshots once per seq', async () => {
      const { branch } = await store.createBranch({ name: `list-${uid()}` });
      for (let seq = 1; seq <= 4; seq++) {
        await store.commitBranchDelta({ branchId: branch.id, seq, objectKey: `branches/${branch.id}/deltas/${seq}`, changeCount: seq, byteSize: 10 * seq, checksum: `s${seq}`, rawBytes: 100 * seq, codec: 'gzip' });
      }
      const listed = await store.listBranches();
      expect(listed.find((b) => b.id === branch.id)).toEqual({ ...branch, headSeq: 4, updatedAt: expect.any(Date) as unknown });
      expect((await store.listBranchDeltas(branch.id)).map((d) => d.seq)).toEqual([1, 2, 3, 4]);
      const middle = await store.listBranchDeltas(branch.id, { fromSeq: 2, toSeq: 3 });
      expect(middle.map((d) => [d.seq, d.objectKey, d.rawBytes, d.codec])).toEqual([
        [2, `branches/${branch.id}/deltas/2`, 200, 'gzip'],
        [3, `branches/${branch.id}/deltas/3`, 300, 'gzip'],
      ]);
      expect(middle[0]?.createdAt).toBeInstanceOf(Date);
      expect((await store.listBranchDeltas(branch.id, { fromSeq: 4 })).map((d) => d.seq)).toEqual([4]);
      expect((await store.listBranchDeltas(branch.id, { toSeq: 1 })).map((d) => d.seq)).toEqual([1]);
      expect(await store.listBranchDeltas(randomUUID())).toEqual([]);

      expect(await store.latestBranchSnapshot(branch.id, 4)).toBeNull();
      const snap2 = await store.recordBranchSnapshot({ branchId: branch.id, seq: 2, objectKey: `branches/${branch.id}/snapshots/2`, checksum: 'state-2', documentCount: 7 });
      expect(snap2).toEqual({ branchId: branch.id, seq: 2, objectKey: `branches/${branch.id}/snapshots/2`, checksum: 'state-2', documentCount: 7, createdAt: expect.any(Date) as unknown });
      const again = await store.recordBranchSnapshot({ branchId: branch.id, seq: 2, objectKey: `branches/${branch.id}/snapshots/2-retry`, checksum: 'other', documentCount: 1 });
      expect(again).toEqual(snap2);
      const snap4 = await store.recordBranchSnapshot({ branchId: branch.id, seq: 4, objectKey: `branches/${branch.id}/snapshots/4`, checksum: 'state-4', documentCount: 9 });
      expect(await store.latestBranchSnapshot(branch.id, 1)).toBeNull();
      expect(await store.latestBranchSnapshot(branch.id, 3)).toEqual(snap2);
      expect(await store.latestBranchSnapshot(branch.id, 4)).toEqual(snap4);
      expect(await store.latestBranchSnapshot(branch.id, 100)).toEqual(snap4);

      await expect(store.recordBranchSnapshot({ branchId: branch.id, seq: 5, objectKey: `k-${uid()}`, checksum: 'x', documentCount: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
      await expect(store.recordBranchSnapshot({ branchId: randomUUID(), seq: 0, objectKey: `k-${uid()}`, checksum: 'x', documentCount: 0 })).rejects.toBeInstanceOf(NotFoundError);
    });

    it('archives a branch (no more appends or new deltas) and deletes an archived one\'s rows', async () => {
      const { branch } = await store.createBranch({ name: `archive-${uid()}` });
      expect(branch.archivedAt).toBeNull();
      const batch = await store.appendBranchChanges({ branchId: branch.id, payload: '{}', changeCount: 1, byteSize: 2 });
      await store.appendBranchChanges({ branchId: branch.id, payload: '{}', changeCount: 1, byteSize: 2 });
      await store.commitBranchDelta({ branchId: branch.id, seq: 1, objectKey: `branches/${branch.id}/deltas/1`, changeCount: 1, byteSize: 1, checksum: 's1', batchIds: [batch.batchId] });
      await store.recordBranchSnapshot({ branchId: branch.id, seq: 1, objectKey: `branches/${branch.id}/snapshots/1`, checksum: 'st', documentCount: 1 });

      await expect(store.deleteBranchData(branch.id)).rejects.toMatchObject({ name: 'ConflictError', details: { reason: 'state' } });

      const archived = await store.archiveBranch(branch.id);
      expect(archived.archivedAt).toBeInstanceOf(Date);
      expect(await store.archiveBranch(branch.id)).toEqual({ ...archived, updatedAt: expect.any(Date) as unknown });
      expect((await store.getBranch(branch.id))?.archivedAt).toEqual(archived.archivedAt);
      await expect(store.appendBranchChanges({ branchId: branch.id, payload: '{}', changeCount: 1, byteSize: 2 })).rejects.toMatchObject({
        name: 'ConflictError',
        details: { reason: 'archived' },
      });
      await expect(
        store.commitBranchDelta({ branchId: branch.id, seq: 2, objectKey: `x-${uid()}`, changeCount: 1, byteSize: 1, checksum: 's2' }),
      ).rejects.toMatchObject({ name: 'ConflictError', details: { reason: 'archived' } });
      // a re-commit of a committed seq still answers
      expect((await store.commitBranchDelta({ branchId: branch.id, seq: 1, objectKey: 'whatever', changeCount: 1, byteSize: 1, checksum: 's1' })).created).toBe(false);
      expect((await store.branchesWithPendingBatches()).map((p) => p.branchId)).not.toContain(branch.id);
      await expect(store.archiveBranch(randomUUID())).rejects.toBeInstanceOf(NotFoundError);

      // a parent with children is refused
      const { branch: parent } = await store.createBranch({ name: `archive-parent-${uid()}` });
      const { branch: child } = await store.createBranch({ name: `archive-child-${uid()}`, parentId: parent.id });
      await store.archiveBranch(parent.id);
      await expect(store.deleteBranchData(parent.id)).rejects.toMatchObject({ name: 'ConflictError', details: { reason: 'children' } });

      expect(await store.deleteBranchData(branch.id)).toEqual({ deltas: 1, snapshots: 1, batches: 2 });
      expect(await store.getBranch(branch.id)).toBeNull();
      expect(await store.listBranchDeltas(branch.id)).toEqual([]);
      expect(await store.latestBranchSnapshot(branch.id, 10)).toBeNull();
      expect(await store.deleteBranchData(branch.id)).toEqual({ deltas: 0, snapshots: 0, batches: 0 });

      await store.archiveBranch(child.id);
      expect(await store.deleteBranchData(child.id)).toEqual({ deltas: 0, snapshots: 0, batches: 0 });
      expect(await store.deleteBranchData(parent.id)).toEqual({ deltas: 0, snapshots: 0, batches: 0 });
      expect(await store.getBranch(parent.id)).toBeNull();
    });

    it('stages a run\'s contents byte-exact, replaces them by path, clears them by run or age, and records conflicts once', async () => {
      const { link } = await store.createSyncLink({ driveFolderId: `folder-${uid()}`, githubRepo: 'acme/notes', userId: 'u1' });
      const binary = Buffer.from([0, 255, 1, 254, 10, 13]);
      expect(await store.stageSyncContent(link.id, 'run-1', [
        { path: 'a.md', content: Buffer.from('# a\n'), sha256: 'h-a' },
        { path: 'img/b.png', content: binary, sha256: 'h-b' },
      ])).toBe(2);
      await store.stageSyncContent(link.id, 'run-1', [{ path: 'a.md', content: Buffer.from('# a2\n'), sha256: 'h-a2' }]);
      await store.stageSyncContent(link.id, 'run-2', [{ path: 'a.md', content: Buffer.from('other run'), sha256: 'h-x' }]);
      const staged = await store.getStagedContent('run-1');
      expect(staged.map((f) => [f.path, f.content.toString('base64'), f.sha256])).toEqual([
        ['a.md', Buffer.from('# a2\n').toString('base64'), 'h-a2'],
        ['img/b.png', binary.toString('base64'), 'h-b'],
      ]);
      expect((await store.getStagedContent('run-1', ['img/b.png'])).map((f) => f.path)).toEqual(['img/b.png']);
      expect(await store.clearStagedContent({ runId: 'run-1' })).toBe(2);
      expect(await store.getStagedContent('run-1')).toEqual([]);
      expect(await store.clearStagedContent({ olderThan: new Date(Date.now() + 60_000) })).toBeGreaterThanOrEqual(1);
      expect(await store.getStagedContent('run-2')).toEqual([]);

      const conflict = { path: 'a.md', policy: 'keep-both' as const, keptAs: 'a (conflict from Drive).md', driveChange: 'edit' as const, githubChange: 'edit' as const };
      expect(await store.recordSyncConflicts(link.id, 'run-1', [conflict])).toBe(1);
      expect(await store.recordSyncConflicts(link.id, 'run-1', [conflict])).toBe(0);
      const [recorded, ...more] = await store.listSyncConflicts(link.id);
      expect(more).toEqual([]);
      expect(recorded).toMatchObject({ ...conflict, linkId: link.id, runId: 'run-1' });
      expect(recorded?.createdAt).toBeInstanceOf(Date);
    });

    it('stores an event once per source and external id, counts, gets and searches events', async () => {
      const source = `src-${uid()}`;
      const word = `zebra${uid().replace(/[^a-z]/g, '')}`;
      const input = {
        source,
        externalId: 'd-1',
        kind: 'push',
        occurredAt: new Date('2026-11-01T10:00:00Z'),
        payload: { ref: 'refs/heads/main' },
        type: 'push',
        repository: 'acme/app',
        title: `Fix the ${word} crash`,
        body: 'longer text about the parser',
      };
      const first = await store.upsertEvent(input);
      expect(first.created).toBe(true);
      expect(first.event).toMatchObject({ source, externalId: 'd-1', type: 'push', action: null, repository: 'acme/app', payload: { ref: 'refs/heads/main' }, payloadRef: null });
      expect(first.event.occurredAt.toISOString()).toBe('2026-11-01T10:00:00.000Z');

      const again = await store.upsertEvent({ ...input, title: 'changed' });
      expect(again).toEqual({ event: first.event, created: false });
      expect(await store.getEvent(source, 'd-1')).toEqual(first.event);
      expect(await store.getEvent(source, 'missing')).toBeNull();
      expect(await store.countEvents(source)).toBe(1);
      expect(await store.countEvents()).toBeGreaterThanOrEqual(1);

      const byWord = await store.searchEvents(word);
      expect(byWord.map((hit) => hit.event.id)).toEqual([first.event.id]);
      expect(byWord[0]?.event.payload).toBeNull();
      const bySubstring = await store.searchEvents(`${word.slice(2)} cra`, { source });
      expect(bySubstring.map((hit) => hit.event.id)).toEqual([first.event.id]);
      expect(await store.searchEvents(word, { source: 'other' })).toEqual([]);
    });

    it('stores an occurrence once whichever path brought it (occurrence key), in pages, and marks events processed once', async () => {
      const source = `src-${uid()}`;
      const at = new Date('2026-11-02T10:00:00Z');
      const webhook = await store.upsertEvent({ source, externalId: 'delivery-1', kind: 'issues.opened', occurredAt: at, occurrenceKey: 'issues:acme/app:1:opened:t' });
      expect(webhook.created).toBe(true);
      expect(webhook.event.occurrenceKey).toBe('issues:acme/app:1:opened:t');
      const page = await store.upsertEvents([
        { source, externalId: '101', kind: 'issues.opened', occurredAt: at, occurrenceKey: 'issues:acme/app:1:opened:t' },
        { source, externalId: '102', kind: 'push', occurredAt: at, payload: { ref: 'refs/heads/main' }, occurrenceKey: 'push:acme/app:refs/heads/main:abc' },
        { source, externalId: '103', kind: 'watch.started', occurredAt: at },
        { source, externalId: '102', kind: 'push', occurredAt: at, occurrenceKey: 'push:acme/app:refs/heads/main:abc' },
      ]);
      expect(page.map((r) => [r.externalId, r.created])).toEqual([['delivery-1', false], ['102', true], ['103', true], ['102', false]]);
      expect(page[0]!.eventId).toBe(webhook.event.id);
      expect(page[3]!.eventId).toBe(page[1]!.eventId);
      // A webhook of an occurrence the pull stored first finds the pulled row.
      const late = await store.upsertEvent({ source, externalId: 'delivery-2', kind: 'push', occurredAt: at, occurrenceKey: 'push:acme/app:refs/heads/main:abc' });
      expect(late).toMatchObject({ created: false, event: { externalId: '102' } });
      expect(await store.countEvents(source)).toBe(3);
      expect(await store.upsertEvents([])).toEqual([]);

      expect(await store.markEventsProcessed([webhook.event.id, page[1]!.eventId])).toBe(2);
      expect(await store.markEventsProcessed([webhook.event.id])).toBe(0);
      const processed = await store.getEvent(source, 'delivery-1');
      expect(processed?.processedAt).toBeInstanceOf(Date);
      expect((await store.getEvent(source, '103'))?.processedAt).toBeNull();
    });

    it('keeps notification subscriptions without returning secrets from lists, and counts delivery attempts once per event id', async () => {
      const id = uid();
      const secret = `secret-${id}-0123456789`;
      const sub = await store.createNotificationSubscription({ url: `https://hooks.test/${id}`, events: ['sync.finished', 'dead_letter', 'dead_letter'], format: 'slack', secret });
      expect(sub).toEqual({ id: expect.any(String) as unknown, url: `https://hooks.test/${id}`, events: ['dead_letter', 'sync.finished'], format: 'slack', enabled: true, createdAt: expect.any(Date) as unknown });
      expect(JSON.stringify(await store.listNotificationSubscriptions())).not.toContain(secret);
      expect((await store.listNotificationSubscriptions('dead_letter')).map((s) => s.id)).toContain(sub.id);
      expect((await store.listNotificationSubscriptions('branch.delta_committed')).map((s) => s.id)).not.toContain(sub.id);
      expect(await store.getNotificationTarget(sub.id)).toEqual({ id: sub.id, url: sub.url, format: 'slack', secret, enabled: true });
      for (const bad of [{ events: ['nope' as never] }, { events: [] }, { url: 'ftp://x' }, { secret: 'short' }]) {
        const failure = await store.createNotificationSubscription({ url: 'https://hooks.test/x', events: ['dead_letter'], secret, ...bad }).catch((err: unknown) => err);
        expect(failure).toBeInstanceOf(InvalidArgumentError);
        expect(JSON.stringify({ message: (failure as Error).message, ...(failure as object) })).not.toContain(secret);
      }

      const first = await store.recordNotificationAttempt({ subscriptionId: sub.id, event: 'dead_letter', eventId: `e-${id}`, status: 'pending', statusCode: 503, error: 'the receiver answered 503' });
      expect(first).toMatchObject({ subscriptionId: sub.id, eventId: `e-${id}`, status: 'pending', attempts: 1, lastStatusCode: 503, deliveredAt: null });
      const second = await store.recordNotificationAttempt({ subscriptionId: sub.id, event: 'dead_letter', eventId: `e-${id}`, status: 'delivered', statusCode: 200 });
      expect(second).toMatchObject({ id: first.id, status: 'delivered', attempts: 2, lastStatusCode: 200, lastError: null, deliveredAt: expect.any(Date) as unknown });
      expect(await store.listNotificationDeliveries({ subscriptionId: sub.id, limit: 10 })).toEqual([second]);

      expect(await store.setNotificationSubscriptionEnabled(sub.id, false)).toBe(true);
      expect((await store.listNotificationSubscriptions('dead_letter')).map((s) => s.id)).not.toContain(sub.id);
      expect(await store.deleteNotificationSubscription(sub.id)).toBe(true);
      expect(await store.deleteNotificationSubscription(sub.id)).toBe(false);
      expect(await store.getNotificationTarget(sub.id)).toBeNull();
      expect(await store.listNotificationDeliveries({ subscriptionId: sub.id })).toEqual([]);
    });

    it('saves and lists the cursors of pulled feeds, counting runs', async () => {
      const source = `src-${uid()}`;
      expect(await store.getIngestCursor(source, 'repo:acme/app')).toBeNull();
      const first = await store.saveIngestCursor({ source, scope: 'repo:acme/app', cursor: { lastEventId: '5', etag: 'W/"x"' }, created: 3 });
      expect(first).toMatchObject({ source, scope: 'repo:acme/app', cursor: { lastEventId: '5', etag: 'W/"x"' }, runs: 1, lastCreated: 3 });
      expect(first.lastRunAt).toBeInstanceOf(Date);
      const second = await store.saveIngestCursor({ source, scope: 'repo:acme/app', cursor: { lastEventId: '9', etag: null }, created: 0 });
      expect(second).toMatchObject({ runs: 2, lastCreated: 0, cursor: { lastEventId: '9', etag: null } });
      await store.saveIngestCursor({ source, scope: 'org:acme', cursor: {}, created: 1 });
      expect((await store.listIngestCursors(source)).map((c) => [c.scope, c.runs])).toEqual([['org:acme', 1], ['repo:acme/app', 2]]);
      expect(await store.getIngestCursor(source, 'repo:acme/app')).toEqual(second);
    });

    it('lists the events of a range for export in (occurred_at, id) order, by keyset after a cursor', async () => {
      // A range no other test writes events in.
      const source = `src-${uid()}`;
      const from = new Date('2031-07-01T00:00:00Z');
      const to = new Date('2031-07-02T00:00:00Z');
      const at = (ms: number) => new Date(from.getTime() + ms);
      const refs = await store.upsertEvents([
        { source, externalId: 'b', kind: 'k', occurredAt: at(5), title: 'tie', payload: { n: 1 } },
        { source, externalId: 'a', kind: 'k', occurredAt: at(5), title: 'tie' },
        { source, externalId: 'c', kind: 'k', occurredAt: at(1) },
        { source, externalId: 'before', kind: 'k', occurredAt: at(-1) },
        { source, externalId: 'at-to', kind: 'k', occurredAt: to },
      ]);
      const tie = [refs[0]!.eventId, refs[1]!.eventId].sort();
      const first = await store.listEventsForExport({ from, to, limit: 2 });
      expect(first.map((r) => r.event.id)).toEqual([refs[2]!.eventId, tie[0]]);
      expect(first[0]!.cursor).toEqual({ occurredAt: '2031-07-01T00:00:00.001000Z', id: refs[2]!.eventId });
      expect(first[0]!.event).toMatchObject({ source, externalId: 'c', kind: 'k' });
      const rest = await store.listEventsForExport({ from, to, after: first[1]!.cursor, limit: 10 });
      expect(rest.map((r) => r.event.id)).toEqual([tie[1]]);
      expect(await store.listEventsForExport({ from, to, after: rest[0]!.cursor, limit: 10 })).toEqual([]);
      const withPayload = [...first, ...rest].find((r) => r.event.externalId === 'b');
      expect(withPayload?.event.payload).toEqual({ n: 1 });
    });

    it('sets, gets, lists and unsets run-time settings per scope', async () => {
      const scope = `source:s-${uid()}`;
      expect(await store.getSetting(scope, 'ingest.page_size')).toBeNull();
      const first = await store.setSetting({ scope, key: 'ingest.page_size', value: 30, updatedBy: 'ops' });
      expect(first).toMatchObject({ scope, key: 'ingest.page_size', value: 30, updatedBy: 'ops' });
      expect(first.updatedAt).toBeInstanceOf(Date);
      const second = await store.setSetting({ scope, key: 'ingest.page_size', value: 50 });
      expect(second).toMatchObject({ value: 50, updatedBy: null });
      await store.setSetting({ scope, key: 'webhooks.enabled', value: false });
      expect(await store.getSetting(scope, 'ingest.page_size')).toEqual(second);
      expect((await store.listSettings(scope)).map((s) => [s.key, s.value])).toEqual([['ingest.page_size', 50], ['webhooks.enabled', false]]);
      expect((await store.listSettings()).some((s) => s.scope === scope)).toBe(true);
      expect(await store.unsetSetting(scope, 'ingest.page_size')).toMatchObject({ value: 50 });
      expect(await store.unsetSetting(scope, 'ingest.page_size')).toBeNull();
      expect(await store.getSetting(scope, 'ingest.page_size')).toBeNull();
      await expect(store.setSetting({ scope: 'nowhere', key: 'ingest.page_size', value: 1 })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('aggregates events into daily metrics per day, source and type, idempotently, and lists them', async () => {
      // Days no other test writes events on; assertions look at this test's sources only.
      const source = `src-${uid()}`;
      const other = `src-${uid()}`;
      const range = { from: '1971-03-01', to: '1971-03-03' };
      const mine = <T extends { dimension: string }>(rows: T[]): T[] => rows.filter((r) => r.dimension === '' || r.dimension.startsWith(source) || r.dimension.startsWith(other));
      await store.upsertEvent({ source, externalId: 'a', kind: 'push', type: 'push', occurredAt: new Date('1971-03-01T00:00:00Z') });
      await store.upsertEvent({ source, externalId: 'b', kind: 'issues.opened', type: 'issues', occurredAt: new Date('1971-03-01T23:59:59Z') });
      await store.upsertEvent({ source: other, externalId: 'c', kind: 'change', occurredAt: new Date('1971-03-03T12:00:00Z') });
      await store.upsertEvent({ source, externalId: 'outside', kind: 'push', occurredAt: new Date('1971-03-04T00:00:00Z') });

      expect(await store.aggregateDailyMetrics(range)).toBeGreaterThanOrEqual(7);
      const rows = mine(await store.listDailyMetrics(range));
      expect(rows).toEqual(expect.arrayContaining([
        { day: '1971-03-01', metric: 'events', dimension: source, value: 2 },
        { day: '1971-03-01', metric: 'events_by_type', dimension: `${source}:issues`, value: 1 },
        { day: '1971-03-01', metric: 'events_by_type', dimension: `${source}:push`, value: 1 },
        { day: '1971-03-03', metric: 'events', dimension: other, value: 1 },
        { day: '1971-03-03', metric: 'events_by_type', dimension: `${other}:change`, value: 1 },
      ]));
      expect(rows.filter((r) => r.day === '1971-03-04')).toEqual([]);
      const total = rows.find((r) => r.day === '1971-03-01' && r.metric === 'events' && r.dimension === '');
      expect(total?.value).toBeGreaterThanOrEqual(2);

      await store.aggregateDailyMetrics(range);
      expect(mine(await store.listDailyMetrics(range))).toEqual(rows);
      expect(mine(await store.listDailyMetrics({ ...range, metric: 'events_by_type' }))).toEqual(rows.filter((r) => r.metric === 'events_by_type'));
      await expect(store.aggregateDailyMetrics({ from: '1971-03-03', to: '1971-03-01' })).rejects.toBeInstanceOf(InvalidArgumentError);
    });

    it('links identities with a confidence and the rule that matched, and sets the event actor', async () => {
      const id = uid();
      const google = await store.linkIdentity({ provider: 'google', externalId: `g-${id}`, login: `ann-${id}`, email: `Ann-${id}@Example.com` });
      expect(google).toMatchObject({ canonicalId: null, confidence: 1, matchRule: 'provider_id', email: `ann-${id}@example.com` });

      const { event } = await store.upsertEvent({ source: `src-${id}`, externalId: 'e', kind: 'push', occurredAt: new Date() });
      const github = await store.linkIdentity({ provider: 'github', externalId: `1-${id}`, login: `ann-${id}`, email: `ann-${id}@example.com`, name: 'Ann', eventId: event.id });
      expect(github).toMatchObject({ canonicalId: google.id, confidence: 0.9, matchRule: 'same_email', displayName: 'Ann' });
      expect((await store.getEvent(`src-${id}`, 'e'))?.actorIdentityId).toBe(github.id);

      const gitlab = await store.linkIdentity({ provider: 'gitlab', externalId: `9-${id}`, login: `ANN-${id}` });
      expect(gitlab).toMatchObject({ canonicalId: google.id, confidence: 0.6, matchRule: 'same_login' });
      const repeat = await store.linkIdentity({ provider: 'github', externalId: `1-${id}` });
      expect(repeat).toMatchObject({ id: github.id, login: `ann-${id}`, canonicalId: google.id, confidence: 0.9 });
    });

    it('records tracked keywords found as whole words in any case, and lists and disables keywords', async () => {
      const id = uid().replace(/[^a-z]/g, 'x');
      const keyword = `kw${id}`;
      await store.setTrackedKeyword(`  ${keyword.toUpperCase()} `);
      await store.setTrackedKeyword(`c++${id}`);
      const off = await store.setTrackedKeyword(`off${id}`, false);
      expect(off).toMatchObject({ keyword: `off${id}`, enabled: false });
      expect((await store.listTrackedKeywords()).map((k) => k.keyword)).toEqual(expect.arrayContaining([keyword, `c++${id}`, `off${id}`]));

      const { event } = await store.upsertEvent({
        source: `src-${id}`, externalId: 'k', kind: 'issues', occurredAt: new Date(),
        title: `${keyword.toUpperCase()} broken`, body: `${keyword}s are not ${keyword}, c++${id} and off${id} ${keyword}.`,
      });
      expect(await store.recordEventKeywords(event.id)).toEqual([{ keyword: `c++${id}`, occurrences: 1 }, { keyword, occurrences: 3 }]);
      expect(await store.recordEventKeywords(event.id)).toHaveLength(2);
      await expect(store.recordEventKeywords('00000000-0000-0000-0000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    });

    it('lists, gets and resolves dead letters, unresolved ones unless asked for all', async () => {
      const source = `webhook:${uid()}`;
      const a = await store.recordDeadLetter({ source, ref: 'a', errorType: 'InvalidEvent', errorMessage: 'bad' });
      const b = await store.recordDeadLetter({ source, ref: 'b', errorType: 'StoreUnavailable', errorMessage: 'down' });
      expect((await store.listDeadLetters({ source })).map((d) => d.ref)).toEqual(['b', 'a']);
      expect(await store.getDeadLetter(a.id)).toEqual(a);

      const resolved = await store.resolveDeadLetter(a.id);
      expect(resolved.resolvedAt).toBeInstanceOf(Date);
      expect((await store.resolveDeadLetter(a.id)).resolvedAt).toEqual(resolved.resolvedAt);
      expect((await store.listDeadLetters({ source })).map((d) => d.id)).toEqual([b.id]);
      expect((await store.listDeadLetters({ source, includeResolved: true })).map((d) => d.id).sort()).toEqual([a.id, b.id].sort());
      expect(await store.getDeadLetter('00000000-0000-0000-0000-000000000000')).toBeNull();
      await expect(store.resolveDeadLetter('00000000-0000-0000-0000-000000000000')).rejects.toBeInstanceOf(NotFoundError);
    });
  });
}
