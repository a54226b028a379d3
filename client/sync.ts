import { isGrpcServiceError, WorkflowExecutionAlreadyStartedError, WorkflowNotFoundError as SdkWorkflowNotFoundError, type Client } from '@temporalio/client';
import type { DurasyncConfig } from '../lib/config';
import { taskQueueName } from '../lib/queues';
import type { Progress } from '../workflows/progress';
import type { ScheduledSyncInput } from '../workflows/sync/scheduled-sync';
import type { SyncLinkInput, SyncRunResult } from '../workflows/sync/sync-link';
import type { RunDirection } from '../workflows/sync/types';
import { DurasyncKind, DurasyncLinkId } from '../workflows/search-attributes';
import { SyncAlreadyRunningError, SyncNotRunningError, toDurasyncError, WorkflowNotFoundError } from './errors';
import { jobScheduleOptions } from './job-schedule';
import type { ScheduleInfo, SchedulesApi } from './schedules';

/**
 * The `sync` namespace of the client SDK: runs of the sync workflow of one link (workflows/sync/
 * sync-link.ts). Every run of a link has the workflow id `sync:<linkId>` on the `sync` queue, so two
 * runs of one link never overlap: start() refuses with SyncAlreadyRunningError (carrying the running
 * run id) or, with `attach: true`, returns the running run's handle. cancel() sends the workflow's
 * `cancel` signal: the run stops at its next safe point (before a write, or after one side's writes
 * are recorded), leaves the link's cursors where they were and ends with `status: 'cancelled'`.
 * schedule() creates a Temporal Schedule of `scheduledSync`, which runs `sync:<linkId>` as a child
 * and skips a due run while one is in progress.
 *
 * Priority: start() runs with DURASYNC_PRIORITY_URGENT (1) unless told otherwise, scheduled runs'
 * syncs with DURASYNC_PRIORITY_BULK (4), so on a busy sync queue a run someone asked for goes first.
 */

/** gRPC status NOT_FOUND. */
const GRPC_NOT_FOUND = 5;

type SyncWorkflow = (input: SyncLinkInput) => Promise<SyncRunResult>;

/** The workflow id of every sync run of a link. */
export const syncWorkflowId = (linkId: string): string => `sync:${linkId}`;

export type { RunDirection as SyncDirection } from '../workflows/sync/types';
export type { SyncRunResult } from '../workflows/sync/sync-link';
export type { ScheduledSyncResult } from '../workflows/sync/scheduled-sync';

/** Options of sync.start() and sync.run(). */
export interface SyncStartOptions {
  /** Default: the link's own direction (a one-way link refuses the other ways). */
  direction?: RunDirection;
  /** When a run of the link is in progress, return its handle instead of throwing SyncAlreadyRunningError. Default: false. */
  attach?: boolean;
  /** Changes per side per run before the workflow continues as new. Default: the workflow's (2000). */
  maxFilesPerRun?: number;
  /**
   * Temporal task priority key, 1 (most urgent) to 5: on a busy sync queue the run's workflow and
   * activity tasks overtake those with larger keys. Default: DURASYNC_PRIORITY_URGENT (1), since a
   * run started through start() is one someone asked for; scheduled runs and sync_jobs use
   * DURASYNC_PRIORITY_BULK (4).
   */
  priority?: number;
}

/** A sync run of a link, started or attached to. */
export interface SyncRunHandle {
  linkId: string;
  /** `sync:<linkId>`. */
  workflowId: string;
  /** The run this handle was made for (the first run of a continue-as-new chain). */
  runId: string;
  /** True when start() found this run in progress and attached to it (`attach: true`). */
  attached: boolean;
  /** Waits for the result (following continue-as-new). Throws DurasyncWorkflowFailedError. */
  result(): Promise<SyncRunResult>;
  /** The `progress` query of the run. */
  progress(): Promise<Progress>;
  /** Asks the run to stop at its next safe point (the `cancel` signal). */
  cancel(reason?: string): Promise<void>;
}

