import {
  allHandlersFinished,
  type ActivityOptions,
  ApplicationFailure,
  condition,
  continueAsNew,
  defineQuery,
  defineSignal,
  defineUpdate,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
  WorkflowIdReusePolicy,
} from '@temporalio/workflow';
import type { BranchActivities } from '../../activities/branches';
import type { NotificationActivities } from '../../activities/notifications';
import { notify } from '../notifications';
import { progressQuery, type Progress } from '../progress';
import { DurasyncBranchId, DurasyncKind, DurasyncStatus } from '../search-attributes';
import type { BranchStats, ChangesSignal } from './types';

// Delta work is retried until it succeeds: a branch's entity workflow must not fail on a
// transient database or object-storage outage. Wrong seqs and unknown branches are non-retryable.
// An attempt takes milliseconds to a few seconds (a delta holds at most 50,000 changes or 8 MB,
// DEFAULT_MAX_CHANGES and DEFAULT_MAX_BYTES) and sends no heartbeats, so the start-to-close timeout is also how long an attempt
// lost with its worker (SIGKILL, a node gone) holds the branch before the retry: one minute, not
// five (the reliability suite's worker-kill scenario waited out five minutes when a kill caught
// an attempt in flight). Both steps are idempotent: a retry of a commit that landed finds it.
const DELTA_ACTIVITY: ActivityOptions = {
  startToCloseTimeout: '1m',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', nonRetryableErrorTypes: ['BranchNotFound', 'BranchSeqGap', 'DeltaMismatch'] },
};
const MAINTENANCE_ACTIVITY = {
  startToCloseTimeout: '30m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 20 },
} as const;
// One proxy per activity, each with the summary the Web UI shows on it.
const { storeDelta } = proxyActivities<BranchActivities>({ ...DELTA_ACTIVITY, summary: 'compress pending batches into the next delta object' });
const { commitDelta } = proxyActivities<BranchActivities>({ ...DELTA_ACTIVITY, summary: 'commit the delta and move the branch head' });
const deltas = proxyActivities<BranchActivities>({ ...DELTA_ACTIVITY, summary: "read the branch's head and state" });
const maintenance = {
  branchInfo: proxyActivities<BranchActivities>({ ...MAINTENANCE_ACTIVITY, summary: "read the branch's head and state" }).branchInfo,
  snapshotBranch: proxyActivities<BranchActivities>({ ...MAINTENANCE_ACTIVITY, summary: 'fold the deltas into a snapshot object' }).snapshotBranch,
  deleteBranchObjects: proxyActivities<BranchActivities>({ ...MAINTENANCE_ACTIVITY, summary: "delete the branch's objects" }).deleteBranchObjects,
  deleteBranchRows: proxyActivities<BranchActivities>({ ...MAINTENANCE_ACTIVITY, summary: "delete the branch's rows" }).deleteBranchRows,
};

// Whether anyone subscribed to committed deltas: a local activity (one marker event, no task
// dispatch), asked once per drain, so a branch nobody listens to starts no notification children.
const { listSubscriptionsFor } = proxyLocalActivities<NotificationActivities>({
  summary: 'find the subscriptions of branch.delta_committed',
  startToCloseTimeout: '30s',
  retry: { initialInterval: '500ms', backoffCoefficient: 2, maximumInterval: '30s', maximumAttempts: 10 },
});

/** Since this patch each committed delta starts deliverNotifications (`branch.delta_committed`) when subscribed. */
export const NOTIFY_DELTA_PATCH = 'notify-branch-delta';

/** Deltas per execution before continuing as new (keeps history small). */
const DEFAULT_DELTAS_PER_RUN = 200;
/** Caps of one delta (DURASYNC_BRANCH_MAX_BATCH_CHANGES / _BYTES). */
const DEFAULT_MAX_CHANGES = 50_000;
const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

/** The workflow id of a branch's entity workflow. */
export const branchWorkflowId = (branchId: string): string => `branch:${branchId}`;

/** Wake-up: batches are waiting in Postgres. Carries counts only; duplicates are harmless. */
export const changesSignal = defineSignal<[ChangesSignal]>('changes');
/** Processes everything pending when it arrives; returns the head seq made durable. */
export const flushUpdate = defineUpdate<number>('flush');
export const statsQuery = defineQuery<BranchStats>('stats');

