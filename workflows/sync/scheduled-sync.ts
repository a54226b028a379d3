import { ParentClosePolicy, setCurrentDetails, setHandler, startChild, upsertSearchAttributes, workflowInfo, type ChildWorkflowHandle } from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncLinkId, DurasyncStatus } from '../search-attributes';
import { cancelSyncSignal, type syncLink, type SyncRunResult } from './sync-link';
import type { RunDirection } from './types';

export interface ScheduledSyncInput {
  linkId: string;
  /** Default: the link's own direction. */
  direction?: RunDirection;
  /**
   * Temporal task priority key (1 most urgent .. 5) of the sync child; its activities inherit it.
   * sync.schedule() sets DURASYNC_PRIORITY_BULK. Default: SCHEDULED_SYNC_PRIORITY (schedules
   * created before priorities existed).
   */
  priorityKey?: number;
}

/** The priority of a scheduled sync whose input names none: bulk (DURASYNC_PRIORITY_BULK's default). */
export const SCHEDULED_SYNC_PRIORITY = 4;

/** A scheduled run that found a run of its link in progress and did nothing. */
export interface ScheduledSyncSkipped {
  linkId: string;
  skipped: 'already running';
}

export type ScheduledSyncResult = SyncRunResult | ScheduledSyncSkipped;

/**
 * What a Temporal Schedule starts to sync a link (`durasync schedule create sync --link <id>`). A
 * schedule appends the scheduled time to its action's workflow id, so the action cannot itself be
 * `sync:<linkId>`: this workflow runs `syncLink` as a child with that id, on its own task queue,
 * and waits for it. When a run of the link is already in progress (started by hand, by a job or by
 * another schedule), the child start fails with WorkflowExecutionAlreadyStartedError and this run
 * returns `{ skipped: 'already running' }` instead of overlapping it. The `cancel` signal is
 * passed on to the child (it stops at its next safe point). The child runs with the bulk task
 * priority (`priorityKey`), so syncs started by hand overtake a backlog of scheduled ones.
 */
export async function scheduledSync(input: ScheduledSyncInput): Promise<ScheduledSyncResult> {
  const { linkId, direction, priorityKey = SCHEDULED_SYNC_PRIORITY } = input;
  const workflowId = `sync:${linkId}`;
  let progress: Progress = { stage: 'starting', message: `starting ${workflowId}` };
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  setHandler(progressQuery, () => progress);
  upsertSearchAttributes([
    { key: DurasyncKind, value: 'sync' },
    { key: DurasyncLinkId, value: linkId },
  ]);

  let child: ChildWorkflowHandle<typeof syncLink> | undefined;
  let pendingCancel: { reason?: string } | undefined;
  setHandler(cancelSyncSignal, async (args) => {
    pendingCancel = { reason: args?.reason ?? 'cancel signal (scheduled run)' };
    if (child) await child.signal(cancelSyncSignal, pendingCancel);
  });

  try {
    child = await startChild<typeof syncLink>('syncLink', {
      workflowId,
      taskQueue: workflowInfo().taskQueue,
      args: [{ linkId, ...(direction ? { direction } : {}) }],
      typedSearchAttributes: [
        { key: DurasyncKind, value: 'sync' },
        { key: DurasyncLinkId, value: linkId },
      ],
      // Cancelling or closing this workflow asks the sync to stop rather than killing it mid-write.
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      // Bulk work: a sync someone started by hand (urgent) overtakes it on a busy queue. Only the
      // command's attributes change, not the command sequence, so older histories still replay.
      priority: { priorityKey },
      staticSummary: `sync of link ${linkId} (scheduled by ${workflowInfo().workflowId})`,
    });
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    upsertSearchAttributes([{ key: DurasyncStatus, value: 'skipped' }]);
    report({ stage: 'skipped', message: `link ${linkId} is already syncing: skipped` });
    return { linkId, skipped: 'already running' };
  }
  if (pendingCancel) await child.signal(cancelSyncSignal, pendingCancel);
  report({ stage: 'syncing', message: `running ${workflowId} (run ${child.firstExecutionRunId})` });
  const result = await child.result();
  upsertSearchAttributes([{ key: DurasyncStatus, value: result.status === 'synced' && result.conflicts.length ? 'conflicts' : result.status }]);
  report({ stage: result.status === 'synced' ? 'done' : result.status, message: `${workflowId}: ${result.status}${result.reason ? ` (${result.reason})` : ''}` });
  return result;
}
