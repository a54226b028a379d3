import type { Client } from '@temporalio/client';
import { taskQueueName } from '../queues';
import type { Store } from '../db/store';
import type { Logger } from '../logger';
import type { Change, ChangesSignal } from '../../workflows/branches/types';
import { parseChanges, serializeChanges } from './changes';

/**
 * Where changes enter durasync (the ingress, `durasync changes push`, the Postgres tailer):
 * ChangeIntake.accept() appends one batch to Postgres (durable: that is "accepted") and tells the
 * DeltaFlusher, which wakes the branch's workflow with a `changes` signal once enough changes are
 * waiting or the oldest has waited long enough, never with more than one signal in flight per
 * branch. Temporal sees few signals, carrying counts only; the changes stay in Postgres until the
 * workflow's storeDelta reads them.
 */

/** Whether a branch row says it was archived (`archivedAt` set, or `status: 'archived'`). */
export function isBranchArchived(branch: object): boolean {
  const b = branch as { archivedAt?: Date | string | null; status?: string };
  return Boolean(b.archivedAt) || b.status === 'archived';
}

/** Sends a branch's wake-up: signalWithStart of `branchDeltas` (id `branch:<branchId>`) in production. */
export type BranchSignaller = (branchId: string, signal: ChangesSignal) => Promise<void>;

/**
 * The signaller over a Temporal client: signalWithStart on `taskQueue` (the prefixed `branch-delta`
 * queue); a workflow it starts compacts every `compactEvery` deltas (0: never).
 */
export function temporalBranchSignaller(client: Client, taskQueue: string, compactEvery = 0): BranchSignaller {
  return async (branchId, signal) => {
    await client.workflow.signalWithStart('branchDeltas', {
      workflowId: `branch:${branchId}`,
      taskQueue,
      args: [{ branchId, ...(compactEvery > 0 ? { compactEvery } : {}) }],
      staticSummary: `deltas of branch ${branchId}`,
      signal: 'changes',
      signalArgs: [signal],
    });
  };
}

export interface DeltaFlusherOptions {
  signal: BranchSignaller;
  logger: Logger;
  /** Signal once this many accepted changes are unsignalled (DURASYNC_BRANCH_FLUSH_CHANGES). Default: 100. */
  flushChanges?: number;
  /** ... or once the oldest unsignalled one is this old, ms (DURASYNC_BRANCH_FLUSH_INTERVAL). Default: 5000. */
  flushIntervalMs?: number;
}

interface Pending {
  changes: number;
  bytes: number;
  lastBatchId: string | null;
  /** When the oldest unsignalled change was noted. */
  since: number;
  timer?: NodeJS.Timeout;
  inFlight?: Promise<void>;
}

/** Per branch: counts what was accepted and not yet signalled, and signals by count or age. */
export class DeltaFlusher {
  private readonly branches = new Map<string, Pending>();
  private readonly flushChanges: number;
  private readonly flushIntervalMs: number;
  private closed = false;
  /** Signals sent (for tests and stats). */
  signalsSent = 0;

  constructor(private readonly options: DeltaFlusherOptions) {
    this.flushChanges = options.flushChanges ?? 100;
    this.flushIntervalMs = options.flushIntervalMs ?? 5000;
  }

  /** Notes an accepted batch of a branch. */
  note(branchId: string, batch: { batchId: string; changes: number; bytes: number }): void {
    let p = this.branches.get(branchId);
    if (!p) {
      p = { changes: 0, bytes: 0, lastBatchId: null, since: Date.now() };
      this.branches.set(branchId, p);
    }
    if (p.changes === 0) p.since = Date.now();
    p.changes += batch.changes;
    p.bytes += batch.bytes;
    p.lastBatchId = maxId(p.lastBatchId, batch.batchId);
    this.schedule(branchId, p);
  }

  /** Signals now whatever a branch (or every branch) has unsignalled, and waits for it. */
  async flush(branchId?: string): Promise<void> {
    const ids = branchId ? [branchId] : [...this.branches.keys()];
    await Promise.all(
      ids.map(async (id) => {
        const p = this.branches.get(id);
        if (!p) return;
        await p.inFlight;
        if (p.changes > 0) await this.send(id, p);
      }),
    );
  }

