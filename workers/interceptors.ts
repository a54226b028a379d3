import type { ActivityInboundCallsInterceptor, ActivityExecuteInput, Next } from '@temporalio/worker';
import type { InjectedSinks } from '@temporalio/worker';
import type { Context } from '@temporalio/activity';
import type { DurasyncMetrics } from '../lib/metrics';
import type { WorkerStats } from './stats';
import type { JobMetricsSinks } from '../workflows/interceptors';

/** Error type label of a failure: an ApplicationFailure's `type`, else the error's class name. */
export function errorTypeOf(err: unknown): string {
  if (typeof err === 'object' && err !== null) {
    const { type, name } = err as { type?: unknown; name?: unknown };
    if (typeof type === 'string' && type) return type;
    if (typeof name === 'string' && name) return name;
  }
  return 'Error';
}

/**
 * Times every activity attempt and counts it in durasync's metrics: processed on success; error
 * (with its type) on every failed attempt; failed when no retry follows (non-retryable, or the
 * last allowed attempt).
 */
export function activityMetricsInterceptor(metrics: DurasyncMetrics, queue: string, stats?: WorkerStats) {
  return (ctx: Context): { inbound: ActivityInboundCallsInterceptor } => ({
    inbound: {
      async execute(input: ActivityExecuteInput, next: Next<ActivityInboundCallsInterceptor, 'execute'>): Promise<unknown> {
        const jobType = ctx.info.activityType;
        const labels = { queue, job_type: jobType, kind: 'activity' };
        const started = performance.now();
        stats?.activityStarted(queue);
        try {
          const result = await next(input);
          const ms = performance.now() - started;
          metrics.jobDuration.observe({ ...labels, outcome: 'completed' }, ms / 1000);
          metrics.jobsProcessed.inc(labels);
          stats?.jobFinished(queue, true, ms, true);
          return result;
        } catch (err) {
          const ms = performance.now() - started;
          metrics.jobDuration.observe({ ...labels, outcome: 'failed' }, ms / 1000);
          metrics.jobsError.inc({ ...labels, error_type: errorTypeOf(err) });
          stats?.jobFinished(queue, false, ms, true);
          const nonRetryable = (err as { nonRetryable?: boolean }).nonRetryable === true;
          const max = ctx.info.retryPolicy?.maximumAttempts ?? 0;
          if (nonRetryable || (max > 0 && ctx.info.attempt >= max)) metrics.jobsFailed.inc(labels);
          throw err;
        }
      },
    },
  });
}

/** The worker side of workflows/interceptors.ts: counts closed workflows. */
export function jobMetricsSinks(metrics: DurasyncMetrics, queue: string, stats?: WorkerStats): InjectedSinks<JobMetricsSinks> {
  return {
    jobMetrics: {
      workflowClosed: {
        callDuringReplay: false,
        fn(info, outcome, durationMs, errorType) {
          const labels = { queue, job_type: info.workflowType, kind: 'workflow' };
          metrics.jobDuration.observe({ ...labels, outcome }, durationMs / 1000);
          if (outcome === 'failed') {
            metrics.jobsFailed.inc(labels);
            metrics.jobsError.inc({ ...labels, error_type: errorType ?? 'Error' });
          } else {
            metrics.jobsProcessed.inc(labels);
          }
          stats?.jobFinished(queue, outcome !== 'failed', durationMs, false);
        },
      },
    },
  };
}

/** The interceptors and sinks every durasync worker runs with (production and tests alike). */
export function durasyncWorkerOptions(metrics: DurasyncMetrics, queue: string, stats?: WorkerStats) {
  return {
    interceptors: { activity: [activityMetricsInterceptor(metrics, queue, stats)] },
    sinks: jobMetricsSinks(metrics, queue, stats),
  };
}
