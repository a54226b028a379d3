import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  CancelledFailure,
  continueAsNew,
  defineSignal,
  isCancellation,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { DriveActivities } from '../../activities/sync/drive';
import type { GithubActivities } from '../../activities/sync/github';
import type { SyncRecordActivities } from '../../activities/sync/records';
import type { SyncFileInput } from '../../lib/db/types';
import { notify } from '../notifications';
import { progressQuery, type Progress } from '../progress';
import { DurasyncKind, DurasyncLinkId, DurasyncStatus, DurasyncUserId } from '../search-attributes';
import { planRun } from './plan';
import type { DriveChange, DriveListing, GithubChange, GithubListing, RunDirection, StagedFile, SyncConflict } from './types';

// Provider activities run on their own task queues (`github-api`, `drive-api`), paced by the
// server; the queue names carry this workflow's queue prefix (see apiQueue()). Transient failures
// (429, 5xx, network) retry with the provider's Retry-After; 4xx and revoked tokens fail at once.
const PROVIDER_ACTIVITY = {
  startToCloseTimeout: '30m',
  // The activities heartbeat every 5 s, even inside one long call (activities/sync/common.ts
  // withHeartbeat): a worker that dies is noticed within 30 s and the activity retried elsewhere.
  heartbeatTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m', maximumAttempts: 25 },
} as const;
const records = proxyActivities<SyncRecordActivities>({
  summary: 'bookkeeping in the system of record (link, file map, cursors, staging)',
  startToCloseTimeout: '2m',
  retry: { initialInterval: '1s', maximumInterval: '30s', maximumAttempts: 20 },
});

/** Since this patch a completed run starts deliverNotifications (`sync.finished`, `sync.conflicts`). */
export const NOTIFY_SYNC_PATCH = 'notify-sync';

/** Files per transfer activity (each heartbeats; a retry resumes within its batch). */
const BATCH = 250;
/** Changes synced per side per run; past it the run continues as new (keeps history small). */
const DEFAULT_MAX_FILES_PER_RUN = 2000;

export interface SyncLinkInput {
  linkId: string;
  /** Default: the link's own direction. One-way runs of a two-way link are allowed. */
  direction?: RunDirection;
  /** Changes per side per run before continuing as new. Default: 2000. */
  maxFilesPerRun?: number;
  /** Totals of the runs before a continue-as-new (set by the workflow itself). */
  carried?: SyncTotals;
}

export interface SyncTotals {
  runs: number;
  toGithub: { written: number; deleted: number; commits: string[] };
  toDrive: { written: number; trashed: number; created: number };
  conflicts: SyncConflict[];
}

export interface SyncRunResult extends SyncTotals {
  linkId: string;
  direction: RunDirection;
  status: 'synced' | 'skipped' | 'cancelled';
  /** Why a run was skipped (link paused or needing re-authorisation, disabled). */
  reason?: string;
}

/** Stops the run at its next safe point (before a write, or after a side's writes are recorded). */
export const cancelSyncSignal = defineSignal<[{ reason?: string }?]>('cancel');

const emptyTotals = (): SyncTotals => ({
  runs: 0,
  toGithub: { written: 0, deleted: 0, commits: [] },
  toDrive: { written: 0, trashed: 0, created: 0 },
  conflicts: [],
});

/**
 * The file map and cursors are written whatever happens to the run: a cancellation arriving while
 * they are written must not leave the map behind what was already written to a provider.
 */
function bookkeeping<T>(write: () => Promise<T>): Promise<T> {
  return CancellationScope.nonCancellable(write);
}

/** `sync`-queue prefix -> the provider queue of the same deployment. */
function apiQueue(name: 'github-api' | 'drive-api'): string {
  const own = workflowInfo().taskQueue;
  const prefix = own.endsWith('sync') ? own.slice(0, -'sync'.length) : '';
  return `${prefix}${name}`;
}

function batches<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += BATCH) out.push(items.slice(i, i + BATCH));
  return out;
}

/**
 * Syncs a link both ways (or one, by `direction`), incrementally from the link's cursors. Started
 * with workflow id `sync:<linkId>`, so runs of one link never overlap. Contents never enter
 * history: they are staged in the store by the reading activity and read back by the writing one.
 */
