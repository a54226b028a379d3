import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { decodeDelta } from '../../lib/branches/delta-codec';
import type { Change } from '../../workflows';
import { applyReference, change, startBranchHarness, type BranchHarness } from '../helpers/branches';

jest.setTimeout(90_000);

describe('branchDeltas workflow', () => {
  let h: BranchHarness;
  beforeAll(async () => {
    h = await startBranchHarness();
  });
  afterAll(async () => {
    await h?.close();
  });
  afterEach(() => {
    h.hooks.beforeCommit = undefined;
    h.hooks.afterCommit = undefined;
  });

  async function deltaChanges(branchId: string): Promise<Change[][]> {
    const deltas = await h.store.listBranchDeltas(branchId);
    return Promise.all(deltas.map(async (d) => decodeDelta((await h.objects.get(d.objectKey))!).changes));
  }

  it('turns each flush into the next delta, and materializes every seq to the source state', async () => {
    const branchId = await h.createBranch();
    const source = new Map<string, Record<string, unknown>>();
    const expected: Array<Map<string, Record<string, unknown>>> = [new Map<string, Record<string, unknown>>()];
    const rounds: Change[][] = [
      [change('a', 'insert', { title: 'A', n: 1 }), change('b', 'insert', { title: 'B', n: 1 })],
      [change('a', 'update', { n: 2, title: null }), change('c', 'insert', { title: 'C' })],
      [change('b', 'delete'), change('a', 'update', { whole: true, title: 'A2' })],
      [change('b', 'insert', { title: 'B again' }), change('c', 'update', { tags: ['x'] })],
    ];
    for (const [i, round] of rounds.entries()) {
      const accepted = await h.intake.accept(branchId, round);
      expect(accepted.accepted).toBe(round.length);
      for (const c of round) applyReference(source, c);
      expected.push(new Map(source));
      // The flush update answers with the seq made durable.
      expect(await h.flush(branchId)).toBe(i + 1);
    }
    expect((await h.store.getBranch(branchId))?.headSeq).toBe(rounds.length);
    expect((await h.store.listBranchDeltas(branchId)).map((d) => d.seq)).toEqual([1, 2, 3, 4]);
    for (let seq = 0; seq <= rounds.length; seq++) {
      const state = await h.materialize(branchId, seq);
      expect(Object.fromEntries(state.documents)).toEqual(Object.fromEntries(expected[seq]!));
    }
    const stats = await h.stats(branchId);
    expect(stats).toMatchObject({ branchId, headSeq: 4, deltas: 4, changes: 8, pendingChanges: 0 });
    expect(stats.storedBytes).toBeGreaterThan(0);
    // Nothing pending: another flush makes no delta.
    expect(await h.flush(branchId)).toBe(4);
  });

  it("keeps each producer's order under concurrent producers", async () => {
    const branchId = await h.createBranch();
    const producers = 4;
    const batches = 15;
    const perBatch = 40;
    await Promise.all(
      Array.from({ length: producers }, async (_, p) => {
        for (let b = 0; b < batches; b++) {
          const round: Change[] = [];
          for (let i = 0; i < perBatch; i++) {
            const n = b * perBatch + i;
            round.push(n === 0 ? change(`p${p}`, 'insert', { n, by: p }) : change(`p${p}`, 'update', { n, [`k${n % 7}`]: n }));
          }
          await h.intake.accept(branchId, round);
        }
      }),
    );
    const head = await h.flush(branchId);
    expect(head).toBeGreaterThanOrEqual(1);
    const all = (await deltaChanges(branchId)).flat();
    expect(all).toHaveLength(producers * batches * perBatch);
    for (let p = 0; p < producers; p++) {
      const ns = all.filter((c) => c.documentId === `p${p}`).map((c) => (c.after ?? c.patch)!.n as number);
      expect(ns).toEqual(Array.from({ length: batches * perBatch }, (_, i) => i));
    }
    const source = new Map<string, Record<string, unknown>>();
    for (const c of all) applyReference(source, c);
    const state = await h.materialize(branchId);
    expect(Object.fromEntries(state.documents)).toEqual(Object.fromEntries(source));
    for (let p = 0; p < producers; p++) expect(state.documents.get(`notes/p${p}`)?.n).toBe(batches * perBatch - 1);
  });

  it('commits every delta exactly once, without gaps, when the worker dies between storeDelta and commitDelta', async () => {
    const branchId = await h.createBranch();
    await h.intake.accept(branchId, [change('x', 'insert', { n: 1 })]);
    expect(await h.flush(branchId)).toBe(1);

    let killed = false;
    let stopping: Promise<void> | undefined;
    h.hooks.beforeCommit = (input) => {
      if (input.branchId !== branchId || killed) return;
      killed = true;
      // storeDelta completed (its object is written); the worker goes away before the commit.
      stopping = h.stopWorker();
      throw new Error('worker killed before commitDelta');
    };
    await h.intake.accept(branchId, [change('x', 'update', { n: 2 }), change('y', 'insert', { n: 1 })]);
    await h.intake.flush(branchId);
    await waitFor(() => killed);
    await stopping;
    await h.intake.accept(branchId, [change('y', 'update', { n: 2 })]);
    await h.startWorker();
    const head = await h.flush(branchId);

    const deltas = await h.store.listBranchDeltas(branchId);
    expect(deltas.map((d) => d.seq)).toEqual(Array.from({ length: head }, (_, i) => i + 1));
    const all = (await deltaChanges(branchId)).flat();
    expect(all.map((c) => `${c.documentId}:${String((c.after ?? c.patch)!.n)}`)).toEqual(['x:1', 'x:2', 'y:1', 'y:2']);
    expect(Object.fromEntries((await h.materialize(branchId)).documents)).toEqual({ 'notes/x': { n: 2 }, 'notes/y': { n: 2 } });
    expect(await h.store.pendingBranchBatches({ branchId, maxChanges: 1000, maxBytes: 1 << 20 })).toEqual([]);
  });

  it('returns the committed delta when a commit succeeded but its answer was lost', async () => {
    const branchId = await h.createBranch();
    let lost = 0;
    h.hooks.afterCommit = (input) => {
      if (input.branchId === branchId && lost++ === 0) throw new Error('connection reset after commit');
    };
    await h.intake.accept(branchId, [change('d', 'insert', { v: 1 })]);
    expect(await h.flush(branchId)).toBe(1);
    await h.intake.accept(branchId, [change('d', 'update', { v: 2 })]);
    expect(await h.flush(branchId)).toBe(2);
    expect(lost).toBeGreaterThanOrEqual(2);
    expect((await h.store.listBranchDeltas(branchId)).map((d) => [d.seq, d.changeCount])).toEqual([[1, 1], [2, 1]]);
    expect((await h.stats(branchId)).deltas).toBe(2);
  });

  it('makes one delta of duplicated signals', async () => {
    const branchId = await h.createBranch();
    const { batchId } = await h.intake.accept(branchId, [change('s', 'insert', { v: 1 }), change('s', 'update', { v: 2 })]);
    const signal = { lastBatchId: batchId, changes: 2, bytes: 100 };
    for (let i = 0; i < 5; i++) {
      await h.env.client.workflow.signalWithStart('branchDeltas', { workflowId: `branch:${branchId}`, taskQueue: h.taskQueue, args: [{ branchId }], signal: 'changes', signalArgs: [signal] });
    }
    expect(await h.flush(branchId)).toBe(1);
    expect(await h.store.listBranchDeltas(branchId)).toHaveLength(1);
    expect((await h.stats(branchId)).pendingChanges).toBe(0);
  });

  it('starts the workflow from the intake with the configured compaction interval (DURASYNC_BRANCH_COMPACT_EVERY)', async () => {
    const branchId = await h.createBranch();
    await h.intake.accept(branchId, [change('c', 'insert', { v: 1 })]);
    await h.intake.flush(branchId);
    const history = await h.env.client.workflow.getHandle(`branch:${branchId}`).fetchHistory();
    const started = history.events?.[0]?.workflowExecutionStartedEventAttributes;
    const payload = started?.input?.payloads?.[0]?.data;
    expect(payload && JSON.parse(Buffer.from(payload).toString('utf8'))).toEqual({ branchId, compactEvery: h.config.branches.compactEvery });
    expect(h.config.branches.compactEvery).toBe(100);
  });

  it('continues as new every N deltas, carrying its stats', async () => {
    const branchId = await h.createBranch();
    await h.startBranchWorkflow({ branchId, deltasPerRun: 2 });
    for (let i = 1; i <= 5; i++) {
      await h.intake.accept(branchId, [change(`c${i}`, 'insert', { i })]);
      expect(await h.flush(branchId)).toBe(i);
    }
    const stats = await h.stats(branchId);
    expect(stats).toMatchObject({ headSeq: 5, deltas: 5, changes: 5 });
    expect(stats.runs).toBeGreaterThanOrEqual(3);
    const description = await h.env.client.workflow.getHandle(`branch:${branchId}`).describe();
    expect(description.status.name).toBe('RUNNING');
    expect(description.searchAttributes.DurasyncKind).toEqual(['branch']);
  });

  it('creates a branch from a parent at a seq in well under 500 ms, with the parent state at that seq', async () => {
    const parent = await h.createBranch();
    await h.intake.accept(parent, [change('p', 'insert', { v: 1 })]);
    await h.flush(parent);
    await h.intake.accept(parent, [change('p', 'update', { v: 2 })]);
    await h.flush(parent);
    const started = performance.now();
    const { branch } = await h.store.createBranch({ name: `child-${parent}`, parentId: parent, parentSeq: 1 });
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(500);
    expect(branch).toMatchObject({ parentId: parent, parentSeq: 1, headSeq: 0 });
    expect(Object.fromEntries((await h.materialize(branch.id)).documents)).toEqual({ 'notes/p': { v: 1 } });
    await h.intake.accept(branch.id, [change('q', 'insert', { v: 9 })]);
    expect(await h.flush(branch.id)).toBe(1);
    expect(Object.fromEntries((await h.materialize(branch.id)).documents)).toEqual({ 'notes/p': { v: 1 }, 'notes/q': { v: 9 } });
  });

  it('compacts deltas into a snapshot at the newest multiple of K, and materializes through it', async () => {
    const branchId = await h.createBranch();
    const source = new Map<string, Record<string, unknown>>();
    for (let i = 1; i <= 5; i++) {
      const c = change(`k${i % 2}`, i <= 2 ? 'insert' : 'update', { i });
      applyReference(source, c);
      await h.intake.accept(branchId, [c]);
      await h.flush(branchId);
    }
    const run = (id: string) => h.env.client.workflow.execute('compactBranch', { workflowId: id, taskQueue: h.taskQueue, args: [{ branchId, every: 2 }] });
    expect(await run(`compact-1-${branchId}`)).toMatchObject({ branchId, seq: 4, documentCount: 2 });
    expect(await run(`compact-2-${branchId}`)).toMatchObject({ branchId, seq: null });
    expect(await h.objects.list(`branches/${branchId}/snapshots/`)).toEqual([`branches/${branchId}/snapshots/4`]);
    expect((await h.store.latestBranchSnapshot(branchId, 5))?.seq).toBe(4);
    expect(Object.fromEntries((await h.materialize(branchId)).documents)).toEqual(Object.fromEntries(source));
  });

  it('cleans up an archived branch (objects, then rows) and refuses an active one', async () => {
    const branchId = await h.createBranch();
    await h.intake.accept(branchId, [change('z', 'insert', { v: 1 })]);
    await h.flush(branchId);
    expect(await h.objects.list(`branches/${branchId}/`)).toHaveLength(1);

    const refused = h.env.client.workflow.execute('cleanupBranch', { workflowId: `cleanup-1-${branchId}`, taskQueue: h.taskQueue, args: [{ branchId }] });
    const err = (await refused.catch((e: unknown) => e)) as WorkflowFailedError;
    expect(err).toBeInstanceOf(WorkflowFailedError);
    expect(err.cause).toBeInstanceOf(ApplicationFailure);
    expect((err.cause as ApplicationFailure).type).toBe('BranchNotArchived');

    await h.env.client.workflow.getHandle(`branch:${branchId}`).terminate('archiving');
    await h.store.archiveBranch(branchId);
    const result: unknown = await h.env.client.workflow.execute('cleanupBranch', { workflowId: `cleanup-2-${branchId}`, taskQueue: h.taskQueue, args: [{ branchId }] });
    expect(result).toEqual({ branchId, objectsDeleted: 1 });
    expect(await h.objects.list(`branches/${branchId}/`)).toEqual([]);
    expect(await h.store.getBranch(branchId)).toBeNull();
  });
});

async function waitFor(check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
