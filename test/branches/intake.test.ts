import { ChangeInputError } from '../../lib/branches/changes';
import { ChangeIntake, DeltaFlusher } from '../../lib/branches/intake';
import { loadConfig } from '../../lib/config';
import { createLogger } from '../../lib/logger';
import type { ChangesSignal } from '../../workflows';
import { change } from '../helpers/branches';
import { openTestDeps, type TestDeps } from '../helpers/deps';

const logger = createLogger({ level: 'silent' });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A signaller that records calls and resolves each when told (or at once). */
function recorder(options: { manual?: boolean; failFirst?: number } = {}) {
  const calls: Array<{ branchId: string; signal: ChangesSignal }> = [];
  const pending: Array<() => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let failures = options.failFirst ?? 0;
  const signal = async (branchId: string, s: ChangesSignal) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      if (options.manual) await new Promise<void>((resolve) => pending.push(resolve));
      if (failures > 0) {
        failures--;
        throw new Error('temporal unavailable');
      }
      calls.push({ branchId, signal: s });
    } finally {
      inFlight--;
    }
  };
  return { signal, calls, release: () => pending.splice(0).forEach((r) => r()), maxInFlight: () => maxInFlight };
}

describe('DeltaFlusher', () => {
  it('signals a branch once enough changes are waiting, with their counts and newest batch id', async () => {
    const r = recorder();
    const flusher = new DeltaFlusher({ signal: r.signal, logger, flushChanges: 100, flushIntervalMs: 60_000 });
    flusher.note('b1', { batchId: '1', changes: 60, bytes: 600 });
    await sleep(10);
    expect(r.calls).toEqual([]);
    flusher.note('b1', { batchId: '2', changes: 40, bytes: 400 });
    await sleep(10);
    expect(r.calls).toEqual([{ branchId: 'b1', signal: { lastBatchId: '2', changes: 100, bytes: 1000 } }]);
    await flusher.close();
  });

  it('signals what waited for the flush interval, even below the count', async () => {
    const r = recorder();
    const flusher = new DeltaFlusher({ signal: r.signal, logger, flushChanges: 100, flushIntervalMs: 100 });
    flusher.note('b1', { batchId: '7', changes: 3, bytes: 30 });
    await sleep(40);
    expect(r.calls).toHaveLength(0);
    await sleep(150);
    expect(r.calls).toEqual([{ branchId: 'b1', signal: { lastBatchId: '7', changes: 3, bytes: 30 } }]);
    await flusher.close();
  });

  it('never has more than one signal in flight per branch: later batches go in the next one', async () => {
    const r = recorder({ manual: true });
    const flusher = new DeltaFlusher({ signal: r.signal, logger, flushChanges: 10, flushIntervalMs: 60_000 });
    flusher.note('b1', { batchId: '1', changes: 10, bytes: 1 });
    for (let i = 2; i <= 20; i++) flusher.note('b1', { batchId: String(i), changes: 10, bytes: 1 });
    await sleep(10);
    expect(r.maxInFlight()).toBe(1);
    r.release();
    await sleep(10);
    r.release();
    await sleep(10);
    expect(r.calls.map((c) => c.signal)).toEqual([
      { lastBatchId: '1', changes: 10, bytes: 1 },
      { lastBatchId: '20', changes: 190, bytes: 19 },
    ]);
    expect(r.maxInFlight()).toBe(1);
    await flusher.close();
  });

  it('retries a failed signal with the counts put back', async () => {
    const r = recorder({ failFirst: 1 });
    const flusher = new DeltaFlusher({ signal: r.signal, logger, flushChanges: 5, flushIntervalMs: 50 });
    flusher.note('b1', { batchId: '3', changes: 5, bytes: 50 });
    await sleep(150);
    expect(r.calls).toEqual([{ branchId: 'b1', signal: { lastBatchId: '3', changes: 5, bytes: 50 } }]);
    await flusher.close();
  });

  it('signals everything unsignalled on close', async () => {
    const r = recorder();
    const flusher = new DeltaFlusher({ signal: r.signal, logger, flushChanges: 100, flushIntervalMs: 60_000 });
    flusher.note('b1', { batchId: '1', changes: 1, bytes: 1 });
    flusher.note('b2', { batchId: '2', changes: 2, bytes: 2 });
    await flusher.close();
    expect(r.calls.map((c) => c.branchId).sort()).toEqual(['b1', 'b2']);
  });
});