export interface BranchDeltasInput {
  branchId: string;
  /** Deltas per execution before continue-as-new. Default: 200. */
  deltasPerRun?: number;
  /** Caps of one delta. Defaults: 50,000 changes, 8 MB. */
  maxChanges?: number;
  maxBytes?: number;
  /** Start `compactBranch` each time the head crosses a multiple of this. Default: 0 (never). */
  compactEvery?: number;
  /** Stats of the executions before a continue-as-new (set by the workflow itself). */
  carried?: BranchStats;
}

/**
 * The entity workflow of one branch (id `branch:<branchId>`, queue `branch-delta`), long-lived:
 * each `changes` signal wakes it, and while batches are pending it stores delta head + 1
 * (storeDelta) and commits it (commitDelta), so the head always points at a complete delta and
 * seqs have no gaps. A duplicated signal finds nothing pending (storeDelta returns null).
 */
export async function branchDeltas(input: BranchDeltasInput): Promise<BranchStats> {
  const { branchId } = input;
  const perRun = input.deltasPerRun ?? DEFAULT_DELTAS_PER_RUN;
  const stats: BranchStats = input.carried
    ? { ...input.carried, runs: input.carried.runs + 1 }
    : { branchId, headSeq: 0, deltas: 0, changes: 0, rawBytes: 0, storedBytes: 0, pendingChanges: 0, runs: 1 };
  let progress: Progress = { stage: 'starting', message: `branch ${branchId}` };
  const report = (next: Progress) => {
    progress = next;
    if (next.message) setCurrentDetails(`**${next.stage}**: ${next.message}`);
  };
  // A drain stores and commits deltas until nothing is pending. A flush waits for a drain that
  // started after it arrived (so it covers every batch accepted before it).
  let wake = true; // the first drain of a run picks up anything pending (recovery)
  let drainsStarted = 0;
  let drainsDone = 0;
  let deltasThisRun = 0;

  setHandler(progressQuery, () => progress);
  setHandler(statsQuery, () => stats);
  setHandler(changesSignal, (signal) => {
    stats.pendingChanges += signal.changes;
    wake = true;
  });
  setHandler(flushUpdate, async () => {
    const mustFinish = drainsStarted + 1;
    wake = true;
    await condition(() => drainsDone >= mustFinish);
    return stats.headSeq;
  });
  upsertSearchAttributes([
    { key: DurasyncKind, value: 'branch' },
    { key: DurasyncBranchId, value: branchId },
  ] as never);

  const info = await deltas.branchInfo(branchId);
  stats.headSeq = info.headSeq;

  for (;;) {
    report({ stage: 'idle', done: stats.headSeq, message: `head ${stats.headSeq}, ${stats.deltas} deltas, ${stats.changes} changes` });
    await condition(() => wake || deltasThisRun >= perRun || workflowInfo().continueAsNewSuggested);
    if (wake) {
      wake = false;
      drainsStarted++;
      deltasThisRun += await drain();
      drainsDone++;
      continue;
    }
    // Time to continue as new: let signal and update handlers finish first, then go on if one
    // of them asked for more work, else carry the stats over.
    await condition(allHandlersFinished);
    if (wake) continue;
    report({ stage: 'continuing', message: `head ${stats.headSeq}: continuing as new` });
    await continueAsNew<typeof branchDeltas>({ ...input, carried: { ...stats } });
  }

  async function drain(): Promise<number> {
    let made = 0;
    let subscribed: boolean | undefined; // asked at the first commit of the drain
    for (;;) {
      const seq = stats.headSeq + 1;
      report({ stage: 'storing', done: stats.headSeq, message: `storing delta ${seq}` });
      const summary = await storeDelta({ branchId, seq, maxChanges: input.maxChanges ?? DEFAULT_MAX_CHANGES, maxBytes: input.maxBytes ?? DEFAULT_MAX_BYTES });
      if (!summary) {
        stats.pendingChanges = 0;
        return made;
      }
      report({ stage: 'committing', done: stats.headSeq, message: `committing delta ${seq} (${summary.changeCount} changes)` });
      const committed = await commitDelta(summary);
      const before = stats.headSeq;
      stats.headSeq = committed.headSeq;
      stats.deltas++;
      stats.changes += summary.changeCount;
      stats.rawBytes += summary.rawBytes;
      stats.storedBytes += summary.byteSize;
      stats.pendingChanges = Math.max(0, stats.pendingChanges - summary.changeCount);
      made++;
      if (patched(NOTIFY_DELTA_PATCH)) {
        subscribed ??= await listSubscriptionsFor('branch.delta_committed').then((ids) => ids.length > 0, () => false);
        if (subscribed) {
          await notify('branch.delta_committed', `${branchId}:${summary.seq}`, { branchId, seq: summary.seq, changes: summary.changeCount, bytes: summary.byteSize });
        }
      }
      const every = input.compactEvery ?? 0;
      if (every > 0 && Math.floor(before / every) < Math.floor(stats.headSeq / every)) await startCompaction(every);
    }
  }

  async function startCompaction(every: number): Promise<void> {
    const seq = Math.floor(stats.headSeq / every) * every;
    try {
      await startChild(compactBranch, {
        workflowId: `branch-compact:${branchId}:${seq}`,
        args: [{ branchId, every }],
        staticSummary: `compaction of branch ${branchId} at seq ${seq}`,
        parentClosePolicy: ParentClosePolicy.ABANDON,
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      });
    } catch (err) {
      log.warn('compaction not started', { branchId, seq, error: (err as Error).message });
    }
  }
}

