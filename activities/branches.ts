import { ApplicationFailure } from '@temporalio/common';
import { encodeDeltaAsync } from '../lib/branches/delta-codec';
import { encodeSnapshot, materializeBranch } from '../lib/branches/materialize';
import { isBranchArchived as isArchived } from '../lib/branches/intake';
import { BranchSeqGapError, NotFoundError, type Branch, type Store } from '../lib/db/store';
import type { Logger } from '../lib/logger';
import type { ObjectStore } from '../lib/objects';
import type { DeltaSummary } from '../workflows/branches/types';

/**
 * The branch-delta activities (queue `branch-delta`): turn a branch's pending change batches
 * (Postgres) into numbered, compressed deltas (object storage) and move the branch head. Changes
 * never cross the workflow boundary: activities read them from the store and hand back summaries.
 *
 * Each kind of work has its own concurrency inside a worker process (DURASYNC_BRANCH_CONCURRENCY):
 * `sync` (reading batches, writing delta objects), `compression` (encoding deltas and snapshots:
 * CPU), `notification` (commitDelta: moving the head readers follow) and `cleanup` (deleting an
 * archived branch's objects and rows).
 */

/** Concurrency per kind of branch work in one worker process. */
export interface BranchConcurrency {
  /** Default: 5. */
  sync: number;
  /** Default: 2. */
  compression: number;
  /** Default: 1. */
  notification: number;
  /** Default: 1. */
  cleanup: number;
}

export const DEFAULT_BRANCH_CONCURRENCY: BranchConcurrency = { sync: 5, compression: 2, notification: 1, cleanup: 1 };

export interface BranchActivityDeps {
  store: Store;
  objects: ObjectStore;
  logger: Logger;
  /** Default: DEFAULT_BRANCH_CONCURRENCY. */
  concurrency?: Partial<BranchConcurrency>;
}

/** Failure types of the branch activities. */
export const BRANCH_FAILURE_TYPES = {
  branchNotFound: 'BranchNotFound',
  seqGap: 'BranchSeqGap',
  notArchived: 'BranchNotArchived',
  deltaMismatch: 'DeltaMismatch',
} as const;

export interface StoreDeltaInput {
  branchId: string;
  /** The seq to write: the branch's head + 1. */
  seq: number;
  /** Caps of one delta (DURASYNC_BRANCH_MAX_BATCH_CHANGES / _BYTES); a single larger batch still goes whole. */
  maxChanges: number;
  maxBytes: number;
}

export interface BranchInfo {
  branchId: string;
  headSeq: number;
  archived: boolean;
}

export interface SnapshotResult {
  seq: number;
  objectKey: string;
  documentCount: number;
  checksum: string;
}

export const deltaKey = (branchId: string, seq: number): string => `branches/${branchId}/deltas/${seq}`;
export const snapshotKey = (branchId: string, seq: number): string => `branches/${branchId}/snapshots/${seq}`;


/** A counting semaphore: at most `size` holders at once, first come first served. */
export class Semaphore {
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  constructor(readonly size: number) {}

  async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.active >= this.size) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.active++;
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

function branchNotFound(branchId: string): ApplicationFailure {
  return ApplicationFailure.create({ type: BRANCH_FAILURE_TYPES.branchNotFound, nonRetryable: true, message: `branch ${branchId} does not exist` });
}