/** A priority key: a whole number from 1 to 5; anything else is a RangeError naming `name`. */
export function checkPriorityKey(value: unknown, name = 'priority'): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > 5) {
    throw new RangeError(`${name}: expected a whole number from 1 (most urgent) to 5, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Options of sync.schedule(): exactly one of `every` and `cron`. */
export interface SyncScheduleOptions {
  /** Default: `sync-<linkId>`. */
  scheduleId?: string;
  /** An interval such as `5m` (at least 1s). */
  every?: string;
  /** A cron expression, in UTC. */
  cron?: string;
  /** Default: the link's own direction. */
  direction?: RunDirection;
  /** Create it paused. Default: false. */
  paused?: boolean;
  note?: string;
}

/** Sync runs of links; every method maps SDK errors to client/errors.ts. */
export interface SyncApi {
  /** Starts a run of the link. Throws SyncAlreadyRunningError when one is in progress (unless `attach`). */
  start(linkId: string, options?: SyncStartOptions): Promise<SyncRunHandle>;
  /** start() and wait for the result. Throws SyncAlreadyRunningError (unless `attach`) or DurasyncWorkflowFailedError. */
  run(linkId: string, options?: SyncStartOptions): Promise<SyncRunResult>;
  /** The progress of the link's latest run. Throws WorkflowNotFoundError when the link never synced. */
  progress(linkId: string): Promise<Progress>;
  /** Asks the running run to stop at its next safe point. Throws SyncNotRunningError when none is in progress. */
  cancel(linkId: string, reason?: string): Promise<void>;
  /** The result of the link's latest run (waiting while it runs). Throws WorkflowNotFoundError or DurasyncWorkflowFailedError. */
  result(linkId: string): Promise<SyncRunResult>;
  /** The run in progress of the link, if any. */
  running(linkId: string): Promise<{ workflowId: string; runId: string } | undefined>;
  /** A schedule that syncs the link every interval (overlap SKIP; a due run while one is in progress is skipped). Throws ScheduleAlreadyExistsError. */
  schedule(linkId: string, options: SyncScheduleOptions): Promise<ScheduleInfo>;
}

const isNotFound = (err: unknown) => err instanceof SdkWorkflowNotFoundError || (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND);

export function syncApi(client: Client, config: DurasyncConfig, schedules: SchedulesApi): SyncApi {
  const taskQueue = taskQueueName('sync', config.temporal.taskQueuePrefix);

  async function running(linkId: string): Promise<{ workflowId: string; runId: string } | undefined> {
    const workflowId = syncWorkflowId(linkId);
    try {
      const d = await client.workflow.getHandle(workflowId).describe();
      return d.status.name === 'RUNNING' ? { workflowId, runId: d.runId } : undefined;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw toDurasyncError(err, workflowId);
    }
  }

  function handleOf(linkId: string, runId: string, attached: boolean): SyncRunHandle {
    const workflowId = syncWorkflowId(linkId);
    return {
      linkId,
      workflowId,
      runId,
      attached,
      async result() {
        try {
          return await client.workflow.getHandle<SyncWorkflow>(workflowId, runId).result();
        } catch (err) {
          if (isNotFound(err)) throw new WorkflowNotFoundError(workflowId, runId, { cause: err });
          throw toDurasyncError(err, workflowId);
        }
      },
      progress: () => api.progress(linkId),
      cancel: (reason) => api.cancel(linkId, reason),
    };
  }

  const api: SyncApi = {
    async start(linkId, { direction, attach = false, maxFilesPerRun, priority } = {}) {
      const workflowId = syncWorkflowId(linkId);
      const priorityKey = priority === undefined ? config.priority.urgent : checkPriorityKey(priority);
      const input: SyncLinkInput = { linkId, ...(direction ? { direction } : {}), ...(maxFilesPerRun ? { maxFilesPerRun } : {}) };
      // A run that ends between the refused start and the describe: start again (a few times at most).
      for (let attempt = 0; ; attempt++) {
        try {
          const handle = await client.workflow.start('syncLink', {
            args: [input],
            workflowId,
            taskQueue,
            typedSearchAttributes: [
              { key: DurasyncKind, value: 'sync' },
              { key: DurasyncLinkId, value: linkId },
            ],
            staticSummary: `sync of link ${linkId}${direction ? ` (${direction.replace(/_/g, ' ')})` : ''}`,
            priority: { priorityKey },
          });
          return handleOf(linkId, handle.firstExecutionRunId, false);
        } catch (err) {
          if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw toDurasyncError(err, workflowId);
          const current = await running(linkId);
          if (current) {
            if (attach) return handleOf(linkId, current.runId, true);
            throw new SyncAlreadyRunningError(linkId, current.runId, { cause: err });
          }
          if (attempt >= 3) throw toDurasyncError(err, workflowId);
        }
      }
    },

    async run(linkId, options) {
      return (await api.start(linkId, options)).result();
    },

    async progress(linkId) {
      const workflowId = syncWorkflowId(linkId);
      try {
        return await client.workflow.getHandle(workflowId).query<Progress>('progress');
      } catch (err) {
        if (isNotFound(err)) throw new WorkflowNotFoundError(workflowId, undefined, { cause: err });
        throw toDurasyncError(err, workflowId);
      }
    },

    async cancel(linkId, reason) {
      const workflowId = syncWorkflowId(linkId);
      try {
        await client.workflow.getHandle(workflowId).signal('cancel', reason ? { reason } : {});
      } catch (err) {
        if (isNotFound(err)) throw new SyncNotRunningError(linkId, { cause: err });
        throw toDurasyncError(err, workflowId);
      }
    },

    async result(linkId) {
      const workflowId = syncWorkflowId(linkId);
      try {
        return await client.workflow.getHandle<SyncWorkflow>(workflowId).result();
      } catch (err) {
        if (isNotFound(err)) throw new WorkflowNotFoundError(workflowId, undefined, { cause: err });
        throw toDurasyncError(err, workflowId);
      }
    },

    running,

    async schedule(linkId, { scheduleId = `sync-${linkId}`, direction, ...timing }) {
      // The scheduled run's child (the sync itself) runs with the bulk priority: a run someone asked
      // for (start(), urgent) overtakes a backlog of scheduled ones.
      const input: ScheduledSyncInput = { linkId, ...(direction ? { direction } : {}), priorityKey: config.priority.bulk };
      return schedules.create(
        jobScheduleOptions(
          {
            scheduleId,
            workflowType: 'scheduledSync',
            args: [input],
            queue: 'sync',
            typedSearchAttributes: [
              { key: DurasyncKind, value: 'sync' },
              { key: DurasyncLinkId, value: linkId },
            ],
          },
          timing,
        ),
      );
    },
  };
  return api;
}
