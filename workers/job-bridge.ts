import os from 'node:os';
import { randomUUID } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy, type Client } from '@temporalio/client';
import type { Store, SyncJob } from '../lib/db/store';
import type { Logger } from '../lib/logger';
import { loadPriorityConfig } from '../lib/config';
import { settingsFor, type SettingsReader } from '../lib/settings';
import type { IdleTotal } from '../lib/metrics';
import type { SyncJobInput } from '../workflows/sync-job';
import { DurasyncKind, DurasyncLinkId } from '../workflows/search-attributes';

/** DurasyncKind of syncJob workflows (workflows/sync-job.ts SYNC_JOB_KIND). */
const SYNC_JOB_KIND = 'job';

export interface JobBridgeOptions {
  /** Starts the workflows. */
  client: Pick<Client, 'workflow'>;
  /** With listSettings, the bridge reads jobs.poll_interval and jobs.batch_size (queue:sync) from it unless `settings` is given. */
  store: Pick<Store, 'claimSyncJobs'> & Partial<Pick<Store, 'listSettings'>>;
  /** Run-time settings (lib/settings.ts), read each poll: jobs.poll_interval, jobs.batch_size at queue:sync. Default: the store's. */
  settings?: SettingsReader;
  /** The sync queue's task queue (lib/queues.ts taskQueueName('sync', prefix)). */
  taskQueue: string;
  logger: Logger;
  /** Pause after a poll that claimed less than a full batch (DURASYNC_JOB_POLL_INTERVAL); the setting jobs.poll_interval wins. */
  pollIntervalMs: number;
  /** Jobs claimed longer ago than this and not finished are claimed again (DURASYNC_JOB_LEASE). */
  leaseMs: number;
  /** Most jobs claimed per poll (DURASYNC_JOB_BATCH); the setting jobs.batch_size wins. */
  batchSize: number;
  /** Recorded as the rows' claimed_by. Default: `<hostname>/<pid>/job-bridge-<random>`. */
  name?: string;
  /** Temporal task priority key (1 most urgent .. 5) of the started workflows: jobs are bulk work (the worker passes config.priority.bulk). Default: DURASYNC_PRIORITY_BULK (4) read from the environment. */
  priority?: number;
}

export interface JobBridgeCounts {
  /** Polls that claimed nothing. */
  idlePolls: number;
  /** Jobs claimed (re-claims after a lease included). */
  claimed: number;
  /** Workflows started. */
  started: number;
  /** Claims whose workflow was already started (a re-claim after a lease, or a crash after start). */
  alreadyStarted: number;
  /** Starts that failed; their jobs are retried when the lease expires. */
  startFailures: number;
  /** Polls whose claim failed (database unreachable...). */
  claimFailures: number;
}

/** What one poll did, by job id. */
export interface PollResult {
  claimed: SyncJob[];
  started: string[];
  alreadyStarted: string[];
  failed: string[];
}

/**
 * The Supabase job bridge: the app inserts rows into `sync_jobs`; each poll claims a batch of them
 * (`claim_sync_jobs`, FOR UPDATE SKIP LOCKED, with a lease) and starts one `syncJob` workflow per
 * row, with the workflow id `job:<id>` on the sync task queue. The workflow owns the row from then
 * on and finishes it. Any number of bridges may poll the same table: a job is claimed by one at a
 * time, and Temporal's workflow id uniqueness makes a second start of the same job a no-op
 * (WorkflowExecutionAlreadyStartedError), so every job's workflow runs once.
 *
 * A start that fails (Temporal unreachable) is logged and left to the lease: the row stays
 * `running` with its claim, and a poll after DURASYNC_JOB_LEASE claims and starts it again. No
 * other retry loop: the poll loop is the only timer.
 */
export class JobBridge {
  readonly name: string;
  private readonly options: JobBridgeOptions;
  private readonly priorityKey: number;
  private readonly counts: JobBridgeCounts = { idlePolls: 0, claimed: 0, started: 0, alreadyStarted: 0, startFailures: 0, claimFailures: 0 };
  private loop: Promise<void> | undefined;
  private stopping = false;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly settings: SettingsReader | undefined;

  constructor(options: JobBridgeOptions) {
    this.options = options;
    this.priorityKey = options.priority ?? loadPriorityConfig(process.env).bulk;
    this.name = options.name ?? `${os.hostname()}/${process.pid}/job-bridge-${randomUUID().slice(0, 8)}`;
    const { store } = options;
    this.settings = options.settings ?? (store.listSettings ? settingsFor(store as Pick<Store, 'listSettings'>) : undefined);
  }

