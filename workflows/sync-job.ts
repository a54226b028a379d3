import {
  CancellationScope,
  executeChild,
  isCancellation,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { JobActivities, LoadedSyncJob } from '../activities/jobs';
import type { CanaryInput } from './canary';
import { progressQuery, type Progress } from './progress';
import { DurasyncKind, DurasyncLinkId, DurasyncStatus } from './search-attributes';

// Timeouts and retries of the job activities. Both are one SQL function call. No attempt limit: a
// database outage makes the job wait rather than lose its row's outcome; what a retry cannot fix
// (unknown job, a row finished the other way) fails non-retryably in the activity.
const ACTIVITY_OPTIONS = {
  startToCloseTimeout: '30s',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1m' },
} as const;
const { loadSyncJob } = proxyActivities<JobActivities>({ ...ACTIVITY_OPTIONS, summary: 'read the sync_jobs row' });
const { finishSyncJob } = proxyActivities<JobActivities>({ ...ACTIVITY_OPTIONS, summary: 'record the outcome in the sync_jobs row' });

type JobResult = Parameters<JobActivities['finishSyncJob']>[2];

/** How long a `sync` job waits before trying again when its link's `sync:<linkId>` workflow is running. */
const LINK_BUSY_WAIT = '30s';
/** The longest error message kept in the row's last_error. */
const MAX_ERROR_LENGTH = 500;

/** DurasyncKind of every syncJob workflow: `DurasyncKind = "job"` lists the jobs of sync_jobs. */
export const SYNC_JOB_KIND = 'job';

export interface SyncJobInput {
  /** The id of the sync_jobs row; the workflow id is `job:<jobId>`. */
  jobId: string;
}

export interface SyncJobResult {
  jobId: string;
  kind: string;
  status: 'succeeded' | 'failed';
  /** Why it failed, one line. */
  error?: string;
}

/** The input of `syncLink` (written elsewhere; started here by name). */
interface SyncLinkInput {
  linkId: string;
  direction?: 'drive_to_github' | 'github_to_drive' | 'both';
}
const DIRECTIONS: readonly string[] = ['drive_to_github', 'github_to_drive', 'both'];

/** A failure that ends the job (not the workflow) with this message. */
class JobFailed extends Error {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** One line for last_error: the innermost cause's message (a child's or activity's own error), truncated. */
function errorLine(err: unknown): string {
  let current: unknown = err;
  let message = err instanceof Error ? err.message : String(err);
  while (current instanceof Error && current.cause instanceof Error) {
    current = current.cause;
    if (current instanceof Error && current.message) message = current.message;
  }
  const line = message.replace(/\s+/g, ' ').trim() || 'failed';
  return line.length > MAX_ERROR_LENGTH ? `${line.slice(0, MAX_ERROR_LENGTH - 1)}…` : line;
}

/**
 * One row of `sync_jobs`, started by the job bridge (workers/job-bridge.ts) with the workflow id
 * `job:<id>`. Loads the row, runs what its kind says as a child workflow, and records the outcome in
 * the row, which this workflow owns from its start whoever claimed it:
 *
 * - `sync`: `syncLink` of the row's link (payload `{ direction? }`) with the id `sync:<linkId>`, so
 *   that a job never overlaps a scheduled or manual run of the same link: while one runs, the job
 *   waits 30 s and tries again;
 * - `canary`: the canary workflow, with the payload as its input;
 * - anything else: the row fails with "unknown job kind 'x'".
 */
export async function syncJob(input: SyncJobInput): Promise<SyncJobResult> {
  const { jobId } = input;
  let progress: Progress = { stage: 'loading', message: `loading sync job ${jobId}` };
  setHandler(progressQuery, () => progress);
  const report = (next: Progress) => {
    progress = next;
    setCurrentDetails(next.message ?? next.stage);
  };
  report(progress);

  const job = await loadSyncJob(jobId);
  upsertSearchAttributes([
    { key: DurasyncKind, value: SYNC_JOB_KIND },
    ...(job.linkId ? [{ key: DurasyncLinkId, value: job.linkId }] : []),
  ]);

  let outcome: { status: 'succeeded'; result: unknown } | { status: 'failed'; error: string };
  try {
    outcome = { status: 'succeeded', result: await dispatch(job, report) };
  } catch (err) {
    if (isCancellation(err)) {
      // Cancelled (by an operator): the row records it, then the workflow ends cancelled.
      await CancellationScope.nonCancellable(() => finishSyncJob(jobId, 'failed', 'cancelled'));
      throw err;
    }
    outcome = { status: 'failed', error: errorLine(err) };
  }

  report({ stage: 'finishing', message: `recording ${outcome.status}` });
  if (outcome.status === 'succeeded') await finishSyncJob(jobId, 'succeeded', (outcome.result ?? null) as JobResult);
  else await finishSyncJob(jobId, 'failed', outcome.error);
  upsertSearchAttributes([{ key: DurasyncStatus, value: outcome.status }]);
  report({ stage: 'done', message: outcome.status === 'succeeded' ? `**succeeded** (${job.kind})` : `**failed** (${job.kind}): ${outcome.error}` });
  return { jobId, kind: job.kind, status: outcome.status, ...(outcome.status === 'failed' ? { error: outcome.error } : {}) };
}

async function dispatch(job: LoadedSyncJob, report: (p: Progress) => void): Promise<unknown> {
  if (job.payloadError) throw new JobFailed(job.payloadError);
  switch (job.kind) {
    case 'sync':
      return runSyncLink(job, report);
    case 'canary': {
      if (job.payload !== null && !isObject(job.payload)) throw new JobFailed('a canary job takes an object payload (the canary input)');
      report({ stage: 'running', message: 'running the canary' });
      return executeChild('canary', {
        workflowId: `${workflowInfo().workflowId}:canary`,
        taskQueue: workflowInfo().taskQueue,
        args: [(job.payload ?? {}) as CanaryInput],
        staticSummary: `canary for sync job ${job.id}`,
      });
    }
    default:
      throw new JobFailed(`unknown job kind '${job.kind}'`);
  }
}

async function runSyncLink(job: LoadedSyncJob, report: (p: Progress) => void): Promise<unknown> {
  const payload = isObject(job.payload) ? job.payload : {};
  const linkId = job.linkId ?? (typeof payload.linkId === 'string' ? payload.linkId : undefined);
  if (!linkId) throw new JobFailed('a sync job needs a link id (the row\'s link_id)');
  const direction = payload.direction;
  if (direction !== undefined && (typeof direction !== 'string' || !DIRECTIONS.includes(direction))) {
    throw new JobFailed(`direction must be one of ${DIRECTIONS.join(', ')}`);
  }
  const childInput: SyncLinkInput = { linkId, ...(direction ? { direction: direction as SyncLinkInput['direction'] } : {}) };
  for (let waits = 0; ; waits++) {
    try {
      const child = await startChild('syncLink', {
        workflowId: `sync:${linkId}`,
        taskQueue: workflowInfo().taskQueue,
        args: [childInput],
        typedSearchAttributes: [{ key: DurasyncLinkId, value: linkId }],
        staticSummary: `sync of link ${linkId} for sync job ${job.id}`,
      });
      report({ stage: 'running', message: `syncing link ${linkId}${direction ? ` (${String(direction)})` : ''}` });
      return await child.result();
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      report({ stage: 'waiting', done: waits, message: `link ${linkId} is being synced by another run: trying again in ${LINK_BUSY_WAIT}` });
      await sleep(LINK_BUSY_WAIT);
    }
  }
}
