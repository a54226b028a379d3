/**
 * Job counts of the workers in this process, for `/api/v1/workers/stats`. A job is an activity
 * attempt or a workflow execution (counted when it closes). Kept in memory: a restarted process
 * starts from zero; Prometheus (`/metrics`) is the durable record.
 */
export interface WorkerStatsEntry {
  pid: number;
  queue: string;
  taskQueue: string;
  /** Jobs finished, successfully or not. */
  processed: number;
  succeeded: number;
  failed: number;
  /** Mean execution time of finished jobs, in milliseconds. */
  averageProcessMs: number;
  /** When a job last started or finished (ISO 8601), null before the first. */
  lastActiveAt: string | null;
  /** Activities executing right now. */
  active: number;
}

export interface StatsSummary {
  workers: number;
  processed: number;
  succeeded: number;
  failed: number;
  active: number;
  /** succeeded / processed, 1 when nothing has run yet. */
  successRate: number;
}

export interface WorkerStatsReport {
  workers: WorkerStatsEntry[];
  summary: StatsSummary;
}

interface Counters {
  taskQueue: string;
  processed: number;
  succeeded: number;
  failed: number;
  totalMs: number;
  lastActive: number | null;
  active: number;
}

export class WorkerStats {
  private readonly byQueue = new Map<string, Counters>();

  register(queue: string, taskQueue: string): void {
    this.byQueue.set(queue, { taskQueue, processed: 0, succeeded: 0, failed: 0, totalMs: 0, lastActive: null, active: 0 });
  }

  activityStarted(queue: string): void {
    const c = this.byQueue.get(queue);
    if (!c) return;
    c.active++;
    c.lastActive = Date.now();
  }

  /** An activity attempt or a workflow execution finished; `fromActivity` releases an active slot. */
  jobFinished(queue: string, ok: boolean, durationMs: number, fromActivity: boolean): void {
    const c = this.byQueue.get(queue);
    if (!c) return;
    if (fromActivity) c.active = Math.max(0, c.active - 1);
    c.processed++;
    if (ok) c.succeeded++;
    else c.failed++;
    c.totalMs += durationMs;
    c.lastActive = Date.now();
  }

  report(): WorkerStatsReport {
    const workers = [...this.byQueue.entries()].map(([queue, c]) => ({
      pid: process.pid,
      queue,
      taskQueue: c.taskQueue,
      processed: c.processed,
      succeeded: c.succeeded,
      failed: c.failed,
      averageProcessMs: c.processed ? Math.round((c.totalMs / c.processed) * 100) / 100 : 0,
      lastActiveAt: c.lastActive === null ? null : new Date(c.lastActive).toISOString(),
      active: c.active,
    }));
    return { workers, summary: summarize(workers) };
  }
}

/** The summary over any set of workers (one process's, or the supervisor's across processes). */
export function summarize(workers: WorkerStatsEntry[]): StatsSummary {
  const sum = (f: (w: WorkerStatsEntry) => number) => workers.reduce((n, w) => n + f(w), 0);
  const processed = sum((w) => w.processed);
  const succeeded = sum((w) => w.succeeded);
  return {
    workers: workers.length,
    processed,
    succeeded,
    failed: sum((w) => w.failed),
    active: sum((w) => w.active),
    successRate: processed ? Math.round((succeeded / processed) * 10_000) / 10_000 : 1,
  };
}
