import type http from 'node:http';
import { HttpError, readBody, sendJson, type Routes } from '../lib/http';
import type { Logger } from '../lib/logger';
import { QUEUES, isQueueName, type QueueName } from '../lib/queues';
import type { ChildSlot } from './manager-child';
import { mergePrometheus, type MetricsSource } from './prometheus-merge';
import type { QueueReport } from './queue-report';
import { summarize, type WorkerStatsEntry, type WorkerStatsReport } from './stats';

/**
 * What the manager's ops server adds to each endpoint: children's answers fetched over HTTP and
 * merged (metrics, stats, queue reports), readiness per child, and the scaling API.
 */

/** Time a child's ops server gets to answer one request of the manager. */
const CHILD_TIMEOUT_MS = 1_500;
/** The queue report runs visibility queries: it gets longer. */
const QUEUE_REPORT_TIMEOUT_MS = 5_000;
/** Largest request body the scaling API reads. */
export const MAX_BODY_BYTES = 64 * 1024;
export const MAX_PROCESSES = 20;




async function getJson(url: string, timeoutMs: number): Promise<unknown> {
  const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body: unknown = await res.json();
  if (!res.ok) throw new HttpError(res.status, `${url} answered ${res.status}`);
  return body;
}

/** The readiness check of one slot: running, announced, and its own /health/ready answers 200. */
export function childReadyCheck(slot: ChildSlot): () => Promise<void> {
  return async () => {
    if (slot.state !== 'ready' || !slot.opsUrl) {
      throw new Error(slot.state === 'failed' ? `failed after ${slot.restarts} restarts` : slot.state);
    }
    const res = await fetch(`${slot.opsUrl}/health/ready`, { signal: AbortSignal.timeout(CHILD_TIMEOUT_MS) });
    const body = (await res.json().catch(() => ({}))) as { failing?: string[] };
    if (res.status !== 200) throw new Error(`not ready (${res.status}${body.failing ? `: ${body.failing.join(', ')}` : ''})`);
  };
}

/** Every ready child's /metrics and the manager's own, merged with a `worker` label on each sample. */
export async function mergedMetrics(slots: ChildSlot[], own: string, logger: Logger): Promise<string> {
  const answers = await Promise.all(
    slots
      .filter((s) => s.state === 'ready' && s.opsUrl)
      .map(async (s): Promise<MetricsSource | undefined> => {
        try {
          const res = await fetch(`${s.opsUrl}/metrics`, { signal: AbortSignal.timeout(CHILD_TIMEOUT_MS) });
          if (!res.ok) throw new Error(`answered ${res.status}`);
          return { worker: s.name, text: await res.text() };
        } catch (err) {
          logger.warn({ child: s.name, err: { message: (err as Error).message } }, 'child metrics did not answer');
          return undefined;
        }
      }),
  );
  return mergePrometheus([...answers.filter((a): a is MetricsSource => a !== undefined), { worker: 'manager', text: own }]);
}

export interface ManagerStatsReport extends WorkerStatsReport {
  workers: Array<WorkerStatsEntry & { child: string }>;
  /** Children whose stats are missing: not running, or no answer. */
  unreachable: string[];
}

/** Every child's /api/v1/workers/stats, concatenated, with the summary recomputed. */
export async function mergedStats(slots: ChildSlot[]): Promise<ManagerStatsReport> {
  const answers = await Promise.all(
    slots.map(async (s) => {
      if (s.state !== 'ready' || !s.opsUrl) return { child: s.name, report: undefined };
      try {
        return { child: s.name, report: (await getJson(`${s.opsUrl}/api/v1/workers/stats`, CHILD_TIMEOUT_MS)) as WorkerStatsReport };
      } catch {
        return { child: s.name, report: undefined };
      }
    }),
  );
  const workers = answers.flatMap(({ child, report }) => (report?.workers ?? []).map((w) => ({ ...w, child })));
  return { workers, summary: summarize(workers), unreachable: answers.filter((a) => !a.report).map((a) => a.child) };
}

/**
 * The queue report of each queue, from the first ready child of that queue that answers; the
 * `queues` arrays merged, one entry per task queue. Throws a 503 when no child answers.
 */
export async function mergedQueueReport(slots: ChildSlot[]): Promise<{ queues: QueueReport[]; unreachable: string[] }> {
  const byQueue = new Map<QueueName, ChildSlot[]>();
  for (const s of slots) byQueue.set(s.queue, [...(byQueue.get(s.queue) ?? []), s]);
  const unreachable: string[] = [];
  const reports = await Promise.all(
    [...byQueue].map(async ([queue, candidates]) => {
      for (const s of candidates.filter((c) => c.state === 'ready' && c.opsUrl)) {
        try {
          return ((await getJson(`${s.opsUrl}/api/v1/workers/queue`, QUEUE_REPORT_TIMEOUT_MS)) as { queues: QueueReport[] }).queues;
        } catch {
          // try the next child of this queue
        }
      }
      unreachable.push(queue);
      return undefined;
    }),
  );
  if (reports.every((r) => r === undefined)) throw new HttpError(503, 'no worker process answered');
  const merged = new Map<string, QueueReport>();
  for (const report of reports.flat()) if (report && !merged.has(report.taskQueue)) merged.set(report.taskQueue, report);
  return { queues: [...merged.values()], unreachable };
}

/** Validates a scaling request body: `{"queue": "sync", "processes": 3}`. */
export function parseScaleRequest(text: string): { queue: QueueName; processes: number } {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, 'body: expected JSON such as {"queue":"sync","processes":2}');
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'body: expected a JSON object such as {"queue":"sync","processes":2}');
  }
  const { queue, processes } = body as Record<string, unknown>;
  if (typeof queue !== 'string' || !isQueueName(queue)) {
    throw new HttpError(400, `queue: expected one of ${QUEUES.join(', ')}, got ${JSON.stringify(queue) ?? 'nothing'}`);
  }
  if (typeof processes !== 'number' || !Number.isInteger(processes) || processes < 1 || processes > MAX_PROCESSES) {
    throw new HttpError(400, `processes: expected a whole number from 1 to ${MAX_PROCESSES}, got ${JSON.stringify(processes) ?? 'nothing'}`);
  }
  return { queue, processes };
}

export interface ScaleResult {
  queue: QueueName;
  processes: number;
  pids: number[];
}

/** `POST /api/v1/workers/scale` and `GET /api/v1/workers/queue` (503 when no child answers). */
export function managerRoutes(options: {
  scale: (queue: QueueName, processes: number) => Promise<ScaleResult>;
  slots: () => ChildSlot[];
}): Routes {
  const answerError = (res: http.ServerResponse, err: unknown) => {
    if (!(err instanceof HttpError)) throw err;
    if (err.status === 413) res.setHeader('connection', 'close');
    sendJson(res, err.status, { error: err.message });
  };
  return {
    '/api/v1/workers/scale': {
      POST: async (req, res) => {
        try {
          const { queue, processes } = parseScaleRequest(await readBody(req, MAX_BODY_BYTES));
          sendJson(res, 200, await options.scale(queue, processes));
        } catch (err) {
          answerError(res, err);
        }
      },
    },
    '/api/v1/workers/queue': {
      GET: async (_req, res) => {
        try {
          sendJson(res, 200, await mergedQueueReport(options.slots()));
        } catch (err) {
          answerError(res, err);
        }
      },
    },
  };
}