  /** Starts polling. Idempotent while running. */
  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.options.logger.info(
      { taskQueue: this.options.taskQueue, pollIntervalMs: this.options.pollIntervalMs, leaseMs: this.options.leaseMs, batchSize: this.options.batchSize },
      'job bridge polling sync_jobs',
    );
    this.loop = this.run();
  }

  /** Stops polling; resolves once the poll in flight (claim and starts) is done. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.timer) clearTimeout(this.timer);
    this.wake?.();
    const loop = this.loop;
    this.loop = undefined;
    await loop;
  }

  /** Running totals since construction. */
  stats(): JobBridgeCounts {
    return { ...this.counts };
  }

  /** The bridge's empty polls, for durasync_idle_iterations_total (updateIdleIterations' `extra`). */
  idleTotals(): IdleTotal[] {
    return [{ queue: 'sync', poller: 'job-bridge', value: this.counts.idlePolls }];
  }

  /**
   * One poll: claims up to a batch and starts a workflow per job. Never throws: a failed claim is
   * counted and logged, failed starts too.
   */
  async pollOnce(): Promise<PollResult> {
    const result: PollResult = { claimed: [], started: [], alreadyStarted: [], failed: [] };
    const { store, leaseMs, logger } = this.options;
    const { batchSize } = await this.current();
    try {
      result.claimed = await store.claimSyncJobs({ worker: this.name, limit: batchSize, leaseSeconds: leaseMs / 1000 });
    } catch (err) {
      this.counts.claimFailures++;
      logger.warn({ err: { name: (err as Error).name, message: (err as Error).message } }, 'job bridge could not claim sync jobs');
      return result;
    }
    if (result.claimed.length === 0) {
      this.counts.idlePolls++;
      return result;
    }
    this.counts.claimed += result.claimed.length;
    await Promise.all(
      result.claimed.map(async (job) => {
        const outcome = await this.startJob(job);
        result[outcome].push(job.id);
      }),
    );
    return result;
  }

  private async startJob(job: SyncJob): Promise<'started' | 'alreadyStarted' | 'failed'> {
    const { client, taskQueue, logger } = this.options;
    const workflowId = `job:${job.id}`;
    try {
      await client.workflow.start('syncJob', {
        workflowId,
        taskQueue,
        args: [{ jobId: job.id } satisfies SyncJobInput],
        // A run that completed owns its row's outcome: never again. One that failed, was terminated
        // or timed out left its row running: the lease's re-claim may start it anew.
        workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
        typedSearchAttributes: [
          { key: DurasyncKind, value: SYNC_JOB_KIND },
          ...(job.linkId ? [{ key: DurasyncLinkId, value: job.linkId }] : []),
        ],
        staticSummary: `${job.kind} job ${job.id}${job.linkId ? ` (link ${job.linkId})` : ''}`,
        // Bulk work: a sync someone started by hand (DURASYNC_PRIORITY_URGENT) overtakes queued jobs.
        priority: { priorityKey: this.priorityKey },
      });
      this.counts.started++;
      logger.debug({ jobId: job.id, kind: job.kind, attempts: job.attempts, workflowId }, 'sync job workflow started');
      return 'started';
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        this.counts.alreadyStarted++;
        return 'alreadyStarted';
      }
      this.counts.startFailures++;
      // One line, no payload: the lease retries the job.
      logger.warn(
        { jobId: job.id, kind: job.kind, attempts: job.attempts, workflowId, err: { name: (err as Error).name, message: (err as Error).message } },
        'sync job workflow start failed; retried after the lease',
      );
      return 'failed';
    }
  }

  /** The batch size and poll interval now: the settings at queue:sync (cached, never throwing), else the options. */
  async current(): Promise<{ batchSize: number; pollIntervalMs: number }> {
    const { batchSize, pollIntervalMs } = this.options;
    if (!this.settings) return { batchSize, pollIntervalMs };
    return {
      batchSize: (await this.settings.get('jobs.batch_size', 'queue:sync', batchSize)) ?? batchSize,
      pollIntervalMs: (await this.settings.get('jobs.poll_interval', 'queue:sync', pollIntervalMs)) ?? pollIntervalMs,
    };
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      const { claimed } = await this.pollOnce();
      // A full batch: more may be waiting, poll again at once.
      const { batchSize, pollIntervalMs } = await this.current();
      if (this.stopping || claimed.length >= batchSize) continue;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = setTimeout(resolve, pollIntervalMs);
      });
      this.wake = undefined;
      this.timer = undefined;
    }
  }
}