  /** Flushes every branch and stops the timers. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    for (const p of this.branches.values()) clearTimeout(p.timer);
  }

  private schedule(branchId: string, p: Pending): void {
    if (p.inFlight || p.changes === 0 || this.closed) return;
    if (p.changes >= this.flushChanges) {
      void this.send(branchId, p);
      return;
    }
    if (!p.timer) {
      const wait = Math.max(0, this.flushIntervalMs - (Date.now() - p.since));
      p.timer = setTimeout(() => {
        p.timer = undefined;
        if (!p.inFlight && p.changes > 0) void this.send(branchId, p);
      }, wait);
      p.timer.unref();
    }
  }

  private send(branchId: string, p: Pending): Promise<void> {
    if (p.inFlight) return p.inFlight;
    clearTimeout(p.timer);
    p.timer = undefined;
    const signal: ChangesSignal = { lastBatchId: p.lastBatchId ?? '', changes: p.changes, bytes: p.bytes };
    p.changes = 0;
    p.bytes = 0;
    const sending = (async () => {
      try {
        await this.options.signal(branchId, signal);
        this.signalsSent++;
      } catch (err) {
        // The batches are durable: put the counts back and try again at the next interval.
        this.options.logger.warn({ err: { message: (err as Error).message }, branchId }, 'branch signal failed; retrying');
        if (p.changes === 0) p.since = Date.now();
        p.changes += signal.changes;
        p.bytes += signal.bytes;
        if (!this.closed && !p.timer) {
          p.timer = setTimeout(() => {
            p.timer = undefined;
            if (!p.inFlight && p.changes > 0) void this.send(branchId, p);
          }, this.flushIntervalMs);
          p.timer.unref();
        }
        if (this.closed) throw err;
      } finally {
        p.inFlight = undefined;
      }
      this.schedule(branchId, p);
    })();
    p.inFlight = sending;
    return sending;
  }
}

/** Batch ids are bigint text: the larger one. */
function maxId(a: string | null, b: string): string {
  if (a === null) return b;
  return a.length !== b.length ? (a.length > b.length ? a : b) : a > b ? a : b;
}

export interface ChangeIntakeOptions {
  store: Pick<Store, 'appendBranchChanges' | 'branchesWithPendingBatches'>;
  flusher: DeltaFlusher;
  logger: Logger;
}

export interface AcceptResult {
  branchId: string;
  batchId: string;
  /** Changes in the batch. */
  accepted: number;
}

/**
 * Accepts changes for branches: each accept() is one durable batch (all of it or, for a
 * malformed input, none: ChangeInputError names the line), then the flusher decides when the
 * branch's workflow hears of it.
 */
export class ChangeIntake {
  constructor(private readonly options: ChangeIntakeOptions) {}

  /**
   * Signals every branch with batches pending: recovers a process that died after accepting
   * changes but before signalling.
   */
  async start(): Promise<number> {
    const pending = await this.options.store.branchesWithPendingBatches();
    for (const b of pending) this.options.flusher.note(b.branchId, { batchId: b.lastBatchId, changes: b.changes, bytes: b.bytes });
    await this.options.flusher.flush();
    return pending.length;
  }

  /**
   * Appends the changes (an array, or NDJSON text) as one batch; resolves once it is durable.
   * Everything is validated first (ChangeInputError naming the line, nothing taken), unless
   * `validated` says the array came from parseChanges already.
   */
  async accept(branchId: string, input: Change[] | string, options: { validated?: boolean } = {}): Promise<AcceptResult> {
    const changes =
      typeof input === 'string'
        ? parseChanges(input, 'application/x-ndjson')
        : options.validated
          ? input
          : parseChanges(JSON.stringify(input), 'application/json');
    if (changes.length === 0) return { branchId, batchId: '', accepted: 0 };
    const payload = serializeChanges(changes);
    const byteSize = Buffer.byteLength(payload);
    const { batchId } = await this.options.store.appendBranchChanges({
      branchId,
      payload,
      changeCount: changes.length,
      byteSize,
      firstTs: changes[0]!.ts,
      lastTs: changes[changes.length - 1]!.ts,
    });
    this.options.flusher.note(branchId, { batchId, changes: changes.length, bytes: byteSize });
    return { branchId, batchId, accepted: changes.length };
  }

  /** Tells the flusher of batches appended elsewhere (the change-stream sink, in its own transaction). */
  noteAppended(batches: Array<{ branchId: string; batchId: string; changes: number; bytes: number }>): void {
    for (const b of batches) this.options.flusher.note(b.branchId, b);
  }

  /** Signals what is unsignalled (of one branch, or all), now. */
  flush(branchId?: string): Promise<void> {
    return this.options.flusher.flush(branchId);
  }

  /** Flushes everything unsignalled. The store is the caller's to close. */
  close(): Promise<void> {
    return this.options.flusher.close();
  }
}

/**
 * The intake as a process runs it: a flusher signalling over `client` on the configured
 * `branch-delta` queue with the configured thresholds. Call start() to recover unsignalled
 * batches, close() to flush on exit.
 */
export function createChangeIntake(options: {
  store: ChangeIntakeOptions['store'];
  client: Client;
  config: { temporal: { taskQueuePrefix: string }; branches: { flushChanges: number; flushIntervalMs: number; compactEvery?: number } };
  logger: Logger;
}): ChangeIntake {
  const { config, logger } = options;
  const flusher = new DeltaFlusher({
    signal: temporalBranchSignaller(options.client, taskQueueName('branch-delta', config.temporal.taskQueuePrefix), config.branches.compactEvery),
    logger,
    flushChanges: config.branches.flushChanges,
    flushIntervalMs: config.branches.flushIntervalMs,
  });
  return new ChangeIntake({ store: options.store, flusher, logger });
}