export async function syncLink(input: SyncLinkInput): Promise<SyncRunResult> {
  const totals = input.carried ?? emptyTotals();
  totals.runs++;
  const runId = workflowInfo().runId;
  let progress: Progress = { stage: 'loading', message: `loading link ${input.linkId}` };
  let cancelRequested: string | null = null;
  const report = (next: Progress) => {
    progress = next;
    if (next.message) setCurrentDetails(`**${next.stage}**: ${next.message}`);
  };
  setHandler(progressQuery, () => progress);
  setHandler(cancelSyncSignal, (args) => {
    cancelRequested = args?.reason ?? 'cancel signal';
  });
  // Cancelled from outside (durasync cancel, the Web UI): reads in flight stop at once; a write in
  // flight (a commit, uploads) finishes and is recorded, then the run stops as at a cancel signal.
  let cancelledFromOutside = false;
  CancellationScope.current().cancelRequested.catch(() => {
    cancelledFromOutside = true;
    cancelRequested ??= 'the workflow was cancelled';
  });
  upsertSearchAttributes([
    { key: DurasyncKind, value: 'sync' },
    { key: DurasyncLinkId, value: input.linkId },
  ] as never);

  // One proxy per call site, each with the summary the Web UI shows on the activity.
  const drive = (summary: string) => proxyActivities<DriveActivities>({ ...PROVIDER_ACTIVITY, taskQueue: apiQueue('drive-api'), summary });
  const github = (summary: string) => proxyActivities<GithubActivities>({ ...PROVIDER_ACTIVITY, taskQueue: apiQueue('github-api'), summary });

  const link = await records.loadSyncLink(input.linkId);
  upsertSearchAttributes([{ key: DurasyncUserId, value: link.userId }] as never);
  const direction: RunDirection = input.direction ?? link.direction;
  const finish = (status: SyncRunResult['status'], reason?: string): SyncRunResult => {
    upsertSearchAttributes([{ key: DurasyncStatus, value: status === 'synced' && totals.conflicts.length ? 'conflicts' : status }] as never);
    report({ stage: status === 'synced' ? 'done' : status, message: reason ?? summary(totals) });
    return { linkId: input.linkId, direction, status, ...(reason ? { reason } : {}), ...totals };
  };
  if (link.direction !== 'both' && direction !== link.direction) {
    throw ApplicationFailure.create({
      type: 'DirectionNotAllowed',
      nonRetryable: true,
      message: `link ${input.linkId} syncs ${link.direction.replace(/_/g, ' ')} only; a ${direction.replace(/_/g, ' ')} run is not allowed`,
    });
  }
  if (!link.enabled || link.status !== 'active') {
    return finish('skipped', `link is ${link.enabled ? link.status.replace('_', ' ') : 'disabled'}`);
  }
  const fromDrive = direction !== 'github_to_drive';
  const fromGithub = direction !== 'drive_to_github';
  const limit = input.maxFilesPerRun ?? DEFAULT_MAX_FILES_PER_RUN;

  try {
    // 1. What changed on each side since the last sync.
    report({ stage: 'listing', message: `listing changes${fromDrive ? ' in Drive' : ''}${fromDrive && fromGithub ? ' and' : ''}${fromGithub ? ' in GitHub' : ''}` });
    const [driveListing, githubListing] = await Promise.all([
      fromDrive ? drive('list Drive changes since the last sync').listDriveChanges({ linkId: input.linkId, limit }) : Promise.resolve<DriveListing | null>(null),
      fromGithub ? github('list GitHub changes since the last sync').listGithubChanges({ linkId: input.linkId, limit }) : Promise.resolve<GithubListing | null>(null),
    ]);
    const driveChanges: DriveChange[] = driveListing?.changes ?? [];
    const githubChanges: GithubChange[] = githubListing?.changes ?? [];

    // 2. Stage what will be written (and what conflicts are compared by).
    const driveUpserts = driveChanges.filter((c) => c.kind === 'upsert');
    const githubUpserts = githubChanges.filter((c) => c.kind === 'upsert');
    const total = driveUpserts.length + githubUpserts.length;
    let staged = 0;
    const stageAll = async <T>(items: T[], stage: (batch: T[]) => Promise<StagedFile[]>) => {
      const out: Record<string, string> = {};
      for (const batch of batches(items)) {
        if (cancelRequested) return out;
        for (const f of await stage(batch)) out[f.path] = f.sha256;
        staged += batch.length;
        report({ stage: 'downloading', done: staged, total, message: `downloaded ${staged} of ${total} changed files` });
      }
      return out;
    };
    const driveHashes = await stageAll(driveUpserts, (files) =>
      drive(`download ${files.length} changed Drive files`).stageFromDrive({ linkId: input.linkId, runId, files: files.map((f) => ({ path: f.path, fileId: f.fileId, ...(f.isDoc ? { isDoc: true } : {}) })) }),
    );
    const githubHashes = await stageAll(githubUpserts, (files) =>
      github(`download ${files.length} changed GitHub files`).stageFromGithub({ linkId: input.linkId, runId, files: files.map((f) => ({ path: f.path, sha: f.sha ?? '' })) }),
    );
    if (cancelRequested) return await stop(cancelRequested);

    const plan = planRun({ drive: driveChanges, github: githubChanges, driveHashes, githubHashes, policy: link.conflictPolicy });
    const driveByPath = new Map(driveChanges.map((c) => [c.path, c]));
    const githubByPath = new Map(githubChanges.map((c) => [c.path, c]));
    for (const c of plan.conflicts) log.info('sync conflict', { linkId: input.linkId, path: c.path, policy: c.policy, keptAs: c.keptAs });

    // 3. Drive -> GitHub: one commit for the run.
    const settled: SyncFileInput[] = plan.settled.map(({ path, drive: d, github: g }) =>
      d.kind === 'delete'
        ? { githubPath: path, deleted: true }
        : { githubPath: path, driveFileId: d.fileId, driveMd5: d.md5 ?? null, driveRevision: d.revision ?? null, githubSha: g.sha ?? null, contentHash: driveHashes[path] ?? null },
    );
    if (plan.toGithub.writes.length || plan.toGithub.deletes.length) {
      report({ stage: 'committing', message: `committing ${plan.toGithub.writes.length} files and ${plan.toGithub.deletes.length} deletions to GitHub` });
      const commit = await CancellationScope.nonCancellable(() => github(`commit ${plan.toGithub.writes.length} files, ${plan.toGithub.deletes.length} deletions`).commitToGithub({
        linkId: input.linkId,
        runId,
        writes: plan.toGithub.writes,
        deletes: plan.toGithub.deletes,
        message: `durasync: sync from Google Drive (${plan.toGithub.writes.length} changed, ${plan.toGithub.deletes.length} deleted)`,
      }));
      if (commit.commitSha) totals.toGithub.commits.push(commit.commitSha);
      totals.toGithub.written += commit.written.length;
      totals.toGithub.deleted += plan.toGithub.deletes.length;
      const stagedFrom = new Map(plan.toGithub.writes.map((w) => [w.path, w.stagedPath]));
      const entries: SyncFileInput[] = commit.written.map(({ path, sha }) => {
        const source = stagedFrom.get(path) ?? path;
        const d = driveByPath.get(source);
        return { githubPath: path, driveFileId: d?.fileId ?? null, driveMd5: d?.md5 ?? null, driveRevision: d?.revision ?? null, githubSha: sha, contentHash: driveHashes[source] ?? null };
      });
      await bookkeeping(() => records.recordSyncFiles({ linkId: input.linkId, files: [...entries, ...plan.toGithub.deletes.map((p) => ({ githubPath: p, deleted: true }))] }));
    }
    if (settled.length) await bookkeeping(() => records.recordSyncFiles({ linkId: input.linkId, files: settled }));
    if (cancelRequested) return await stop(cancelRequested);

    // 4. GitHub -> Drive.
    const toDrive = plan.toDrive;
    if (toDrive.writes.length || toDrive.trash.length || toDrive.renames.length) {
      report({ stage: 'uploading', message: `writing ${toDrive.writes.length} files to Drive, trashing ${toDrive.trash.length}` });
      const written = await CancellationScope.nonCancellable(() =>
        drive(`write ${toDrive.writes.length} files, trash ${toDrive.trash.length}`).writeToDrive({ linkId: input.linkId, runId, writes: toDrive.writes, trash: toDrive.trash, renames: toDrive.renames.map(({ fileId, to, isDoc }) => ({ fileId, to, ...(isDoc ? { isDoc } : {}) })) }),
      );
      totals.toDrive.written += written.written.length;
      totals.toDrive.trashed += written.trashed.length;
      totals.toDrive.created += written.created;
      const sourceOf = new Map(toDrive.writes.map((w) => [w.path, w]));
      const entries: SyncFileInput[] = written.written.map((w) => {
        const target = sourceOf.get(w.path);
        return { githubPath: w.path, driveFileId: w.fileId, driveMd5: w.md5, driveRevision: w.revision, githubSha: target?.sourceSha ?? githubByPath.get(w.path)?.sha ?? null, contentHash: githubHashes[target?.stagedPath ?? w.path] ?? null };
      });
      await bookkeeping(() => records.recordSyncFiles({ linkId: input.linkId, files: [...entries, ...written.trashed.map((p) => ({ githubPath: p, deleted: true }))] }));
    }

    // 5. The run is complete: move the cursors of the sides listed through, record conflicts.
    totals.conflicts.push(...plan.conflicts);
    report({ stage: 'recording', message: 'recording the sync position' });
    await bookkeeping(() => records.finishSyncRun({
      linkId: input.linkId,
      runId,
      ...(driveListing && !driveListing.truncated ? { driveCursor: driveListing.nextCursor } : {}),
      ...(githubListing && !githubListing.truncated ? { githubCursor: githubListing.head } : {}),
      conflicts: plan.conflicts,
    }));
    if (driveListing?.truncated || githubListing?.truncated) {
      report({ stage: 'continuing', message: `${summary(totals)}; more changes remain, continuing as new` });
      await continueAsNew<typeof syncLink>({ ...input, carried: totals });
    }
    // Since this patch a completed sync is announced (`sync.finished`, and `sync.conflicts` when the
    // run and the runs it continued recorded any), as abandoned children: the run does not wait.
    if (patched(NOTIFY_SYNC_PATCH)) {
      const data = {
        linkId: input.linkId,
        runId,
        direction,
        runs: totals.runs,
        toGithub: totals.toGithub.written + totals.toGithub.deleted,
        toDrive: totals.toDrive.written + totals.toDrive.trashed,
        commits: totals.toGithub.commits,
        conflicts: totals.conflicts.length,
      };
      await notify('sync.finished', runId, data);
      if (totals.conflicts.length) await notify('sync.conflicts', runId, data);
    }
    return finish('synced');
  } catch (err) {
    // Cancelled from outside, or failed for good (a provider 4xx, a revoked token): drop the run's
    // staged contents and leave the cursors as they were; the next run starts from them.
    // (continueAsNew() throws too, to end the execution: it is neither of these and passes through.)
    if (isCancellation(err) || err instanceof ActivityFailure || err instanceof ApplicationFailure) {
      await bookkeeping(() => records.clearSyncStaging(runId));
    }
    throw err;
  }

  async function stop(reason: string): Promise<SyncRunResult> {
    await bookkeeping(() => records.clearSyncStaging(runId));
    if (cancelledFromOutside) {
      finish('cancelled', `cancelled: ${reason}`);
      throw new CancelledFailure(reason);
    }
    return finish('cancelled', `cancelled: ${reason}`);
  }
}

/** One way only: Drive changes go to GitHub. */
export async function driveToGithub(input: Omit<SyncLinkInput, 'direction'>): Promise<SyncRunResult> {
  return syncLink({ ...input, direction: 'drive_to_github' });
}

/** One way only: GitHub changes go to Drive. */
export async function githubToDrive(input: Omit<SyncLinkInput, 'direction'>): Promise<SyncRunResult> {
  return syncLink({ ...input, direction: 'github_to_drive' });
}

function summary(t: SyncTotals): string {
  return `${t.toGithub.written + t.toGithub.deleted} changes to GitHub in ${t.toGithub.commits.length} commits, ${t.toDrive.written + t.toDrive.trashed} to Drive, ${t.conflicts.length} conflicts`;
}