export interface CompactBranchInput {
  branchId: string;
  /** Snapshot every this many deltas. Default: 100. */
  every?: number;
}

export interface CompactBranchResult {
  branchId: string;
  /** The seq snapshotted, or null when the newest multiple of `every` already had one. */
  seq: number | null;
  documentCount?: number;
}

/**
 * Folds a branch's deltas into a snapshot at the newest multiple of `every` not yet snapshotted
 * (`branches/<id>/snapshots/<seq>`), so that materializing reads a snapshot and a few deltas.
 */
export async function compactBranch(input: CompactBranchInput): Promise<CompactBranchResult> {
  upsertSearchAttributes([
    { key: DurasyncKind, value: 'branch-compact' },
    { key: DurasyncBranchId, value: input.branchId },
  ] as never);
  setHandler(progressQuery, () => ({ stage: 'compacting', message: `branch ${input.branchId}` }));
  const snapshot = await maintenance.snapshotBranch({ branchId: input.branchId, every: input.every ?? 100 });
  setCurrentDetails(snapshot ? `snapshot at seq ${snapshot.seq}: ${snapshot.documentCount} documents` : 'nothing new to snapshot');
  return snapshot ? { branchId: input.branchId, seq: snapshot.seq, documentCount: snapshot.documentCount } : { branchId: input.branchId, seq: null };
}

export interface CleanupBranchResult {
  branchId: string;
  objectsDeleted: number;
}

/** Deletes an archived branch: its objects first, then its rows. Refuses a branch that is not archived. */
export async function cleanupBranch(input: { branchId: string }): Promise<CleanupBranchResult> {
  const { branchId } = input;
  upsertSearchAttributes([
    { key: DurasyncKind, value: 'branch-cleanup' },
    { key: DurasyncBranchId, value: branchId },
  ] as never);
  let progress: Progress = { stage: 'checking', message: `branch ${branchId}` };
  setHandler(progressQuery, () => progress);
  const info = await maintenance.branchInfo(branchId);
  if (!info.archived) {
    upsertSearchAttributes([{ key: DurasyncStatus, value: 'refused' }] as never);
    throw ApplicationFailure.create({ type: 'BranchNotArchived', nonRetryable: true, message: `branch ${branchId} is not archived: only archived branches are cleaned up` });
  }
  progress = { stage: 'deleting', message: 'deleting objects' };
  const objectsDeleted = await maintenance.deleteBranchObjects(branchId);
  progress = { stage: 'deleting', message: 'deleting rows' };
  await maintenance.deleteBranchRows(branchId);
  progress = { stage: 'done', message: `${objectsDeleted} objects deleted` };
  setCurrentDetails(`branch ${branchId} deleted: ${objectsDeleted} objects`);
  upsertSearchAttributes([{ key: DurasyncStatus, value: 'deleted' }] as never);
  return { branchId, objectsDeleted };
}
