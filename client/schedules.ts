import { isGrpcServiceError, type Client, type ScheduleDescription as SdkScheduleDescription, type ScheduleExecutionResult, type ScheduleHandle, type ScheduleSummary } from '@temporalio/client';
import type { SearchAttributePair } from '@temporalio/common';
import type { DurasyncConfig } from '../lib/config';
import { parseDuration } from '../lib/duration';
import { isQueueName, QUEUES, taskQueueName, type QueueName } from '../lib/queues';
import { ScheduleNotFoundError, toDurasyncError } from './errors';

/**
 * The `schedules` namespace of the client SDK: durasync jobs started on a timetable, over Temporal
 * Schedules (`client.schedule`). A schedule starts one workflow type on one durasync queue (the
 * configured task queue prefix is added) every interval (`every: '5m'`) or on a cron expression,
 * with the overlap policy SKIP unless told otherwise. The original spec text and queue are kept in
 * the schedule's memo (`durasync`), so list() can show them as they were written.
 */

/** gRPC status NOT_FOUND. */
const GRPC_NOT_FOUND = 5;

/** What to do when a run is due while the previous one still runs (Temporal's ScheduleOverlapPolicy). */
export const SCHEDULE_OVERLAP_POLICIES = ['SKIP', 'BUFFER_ONE', 'BUFFER_ALL', 'CANCEL_OTHER', 'TERMINATE_OTHER', 'ALLOW_ALL'] as const;
export type ScheduleOverlap = (typeof SCHEDULE_OVERLAP_POLICIES)[number];

/** Options of schedules.create(): exactly one of `every` and `cron`. */
export interface CreateScheduleOptions {
  /** The schedule id, e.g. `nightly-sync`. */
  scheduleId: string;
  /** The workflow type to start, e.g. `canary`. */
  workflowType: string;
  /** The workflow's arguments. Default: none. */
  args?: unknown[];
  /** The durasync queue to run it on (the configured prefix is added). */
  queue: QueueName;
  /** An interval such as `30s`, `5m`, `1h` (at least 1s). */
  every?: string;
  /** A cron expression such as `0 * * * *` (5 to 7 fields, or `@hourly`, `@daily`, ...), in UTC. */
  cron?: string;
  /** Default: `SKIP`. */
  overlap?: ScheduleOverlap;
  /** Create it paused. Default: false. */
  paused?: boolean;
  /** A note on the schedule's state (shown by describe and the Web UI). */
  note?: string;
  /** Search attributes of the workflows it starts (workflows/search-attributes.ts), e.g. DurasyncKind. Default: none. */
  typedSearchAttributes?: SearchAttributePair[];
}

/** A workflow a schedule started. */
export interface ScheduleAction {
  /** When it was due (with jitter) and when it was started. */
  scheduledAt: Date;
  takenAt: Date;
  workflowId: string;
  runId: string;
}

/** A schedule as list() reports it. */
export interface ScheduleSummaryInfo {
  scheduleId: string;
  /** The workflow type it starts (list is eventually consistent: briefly undefined after a create). */
  workflowType?: string;
  /** The spec as written: `every 5m`, `cron 0 * * * *` (or derived from Temporal's spec). */
  spec: string;
  /** The durasync queue, for schedules created by durasync. */
  queue?: QueueName;
  paused: boolean;
  note?: string;
  /** The next times it will start a workflow. */
  nextRunTimes: Date[];
  /** The latest workflows it started (including triggers), oldest first. */
  recentActions: ScheduleAction[];
}

/** describe(): the summary plus what only a describe call knows. */
export interface ScheduleInfo extends ScheduleSummaryInfo {
  workflowType: string;
  /** The Temporal task queue (with DURASYNC_TASK_QUEUE_PREFIX). */
  taskQueue: string;
  args: unknown[];
  overlap: string;
  /** Workflows it started so far. */
  numActions: number;
  /** Workflows it started that are still running. */
  running: Array<{ workflowId: string; runId: string }>;
  createdAt: Date;
  updatedAt?: Date;
}

