import { randomUUID } from 'node:crypto';
import { Client, isGrpcServiceError, type Connection, type WorkflowExecutionInfo, type WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import { temporal } from '@temporalio/proto';
import { loadConfig, type DurasyncConfig } from '../lib/config';
import { connectClient, dataConverter } from '../lib/temporal-client';
import { isQueueName, QUEUES, taskQueueName, type QueueName } from '../lib/queues';
import type { CanaryResult } from '../workflows/canary';
import { progressQuery, type Progress } from '../workflows/progress';
import { DURASYNC_SEARCH_ATTRIBUTES } from '../workflows/search-attributes';
import { startCanary } from './canary';
import { toDurasyncError, WorkflowNotFoundError } from './errors';
import { schedulesApi, type SchedulesApi } from './schedules';
import { syncApi, type SyncApi } from './sync';
import { branchesApi, type BranchesApi } from './branches';
import { ingestionApis, type DlqApi, type EventsApi } from './ingestion';
import { ingestApis, type AnalyticsApi, type IngestApi, type KeywordsApi } from './ingest';
import { webhooksApi, type WebhooksApi } from './webhooks';
import { settingsApi, type SettingsApi } from './settings';
import { exportApi, type ExportApi } from './export';
import { notificationsApi, type NotificationsApi } from './notifications';

/**
 * The durasync client SDK, the package's root export: `createDurasyncClient()` connects to the
 * configured Temporal cluster (lib/config.ts, @temporalio/envconfig) and returns typed namespaces.
 *
 * - `workflows`: generic operations on any durasync workflow (list, describe, history, progress,
 *   start, result, signal, query, cancel, terminate);
 * - `canary`: run the canary workflow on a queue;
 * - `schedules`: durasync jobs on a timetable, over Temporal Schedules (client/schedules.ts).
 *
 * The job families (sync, webhooks, branches, dlq, schedules) add their own namespaces here, one
 * module each under client/ (e.g. `client.sync.start(linkId)`), built on `workflows`. Errors are the
 * typed classes of client/errors.ts, re-exported below.
 */
export * from './errors';
export type { Progress } from '../workflows/progress';
export type { CanaryResult } from '../workflows/canary';
export type { QueueName } from '../lib/queues';
export type { CreateScheduleOptions, ScheduleAction, ScheduleInfo, ScheduleOverlap, SchedulesApi, ScheduleSummaryInfo } from './schedules';
export { SCHEDULE_OVERLAP_POLICIES } from './schedules';
export type { ScheduledSyncResult, SyncApi, SyncDirection, SyncRunHandle, SyncRunResult, SyncScheduleOptions, SyncStartOptions } from './sync';
export { syncWorkflowId } from './sync';
export type { SettingsApi } from './settings';
export type { AnalyticsApi, IngestApi, IngestRunHandle, IngestScheduleOptions, IngestSourceResult, IngestStartOptions, KeywordsApi, DailyAnalyticsResult } from './ingest';
export type { AcceptResult, BranchDetails, BranchesApi, BranchStats, Change, MaterializedBranch } from './branches';
export { branchWorkflowId } from './branches';
export type { DeadLetterRetry, DlqApi, EventsApi } from './ingestion';
export type { WebhooksApi } from './webhooks';
export type { ExportApi, ExportEventsOptions, ExportEventsResult, ExportHandle } from './export';
export type { AddNotificationOptions, NotificationsApi } from './notifications';
export { InvalidNotificationSubscriptionError } from './notifications';
export { DeadLetterNotFoundError, DeadLetterNotRetryableError } from './ingestion';

/** gRPC status NOT_FOUND: what the history call answers for an unknown workflow. */
const GRPC_NOT_FOUND = 5;

/** Options of createDurasyncClient(). */
export interface DurasyncClientOptions {
  /** Configuration. Default: loadConfig() (the environment). */
  config?: DurasyncConfig;
  /** An open connection to use; the client does not close it. Default: a new one from the configuration, closed by close(). */
  connection?: Connection;
  /** Temporal namespace. Default: the configuration's (TEMPORAL_NAMESPACE, else `default`). */
  namespace?: string;
}

/** A workflow execution as list() and describe() report it. */
export interface WorkflowSummary {
  workflowId: string;
  runId: string;
  /** The workflow type, e.g. `canary`. */
  type: string;
  /** `RUNNING`, `COMPLETED`, `FAILED`, `CANCELLED`, `TERMINATED`, `CONTINUED_AS_NEW` or `TIMED_OUT`. */
  status: string;
  startTime: Date;
  closeTime?: Date;
  /** The Temporal task queue (with DURASYNC_TASK_QUEUE_PREFIX). */
  taskQueue: string;
  /** durasync's search attributes that are set, e.g. `{ DurasyncKind: 'canary', DurasyncStatus: 'ok' }`. */
  searchAttributes: Record<string, string>;
}

/** describe(): the summary plus what only a describe call knows. */
export interface WorkflowDescription extends WorkflowSummary {
  /** Events in its history so far. */
  historyLength: number;
  /** The static summary and details set at start (shown by the Web UI). */
  staticSummary?: string;
  staticDetails?: string;
  /** Activities scheduled or running now. */
  pendingActivities: Array<{ activityType: string; attempt: number; state: string }>;
  /** Its task priority key (1 most urgent .. 5), when one was set at start (else Temporal's default, 3). */
  priorityKey?: number;
}

/** A history as `temporal workflow show -o json` prints it (and as test/histories holds them). */
export interface HistoryJSON {
  events: Array<Record<string, unknown>>;
}

/** Options of workflows.start(). */
export interface StartWorkflowOptions {
  /** The workflow's arguments. Default: none. */
  args?: unknown[];
  /** Workflow id. Default: `<type>:<uuid>`. */
  workflowId?: string;
  /** The durasync queue to run it on (the configured prefix is added). Default: `sync`. */
  taskQueue?: QueueName;
}

/** list()'s answer: iterate it (pages are fetched as needed), or collect it with toArray(). */
export interface WorkflowList extends AsyncIterable<WorkflowSummary> {
  toArray(): Promise<WorkflowSummary[]>;
}

/** Generic operations on workflow executions; every method maps SDK errors to client/errors.ts. */
export interface WorkflowsApi {
  /** Executions matching a visibility query (e.g. `DurasyncKind = "canary"`), newest first. Default: all, no limit. */
  list(query?: string, options?: { limit?: number }): WorkflowList;
  /** The latest run of `workflowId`. Throws WorkflowNotFoundError. */
  describe(workflowId: string): Promise<WorkflowDescription>;
  /** The full history (of the latest run, or `runId`), as `temporal workflow show -o json` prints it. Throws WorkflowNotFoundError. */
  history(workflowId: string, runId?: string): Promise<HistoryJSON>;
  /** The answer to the `progress` query every durasync workflow serves (workflows/progress.ts). */
  progress(workflowId: string): Promise<Progress>;
  /** Starts a workflow. Throws WorkflowAlreadyRunningError when a running workflow has the id. */
  start(type: string, options?: StartWorkflowOptions): Promise<{ workflowId: string; runId: string }>;
  /** Waits for the result. Throws DurasyncWorkflowFailedError (failed, cancelled, terminated, timed out) or WorkflowNotFoundError. */
  result<T = unknown>(workflowId: string): Promise<T>;
  /** Sends a signal. */
  signal(workflowId: string, name: string, ...args: unknown[]): Promise<void>;
  /** Runs a query. */
  query<T = unknown>(workflowId: string, name: string, ...args: unknown[]): Promise<T>;
  /** Requests cancellation (the workflow decides how to stop). */
  cancel(workflowId: string): Promise<void>;
  /** Terminates at once, recording `reason`. */
  terminate(workflowId: string, reason?: string): Promise<void>;
}

/** Options of canary.run(). */
export interface CanaryRunOptions {
  /** The queue to probe. Default: `sync`. */
  queue?: QueueName;
  /** Keep the probe activity running this long (heartbeating). Default: 0. */
  holdMs?: number;
  /** Give up after this long (plus holdMs). Default: 30 000. */
  timeoutMs?: number;
}

/** The canary workflow (workflows/canary.ts). */
export interface CanaryApi {
  /** Runs the canary on a queue and waits for its result (`status: 'ok' | 'degraded'`). */
  run(options?: CanaryRunOptions): Promise<CanaryResult>;
}

/** durasync's client: typed namespaces over one Temporal connection. */
export interface DurasyncClient {
  readonly workflows: WorkflowsApi;
  readonly canary: CanaryApi;
  readonly schedules: SchedulesApi;
  /** Sync runs of links: start, run, progress, cancel, result, schedule (client/sync.ts). */
  readonly sync: SyncApi;
  /** Branches and their deltas: create, list, show, pushChanges, flush, stats, materialize (client/branches.ts; needs a database). */
  readonly branches: BranchesApi;
  /** Stored webhook events: count, show, search (client/ingestion.ts; needs a database). */
  readonly events: EventsApi;
  /** Dead letters of webhook deliveries: list, retry, retryAll (client/ingestion.ts; needs a database). */
  readonly dlq: DlqApi;
  /** Pulls of a source's events (ingestSource): sources, start, run, schedule, cursors (client/ingest.ts). */
  readonly ingest: IngestApi;
  /** The keywords enrichment counts in events: list, add, disable (needs a database). */
  readonly keywords: KeywordsApi;
  /** Daily event metrics (dailyAnalytics): backfill a range, schedule daily. */
  readonly analytics: AnalyticsApi;
  /** Webhook deliveries handed over from code, deduplicated like the ingress's: deliver, status (client/webhooks.ts). */
  readonly webhooks: WebhooksApi;
  /** Exports of stored events as ndjson or CSV to the object store or a webhook (exportEvents; client/export.ts). */
  readonly export: ExportApi;
  /** Outbound notification subscriptions and their delivery log: add, list, remove, deliveries (client/notifications.ts; needs a database). */
  readonly notifications: NotificationsApi;
  /** Run-time settings (poll intervals, batch sizes, rate limits, flags): keys, list, get, set, unset (client/settings.ts; needs a database). */
  readonly settings: SettingsApi;
  /** The configuration it was created with. */
  readonly config: DurasyncConfig;
  /** The underlying Temporal client, for what the namespaces do not cover. */
  readonly temporal: Client;
  /** Closes the connection, unless it was passed in. */
  close(): Promise<void>;
}

/** Connects to Temporal as configured and returns the durasync client. Call close() when done. */
export async function createDurasyncClient(options: DurasyncClientOptions = {}): Promise<DurasyncClient> {
  const config = options.config ?? loadConfig();
  let client: Client;
  let owned: Connection | undefined;
  if (options.connection) {
    client = new Client({ connection: options.connection, namespace: options.namespace ?? config.temporal.namespace, dataConverter: dataConverter(config) });
  } else {
    const namespace = options.namespace ?? config.temporal.namespace;
    ({ client, connection: owned } = await connectClient({ ...config, temporal: { ...config.temporal, namespace } }));
  }
  const workflows = workflowsApi(client, config);
  const schedules = schedulesApi(client, config);
  const branches = branchesApi(client, config);
  const { events, dlq, db } = ingestionApis(client, config);
  const { ingest, keywords, analytics } = ingestApis(client, config, schedules, db);
  const webhooks = webhooksApi(client, config);
  return {
    workflows,
    canary: {
      async run({ queue = 'sync', holdMs = 0, timeoutMs = 30_000 } = {}) {
        if (!isQueueName(queue)) throw new TypeError(`unknown queue "${String(queue)}": expected one of ${QUEUES.join(', ')}`);
        const taskQueue = taskQueueName(queue, config.temporal.taskQueuePrefix);
        try {
          return await startCanary(client, taskQueue, timeoutMs + holdMs, holdMs ? { holdMs } : {});
        } catch (err) {
          throw toDurasyncError(err, `canary:${taskQueue}`);
        }
      },
    },
    schedules,
    sync: syncApi(client, config, schedules),
    branches,
    events,
    dlq,
    ingest,
    keywords,
    analytics,
    webhooks,
    settings: settingsApi(db),
    export: exportApi(client, config),
    notifications: notificationsApi(db),
    config,
    temporal: client,
    async close() {
      try {
        await branches.close();
        await dlq.close();
        await webhooks.close();
      } finally {
        await owned?.close();
      }
    },
  };
}

function workflowsApi(client: Client, config: DurasyncConfig): WorkflowsApi {
  /** Runs `fn` on the handle of `workflowId`, mapping SDK errors to durasync's. */
  async function on<T>(workflowId: string, fn: (handle: WorkflowHandle) => Promise<T>, runId?: string): Promise<T> {
    try {
      return await fn(client.workflow.getHandle(workflowId, runId));
    } catch (err) {
      if (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND) throw new WorkflowNotFoundError(workflowId, runId, { cause: err });
      throw toDurasyncError(err, workflowId);
    }
  }

  return {
    list(query, { limit } = {}) {
      const iterate = async function* () {
        if (limit !== undefined && limit <= 0) return;
        let count = 0;
        const pageSize = limit === undefined ? undefined : Math.min(limit, 1000);
        for await (const info of client.workflow.list({ ...(query ? { query } : {}), ...(pageSize ? { pageSize } : {}) })) {
          yield summarize(info);
          if (limit !== undefined && ++count >= limit) return;
        }
      };
      return {
        [Symbol.asyncIterator]: () => iterate(),
        async toArray() {
          const all: WorkflowSummary[] = [];
          for await (const summary of iterate()) all.push(summary);
          return all;
        },
      };
    },

    describe: (workflowId) =>
      on(workflowId, async (handle) => {
        const d = await handle.describe();
        const text = (v: unknown) => (typeof v === 'string' && v !== '' ? v : undefined);
        const description: WorkflowDescription = {
          ...summarize(d),
          historyLength: d.historyLength,
          pendingActivities: (d.raw.pendingActivities ?? []).map((a) => ({
            activityType: a.activityType?.name ?? '',
            attempt: a.attempt ?? 0,
            state: (temporal.api.enums.v1.PendingActivityState[a.state ?? 0] ?? 'UNSPECIFIED').replace(/^PENDING_ACTIVITY_STATE_/, ''),
          })),
        };
        const [summary, details] = await Promise.all([d.staticSummary(), d.staticDetails()]);
        if (text(summary)) description.staticSummary = text(summary);
        if (text(details)) description.staticDetails = text(details);
        if (d.priority?.priorityKey) description.priorityKey = d.priority.priorityKey;
        return description;
      }),

    history: (workflowId, runId) =>
      on(workflowId, async (handle) => JSON.parse(historyToJSON(await handle.fetchHistory())) as HistoryJSON, runId),

    progress: (workflowId) => on(workflowId, (handle) => handle.query(progressQuery)),

    async start(type, { args = [], workflowId = `${type}:${randomUUID()}`, taskQueue = 'sync' } = {}) {
      if (!isQueueName(taskQueue)) throw new TypeError(`unknown queue "${String(taskQueue)}": expected one of ${QUEUES.join(', ')}`);
      try {
        const handle = await client.workflow.start(type, { args, workflowId, taskQueue: taskQueueName(taskQueue, config.temporal.taskQueuePrefix), staticSummary: `${type} (started with the durasync client)` });
        return { workflowId, runId: handle.firstExecutionRunId };
      } catch (err) {
        throw toDurasyncError(err, workflowId);
      }
    },

    result: <T>(workflowId: string) => on(workflowId, (handle) => handle.result() as Promise<T>),
    signal: (workflowId, name, ...args) => on(workflowId, (handle) => handle.signal(name, ...args)),
    query: <T>(workflowId: string, name: string, ...args: unknown[]) => on(workflowId, (handle) => handle.queryWithOptions<T, unknown[]>(name, { args })),
    cancel: (workflowId) => on(workflowId, async (handle) => void (await handle.cancel())),
    terminate: (workflowId, reason) => on(workflowId, async (handle) => void (await handle.terminate(reason))),
  };
}

function summarize(info: Omit<WorkflowExecutionInfo, 'raw'>): WorkflowSummary {
  const searchAttributes: Record<string, string> = {};
  for (const key of DURASYNC_SEARCH_ATTRIBUTES) {
    const value = info.typedSearchAttributes.get(key);
    if (value !== undefined) searchAttributes[key.name] = value;
  }
  return {
    workflowId: info.workflowId,
    runId: info.runId,
    type: info.type,
    status: info.status.name,
    startTime: info.startTime,
    ...(info.closeTime ? { closeTime: info.closeTime } : {}),
    taskQueue: info.taskQueue,
    searchAttributes,
  };
}
