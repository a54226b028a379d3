import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * durasync's own Prometheus metrics, served with the Temporal SDK's on a worker's ops port.
 * A "job" is a workflow or an activity execution (label `kind`), typed by its workflow or activity
 * type (`job_type`), on a task queue (`queue`). Nothing secret is ever a label.
 */
export interface DurasyncMetrics {
  registry: Registry;
  jobDuration: Histogram<'queue' | 'job_type' | 'kind' | 'outcome'>;
  jobsProcessed: Counter<'queue' | 'job_type' | 'kind'>;
  jobsFailed: Counter<'queue' | 'job_type' | 'kind'>;
  jobsError: Counter<'queue' | 'job_type' | 'kind' | 'error_type'>;
  idleIterations: Counter<'queue' | 'poller'>;
  taskQueueBacklog: Gauge<'queue' | 'task_type'>;
  memoryUsage: Gauge<'type'>;
  cacheUnavailable: Counter<'operation'>;
  /** The webhook Redis Streams bridge (lib/webhooks/redis-stream-bridge.ts). */
  webhookStreamLag: Gauge<'stream' | 'group'>;
  webhookStreamPending: Gauge<'stream' | 'group'>;
  webhookStreamMalformed: Counter<'stream'>;
}

export function createMetrics(): DurasyncMetrics {
  const registry = new Registry();
  return {
    registry,
    jobDuration: new Histogram({
      name: 'durasync_job_execution_duration_seconds',
      help: 'Execution time of durasync jobs: activities per attempt, workflows from start to close.',
      labelNames: ['queue', 'job_type', 'kind', 'outcome'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    jobsProcessed: new Counter({
      name: 'durasync_jobs_processed_total',
      help: 'Jobs that completed successfully.',
      labelNames: ['queue', 'job_type', 'kind'],
      registers: [registry],
    }),
    jobsFailed: new Counter({
      name: 'durasync_jobs_failed_total',
      help: 'Jobs that failed for good: workflows that failed, activities that failed with a non-retryable error or on their last attempt.',
      labelNames: ['queue', 'job_type', 'kind'],
      registers: [registry],
    }),
    jobsError: new Counter({
      name: 'durasync_jobs_error_total',
      help: 'Every failed attempt of a job, by error type (retries included).',
      labelNames: ['queue', 'job_type', 'kind', 'error_type'],
      registers: [registry],
    }),
    idleIterations: new Counter({
      name: 'durasync_idle_iterations_total',
      help: 'Polls of a queue that came back without a task (poller: workflow or activity), read from the SDK counters temporal_workflow_task_queue_poll_empty and temporal_activity_poll_no_task; poller job-bridge: polls of sync_jobs that claimed no job.',
      labelNames: ['queue', 'poller'],
      registers: [registry],
    }),
    taskQueueBacklog: new Gauge({
      name: 'durasync_task_queue_backlog',
      help: "Tasks waiting in a queue's task queue for a worker (the server's approximate backlog from DescribeTaskQueue), by task type. Queue-wide: every process reports the same value, aggregate with max.",
      labelNames: ['queue', 'task_type'],
      registers: [registry],
    }),
    cacheUnavailable: new Counter({
      name: 'durasync_cache_unavailable_total',
      help: 'Cache (Redis) operations skipped because the cache did not answer; the work went on without it.',
      labelNames: ['operation'],
      registers: [registry],
    }),
    webhookStreamLag: new Gauge({
      name: 'durasync_webhook_stream_lag',
      help: "Entries of the webhook stream not yet delivered to the bridge's consumer group (XINFO GROUPS lag).",
      labelNames: ['stream', 'group'],
      registers: [registry],
    }),
    webhookStreamPending: new Gauge({
      name: 'durasync_webhook_stream_pending',
      help: 'Entries of the webhook stream delivered to a consumer but not acknowledged yet (XINFO GROUPS pending): their workflow start is not durable yet.',
      labelNames: ['stream', 'group'],
      registers: [registry],
    }),
    webhookStreamMalformed: new Counter({
      name: 'durasync_webhook_stream_malformed_total',
      help: 'Entries of the webhook stream acknowledged without starting anything because they were malformed.',
      labelNames: ['stream'],
      registers: [registry],
    }),
    memoryUsage: new Gauge({
      name: 'durasync_memory_usage_bytes',
      help: 'Memory of this worker process (rss, heapUsed, heapTotal, external), read at scrape time.',
      labelNames: ['type'],
      registers: [registry],
      collect() {
        const usage = process.memoryUsage();
        this.set({ type: 'rss' }, usage.rss);
        this.set({ type: 'heapUsed' }, usage.heapUsed);
        this.set({ type: 'heapTotal' }, usage.heapTotal);
        this.set({ type: 'external' }, usage.external);
      },
    }),
  };
}

const IDLE_COUNTERS: Record<string, string> = {
  temporal_workflow_task_queue_poll_empty: 'workflow',
  temporal_activity_poll_no_task: 'activity',
};

/** An idle count kept by durasync itself, e.g. the job bridge's empty polls of sync_jobs. */
export interface IdleTotal {
  queue: string;
  poller: string;
  value: number;
}

/**
 * Brings durasync_idle_iterations_total up to date from the SDK's Prometheus text: the SDK counts
 * empty polls per task queue; `queueOf` maps a task queue to its durasync queue (others, such as
 * sticky queues, are left out). `extra` adds durasync's own counts (the job bridge's), each a
 * running total too.
 */
export function updateIdleIterations(
  metrics: DurasyncMetrics,
  sdkText: string,
  queueOf: (taskQueue: string) => string | undefined,
  extra: readonly IdleTotal[] = [],
): void {
  const totals = new Map<string, { queue: string; poller: string; value: number }>();
  for (const line of sdkText.split('\n')) {
    const match = /^(\w+)\{([^}]*)\} ([\d.eE+]+)$/.exec(line);
    const poller = match && IDLE_COUNTERS[match[1]!];
    if (!match || !poller) continue;
    const taskQueue = /(?:^|,)task_queue="([^"]*)"/.exec(match[2]!)?.[1];
    const queue = taskQueue === undefined ? undefined : queueOf(taskQueue);
    if (!queue) continue;
    const key = `${queue}/${poller}`;
    const entry = totals.get(key) ?? { queue, poller, value: 0 };
    entry.value += Number(match[3]);
    totals.set(key, entry);
  }
  for (const { queue, poller, value } of extra) {
    const key = `${queue}/${poller}`;
    const entry = totals.get(key) ?? { queue, poller, value: 0 };
    entry.value += value;
    totals.set(key, entry);
  }
  metrics.idleIterations.reset();
  for (const { queue, poller, value } of totals.values()) metrics.idleIterations.inc({ queue, poller }, value);
}