/** Schedules of durasync jobs; every method maps SDK errors to client/errors.ts. */
export interface SchedulesApi {
  /** Creates a schedule. Throws ScheduleAlreadyExistsError when the id is taken; TypeError on a bad spec. */
  create(options: CreateScheduleOptions): Promise<ScheduleInfo>;
  /** Every schedule of the namespace (eventually consistent). */
  list(): Promise<ScheduleSummaryInfo[]>;
  /** Throws ScheduleNotFoundError. */
  describe(scheduleId: string): Promise<ScheduleInfo>;
  /** Pauses it (no runs until unpaused), recording `note`. Throws ScheduleNotFoundError. */
  pause(scheduleId: string, note?: string): Promise<void>;
  /** Unpauses it, recording `note`. Throws ScheduleNotFoundError. */
  unpause(scheduleId: string, note?: string): Promise<void>;
  /** Starts its workflow now (even when paused; overlap ALLOW_ALL). Throws ScheduleNotFoundError. */
  trigger(scheduleId: string): Promise<void>;
  /** Deletes it (the workflows it started keep running). Throws ScheduleNotFoundError. */
  delete(scheduleId: string): Promise<void>;
  /** Takes the runs that were due between `from` and `to`, now, with the schedule's overlap policy. Throws ScheduleNotFoundError. */
  backfill(scheduleId: string, range: { from: Date; to: Date }): Promise<void>;
}

/** The interval of `every` in milliseconds, or undefined when it is not a duration of 1s or more. */
export function parseEvery(text: string): number | undefined {
  if (!/[a-z]\s*$/.test(text.trim())) return undefined; // a unit is required: `5m`, not `300000`
  const ms = parseDuration(text);
  return ms !== undefined && ms >= 1000 ? ms : undefined;
}