export function createBranchActivities(deps: BranchActivityDeps) {
  const { store, objects, logger } = deps;
  const size = { ...DEFAULT_BRANCH_CONCURRENCY, ...deps.concurrency };
  const gates = {
    sync: new Semaphore(size.sync),
    compression: new Semaphore(size.compression),
    notification: new Semaphore(size.notification),
    cleanup: new Semaphore(size.cleanup),
  };

  async function loadBranch(branchId: string): Promise<Branch> {
    const branch = await store.getBranch(branchId);
    if (!branch) throw branchNotFound(branchId);
    return branch;
  }

  return {
    /** The branch's head and whether it is archived. */
    async branchInfo(branchId: string): Promise<BranchInfo> {
      const branch = await loadBranch(branchId);
      return { branchId, headSeq: branch.headSeq, archived: isArchived(branch) };
    },

    /**
     * Reads the branch's pending batches (up to the caps), encodes them as delta `seq` and writes
     * it to `branches/<branchId>/deltas/<seq>`. Null when nothing is pending (a duplicated signal).
     * Idempotent: a retry rewrites the same key (nothing refers to it until commitDelta). Refuses
     * a seq other than head + 1, so that a committed delta's object is never overwritten.
     */
    async storeDelta(input: StoreDeltaInput): Promise<DeltaSummary | null> {
      const { branchId, seq } = input;
      const branch = await loadBranch(branchId);
      if (seq !== branch.headSeq + 1) {
        throw ApplicationFailure.create({
          type: BRANCH_FAILURE_TYPES.seqGap,
          nonRetryable: true,
          message: `branch ${branchId}: delta ${seq} asked for, but the head is ${branch.headSeq} (expected ${branch.headSeq + 1})`,
        });
      }
      const batches = await gates.sync.run(() => store.pendingBranchBatches({ branchId, maxChanges: input.maxChanges, maxBytes: input.maxBytes }));
      if (batches.length === 0) return null;
      const ndjson = batches.map((b) => b.payload).join('\n');
      const encoded = await gates.compression.run(() => encodeDeltaAsync(ndjson));
      const objectKey = deltaKey(branchId, seq);
      await gates.sync.run(() => objects.put(objectKey, encoded.body, 'application/octet-stream'));
      const summary: DeltaSummary = {
        branchId,
        seq,
        objectKey,
        changeCount: encoded.changeCount,
        byteSize: encoded.body.length,
        rawBytes: encoded.rawBytes,
        codec: encoded.codec,
        checksum: encoded.checksum,
        batchIds: batches.map((b) => b.batchId),
      };
      logger.debug({ branchId, seq, changes: summary.changeCount, batches: batches.length, bytes: summary.byteSize }, 'delta stored');
      return summary;
    },

    /**
     * Records the delta and moves the head to it, marking exactly its batches consumed, in one
     * transaction. A retry after a commit that happened returns `created: false` (the same seq
     * with the same checksum); another checksum at that seq is a non-retryable DeltaMismatch.
     */
    async commitDelta(summary: DeltaSummary): Promise<{ headSeq: number; created: boolean }> {
      try {
        const result = await gates.notification.run(() =>
          store.commitBranchDelta({
            branchId: summary.branchId,
            seq: summary.seq,
            objectKey: summary.objectKey,
            changeCount: summary.changeCount,
            byteSize: summary.byteSize,
            checksum: summary.checksum,
            batchIds: summary.batchIds,
            rawBytes: summary.rawBytes,
            codec: summary.codec,
          }),
        );
        if (!result.created && result.delta.checksum !== summary.checksum) {
          throw ApplicationFailure.create({
            type: BRANCH_FAILURE_TYPES.deltaMismatch,
            nonRetryable: true,
            message: `branch ${summary.branchId}: delta ${summary.seq} is committed with another checksum`,
          });
        }
        return { headSeq: result.headSeq, created: result.created };
      } catch (err) {
        if (err instanceof BranchSeqGapError) {
          throw ApplicationFailure.create({ type: BRANCH_FAILURE_TYPES.seqGap, nonRetryable: true, message: err.message, cause: err });
        }
        if (err instanceof NotFoundError) throw branchNotFound(summary.branchId);
        throw err;
      }
    },

    /**
     * Folds the branch into a snapshot at the newest multiple of `every` at or below its head,
     * unless that one exists: `branches/<id>/snapshots/<seq>`, recorded in the store. Null when
     * there is nothing new to snapshot.
     */
    async snapshotBranch(input: { branchId: string; every: number }): Promise<SnapshotResult | null> {
      const branch = await loadBranch(input.branchId);
      const target = Math.floor(branch.headSeq / input.every) * input.every;
      if (target === 0) return null;
      const latest = await store.latestBranchSnapshot(input.branchId, target);
      if (latest && latest.seq === target) return null;
      return gates.compression.run(async () => {
        const state = await materializeBranch({ store, objects }, input.branchId, target);
        const encoded = await encodeSnapshot(state.documents);
        const objectKey = snapshotKey(input.branchId, target);
        await objects.put(objectKey, encoded.body, 'application/octet-stream');
        await store.recordBranchSnapshot({ branchId: input.branchId, seq: target, objectKey, checksum: encoded.checksum, documentCount: encoded.documentCount });
        logger.info({ branchId: input.branchId, seq: target, documents: encoded.documentCount, bytes: encoded.body.length }, 'branch snapshot stored');
        return { seq: target, objectKey, documentCount: encoded.documentCount, checksum: encoded.checksum };
      });
    },

    /** Deletes every object of the branch (deltas, snapshots); returns how many. */
    async deleteBranchObjects(branchId: string): Promise<number> {
      return gates.cleanup.run(async () => {
        const keys = await objects.list(`branches/${branchId}/`);
        for (let i = 0; i < keys.length; i += 1000) await objects.delete(keys.slice(i, i + 1000));
        return keys.length;
      });
    },

    /** Deletes the branch's rows (deltas, batches, snapshots, the branch). */
    async deleteBranchRows(branchId: string): Promise<void> {
      await gates.cleanup.run(() => store.deleteBranchData(branchId));
    },
  };
}

export type BranchActivities = ReturnType<typeof createBranchActivities>;