describe('ChangeIntake', () => {
  let deps: TestDeps;
  beforeAll(async () => {
    deps = await openTestDeps();
  });
  afterAll(async () => {
    await deps?.close();
  });

  it('appends one durable batch per accept, from an array or NDJSON', async () => {
    const r = recorder();
    const intake = new ChangeIntake({ store: deps.store, flusher: new DeltaFlusher({ signal: r.signal, logger, flushChanges: 1000, flushIntervalMs: 60_000 }), logger });
    const { branch } = await deps.store.createBranch({ name: 'intake-1' });
    const first = await intake.accept(branch.id, [change('a', 'insert', { v: 1 })]);
    const second = await intake.accept(branch.id, `${JSON.stringify(change('a', 'update', { v: 2 }))}\n\n${JSON.stringify(change('b', 'insert', { v: 1 }))}\n`);
    expect(first).toMatchObject({ branchId: branch.id, accepted: 1 });
    expect(second).toMatchObject({ branchId: branch.id, accepted: 2 });
    const pending = await deps.store.pendingBranchBatches({ branchId: branch.id, maxChanges: 100, maxBytes: 1 << 20 });
    expect(pending.map((b) => [b.batchId, b.changeCount])).toEqual([[first.batchId, 1], [second.batchId, 2]]);
    expect(r.calls).toEqual([]);
    await intake.close();
    expect(r.calls).toEqual([{ branchId: branch.id, signal: { lastBatchId: second.batchId, changes: 3, bytes: expect.any(Number) as number } }]);
  });

  it('refuses a malformed change naming its line, and takes nothing of that input', async () => {
    const r = recorder();
    const intake = new ChangeIntake({ store: deps.store, flusher: new DeltaFlusher({ signal: r.signal, logger }), logger });
    const { branch } = await deps.store.createBranch({ name: 'intake-2' });
    const good = JSON.stringify(change('a', 'insert', { v: 1 }));
    const err = (await intake.accept(branch.id, `${good}\n${good}\n{"collection":"notes","documentId":"x","op":"upsert","ts":"2026-01-01T00:00:00Z"}\n`).catch((e: unknown) => e)) as ChangeInputError;
    expect(err).toBeInstanceOf(ChangeInputError);
    expect(err.line).toBe(3);
    expect(err.message).toMatch(/^line 3: op must be insert, update or delete/);
    expect(await deps.store.pendingBranchBatches({ branchId: branch.id, maxChanges: 100, maxBytes: 1 << 20 })).toEqual([]);
    await intake.close();
    expect(r.calls).toEqual([]);
  });

  it('on start, signals every branch that has batches pending (a process died before signalling)', async () => {
    const { branch } = await deps.store.createBranch({ name: 'intake-3' });
    const dead = new ChangeIntake({ store: deps.store, flusher: new DeltaFlusher({ signal: () => Promise.reject(new Error('died')), logger, flushIntervalMs: 60_000 }), logger });
    const { batchId } = await dead.accept(branch.id, [change('a', 'insert', { v: 1 }), change('b', 'insert', { v: 1 })]);
    const r = recorder();
    const restarted = new ChangeIntake({ store: deps.store, flusher: new DeltaFlusher({ signal: r.signal, logger }), logger });
    expect(await restarted.start()).toBeGreaterThanOrEqual(1);
    expect(r.calls).toContainEqual({ branchId: branch.id, signal: { lastBatchId: batchId, changes: 2, bytes: expect.any(Number) as number } });
    await restarted.close();
  });
});

describe('branch configuration', () => {
  it('has the documented defaults', () => {
    expect(loadConfig({}).branches).toEqual({
      concurrency: { sync: 5, compression: 2, notification: 1, cleanup: 1 },
      flushChanges: 100,
      flushIntervalMs: 5000,
      maxBatchChanges: 50_000,
      maxBatchBytes: 8 * 1024 * 1024,
      maxBodyBytes: 25 * 1024 * 1024,
      compactEvery: 100,
    });
  });

  it('reads each variable, and names the variable of a bad value', () => {
    const config = loadConfig({ DURASYNC_BRANCH_CONCURRENCY: 'compression=4', DURASYNC_BRANCH_FLUSH_INTERVAL: '250ms', DURASYNC_BRANCH_MAX_BATCH_BYTES: '512KB', DURASYNC_BRANCH_MAX_BODY: '1048576' });
    expect(config.branches).toMatchObject({ concurrency: { sync: 5, compression: 4, notification: 1, cleanup: 1 }, flushIntervalMs: 250, maxBatchBytes: 512 * 1024, maxBodyBytes: 1024 * 1024 });
    expect(() => loadConfig({ DURASYNC_BRANCH_CONCURRENCY: 'zip=3' })).toThrow(/^DURASYNC_BRANCH_CONCURRENCY: expected kind=n pairs/);
    expect(() => loadConfig({ DURASYNC_BRANCH_MAX_BATCH_BYTES: 'lots' })).toThrow(/^DURASYNC_BRANCH_MAX_BATCH_BYTES: expected a size/);
    expect(() => loadConfig({ DURASYNC_BRANCH_FLUSH_CHANGES: '0' })).toThrow(/^DURASYNC_BRANCH_FLUSH_CHANGES: /);
    expect(loadConfig({ DURASYNC_BRANCH_COMPACT_EVERY: '0' }).branches.compactEvery).toBe(0);
    expect(() => loadConfig({ DURASYNC_BRANCH_COMPACT_EVERY: 'often' })).toThrow(/^DURASYNC_BRANCH_COMPACT_EVERY: /);
  });
});