const CRON_MACROS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Whether `text` looks like a cron expression the server takes (5 to 7 fields, or a macro such as `@hourly`). */
export function isCronExpression(text: string): boolean {
  const trimmed = text.trim();
  if (CRON_MACROS.includes(trimmed)) return true;
  const fields = trimmed.split(/\s+/);
  return fields.length >= 5 && fields.length <= 7 && fields.every((f) => /^[\w*/,?#-]+$/.test(f));
}

/** `3600000` -> `1h`, `90000` -> `90s`. */
function formatMs(ms: number): string {
  for (const [unit, size] of [['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

interface DurasyncMemo {
  spec?: string;
  queue?: string;
}

function memoOf(memo: Record<string, unknown> | undefined): DurasyncMemo {
  const value = memo?.durasync;
  return typeof value === 'object' && value !== null ? value : {};
}

function specSummary(memo: DurasyncMemo, spec: ScheduleSummary['spec']): string {
  if (memo.spec) return memo.spec;
  const parts = [
    ...(spec?.intervals ?? []).map((i) => `every ${formatMs(Number(i.every))}`),
    ...(spec?.calendars?.length ? ['calendar'] : []),
  ];
  return parts.join(', ') || 'none';
}

const actionsOf = (results: ScheduleExecutionResult[]): ScheduleAction[] =>
  results.map((r) => ({ scheduledAt: r.scheduledAt, takenAt: r.takenAt, workflowId: r.action.workflow.workflowId, runId: r.action.workflow.firstExecutionRunId }));

function summarize(s: ScheduleSummary | SdkScheduleDescription): ScheduleSummaryInfo {
  const memo = memoOf(s.memo);
  return {
    scheduleId: s.scheduleId,
    ...(s.action?.workflowType ? { workflowType: s.action.workflowType } : {}),
    spec: specSummary(memo, s.spec),
    ...(memo.queue && isQueueName(memo.queue) ? { queue: memo.queue } : {}),
    paused: s.state.paused,
    ...(s.state.note ? { note: s.state.note } : {}),
    nextRunTimes: s.info.nextActionTimes,
    recentActions: actionsOf(s.info.recentActions),
  };
}

function describeInfo(d: SdkScheduleDescription): ScheduleInfo {
  return {
    ...summarize(d),
    workflowType: d.action.workflowType,
    taskQueue: d.action.taskQueue,
    args: [...((d.action.args ?? []) as readonly unknown[])],
    overlap: d.policies.overlap ?? 'SKIP',
    numActions: d.info.numActionsTaken,
    running: d.info.runningActions.map((a) => ({ workflowId: a.workflow.workflowId, runId: a.workflow.firstExecutionRunId })),
    createdAt: d.info.createdAt,
    ...(d.info.lastUpdatedAt ? { updatedAt: d.info.lastUpdatedAt } : {}),
  };
}

export function schedulesApi(client: Client, config: DurasyncConfig): SchedulesApi {
  /** Runs `fn` on the handle of `scheduleId`, mapping SDK errors to durasync's. */
  async function on<T>(scheduleId: string, fn: (handle: ScheduleHandle) => Promise<T>): Promise<T> {
    try {
      return await fn(client.schedule.getHandle(scheduleId));
    } catch (err) {
      if (isGrpcServiceError(err) && Number(err.code) === GRPC_NOT_FOUND) throw new ScheduleNotFoundError(scheduleId, { cause: err });
      throw toDurasyncError(err, scheduleId);
    }
  }

  return {
    async create({ scheduleId, workflowType, args = [], queue, every, cron, overlap = 'SKIP', paused = false, note, typedSearchAttributes }) {
      if (!isQueueName(queue)) throw new TypeError(`unknown queue "${String(queue)}": expected one of ${QUEUES.join(', ')}`);
      if ((every === undefined) === (cron === undefined)) throw new TypeError('a schedule needs exactly one of every and cron');
      const intervalMs = every === undefined ? undefined : parseEvery(every);
      if (every !== undefined && intervalMs === undefined) throw new TypeError(`every: expected a duration of 1s or more such as 30s, 5m or 1h, got "${every}"`);
      if (cron !== undefined && !isCronExpression(cron)) throw new TypeError(`cron: expected a cron expression such as "0 * * * *", got "${cron}"`);
      if (!SCHEDULE_OVERLAP_POLICIES.includes(overlap)) throw new TypeError(`overlap: expected one of ${SCHEDULE_OVERLAP_POLICIES.join(', ')}, got "${String(overlap)}"`);
      const taskQueue = taskQueueName(queue, config.temporal.taskQueuePrefix);
      const spec = intervalMs !== undefined ? `every ${formatMs(intervalMs)}` : `cron ${cron!.trim()}`;
      try {
        const handle = await client.schedule.create({
          scheduleId,
          spec: intervalMs !== undefined ? { intervals: [{ every: intervalMs }] } : { cronExpressions: [cron!.trim()] },
          action: {
            type: 'startWorkflow',
            workflowType,
            args,
            taskQueue,
            workflowId: `${workflowType}:${scheduleId}`,
            staticSummary: `${workflowType} on ${taskQueue} (schedule ${scheduleId})`,
            staticDetails: `Started by the durasync schedule ${scheduleId}, ${spec}.`,
            ...(typedSearchAttributes?.length ? { typedSearchAttributes } : {}),
          },
          policies: { overlap },
          state: { paused, ...(note ? { note } : {}) },
          memo: { durasync: { spec, queue } satisfies DurasyncMemo },
        });
        return describeInfo(await handle.describe());
      } catch (err) {
        throw toDurasyncError(err, scheduleId);
      }
    },

    async list() {
      const all: ScheduleSummaryInfo[] = [];
      try {
        for await (const s of client.schedule.list()) all.push(summarize(s));
      } catch (err) {
        throw toDurasyncError(err, '');
      }
      return all;
    },

    describe: (scheduleId) => on(scheduleId, async (handle) => describeInfo(await handle.describe())),
    pause: (scheduleId, note) => on(scheduleId, (handle) => handle.pause(note ?? 'paused with durasync')),
    unpause: (scheduleId, note) => on(scheduleId, (handle) => handle.unpause(note ?? 'unpaused with durasync')),
    trigger: (scheduleId) => on(scheduleId, (handle) => handle.trigger()),
    delete: (scheduleId) => on(scheduleId, (handle) => handle.delete()),
    backfill: (scheduleId, { from, to }) => {
      if (!(from instanceof Date) || !(to instanceof Date) || Number.isNaN(from.getTime()) || Number.isNaN(to.getTime()) || from > to) {
        return Promise.reject(new TypeError('backfill: expected dates with from <= to'));
      }
      return on(scheduleId, (handle) => handle.backfill({ start: from, end: to }));
    },
  };
}
