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
  memoryUsage: Gauge<'type'>;
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
